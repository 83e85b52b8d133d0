package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * LSTM and GRU kernels against the plainly written ONNX equations (double). Float GEMMs over up to 156 terms,
 * then a few steps of saturating gates: tolerance 2e-5 absolute + 1e-4 relative.
 */
class RecurrentTest {
    private static final double ABS = 2e-5;
    private static final double REL = 1e-4;
    private final Random rnd = new Random(5);

    /** input, hidden, seq: the models' cell, and sizes that leave vector and panel tails. */
    private static final int[][] SIZES = {{28, 128, 4}, {5, 13, 3}, {17, 24, 2}, {1, 1, 3}};

    private float[] weights(int n, float scale) {
        float[] a = Check.random(rnd, n);
        for (int i = 0; i < n; i++) {
            a[i] *= scale;
        }
        return a;
    }

    @Test
    void lstmMatchesScalarTwin() {
        int variant = 0;
        for (int[] sz : SIZES) {
            int in = sz[0];
            int hid = sz[1];
            int seq = sz[2];
            for (int batch : new int[] {1, 3}) {
                for (int v = 0; v < 2; v++, variant++) {
                    boolean reverse = variant % 2 == 1;
                    boolean states = variant % 3 != 0;
                    float clip = variant % 4 == 2 ? 0.7f : Float.POSITIVE_INFINITY;
                    float[] w = weights(4 * hid * in, 0.5f);
                    float[] r = weights(4 * hid * hid, 0.3f);
                    float[] b = variant % 5 == 4 ? null : weights(8 * hid, 0.5f);
                    float[] x = Check.random(rnd, seq * batch * in + 2);
                    float[] h0 = states ? Check.random(rnd, batch * hid + 1) : null;
                    float[] c0 = states ? Check.random(rnd, batch * hid + 1) : null;
                    float[] y = new float[seq * batch * hid];
                    float[] yh = new float[batch * hid];
                    float[] yc = new float[batch * hid];
                    float[] yWant = y.clone();
                    float[] yhWant = yh.clone();
                    float[] ycWant = yc.clone();
                    float[] xs = java.util.Arrays.copyOfRange(x, 2, x.length);
                    float[] h0s = states ? java.util.Arrays.copyOfRange(h0, 1, h0.length) : null;
                    float[] c0s = states ? java.util.Arrays.copyOfRange(c0, 1, c0.length) : null;
                    Recurrent.lstmScalar(in, hid, w, r, b, seq, batch, reverse, clip, xs, h0s, c0s, yWant, yhWant, ycWant);
                    Recurrent.LstmWeights p = Recurrent.packLstm(w, r, b, in, hid);
                    float[] scratch = new float[Recurrent.lstmScratchLength(hid, seq, batch)];
                    Recurrent.lstm(p, seq, batch, reverse, clip, x, 2, h0, 1, c0, 1, y, 0, yh, 0, yc, 0, scratch, null);
                    String what = "LSTM in " + in + " hidden " + hid + " seq " + seq + " batch " + batch + " reverse "
                            + reverse + " states " + states + " clip " + clip;
                    Check.close(what + " Y", yWant, y, ABS, REL);
                    Check.close(what + " Y_h", yhWant, yh, ABS, REL);
                    Check.close(what + " Y_c", ycWant, yc, ABS, REL);
                }
            }
        }
    }

    @Test
    void gruMatchesScalarTwinBothResetForms() {
        int variant = 0;
        for (int[] sz : SIZES) {
            int in = sz[0];
            int hid = sz[1];
            int seq = sz[2];
            for (int batch : new int[] {1, 3}) {
                for (boolean lbr : new boolean[] {false, true}) {
                    variant++;
                    boolean reverse = variant % 2 == 1;
                    boolean states = variant % 3 != 0;
                    float clip = variant % 4 == 2 ? 0.7f : Float.POSITIVE_INFINITY;
                    float[] w = weights(3 * hid * in, 0.5f);
                    float[] r = weights(3 * hid * hid, 0.3f);
                    float[] b = variant % 5 == 4 ? null : weights(6 * hid, 0.5f);
                    float[] x = Check.random(rnd, seq * batch * in);
                    float[] h0 = states ? Check.random(rnd, batch * hid) : null;
                    float[] yWant = new float[seq * batch * hid];
                    float[] yhWant = new float[batch * hid];
                    float[] y = new float[seq * batch * hid + 3];
                    float[] yh = new float[batch * hid];
                    Recurrent.gruScalar(in, hid, w, r, b, lbr, seq, batch, reverse, clip, x, h0, yWant, yhWant);
                    Recurrent.GruWeights p = Recurrent.packGru(w, r, b, in, hid, lbr);
                    float[] scratch = new float[Recurrent.gruScratchLength(hid, seq, batch)];
                    Recurrent.gru(p, seq, batch, reverse, clip, x, 0, h0, 0, y, 3, yh, 0, scratch, null);
                    String what = "GRU in " + in + " hidden " + hid + " seq " + seq + " batch " + batch + " lbr " + lbr
                            + " reverse " + reverse + " states " + states + " clip " + clip;
                    Check.close(what + " Y", yWant, java.util.Arrays.copyOfRange(y, 3, y.length), ABS, REL);
                    Check.close(what + " Y_h", yhWant, yh, ABS, REL);
                }
            }
        }
    }

    @Test
    void withWorkerPoolGivesTheSameBits() {
        int in = 28;
        int hid = 128;
        int seq = 6;
        int batch = 64;
        float[] w = weights(4 * hid * in, 0.3f);
        float[] r = weights(4 * hid * hid, 0.1f);
        float[] b = weights(8 * hid, 0.3f);
        float[] x = Check.random(rnd, seq * batch * in);
        Recurrent.LstmWeights p = Recurrent.packLstm(w, r, b, in, hid);
        float[] scratch = new float[Recurrent.lstmScratchLength(hid, seq, batch)];
        float[] alone = new float[batch * hid];
        float[] pooled = new float[batch * hid];
        Recurrent.lstm(p, seq, batch, false, Float.POSITIVE_INFINITY, x, 0, null, 0, null, 0, null, 0, alone, 0,
                null, 0, scratch, null);
        try (WorkerPool pool = WorkerPool.of(2)) {
            Recurrent.lstm(p, seq, batch, false, Float.POSITIVE_INFINITY, x, 0, null, 0, null, 0, null, 0, pooled, 0,
                    null, 0, scratch, pool);
        }
        org.junit.jupiter.api.Assertions.assertArrayEquals(alone, pooled);
    }

    @Test
    void gruWithWorkerPoolGivesTheSameBitsBothResetForms() {
        int in = 28;
        int hid = 128;
        int seq = 5;
        int batch = 64;
        for (boolean lbr : new boolean[] {false, true}) {
            Recurrent.GruWeights p = Recurrent.packGru(weights(3 * hid * in, 0.3f), weights(3 * hid * hid, 0.1f),
                    weights(6 * hid, 0.3f), in, hid, lbr);
            float[] x = Check.random(rnd, seq * batch * in);
            float[] h0 = Check.random(rnd, batch * hid);
            float[] scratch = new float[Recurrent.gruScratchLength(hid, seq, batch)];
            float[] alone = new float[seq * batch * hid];
            float[] pooled = new float[seq * batch * hid];
            Recurrent.gru(p, seq, batch, true, 2f, x, 0, h0, 0, alone, 0, null, 0, scratch, null);
            try (WorkerPool pool = WorkerPool.of(2)) {
                Recurrent.gru(p, seq, batch, true, 2f, x, 0, h0, 0, pooled, 0, null, 0, scratch, pool);
            }
            org.junit.jupiter.api.Assertions.assertArrayEquals(alone, pooled, "linear_before_reset " + lbr);
        }
    }

    /**
     * The batch split over threads for the whole sequence: every output (Y of every step, Y_h, Y_c) bit-identical
     * to one thread, for uneven splits (7 rows over 3 threads), a batch small enough to project all steps at once
     * (3 rows), blocks of 12 and 16 rows (48 and 64 rows over 2 threads, which either thread may take),
     * reverse direction, given initial states and both GRU forms.
     */
    @Test
    void batchSplitOverThreadsGivesTheBitsOfOneThread() {
        int in = 28;
        int hid = 128;
        int seq = 9;
        for (int threads : new int[] {2, 3}) {
            try (WorkerPool pool = WorkerPool.of(threads)) {
                for (int batch : new int[] {3, 7, 48, 64}) {
                    assertPoolGivesTheBitsOfOneThread(pool, in, hid, seq, batch, threads + " threads, batch " + batch);
                }
            }
        }
    }

    /**
     * Batch 1 on a pool (the recurrence on the caller, the products split where they are large enough), including
     * a sequence long enough to project step by step: every output bit-identical to one thread.
     */
    @Test
    void stepsSplitOverThreadsAtBatchOneGiveTheBitsOfOneThread() {
        int in = 28;
        for (int threads : new int[] {2, 3}) {
            try (WorkerPool pool = WorkerPool.of(threads)) {
                for (int[] hs : new int[][] {{128, 9}, {160, 5}, {96, 4}, {128, 140}}) {
                    assertPoolGivesTheBitsOfOneThread(pool, in, hs[0], hs[1], 1, threads + " threads, hidden "
                            + hs[0] + ", seq " + hs[1]);
                }
            }
        }
    }

    /**
     * Row blocks of a split sequence: a whole number per thread, about 16 rows each, never more than the rows
     * (lstm at batch 64 on 2 threads: 4 blocks of 16, two 6-row tiles and one 4-row tile each).
     */
    @Test
    void rowBlocksAreWholeSharesOfAboutSixteenRows() {
        org.junit.jupiter.api.Assertions.assertEquals(4, Recurrent.rowBlocks(64, 2));
        org.junit.jupiter.api.Assertions.assertEquals(4, Recurrent.rowBlocks(48, 2));
        org.junit.jupiter.api.Assertions.assertEquals(2, Recurrent.rowBlocks(32, 2));
        org.junit.jupiter.api.Assertions.assertEquals(2, Recurrent.rowBlocks(7, 2));
        org.junit.jupiter.api.Assertions.assertEquals(3, Recurrent.rowBlocks(64, 3));
        org.junit.jupiter.api.Assertions.assertEquals(2, Recurrent.rowBlocks(2, 3));
        org.junit.jupiter.api.Assertions.assertEquals(16, Recurrent.rowBlocks(256, 4));
    }

    /**
     * A call allocates nothing on the calling thread, at 1 and 2 threads, at hidden 128 and at hidden 20 (gate
     * loops of two iterations, whose call sites C2 deems cold: a vector passed to a method there was boxed).
     * The least over up to 20 rounds, so a kernel C2 has not compiled yet does not count.
     */
    @Test
    void steadyStateAllocatesNothing() {
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getProperty("kiln.runtime.vectorBits") == null,
                "allocation is measured at the machine's own vector width only");
        int in = 28;
        int seq = 6;
        int batch = 8;
        for (int hid : new int[] {20, 128}) {
            Recurrent.LstmWeights lw = Recurrent.packLstm(weights(4 * hid * in, 0.3f), weights(4 * hid * hid, 0.1f),
                    weights(8 * hid, 0.3f), in, hid);
            Recurrent.GruWeights gw = Recurrent.packGru(weights(3 * hid * in, 0.3f), weights(3 * hid * hid, 0.1f),
                    weights(6 * hid, 0.3f), in, hid, true);
            float[] x = Check.random(rnd, seq * batch * in);
            float[] y = new float[seq * batch * hid];
            float[] yh = new float[batch * hid];
            float[] yc = new float[batch * hid];
            float[] ls = new float[Recurrent.lstmScratchLength(hid, seq, batch)];
            float[] gs = new float[Recurrent.gruScratchLength(hid, seq, batch)];
            try (WorkerPool pool = WorkerPool.of(2)) {
                for (WorkerPool p : new WorkerPool[] {null, pool}) {
                    long bytes = Allocations.steadyBytesPerCall(() -> {
                        Recurrent.lstm(lw, seq, batch, false, Float.POSITIVE_INFINITY, x, 0, null, 0, null, 0, y, 0,
                                yh, 0, yc, 0, ls, p);
                        Recurrent.gru(gw, seq, batch, false, Float.POSITIVE_INFINITY, x, 0, null, 0, y, 0, yh, 0, gs,
                                p);
                    });
                    assertEquals(0, bytes, "bytes per LSTM + GRU call, hidden " + hid + (p == null ? "" : ", 2 threads"));
                }
            }
        }
    }

    /** Every output of an LSTM and of both GRU forms, on {@code pool} and on one thread: the same bits. */
    private void assertPoolGivesTheBitsOfOneThread(WorkerPool pool, int in, int hid, int seq, int batch,
                                                   String what) {
        float[] x = Check.random(rnd, seq * batch * in);
        float[] h0 = Check.random(rnd, batch * hid);
        float[] c0 = Check.random(rnd, batch * hid);
        Recurrent.LstmWeights lw = Recurrent.packLstm(weights(4 * hid * in, 0.3f), weights(4 * hid * hid, 0.1f),
                weights(8 * hid, 0.3f), in, hid);
        float[][] one = lstmOutputs(lw, seq, batch, x, h0, c0, null);
        float[][] many = lstmOutputs(lw, seq, batch, x, h0, c0, pool);
        for (int k = 0; k < 3; k++) {
            org.junit.jupiter.api.Assertions.assertArrayEquals(one[k], many[k], "LSTM output " + k + ", " + what);
        }
        for (boolean lbr : new boolean[] {false, true}) {
            Recurrent.GruWeights gw = Recurrent.packGru(weights(3 * hid * in, 0.3f), weights(3 * hid * hid, 0.1f),
                    weights(6 * hid, 0.3f), in, hid, lbr);
            float[][] g1 = gruOutputs(gw, seq, batch, x, h0, null);
            float[][] gn = gruOutputs(gw, seq, batch, x, h0, pool);
            for (int k = 0; k < 2; k++) {
                org.junit.jupiter.api.Assertions.assertArrayEquals(g1[k], gn[k], "GRU lbr " + lbr + " output " + k
                        + ", " + what);
            }
        }
    }

    private static float[][] lstmOutputs(Recurrent.LstmWeights w, int seq, int batch, float[] x, float[] h0,
                                         float[] c0, WorkerPool pool) {
        int hid = w.hidden();
        float[] y = new float[seq * batch * hid];
        float[] yh = new float[batch * hid];
        float[] yc = new float[batch * hid];
        Recurrent.lstm(w, seq, batch, true, 3f, x, 0, h0, 0, c0, 0, y, 0, yh, 0, yc, 0,
                new float[Recurrent.lstmScratchLength(hid, seq, batch)], pool);
        return new float[][] {y, yh, yc};
    }

    private static float[][] gruOutputs(Recurrent.GruWeights w, int seq, int batch, float[] x, float[] h0,
                                        WorkerPool pool) {
        int hid = w.hidden();
        float[] y = new float[seq * batch * hid];
        float[] yh = new float[batch * hid];
        Recurrent.gru(w, seq, batch, false, Float.POSITIVE_INFINITY, x, 0, h0, 0, y, 0, yh, 0,
                new float[Recurrent.gruScratchLength(hid, seq, batch)], pool);
        return new float[][] {y, yh};
    }

    /**
     * A batch this large projects its inputs step by step; batch 1 projects all steps at once: every row must
     * still get the same bits.
     */
    @Test
    void stepByStepProjectionGivesEachRowTheBitsItGetsAlone() {
        int in = 28;
        int hid = 128;
        int seq = 7;
        int batch = 40;
        float[] x = Check.random(rnd, seq * batch * in);
        Recurrent.LstmWeights lw = Recurrent.packLstm(weights(4 * hid * in, 0.3f), weights(4 * hid * hid, 0.1f),
                weights(8 * hid, 0.3f), in, hid);
        float[] yh = new float[batch * hid];
        float[] yc = new float[batch * hid];
        Recurrent.lstm(lw, seq, batch, false, Float.POSITIVE_INFINITY, x, 0, null, 0, null, 0, null, 0, yh, 0, yc, 0,
                new float[Recurrent.lstmScratchLength(hid, seq, batch)], null);
        for (int b : new int[] {0, 17, batch - 1}) {
            float[] xb = row(x, seq, batch, in, b);
            float[] yhb = new float[hid];
            float[] ycb = new float[hid];
            Recurrent.lstm(lw, seq, 1, false, Float.POSITIVE_INFINITY, xb, 0, null, 0, null, 0, null, 0, yhb, 0, ycb,
                    0, new float[Recurrent.lstmScratchLength(hid, seq, 1)], null);
            org.junit.jupiter.api.Assertions.assertArrayEquals(yhb, java.util.Arrays.copyOfRange(yh, b * hid,
                    (b + 1) * hid), "LSTM row " + b);
            org.junit.jupiter.api.Assertions.assertArrayEquals(ycb, java.util.Arrays.copyOfRange(yc, b * hid,
                    (b + 1) * hid), "LSTM cell row " + b);
        }
        for (boolean lbr : new boolean[] {false, true}) {
            Recurrent.GruWeights gw = Recurrent.packGru(weights(3 * hid * in, 0.3f), weights(3 * hid * hid, 0.1f),
                    weights(6 * hid, 0.3f), in, hid, lbr);
            Recurrent.gru(gw, seq, batch, false, Float.POSITIVE_INFINITY, x, 0, null, 0, null, 0, yh, 0,
                    new float[Recurrent.gruScratchLength(hid, seq, batch)], null);
            for (int b : new int[] {0, 23}) {
                float[] yhb = new float[hid];
                Recurrent.gru(gw, seq, 1, false, Float.POSITIVE_INFINITY, row(x, seq, batch, in, b), 0, null, 0, null,
                        0, yhb, 0, new float[Recurrent.gruScratchLength(hid, seq, 1)], null);
                org.junit.jupiter.api.Assertions.assertArrayEquals(yhb, java.util.Arrays.copyOfRange(yh, b * hid,
                        (b + 1) * hid), "GRU lbr " + lbr + " row " + b);
            }
        }
    }

    /**
     * Without initial states the first step's recurrent products are skipped (they are exactly zero): the bits,
     * signed zeros included, must be those of explicit zero states, which run every product. With an infinity in
     * R, 0 times R is NaN and nothing may be skipped. Batch 40 projects step by step, batch 1 and 3 up front.
     */
    @Test
    void absentStatesGiveTheBitsOfZeroStates() {
        int[][] sizes = {{28, 128, 5}, {5, 13, 3}};
        for (int[] sz : sizes) {
            int in = sz[0];
            int hid = sz[1];
            int seq = sz[2];
            for (int batch : new int[] {1, 3, 40}) {
                for (int variant = 0; variant < 4; variant++) {
                    boolean reverse = variant % 2 == 1;
                    float clip = variant == 2 ? 0.7f : Float.POSITIVE_INFINITY;
                    float[] w = variant == 3 ? new float[4 * hid * in] : weights(4 * hid * in, 0.3f);
                    float[] r = weights(4 * hid * hid, 0.2f);
                    if (variant == 1) {
                        r[r.length / 3] = Float.POSITIVE_INFINITY;
                    }
                    float[] b = variant == 3 ? null : weights(8 * hid, 0.3f);
                    float[] x = Check.random(rnd, seq * batch * in);
                    String what = "LSTM in " + in + " hidden " + hid + " batch " + batch + " variant " + variant;
                    assertSameOutputs(lstmRun(Recurrent.packLstm(w, r, b, in, hid), seq, batch, reverse, clip, x,
                            false), lstmRun(Recurrent.packLstm(w, r, b, in, hid), seq, batch, reverse, clip, x, true),
                            what);
                    for (boolean lbr : new boolean[] {false, true}) {
                        float[] gr = weights(3 * hid * hid, 0.2f);
                        if (variant == 1) {
                            gr[lbr ? gr.length - 1 : 0] = Float.NEGATIVE_INFINITY;
                        }
                        Recurrent.GruWeights gw = Recurrent.packGru(variant == 3 ? new float[3 * hid * in]
                                : weights(3 * hid * in, 0.3f), gr, variant == 3 ? null : weights(6 * hid, 0.3f),
                                in, hid, lbr);
                        assertSameOutputs(gruRun(gw, seq, batch, reverse, clip, x, false),
                                gruRun(gw, seq, batch, reverse, clip, x, true), "GRU lbr " + lbr + " " + what);
                    }
                }
            }
        }
    }

    private static float[][] lstmRun(Recurrent.LstmWeights w, int seq, int batch, boolean reverse, float clip,
                                     float[] x, boolean zeroArrays) {
        int hid = w.hidden();
        float[] zeros = zeroArrays ? new float[batch * hid] : null;
        float[] y = new float[seq * batch * hid];
        float[] yh = new float[batch * hid];
        float[] yc = new float[batch * hid];
        Recurrent.lstm(w, seq, batch, reverse, clip, x, 0, zeros, 0, zeros, 0, y, 0, yh, 0, yc, 0,
                new float[Recurrent.lstmScratchLength(hid, seq, batch)], null);
        return new float[][] {y, yh, yc};
    }

    private static float[][] gruRun(Recurrent.GruWeights w, int seq, int batch, boolean reverse, float clip,
                                    float[] x, boolean zeroArrays) {
        int hid = w.hidden();
        float[] y = new float[seq * batch * hid];
        float[] yh = new float[batch * hid];
        Recurrent.gru(w, seq, batch, reverse, clip, x, 0, zeroArrays ? new float[batch * hid] : null, 0, y, 0, yh, 0,
                new float[Recurrent.gruScratchLength(hid, seq, batch)], null);
        return new float[][] {y, yh};
    }

    private static void assertSameOutputs(float[][] want, float[][] got, String what) {
        for (int i = 0; i < want.length; i++) {
            org.junit.jupiter.api.Assertions.assertArrayEquals(want[i], got[i], what + ", output " + i);
        }
    }

    /** Batch row b of X [seq, batch, in] as X [seq, 1, in]. */
    private static float[] row(float[] x, int seq, int batch, int in, int b) {
        float[] xb = new float[seq * in];
        for (int t = 0; t < seq; t++) {
            System.arraycopy(x, (t * batch + b) * in, xb, t * in, in);
        }
        return xb;
    }

    @Test
    void bidirectionalLayoutInterleavesDirectionsThroughYStep() {
        int in = 3;
        int hid = 5;
        int seq = 4;
        int batch = 2;
        int bh = batch * hid;
        float[] x = Check.random(rnd, seq * batch * in);
        float[] w = weights(4 * hid * in, 0.5f);
        float[] r = weights(4 * hid * hid, 0.5f);
        Recurrent.LstmWeights p = Recurrent.packLstm(w, r, null, in, hid);
        float[] scratch = new float[Recurrent.lstmScratchLength(hid, seq, batch)];
        float[] y = new float[seq * 2 * bh];
        float[] yh = new float[2 * bh];
        Recurrent.lstm(p, seq, batch, false, Float.POSITIVE_INFINITY, x, 0, null, 0, null, 0, y, 0, 2 * bh, yh, 0,
                null, 0, scratch, null);
        Recurrent.lstm(p, seq, batch, true, Float.POSITIVE_INFINITY, x, 0, null, 0, null, 0, y, bh, 2 * bh, yh, bh,
                null, 0, scratch, null);
        for (boolean reverse : new boolean[] {false, true}) {
            float[] want = new float[seq * bh];
            Recurrent.lstmScalar(in, hid, w, r, null, seq, batch, reverse, Float.POSITIVE_INFINITY, x, null, null, want,
                    null, null);
            float[] got = new float[seq * bh];
            for (int t = 0; t < seq; t++) {
                System.arraycopy(y, (2 * t + (reverse ? 1 : 0)) * bh, got, t * bh, bh);
            }
            Check.close("direction reverse=" + reverse, want, got, ABS, REL);
            int last = reverse ? 0 : seq - 1;
            Check.close("Y_h reverse=" + reverse, java.util.Arrays.copyOfRange(want, last * bh, (last + 1) * bh),
                    java.util.Arrays.copyOfRange(yh, reverse ? bh : 0, reverse ? 2 * bh : bh), ABS, REL);
        }
    }

    @Test
    void lstmScalarTwinMatchesHandComputedSteps() {
        // input 1, hidden 1; W = [1, 2, 3, 4] for i, o, f, c; R = 0.5 each; no bias; c0 = 1, h0 = 0.
        float[] w = {1, 2, 3, 4};
        float[] r = {0.5f, 0.5f, 0.5f, 0.5f};
        float[] y = new float[2];
        float[] yh = new float[1];
        float[] yc = new float[1];
        Recurrent.lstmScalar(1, 1, w, r, null, 2, 1, false, Float.POSITIVE_INFINITY, new float[] {0.5f, -1f}, null,
                new float[] {1f}, y, yh, yc);
        // step 1: i = σ(.5), o = σ(1), f = σ(1.5), c = tanh(2): C = 1.41764244, H = 0.64998862
        assertEquals(0.64998862f, y[0], 1e-6);
        // step 2 with x = -1 and H from step 1
        assertEquals(-0.03797814f, y[1], 1e-6);
        assertEquals(-0.03797814f, yh[0], 1e-6);
        assertEquals(-0.24555608f, yc[0], 1e-6);
    }

    @Test
    void gruScalarTwinMatchesHandComputedStep() {
        // input 1, hidden 1; W = [1, 2, 3] for z, r, h; R = [0.5, -1, 2]; Wb = [.1, .2, .3], Rb = [.4, .5, .6]
        float[] w = {1, 2, 3};
        float[] r = {0.5f, -1f, 2f};
        float[] b = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
        float[] yh = new float[1];
        // linear_before_reset = 0: h~ = tanh(3x + (r h) 2 + .6 + .3)
        Recurrent.gruScalar(1, 1, w, r, b, false, 1, 1, false, Float.POSITIVE_INFINITY, new float[] {0.5f},
                new float[] {0.2f}, null, yh);
        assertEquals(0.39766380f, yh[0], 1e-6);
        // linear_before_reset = 1: h~ = tanh(3x + r (2 h + .6) + .3)
        Recurrent.gruScalar(1, 1, w, r, b, true, 1, 1, false, Float.POSITIVE_INFINITY, new float[] {0.5f},
                new float[] {0.2f}, null, yh);
        assertEquals(0.39714576f, yh[0], 1e-6);
    }

    @Test
    void rejectsMisshapenWeights() {
        assertThrows(IllegalArgumentException.class, () -> Recurrent.packLstm(new float[10], new float[16], null, 2, 2));
    }
}
