package dev.kiln.runtime.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Recurrent;
import dev.kiln.runtime.WorkerPool;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * LSTM and GRU training kernels: the forward against the inference kernels' scalar twins (1e-5 absolute + 1e-4
 * relative) and, for the LSTM, the inference kernel bit for bit (same GEMMs, same gate math); backpropagation
 * through time against the double twins (float GEMM sums over at most ~100 terms of order 1: 2e-5 absolute +
 * 1e-3 relative) and against central differences (h = 1e-4) of double forwards written here (2e-5 + 1e-3
 * relative); one vs two threads bit for bit. The GRU's in both linear_before_reset forms.
 */
class RecurrentTrainingTest {
    private static final double ABS = 2e-5;
    private static final double REL = 1e-3;
    private final Random rnd = new Random(23);

    /** input, hidden, seq, batch, reverse, with bias/initial states */
    private static final int[][] CASES = {
        {3, 5, 4, 2, 0, 1},
        {7, 16, 3, 3, 1, 1},
        {10, 20, 5, 1, 0, 0},
        {4, 33, 2, 4, 1, 0},
        {5, 8, 1, 2, 0, 1},
    };

    @Test
    void lstmForwardMatchesInferenceKernelAndTwin() {
        for (int[] c : CASES) {
            int in = c[0], h = c[1], seq = c[2], batch = c[3];
            boolean reverse = c[4] == 1;
            boolean full = c[5] == 1;
            float[] x = TrainCheck.random(rnd, seq * batch * in);
            float[] w = TrainCheck.random(rnd, 4 * h * in);
            float[] r = TrainCheck.random(rnd, 4 * h * h);
            float[] b = full ? TrainCheck.random(rnd, 8 * h) : null;
            float[] h0 = full ? TrainCheck.random(rnd, batch * h) : null;
            float[] c0 = full ? TrainCheck.random(rnd, batch * h) : null;
            float[] y = new float[seq * batch * h];
            float[] yh = new float[batch * h];
            float[] yc = new float[batch * h];
            float[] saved = new float[RecurrentTraining.lstmSavedLength(h, seq, batch) + 3];
            RecurrentTraining.lstmForward(in, h, seq, batch, reverse, x, 0, w, 0, r, 0, b, 0, h0, 0, c0, 0, y, 0,
                    batch * h, yh, 0, yc, 0, saved, 3, null);
            float[] y2 = new float[y.length];
            float[] yh2 = new float[yh.length];
            float[] yc2 = new float[yc.length];
            Recurrent.lstmScalar(in, h, w, r, b, seq, batch, reverse, Float.POSITIVE_INFINITY, x, h0, c0, y2, yh2, yc2);
            String what = java.util.Arrays.toString(c);
            TrainCheck.close("y " + what, y2, y, 1e-5, 1e-4);
            TrainCheck.close("yh " + what, yh2, yh, 1e-5, 1e-4);
            TrainCheck.close("yc " + what, yc2, yc, 1e-5, 1e-4);
            Recurrent.lstm(Recurrent.packLstm(w, r, b, in, h), seq, batch, reverse, Float.POSITIVE_INFINITY, x, 0, h0, 0,
                    c0, 0, y2, 0, yh2, 0, yc2, 0, new float[Recurrent.lstmScratchLength(h, seq, batch)], null);
            assertArrayEquals(y2, y, "inference LSTM " + what);
            assertArrayEquals(yc2, yc, "inference LSTM " + what);
        }
    }

    @Test
    void gruForwardMatchesTwin() {
        for (int[] c : CASES) {
            gruForwardMatchesTwin(c, true);
            gruForwardMatchesTwin(c, false);
        }
    }

    private void gruForwardMatchesTwin(int[] c, boolean linearBeforeReset) {
        int in = c[0], h = c[1], seq = c[2], batch = c[3];
        boolean reverse = c[4] == 1;
        boolean full = c[5] == 1;
        float[] x = TrainCheck.random(rnd, seq * batch * in);
        float[] w = TrainCheck.random(rnd, 3 * h * in);
        float[] r = TrainCheck.random(rnd, 3 * h * h);
        float[] b = full ? TrainCheck.random(rnd, 6 * h) : null;
        float[] h0 = full ? TrainCheck.random(rnd, batch * h) : null;
        float[] y = new float[seq * batch * h];
        float[] yh = new float[batch * h];
        float[] saved = new float[RecurrentTraining.gruSavedLength(h, seq, batch)];
        RecurrentTraining.gruForward(in, h, seq, batch, reverse, linearBeforeReset, x, 0, w, 0, r, 0, b, 0, h0, 0,
                y, 0, batch * h, yh, 0, saved, 0, null);
        float[] y2 = new float[y.length];
        float[] yh2 = new float[yh.length];
        Recurrent.gruScalar(in, h, w, r, b, linearBeforeReset, seq, batch, reverse, Float.POSITIVE_INFINITY, x, h0,
                y2, yh2);
        String what = java.util.Arrays.toString(c) + " linear_before_reset " + linearBeforeReset;
        TrainCheck.close("y " + what, y2, y, 1e-5, 1e-4);
        TrainCheck.close("yh " + what, yh2, yh, 1e-5, 1e-4);
    }

    @Test
    void lstmBackwardMatchesTwinAndFiniteDifferences() {
        for (int[] c : CASES) {
            int in = c[0], h = c[1], seq = c[2], batch = c[3];
            boolean reverse = c[4] == 1;
            boolean full = c[5] == 1;
            float[] x = TrainCheck.random(rnd, seq * batch * in);
            float[] w = TrainCheck.random(rnd, 4 * h * in);
            float[] r = TrainCheck.random(rnd, 4 * h * h);
            float[] b = TrainCheck.random(rnd, 8 * h);
            float[] h0 = full ? TrainCheck.random(rnd, batch * h) : null;
            float[] c0 = full ? TrainCheck.random(rnd, batch * h) : null;
            float[] gy = TrainCheck.random(rnd, seq * batch * h);
            float[] gh = full ? TrainCheck.random(rnd, batch * h) : null;
            float[] gc = TrainCheck.random(rnd, batch * h);
            Grads want = new Grads(seq * batch * in, 4 * h * in, 4 * h * h, 8 * h, batch * h);
            RecurrentTraining.lstmGradScalar(in, h, seq, batch, reverse, x, w, r, b, h0, c0, gy, gh, gc, want.dx,
                    want.dw, want.dr, want.db, want.dh0, want.dc0);
            Grads got = new Grads(seq * batch * in, 4 * h * in, 4 * h * h, 8 * h, batch * h);
            RecurrentTraining.lstmGrad(in, h, seq, batch, reverse, x, 0, w, 0, r, 0, b, 0, h0, 0, c0, 0, gy, 0,
                    batch * h, gh, 0, gc, 0, got.dx, 0, false, got.dw, 0, got.dr, 0, got.db, 0, got.dh0, 0, got.dc0, 0,
                    null);
            String what = "LSTM " + java.util.Arrays.toString(c);
            want.assertClose(what, got);

            double[] xd = TrainCheck.toDouble(x);
            double[] wd = TrainCheck.toDouble(w);
            double[] rd = TrainCheck.toDouble(r);
            double[] bd = TrainCheck.toDouble(b);
            double[] h0d = h0 == null ? new double[batch * h] : TrainCheck.toDouble(h0);
            double[] c0d = c0 == null ? new double[batch * h] : TrainCheck.toDouble(c0);
            java.util.function.DoubleSupplier loss = () -> lstmLoss(in, h, seq, batch, reverse, xd, wd, rd, bd, h0d,
                    c0d, gy, gh, gc);
            TrainCheck.close("fd dX " + what, fd(loss, xd), got.dx, ABS, REL);
            TrainCheck.close("fd dW " + what, fd(loss, wd), got.dw, ABS, REL);
            TrainCheck.close("fd dR " + what, fd(loss, rd), got.dr, ABS, REL);
            TrainCheck.close("fd dB " + what, fd(loss, bd), got.db, ABS, REL);
            TrainCheck.close("fd dh0 " + what, fd(loss, h0d), got.dh0, ABS, REL);
            TrainCheck.close("fd dc0 " + what, fd(loss, c0d), got.dc0, ABS, REL);
        }
    }

    @Test
    void gruBackwardMatchesTwinAndFiniteDifferences() {
        for (int[] c : CASES) {
            gruBackwardMatchesTwinAndFiniteDifferences(c, true);
            gruBackwardMatchesTwinAndFiniteDifferences(c, false);
        }
    }

    private void gruBackwardMatchesTwinAndFiniteDifferences(int[] c, boolean linearBeforeReset) {
        int in = c[0], h = c[1], seq = c[2], batch = c[3];
        boolean reverse = c[4] == 1;
        boolean full = c[5] == 1;
        float[] x = TrainCheck.random(rnd, seq * batch * in);
        float[] w = TrainCheck.random(rnd, 3 * h * in);
        float[] r = TrainCheck.random(rnd, 3 * h * h);
        float[] b = TrainCheck.random(rnd, 6 * h);
        float[] h0 = full ? TrainCheck.random(rnd, batch * h) : null;
        float[] gy = full ? TrainCheck.random(rnd, seq * batch * h) : null;
        float[] gh = TrainCheck.random(rnd, batch * h);
        Grads want = new Grads(seq * batch * in, 3 * h * in, 3 * h * h, 6 * h, batch * h);
        RecurrentTraining.gruGradScalar(in, h, seq, batch, reverse, linearBeforeReset, x, w, r, b, h0, gy, gh,
                want.dx, want.dw, want.dr, want.db, want.dh0);
        Grads got = new Grads(seq * batch * in, 3 * h * in, 3 * h * h, 6 * h, batch * h);
        RecurrentTraining.gruGrad(in, h, seq, batch, reverse, linearBeforeReset, x, 0, w, 0, r, 0, b, 0, h0, 0, gy,
                0, batch * h, gh, 0, got.dx, 0, false, got.dw, 0, got.dr, 0, got.db, 0, got.dh0, 0, null);
        String what = "GRU " + java.util.Arrays.toString(c) + " linear_before_reset " + linearBeforeReset;
        want.assertClose(what, got);

        double[] xd = TrainCheck.toDouble(x);
        double[] wd = TrainCheck.toDouble(w);
        double[] rd = TrainCheck.toDouble(r);
        double[] bd = TrainCheck.toDouble(b);
        double[] h0d = h0 == null ? new double[batch * h] : TrainCheck.toDouble(h0);
        java.util.function.DoubleSupplier loss = () -> gruLoss(in, h, seq, batch, reverse, linearBeforeReset, xd, wd,
                rd, bd, h0d, gy, gh);
        TrainCheck.close("fd dX " + what, fd(loss, xd), got.dx, ABS, REL);
        TrainCheck.close("fd dW " + what, fd(loss, wd), got.dw, ABS, REL);
        TrainCheck.close("fd dR " + what, fd(loss, rd), got.dr, ABS, REL);
        TrainCheck.close("fd dB " + what, fd(loss, bd), got.db, ABS, REL);
        TrainCheck.close("fd dh0 " + what, fd(loss, h0d), got.dh0, ABS, REL);
    }

    @Test
    void twoThreadsGiveTheSameBitsAsOne() {
        int in = 64, h = 64, seq = 10, batch = 16;
        float[] x = TrainCheck.random(rnd, seq * batch * in);
        float[] w = TrainCheck.random(rnd, 4 * h * in);
        float[] r = TrainCheck.random(rnd, 4 * h * h);
        float[] b = TrainCheck.random(rnd, 8 * h);
        float[] gy = TrainCheck.random(rnd, seq * batch * h);
        Grads one = new Grads(seq * batch * in, 4 * h * in, 4 * h * h, 8 * h, batch * h);
        Grads two = new Grads(seq * batch * in, 4 * h * in, 4 * h * h, 8 * h, batch * h);
        Grads[] gruOne = new Grads[2];
        Grads[] gruTwo = new Grads[2];
        RecurrentTraining.lstmGrad(in, h, seq, batch, false, x, 0, w, 0, r, 0, b, 0, null, 0, null, 0, gy, 0, batch * h,
                null, 0, null, 0, one.dx, 0, false, one.dw, 0, one.dr, 0, one.db, 0, one.dh0, 0, one.dc0, 0, null);
        for (int lbr = 0; lbr < 2; lbr++) {
            gruOne[lbr] = gruGrad(in, h, seq, batch, lbr == 1, x, w, r, b, gy, null);
        }
        try (WorkerPool pool = WorkerPool.of(2)) {
            RecurrentTraining.lstmGrad(in, h, seq, batch, false, x, 0, w, 0, r, 0, b, 0, null, 0, null, 0, gy, 0,
                    batch * h, null, 0, null, 0, two.dx, 0, false, two.dw, 0, two.dr, 0, two.db, 0, two.dh0, 0,
                    two.dc0, 0, pool);
            for (int lbr = 0; lbr < 2; lbr++) {
                gruTwo[lbr] = gruGrad(in, h, seq, batch, lbr == 1, x, w, r, b, gy, pool);
            }
        }
        one.assertSame(two);
        gruOne[0].assertSame(gruTwo[0]);
        gruOne[1].assertSame(gruTwo[1]);
    }

    private static Grads gruGrad(int in, int h, int seq, int batch, boolean linearBeforeReset, float[] x, float[] w,
                                 float[] r, float[] b, float[] gy, WorkerPool pool) {
        Grads g = new Grads(seq * batch * in, 3 * h * in, 3 * h * h, 6 * h, batch * h);
        RecurrentTraining.gruGrad(in, h, seq, batch, false, linearBeforeReset, x, 0, w, 0, r, 0, b, 0, null, 0, gy, 0,
                batch * h, null, 0, g.dx, 0, false, g.dw, 0, g.dr, 0, g.db, 0, g.dh0, 0, pool);
        return g;
    }

    /**
     * No scratch array is reallocated per call and no vector is boxed. Hidden 20 makes the gate loops two
     * iterations long: when they called VectorMath per vector, C2 judged those call sites cold, left the calls out
     * of line and boxed 3.8 KB per call; GateMath's loops call nothing with a vector.
     */
    @Test
    void steadyStateAllocatesNothing() {
        int in = 8, h = 20, seq = 5, batch = 3;
        float[] x = TrainCheck.random(rnd, seq * batch * in);
        float[] w = TrainCheck.random(rnd, 4 * h * in);
        float[] r = TrainCheck.random(rnd, 4 * h * h);
        float[] b = TrainCheck.random(rnd, 8 * h);
        float[] gy = TrainCheck.random(rnd, seq * batch * h);
        Grads g = new Grads(seq * batch * in, 4 * h * in, 4 * h * h, 8 * h, batch * h);
        long bytes = TrainCheck.allocatedPerRun(() -> {
            RecurrentTraining.lstmGrad(in, h, seq, batch, false, x, 0, w, 0, r, 0, b, 0, null, 0, null, 0, gy, 0,
                    batch * h, null, 0, null, 0, g.dx, 0, false, g.dw, 0, g.dr, 0, g.db, 0, g.dh0, 0, g.dc0, 0, null);
            RecurrentTraining.gruGrad(in, h, seq, batch, false, true, x, 0, w, 0, r, 0, b, 0, null, 0, gy, 0,
                    batch * h, null, 0, g.dx, 0, false, g.dw, 0, g.dr, 0, g.db, 0, g.dh0, 0, null);
            RecurrentTraining.gruGrad(in, h, seq, batch, false, false, x, 0, w, 0, r, 0, b, 0, null, 0, gy, 0,
                    batch * h, null, 0, g.dx, 0, false, g.dw, 0, g.dr, 0, g.db, 0, g.dh0, 0, null);
        });
        assertTrue(bytes < 64, "bytes allocated per LSTM + GRU gradient: " + bytes);
    }

    /** The gradient buffers of one call. */
    private record Grads(float[] dx, float[] dw, float[] dr, float[] db, float[] dh0, float[] dc0) {
        Grads(int x, int w, int r, int b, int state) {
            this(new float[x], new float[w], new float[r], new float[b], new float[state], new float[state]);
        }

        void assertClose(String what, Grads got) {
            TrainCheck.close("dX " + what, dx, got.dx, ABS, REL);
            TrainCheck.close("dW " + what, dw, got.dw, ABS, REL);
            TrainCheck.close("dR " + what, dr, got.dr, ABS, REL);
            TrainCheck.close("dB " + what, db, got.db, ABS, REL);
            TrainCheck.close("dh0 " + what, dh0, got.dh0, ABS, REL);
            TrainCheck.close("dc0 " + what, dc0, got.dc0, ABS, REL);
        }

        void assertSame(Grads other) {
            assertArrayEquals(dx, other.dx);
            assertArrayEquals(dw, other.dw);
            assertArrayEquals(dr, other.dr);
            assertArrayEquals(db, other.db);
            assertArrayEquals(dh0, other.dh0);
            assertArrayEquals(dc0, other.dc0);
        }
    }

    private static double[] fd(java.util.function.DoubleSupplier loss, double[] p) {
        double[] g = new double[p.length];
        for (int i = 0; i < p.length; i++) {
            g[i] = PoolGradTest.central(loss, p, i, 1e-4);
        }
        return g;
    }

    private static double sigmoid(double v) {
        return 1 / (1 + Math.exp(-v));
    }

    /** sum Y*gy + Y_h*gh + Y_c*gc of the ONNX LSTM (gates i, o, f, c), in double. */
    private static double lstmLoss(int in, int h, int seq, int batch, boolean reverse, double[] x, double[] w,
                                   double[] r, double[] b, double[] h0, double[] c0, float[] gy, float[] gh,
                                   float[] gc) {
        double loss = 0;
        for (int bi = 0; bi < batch; bi++) {
            double[] hs = java.util.Arrays.copyOfRange(h0, bi * h, (bi + 1) * h);
            double[] cs = java.util.Arrays.copyOfRange(c0, bi * h, (bi + 1) * h);
            for (int k = 0; k < seq; k++) {
                int t = reverse ? seq - 1 - k : k;
                double[] pre = new double[4 * h];
                for (int row = 0; row < 4 * h; row++) {
                    double s = b[row] + b[4 * h + row];
                    for (int i = 0; i < in; i++) {
                        s += x[(t * batch + bi) * in + i] * w[row * in + i];
                    }
                    for (int i = 0; i < h; i++) {
                        s += hs[i] * r[row * h + i];
                    }
                    pre[row] = s;
                }
                double[] hn = new double[h];
                for (int j = 0; j < h; j++) {
                    cs[j] = sigmoid(pre[2 * h + j]) * cs[j] + sigmoid(pre[j]) * Math.tanh(pre[3 * h + j]);
                    hn[j] = sigmoid(pre[h + j]) * Math.tanh(cs[j]);
                    loss += hn[j] * gy[(t * batch + bi) * h + j];
                }
                hs = hn;
            }
            for (int j = 0; j < h; j++) {
                loss += (gh == null ? 0 : hs[j] * gh[bi * h + j]) + cs[j] * gc[bi * h + j];
            }
        }
        return loss;
    }

    /** sum Y*gy + Y_h*gh of the ONNX GRU (gates z, r, h), in double. */
    private static double gruLoss(int in, int h, int seq, int batch, boolean reverse, boolean linearBeforeReset,
                                  double[] x, double[] w, double[] r, double[] b, double[] h0, float[] gy, float[] gh) {
        double loss = 0;
        for (int bi = 0; bi < batch; bi++) {
            double[] hs = java.util.Arrays.copyOfRange(h0, bi * h, (bi + 1) * h);
            for (int k = 0; k < seq; k++) {
                int t = reverse ? seq - 1 - k : k;
                double[] xw = new double[3 * h];
                double[] hr = new double[3 * h];
                for (int row = 0; row < 3 * h; row++) {
                    xw[row] = b[row];
                    hr[row] = b[3 * h + row];
                    for (int i = 0; i < in; i++) {
                        xw[row] += x[(t * batch + bi) * in + i] * w[row * in + i];
                    }
                    for (int i = 0; i < h; i++) {
                        hr[row] += hs[i] * r[row * h + i];
                    }
                }
                double[] hn = new double[h];
                for (int j = 0; j < h; j++) {
                    double z = sigmoid(xw[j] + hr[j]);
                    double rr = sigmoid(xw[h + j] + hr[h + j]);
                    double hGate = rr * hr[2 * h + j];
                    if (!linearBeforeReset) {
                        // Rh (r * hPrev) + Rbh
                        hGate = b[5 * h + j];
                        for (int i = 0; i < h; i++) {
                            hGate += sigmoid(xw[h + i] + hr[h + i]) * hs[i] * r[(2 * h + j) * h + i];
                        }
                    }
                    double n = Math.tanh(xw[2 * h + j] + hGate);
                    hn[j] = (1 - z) * n + z * hs[j];
                    loss += gy == null ? 0 : hn[j] * gy[(t * batch + bi) * h + j];
                }
                hs = hn;
            }
            for (int j = 0; j < h; j++) {
                loss += hs[j] * gh[bi * h + j];
            }
        }
        return loss;
    }
}
