package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The vectorized {@link Gemm#gemm} against its scalar twin on random shapes, strides and offsets, plus the
 * invariants the contract promises: nothing written outside C's m x n window, bit-identical results for every
 * thread count and for a row computed alone or in a batch.
 *
 * <p>Tolerance: the twin sums in double, the kernel in float FMA chains, so an element may differ by
 * {@code 1e-5} of the magnitude {@code sum |a||b| + |Cold| + |bias|} it was computed from, scaled by the
 * activation's largest slope, plus {@code 1e-6 (1 + |expected|)} for the rounding of the activation itself.
 */
class GemmTest {

    private static final float SENTINEL = -12345.5f;

    /** One random problem: operands laid out with strides and offsets, C pre-filled around its window. */
    private record Case(int m, int k, int n, int lda, int aOff, int ldc, int cOff, float[] a, PackedMatrix b,
                        float[] bias, float[] c0, boolean accumulate, Epilogue ep) {

        static Case random(Random r, int m, int k, int n, boolean accumulate, boolean withBias, Epilogue ep) {
            int lda = k + r.nextInt(4);
            int ldc = n + r.nextInt(4);
            int aOff = r.nextInt(5);
            int cOff = r.nextInt(5);
            float[] a = new float[aOff + Math.max(0, m - 1) * lda + k + r.nextInt(3)];
            for (int i = 0; i < a.length; i++) {
                a[i] = r.nextFloat() * 2 - 1;
            }
            float[] b = new float[k * n];
            for (int i = 0; i < b.length; i++) {
                b[i] = r.nextFloat() * 2 - 1;
            }
            float[] bias = null;
            if (withBias) {
                bias = new float[n];
                for (int j = 0; j < n; j++) {
                    bias[j] = r.nextFloat() * 2 - 1;
                }
            }
            float[] c0 = new float[cOff + Math.max(0, m - 1) * ldc + n + r.nextInt(3)];
            java.util.Arrays.fill(c0, SENTINEL);
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    c0[cOff + i * ldc + j] = r.nextFloat() * 2 - 1;
                }
            }
            PackedMatrix packed = PackedMatrix.pack(b, 0, k, n, false);
            return new Case(m, k, n, lda, aOff, ldc, cOff, a, packed, bias, c0, accumulate, ep);
        }

        float[] run() {
            float[] c = c0.clone();
            Gemm.gemm(m, a, aOff, lda, b, bias, c, cOff, ldc, accumulate, ep);
            return c;
        }

        float[] run(WorkerPool pool) {
            float[] c = c0.clone();
            Gemm.gemm(pool, m, a, aOff, lda, b, bias, c, cOff, ldc, accumulate, ep);
            return c;
        }

        float[] scalar() {
            float[] c = c0.clone();
            Gemm.gemmScalar(m, a, aOff, lda, b, bias, c, cOff, ldc, accumulate, ep);
            return c;
        }

        /** Compares with the scalar twin inside the window and checks nothing outside it changed. */
        void check() {
            float[] got = run();
            float[] want = scalar();
            float slope = Math.max(1f, Math.abs(ep.kind() == Epilogue.Kind.CLIP ? 1f : ep.alpha()));
            for (int idx = 0; idx < got.length; idx++) {
                int rel = idx - cOff;
                int i = Math.floorDiv(rel, ldc);
                int j = Math.floorMod(rel, ldc);
                boolean inside = rel >= 0 && i < m && j < n;
                if (!inside) {
                    if (Float.floatToRawIntBits(got[idx]) != Float.floatToRawIntBits(c0[idx])) {
                        fail(this + ": wrote outside C's window at index " + idx);
                    }
                    continue;
                }
                double mag = accumulate ? Math.abs(c0[idx]) : 0;
                mag += bias != null ? Math.abs(bias[j]) : 0;
                for (int kk = 0; kk < k; kk++) {
                    mag += Math.abs(a[aOff + i * lda + kk] * b.get(kk, j));
                }
                double tol = 1e-5 * mag * slope + 1e-6 * (1 + Math.abs(want[idx]));
                if (!(Math.abs(got[idx] - want[idx]) <= tol)) {
                    fail(this + ": C[" + i + "][" + j + "] = " + got[idx] + ", scalar twin " + want[idx]
                            + ", tolerance " + tol);
                }
            }
        }

        @Override
        public String toString() {
            return "gemm m=" + m + " k=" + k + " n=" + n + " lda=" + lda + " aOff=" + aOff + " ldc=" + ldc
                    + " cOff=" + cOff + " bias=" + (bias != null) + " accumulate=" + accumulate + " " + ep;
        }
    }

    @Test
    void matchesScalarTwinOnRandomShapes() {
        Random r = new Random(42);
        int[] ms = {1, 2, 4, 5, 6, 7, 10, 12, 13, 31};
        int[] ks = {1, 2, 3, 8, 17, 64, 100};
        int[] ns = {1, 3, 7, 8, 15, 16, 17, 24, 31, 32, 33, 40, 64, 65, 130};
        List<Epilogue> eps = EpilogueTest.all();
        for (int t = 0; t < 600; t++) {
            Case c = Case.random(r, ms[r.nextInt(ms.length)], ks[r.nextInt(ks.length)], ns[r.nextInt(ns.length)],
                    r.nextBoolean(), r.nextBoolean(), eps.get(t % eps.size()));
            c.check();
        }
    }

    @Test
    void everyEpilogueBiasAndAccumulateCombinationOnAnEdgeShape() {
        Random r = new Random(3);
        for (Epilogue ep : EpilogueTest.all()) {
            for (boolean acc : new boolean[] {false, true}) {
                for (boolean bias : new boolean[] {false, true}) {
                    for (int m : new int[] {1, 9}) {
                        Case.random(r, m, 19, 45, acc, bias, ep).check();
                    }
                }
            }
        }
    }

    @Test
    void cacheBlocksOfRowsAndDepthAreSeamless() {
        // m crosses the row block (MC), k the depth block (KC), n ends in a partial strip.
        Random r = new Random(17);
        int m = GemmKernel.MC + 2 * GemmKernel.MR + 1;
        int k = GemmKernel.KC + 37;
        Case.random(r, m, k, 40, true, true, Epilogue.tanh()).check();
        Case.random(r, m, k, 32, false, false, Epilogue.none()).check();
    }

    @Test
    void emptyReductionGivesEpilogueOfBias() {
        Random r = new Random(5);
        for (int m : new int[] {1, 8}) {
            Case.random(r, m, 0, 21, false, true, Epilogue.sigmoid()).check();
            Case.random(r, m, 0, 21, true, true, Epilogue.relu()).check();
        }
    }

    @Test
    void zeroRowsWritesNothing() {
        PackedMatrix b = PackedMatrix.pack(new float[12], 0, 3, 4, false);
        float[] c = {SENTINEL};
        Gemm.gemm(0, new float[0], 0, 3, b, null, c, 0, 4, false, Epilogue.relu());
        assertEquals(SENTINEL, c[0]);
    }

    @Test
    void aRowAloneEqualsTheSameRowInABatchBitForBit() {
        Random r = new Random(11);
        for (int n : new int[] {10, 16, 100, 256, 300}) {
            Case batch = Case.random(r, 9, 70, n, true, true, Epilogue.tanh());
            float[] all = batch.run();
            for (int i = 0; i < batch.m(); i++) {
                float[] c = new float[n];
                // Through the constant matrix (its aligned copy) and through a view of the same array (the heap)
                PackedMatrix view = PackedMatrix.view(batch.b().data(), batch.b().k(), n);
                for (PackedMatrix b : List.of(batch.b(), view)) {
                    System.arraycopy(batch.c0(), batch.cOff() + i * batch.ldc(), c, 0, n);
                    Gemm.gemm(1, batch.a(), batch.aOff() + i * batch.lda(), batch.lda(), b, batch.bias(), c, 0,
                            n, true, batch.ep());
                    for (int j = 0; j < n; j++) {
                        assertEquals(Float.floatToRawIntBits(all[batch.cOff() + i * batch.ldc() + j]),
                                Float.floatToRawIntBits(c[j]), "row " + i + " col " + j + " n " + n + " " + b);
                    }
                }
            }
        }
    }

    /** k x n large enough (288 KB packed) that a batch-1 product skips the zero rows of A. */
    private static final int SPARSE_K = 512;
    private static final int SPARSE_N = 144;

    /** A row of {@code k} random values of which about {@code zeros} (a fraction) are +0 or -0. */
    private static float[] rowWithZeros(Random r, int k, double zeros) {
        float[] a = Check.random(r, k);
        for (int i = 0; i < k; i++) {
            if (r.nextDouble() < zeros) {
                a[i] = r.nextBoolean() ? 0f : -0f;
            }
        }
        return a;
    }

    /** C = A·B computed one row at a time, each compared bit for bit with the same rows computed as a batch. */
    private static void assertRowsAloneEqualTheBatch(float[] a, int m, PackedMatrix b, float[] bias, Epilogue ep) {
        int k = b.k();
        int n = b.n();
        float[] all = new float[m * n];
        Gemm.gemm(m, a, 0, k, b, bias, all, 0, n, false, ep);
        for (int i = 0; i < m; i++) {
            // twice: the second product walks the column groups the other way
            for (int rep = 0; rep < 2; rep++) {
                float[] c = new float[n];
                Gemm.gemm(1, a, i * k, k, b, bias, c, 0, n, false, ep);
                for (int j = 0; j < n; j++) {
                    assertEquals(Float.floatToRawIntBits(all[i * n + j]), Float.floatToRawIntBits(c[j]),
                            "row " + i + " col " + j + " " + ep + " bias " + (bias != null));
                }
            }
        }
    }

    @Test
    void aSparseRowSkipsItsZerosAndKeepsTheBatchBits() {
        Random r = new Random(17);
        PackedMatrix b = PackedMatrix.pack(Check.random(r, SPARSE_K * SPARSE_N), 0, SPARSE_K, SPARSE_N, false);
        double[] fractions = {0, 0.3, 0.45, 0.7, 0.97, 1};
        float[] a = new float[fractions.length * SPARSE_K];
        for (int i = 0; i < fractions.length; i++) {
            System.arraycopy(rowWithZeros(r, SPARSE_K, fractions[i]), 0, a, i * SPARSE_K, SPARSE_K);
        }
        float[] bias = Check.random(r, SPARSE_N);
        assertRowsAloneEqualTheBatch(a, fractions.length, b, bias, Epilogue.relu());
        assertRowsAloneEqualTheBatch(a, fractions.length, b, null, Epilogue.none());
        assertRowsAloneEqualTheBatch(a, fractions.length, b, null, Epilogue.tanh());
        new Case(1, SPARSE_K, SPARSE_N, SPARSE_K, 2 * SPARSE_K, SPARSE_N, 0, a, b, bias, new float[SPARSE_N],
                false, Epilogue.none()).check();
    }

    @Test
    void aSparseRowTimesAnInfinityStillGivesNaN() {
        // 0 x Inf is NaN: with a non-finite B no zero may be skipped.
        Random r = new Random(19);
        float[] values = Check.random(r, SPARSE_K * SPARSE_N);
        values[5 * SPARSE_N + 7] = Float.POSITIVE_INFINITY;
        PackedMatrix b = PackedMatrix.pack(values, 0, SPARSE_K, SPARSE_N, false);
        float[] a = rowWithZeros(r, SPARSE_K, 0.8);
        a[5] = 0f;
        float[] c = new float[SPARSE_N];
        Gemm.gemm(1, a, 0, SPARSE_K, b, null, c, 0, SPARSE_N, false, Epilogue.none());
        assertTrue(Float.isNaN(c[7]), "0 x Inf in column 7 gave " + c[7]);
        assertRowsAloneEqualTheBatch(a, 1, b, null, Epilogue.none());
    }

    @Test
    void aSumThatUnderflowsToMinusZeroBeforeASkippedZeroIsPlusZero() {
        // Column 3: a[0] * B[0][3] = 1e-30 * -1e-30 underflows to -0; the other nonzero entries of A meet a zero
        // of the opposite sign in B (products -0, and -0 + -0 stays -0); every zero of A meets 5, and 0 x 5 = +0
        // turns the running -0 into +0. Skipping the zeros would leave -0: the kernel must notice and sum that
        // group over every row.
        Random r = new Random(23);
        float[] values = Check.random(r, SPARSE_K * SPARSE_N);
        float[] a = rowWithZeros(r, SPARSE_K, 0.6);
        a[0] = 1e-30f;
        a[1] = 0f;
        for (int kk = 0; kk < SPARSE_K; kk++) {
            values[kk * SPARSE_N + 3] = kk == 0 ? -1e-30f : a[kk] == 0 ? 5f : a[kk] > 0 ? -0f : 0f;
        }
        PackedMatrix b = PackedMatrix.pack(values, 0, SPARSE_K, SPARSE_N, false);
        float[] c = new float[SPARSE_N];
        Gemm.gemm(1, a, 0, SPARSE_K, b, null, c, 0, SPARSE_N, false, Epilogue.none());
        assertEquals(0, Float.floatToRawIntBits(c[3]), "C[3] = " + c[3] + " (bits of -0 are 0x80000000)");
        assertRowsAloneEqualTheBatch(a, 1, b, null, Epilogue.none());
    }

    @Test
    void threadCountsGiveBitIdenticalResults() {
        Random r = new Random(13);
        // Shapes above the split threshold: split by strips (wide), by rows (narrow, tall), batch 1.
        List<Case> cases = List.of(
                Case.random(r, 64, 784, 512, false, true, Epilogue.relu()),
                Case.random(r, 61, 300, 500, true, true, Epilogue.sigmoid()),
                Case.random(r, 3000, 256, 10, false, true, Epilogue.none()),
                Case.random(r, 1, 784, 512, true, true, Epilogue.elu(0.7f)),
                Case.random(r, 1, 1000, 1000, false, false, Epilogue.tanh()));
        Case sparse = Case.random(r, 1, 784, 512, false, true, Epilogue.relu());
        System.arraycopy(rowWithZeros(r, 784, 0.6), 0, sparse.a(), sparse.aOff(), 784);
        cases = new java.util.ArrayList<>(cases);
        cases.add(sparse);
        for (Case c : cases) {
            float[] single = c.run();
            for (int threads = 1; threads <= 3; threads++) {
                try (WorkerPool pool = WorkerPool.of(threads)) {
                    for (int rep = 0; rep < 3; rep++) {
                        assertArrayEquals(single, c.run(pool), c + " on " + threads + " threads");
                    }
                }
            }
        }
        cases.get(1).check();
    }

    @Test
    void aRareNonReluEpilogueAllocatesNothing() {
        // A classifier's last layer: one Leaky Relu or Clip GEMM (full strips, an edge strip, the batch-1 path) per
        // 50 Relu GEMMs. C2 finds that path cold; when a vector reached the activation through a call, it was boxed
        // (16 KB a call). Sigmoid, Tanh and Elu are not asserted: their loops call VectorMath, which C2 inlines
        // only if the call profile says the site is hot, and that profile can miss most calls (docs/KERNELS.md).
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getProperty("kiln.runtime.vectorBits") == null,
                "allocation is measured at the machine's own vector width only");
        Random r = new Random(3);
        int m = 16;
        int k = 64;
        for (int n : new int[] {70, 300}) {
            float[] a = Check.random(r, m * k);
            PackedMatrix b = PackedMatrix.pack(Check.random(r, k * n), 0, k, n, false);
            float[] bias = Check.random(r, n);
            float[] c = new float[m * n];
            for (Epilogue rare : List.of(Epilogue.leakyRelu(0.1f), Epilogue.clip(-0.5f, 0.5f))) {
                long bytes = Allocations.steadyBytesPerCall(() -> {
                    for (int i = 0; i < 50; i++) {
                        Gemm.gemm(m, a, 0, k, b, bias, c, 0, n, false, Epilogue.relu());
                    }
                    Gemm.gemm(m, a, 0, k, b, bias, c, 0, n, false, rare);
                    Gemm.gemm(1, a, 0, k, b, bias, c, 0, n, false, rare);
                });
                assertEquals(0, bytes, "bytes per 50 Relu GEMMs and two " + rare + " GEMMs, n = " + n);
            }
        }
    }

    @Test
    void aSparseBatchOneProductAllocatesNothing() {
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getProperty("kiln.runtime.vectorBits") == null,
                "allocation is measured at the machine's own vector width only");
        Random r = new Random(29);
        PackedMatrix b = PackedMatrix.pack(Check.random(r, SPARSE_K * SPARSE_N), 0, SPARSE_K, SPARSE_N, false);
        float[] a = rowWithZeros(r, SPARSE_K, 0.5);
        float[] bias = Check.random(r, SPARSE_N);
        float[] c = new float[SPARSE_N];
        long bytes = Allocations.steadyBytesPerCall(
                () -> Gemm.gemm(1, a, 0, SPARSE_K, b, bias, c, 0, SPARSE_N, false, Epilogue.relu()));
        assertEquals(0, bytes, "bytes per batch-1 product over a half-zero row");
    }

    @Test
    void rejectsOperandsThatDoNotFit() {
        PackedMatrix b = PackedMatrix.pack(new float[3 * 4], 0, 3, 4, false);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Gemm.gemm(2, new float[5], 0, 3, b, null, new float[8], 0, 4, false, Epilogue.none()));
        assertTrue(e.getMessage().contains("gemm 2x3 · 3x4") && e.getMessage().contains("A"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> Gemm.gemm(2, new float[6], 0, 2, b, null, new float[8], 0, 4, false, Epilogue.none()));
        assertThrows(IllegalArgumentException.class,
                () -> Gemm.gemm(2, new float[6], 0, 3, b, null, new float[7], 0, 4, false, Epilogue.none()));
        assertThrows(IllegalArgumentException.class,
                () -> Gemm.gemm(2, new float[6], 0, 3, b, new float[3], new float[8], 0, 4, false, Epilogue.none()));
    }

    @Test
    void twoProductsInOneTileGiveTheBitsOfTheTwoGemms() {
        // A recurrent step: rows of X_t · W^T + bias, then + H · R^T over R's columns (all, or the first ones as a
        // GRU's z and r gates), rows from an offset, strides wider than k and n.
        Random r = new Random(29);
        int rows = 19;
        int k1 = 28;
        int k2 = 40;
        for (int[] widths : new int[][] {{64, 64}, {96, 64}, {32, 32}}) {
            int n1 = widths[0];
            int n2 = widths[1];
            PackedMatrix b1 = PackedMatrix.pack(Check.random(r, k1 * n1), 0, k1, n1, false);
            PackedMatrix b2 = PackedMatrix.pack(Check.random(r, k2 * n2), 0, k2, n2, false);
            float[] bias = Check.random(r, n1);
            int lda1 = k1 + 3;
            int lda2 = k2 + 5;
            int ldc = n1 + 7;
            float[] a1 = Check.random(r, 2 + rows * lda1);
            float[] a2 = Check.random(r, 1 + rows * lda2);
            float[] want = new float[4 + rows * ldc];
            float[] got = want.clone();
            int from = 3;
            int to = 17;
            Gemm.gemm(to - from, a1, 2 + from * lda1, lda1, b1, bias, want, 4 + from * ldc, ldc, false,
                    Epilogue.none());
            Gemm.gemm(to - from, a2, 1 + from * lda2, lda2, b2, null, want, 4 + from * ldc, ldc, true,
                    Epilogue.none());
            assertTrue(Gemm.fusesTwo(b1, b2));
            Gemm.gemmTwo(from, to, a1, 2, lda1, b1, bias, a2, 1, lda2, b2, got, 4, ldc);
            for (int i = 0; i < want.length; i++) {
                assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]),
                        "element " + i + " of C, widths " + n1 + "/" + n2);
            }
        }
        PackedMatrix odd = PackedMatrix.pack(new float[k1 * 10], 0, k1, 10, false);
        PackedMatrix wide = PackedMatrix.pack(new float[k2 * 64], 0, k2, 64, false);
        assertFalse(Gemm.fusesTwo(odd, odd));
        assertFalse(Gemm.fusesTwo(PackedMatrix.pack(new float[k1 * 32], 0, k1, 32, false), wide));
        assertThrows(IllegalArgumentException.class, () -> Gemm.gemmTwo(0, 1, new float[k1], 0, k1, odd, null,
                new float[k1], 0, k1, odd, new float[10], 0, 10));
        PackedMatrix b = PackedMatrix.pack(new float[k1 * 32], 0, k1, 32, false);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Gemm.gemmTwo(0, 2,
                new float[k1], 0, k1, b, null, new float[2 * k1], 0, k1, b, new float[64], 0, 32));
        assertTrue(e.getMessage().contains("A"), e.getMessage());
    }
}
