package dev.kiln.runtime.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kiln.runtime.WorkerPool;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Training BatchNormalization against its double twins (outputs of order 1 from float statistics: 2e-5 absolute +
 * 1e-4 relative), against central differences of a double forward written here (h = 1e-3 on a smooth function:
 * error ~1e-7; 1e-4 + 1e-3 relative, the gradient sums cancel to small values), and the running-statistics rule.
 */
class BatchNormTrainingTest {
    private final Random rnd = new Random(17);
    private static final int[][] SHAPES = {{4, 3, 25}, {2, 5, 1}, {3, 2, 37}, {1, 4, 64}};

    @Test
    void forwardAndBackwardMatchScalarTwins() {
        for (int[] v : SHAPES) {
            int n = v[0];
            int c = v[1];
            int sp = v[2];
            float[] x = TrainCheck.random(rnd, n * c * sp + 1);
            for (int i = 0; i < x.length; i++) {
                x[i] = x[i] * 3 + 0.5f; // a mean away from 0
            }
            float[] scale = TrainCheck.random(rnd, c);
            float[] bias = TrainCheck.random(rnd, c);
            float[] rm = TrainCheck.random(rnd, c);
            float[] rv = new float[c];
            java.util.Arrays.fill(rv, 1.5f);
            float[] yWant = new float[n * c * sp];
            float[] mWant = new float[c];
            float[] vWant = new float[c];
            BatchNormTraining.forwardScalar(n, c, sp, 1e-5f, 0.9f, true, x, 1, scale, 0, bias, 0, rm, 0, rv, 0,
                    yWant, 0, mWant, 0, vWant, 0);
            float[] y = new float[yWant.length];
            float[] mean = new float[c];
            float[] inv = new float[c];
            float[] rmNew = rm.clone();
            float[] rvNew = rv.clone();
            // running statistics updated in place
            BatchNormTraining.forward(n, c, sp, 1e-5f, 0.9f, true, x, 1, scale, 0, bias, 0, rmNew, 0, rvNew, 0, y, 0,
                    rmNew, 0, rvNew, 0, mean, 0, inv, 0);
            String what = n + "x" + c + "x" + sp;
            TrainCheck.close("y " + what, yWant, y, 2e-5, 1e-4);
            TrainCheck.close("running mean " + what, mWant, rmNew, 1e-6, 1e-5);
            TrainCheck.close("running var " + what, vWant, rvNew, 1e-6, 1e-5);

            float[] dy = TrainCheck.random(rnd, n * c * sp);
            float[] dxWant = new float[dy.length];
            float[] dsWant = new float[c];
            float[] dbWant = new float[c];
            BatchNormTraining.backwardScalar(n, c, sp, 1e-5f, x, 1, dy, 0, scale, 0, dxWant, 0, dsWant, 0, dbWant, 0);
            float[] dx = new float[dy.length];
            float[] ds = new float[c];
            float[] db = new float[c];
            BatchNormTraining.backward(n, c, sp, 1e-5f, x, 1, dy, 0, scale, 0, mean, 0, inv, 0, dx, 0, ds, 0, db, 0);
            TrainCheck.close("dx " + what, dxWant, dx, 2e-5, 1e-4);
            TrainCheck.close("dScale " + what, dsWant, ds, 2e-5, 1e-4);
            TrainCheck.close("dBias " + what, dbWant, db, 2e-5, 1e-4);
            float[] dxRecomputed = new float[dy.length];
            BatchNormTraining.backward(n, c, sp, 1e-5f, x, 1, dy, 0, scale, 0, null, 0, null, 0, dxRecomputed, 0,
                    null, 0, null, 0);
            assertArrayEquals(dx, dxRecomputed, "statistics recomputed " + what);
        }
    }

    @Test
    void gradientsMatchFiniteDifferencesOfDoubleForward() {
        for (int[] v : new int[][] {{3, 2, 5}, {2, 3, 4}}) {
            int n = v[0];
            int c = v[1];
            int sp = v[2];
            float[] x = TrainCheck.random(rnd, n * c * sp);
            float[] scale = TrainCheck.random(rnd, c);
            float[] bias = TrainCheck.random(rnd, c);
            float[] g = TrainCheck.random(rnd, x.length);
            double[] xd = TrainCheck.toDouble(x);
            double[] sd = TrainCheck.toDouble(scale);
            double[] bd = TrainCheck.toDouble(bias);
            double h = 1e-3;
            double[] fdX = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                fdX[i] = PoolGradTest.central(() -> loss(n, c, sp, xd, sd, bd, g), xd, i, h);
            }
            double[] fdS = new double[c];
            double[] fdB = new double[c];
            for (int i = 0; i < c; i++) {
                fdS[i] = PoolGradTest.central(() -> loss(n, c, sp, xd, sd, bd, g), sd, i, h);
                fdB[i] = PoolGradTest.central(() -> loss(n, c, sp, xd, sd, bd, g), bd, i, h);
            }
            float[] dx = new float[x.length];
            float[] ds = new float[c];
            float[] db = new float[c];
            BatchNormTraining.backward(n, c, sp, 1e-5f, x, 0, g, 0, scale, 0, null, 0, null, 0, dx, 0, ds, 0, db, 0);
            TrainCheck.close("fd dx", fdX, dx, 1e-4, 1e-3);
            TrainCheck.close("fd dScale", fdS, ds, 1e-4, 1e-3);
            TrainCheck.close("fd dBias", fdB, db, 1e-4, 1e-3);
        }
    }

    @Test
    void runningStatisticsFollowTheMomentumRule() {
        // one channel, values 1, 2, 3, 6: mean 3, biased variance 3.5, unbiased 14/3
        float[] x = {1, 2, 3, 6};
        float[] y = new float[4];
        float[] m = {10};
        float[] v = {1};
        float[] mOut = new float[1];
        float[] vOut = new float[1];
        BatchNormTraining.forward(2, 1, 2, 0f, 0.9f, true, x, 0, new float[] {1}, 0, new float[] {0}, 0, m, 0, v, 0,
                y, 0, mOut, 0, vOut, 0, null, 0, null, 0);
        assertEquals(10 * 0.9 + 3 * 0.1, mOut[0], 1e-5);
        assertEquals(1 * 0.9 + 14.0 / 3 * 0.1, vOut[0], 1e-5);
        assertEquals(-2 / Math.sqrt(3.5), y[0], 1e-6);
        BatchNormTraining.forward(2, 1, 2, 0f, 0.9f, false, x, 0, new float[] {1}, 0, new float[] {0}, 0, m, 0, v, 0,
                y, 0, mOut, 0, vOut, 0, null, 0, null, 0);
        assertEquals(1 * 0.9 + 3.5 * 0.1, vOut[0], 1e-5);
        assertThrows(IllegalArgumentException.class, () -> BatchNormTraining.forward(1, 1, 1, 0f, 0.9f, true,
                new float[] {1}, 0, new float[] {1}, 0, new float[] {0}, 0, m, 0, v, 0, new float[1], 0, mOut, 0,
                vOut, 0, null, 0, null, 0));
    }

    @Test
    void steadyStateAllocatesNothing() {
        int n = 4;
        int c = 8;
        int sp = 49;
        float[] x = TrainCheck.random(rnd, n * c * sp);
        float[] dy = TrainCheck.random(rnd, x.length);
        float[] y = new float[x.length];
        float[] p = TrainCheck.random(rnd, c);
        float[] rm = new float[c];
        float[] rv = new float[c];
        float[] dx = new float[x.length];
        float[] ds = new float[c];
        float[] db = new float[c];
        assertEquals(0, TrainCheck.allocatedPerRun(() -> {
            BatchNormTraining.forward(n, c, sp, 1e-5f, 0.9f, true, x, 0, p, 0, p, 0, rm, 0, rv, 0, y, 0, rm, 0, rv, 0,
                    null, 0, null, 0);
            BatchNormTraining.backward(n, c, sp, 1e-5f, x, 0, dy, 0, p, 0, null, 0, null, 0, dx, 0, ds, 0, db, 0);
        }));
    }

    @Test
    void channelsSplitOverThreadsGiveTheBitsOfOneThread() {
        // 16 x 6 x 400 values: above the split threshold; saved and recomputed statistics
        int n = 16;
        int c = 6;
        int sp = 400;
        float[] x = TrainCheck.random(rnd, n * c * sp);
        float[] dy = TrainCheck.random(rnd, x.length);
        float[] scale = TrainCheck.random(rnd, c);
        float[] bias = TrainCheck.random(rnd, c);
        float[] rm = TrainCheck.random(rnd, c);
        float[] rv = new float[c];
        java.util.Arrays.fill(rv, 1f);
        float[][] one = new float[9][];
        float[][] two = new float[9][];
        try (WorkerPool pool = WorkerPool.of(2)) {
            for (float[][] out : new float[][][] {one, two}) {
                WorkerPool p = out == one ? null : pool;
                float[] y = new float[x.length];
                float[] nm = new float[c];
                float[] nv = new float[c];
                float[] mean = new float[c];
                float[] inv = new float[c];
                BatchNormTraining.forward(n, c, sp, 1e-5f, 0.9f, true, x, 0, scale, 0, bias, 0, rm, 0, rv, 0, y, 0, nm, 0,
                        nv, 0, mean, 0, inv, 0, p);
                float[] dx = new float[x.length];
                float[] ds = new float[c];
                float[] db = new float[c];
                BatchNormTraining.backward(n, c, sp, 1e-5f, x, 0, dy, 0, scale, 0, mean, 0, inv, 0, dx, 0, ds, 0, db, 0,
                        p);
                float[] dxRecomputed = new float[x.length];
                BatchNormTraining.backward(n, c, sp, 1e-5f, x, 0, dy, 0, scale, 0, null, 0, null, 0, dxRecomputed, 0,
                        null, 0, null, 0, p);
                out[0] = y;
                out[1] = nm;
                out[2] = nv;
                out[3] = mean;
                out[4] = inv;
                out[5] = dx;
                out[6] = ds;
                out[7] = db;
                out[8] = dxRecomputed;
            }
        }
        for (int i = 0; i < one.length; i++) {
            assertArrayEquals(one[i], two[i], "output " + i);
        }
    }

    /** sum of BN(x) * g in double, batch statistics. */
    private static double loss(int n, int c, int sp, double[] x, double[] scale, double[] bias, float[] g) {
        double total = 0;
        for (int ch = 0; ch < c; ch++) {
            double sum = 0;
            for (int b = 0; b < n; b++) {
                for (int j = 0; j < sp; j++) {
                    sum += x[(b * c + ch) * sp + j];
                }
            }
            double mu = sum / (n * sp);
            double sq = 0;
            for (int b = 0; b < n; b++) {
                for (int j = 0; j < sp; j++) {
                    double d = x[(b * c + ch) * sp + j] - mu;
                    sq += d * d;
                }
            }
            double inv = 1 / Math.sqrt(sq / (n * sp) + 1e-5f);
            for (int b = 0; b < n; b++) {
                for (int j = 0; j < sp; j++) {
                    int i = (b * c + ch) * sp + j;
                    total += ((x[i] - mu) * inv * scale[ch] + bias[ch]) * g[i];
                }
            }
        }
        return total;
    }
}
