package dev.kiln.runtime.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kiln.runtime.Epilogue;
import dev.kiln.runtime.WorkerPool;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link UnpackedGemm} against its scalar twin for every transpose combination on shapes that hit the micro-kernel's
 * full and edge strips and the matrix-vector path, a Linear layer's three products against loops written from
 * their definitions, thread-count independence, and scratch reuse.
 *
 * <p>Tolerance, as GemmTest's: the twin sums in double, the kernel in float FMA chains, so an element may differ
 * by {@code 1e-5} of the magnitude {@code sum |a||b| + |Cold| + |bias|} it was computed from, plus
 * {@code 1e-6 (1 + |expected|)}.
 */
class UnpackedGemmTest {

    private static final float SENTINEL = -777.25f;
    private static final int[][] SHAPES = {
        {1, 1, 1}, {1, 37, 19}, {1, 10, 256}, {2, 3, 5}, {7, 16, 16}, {13, 33, 70}, {64, 10, 128}, {6, 48, 9},
        {31, 100, 17}, {3, 0, 4}, {0, 5, 5}, {5, 4, 0},
    };

    @Test
    void everyTransposeCombinationMatchesTheScalarTwin() {
        Random r = new Random(11);
        UnpackedGemm g = new UnpackedGemm();
        for (int[] s : SHAPES) {
            for (int t = 0; t < 4; t++) {
                boolean ta = (t & 1) != 0;
                boolean tb = (t & 2) != 0;
                for (boolean acc : new boolean[] {false, true}) {
                    check(g, r, ta, tb, s[0], s[1], s[2], acc, false, Epilogue.none());
                }
                check(g, r, ta, tb, s[0], s[1], s[2], true, true, Epilogue.relu());
            }
        }
    }

    @Test
    void linearLayerProductsMatchTheirDefinitions() {
        Random r = new Random(5);
        int batch = 9;
        int in = 21;
        int out = 18;
        float[] x = random(r, batch * in);
        float[] w = random(r, out * in);
        float[] bias = random(r, out);
        float[] dy = random(r, batch * out);
        UnpackedGemm g = new UnpackedGemm();
        float[] y = new float[batch * out];
        g.gemm(false, true, batch, out, in, x, 0, w, 0, bias, y, 0, false, Epilogue.relu());
        float[] dw = new float[out * in];
        g.atb(out, in, batch, dy, 0, x, 0, dw, 0, false);
        float[] dx = new float[batch * in];
        g.ab(batch, in, out, dy, 0, w, 0, dx, 0, false);
        for (int n = 0; n < batch; n++) {
            for (int o = 0; o < out; o++) {
                double sum = bias[o];
                for (int i = 0; i < in; i++) {
                    sum += (double) x[n * in + i] * w[o * in + i];
                }
                assertEquals(Math.max(0, sum), y[n * out + o], 1e-5, "y[" + n + "][" + o + "]");
            }
        }
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                double sum = 0;
                for (int n = 0; n < batch; n++) {
                    sum += (double) dy[n * out + o] * x[n * in + i];
                }
                assertEquals(sum, dw[o * in + i], 1e-5, "dW[" + o + "][" + i + "]");
            }
        }
        for (int n = 0; n < batch; n++) {
            for (int i = 0; i < in; i++) {
                double sum = 0;
                for (int o = 0; o < out; o++) {
                    sum += (double) dy[n * out + o] * w[o * in + i];
                }
                assertEquals(sum, dx[n * in + i], 1e-5, "dX[" + n + "][" + i + "]");
            }
        }
    }

    @Test
    void poolResultsAreBitIdenticalToOneThread() {
        Random r = new Random(3);
        // the second shape's B (150 x 530, a partial last panel) is large enough to be packed on both threads
        for (int[] shape : new int[][] {{96, 200, 130}, {20, 530, 150}}) {
            int m = shape[0];
            int n = shape[1];
            int k = shape[2];
            float[] a = random(r, m * k);
            float[] b = random(r, k * n);
            float[] c0 = random(r, m * n);
            try (WorkerPool pool = WorkerPool.of(2)) {
                for (int t = 0; t < 4; t++) {
                    boolean ta = (t & 1) != 0;
                    boolean tb = (t & 2) != 0;
                    float[] one = c0.clone();
                    new UnpackedGemm().gemm(ta, tb, m, n, k, a, 0, b, 0, null, one, 0, true, Epilogue.none());
                    float[] two = c0.clone();
                    new UnpackedGemm().gemm(pool, ta, tb, m, n, k, a, 0, b, 0, null, two, 0, true, Epilogue.none());
                    assertArrayEquals(one, two, m + "x" + n + "x" + k + " transA " + ta + " transB " + tb);
                }
            }
        }
    }

    @Test
    void steadyStateCallsReuseTheirScratch() {
        Random r = new Random(2);
        float[] a = random(r, 40 * 30);
        float[] b = random(r, 30 * 50);
        float[] c = new float[40 * 50];
        UnpackedGemm g = new UnpackedGemm();
        g.atb(40, 50, 30, a, 0, b, 0, c, 0, false);
        g.abt(40, 50, 30, a, 0, b, 0, c, 0, false);
        int after = g.allocations();
        float[] first = c.clone();
        for (int i = 0; i < 5; i++) {
            g.atb(40, 50, 30, a, 0, b, 0, c, 0, false);
            g.abt(40, 50, 30, a, 0, b, 0, c, 0, false);
            g.ab(40, 50, 30, a, 0, b, 0, c, 0, false);
        }
        assertEquals(after, g.allocations(), "scratch allocated again in steady state");
        g.abt(40, 50, 30, a, 0, b, 0, c, 0, false);
        assertArrayEquals(first, c, "a reused panel buffer gives the same result");
    }

    @Test
    void badSpansNameTheOperand() {
        UnpackedGemm g = new UnpackedGemm();
        String msg = assertThrows(IllegalArgumentException.class,
                () -> g.atb(4, 5, 3, new float[11], 0, new float[15], 0, new float[20], 0, false)).getMessage();
        assertTrue(msg.contains("A at offset 0 needs 12 floats"), msg);
        msg = assertThrows(IllegalArgumentException.class,
                () -> g.abt(4, 5, 3, new float[12], 0, new float[15], 1, new float[20], 0, false)).getMessage();
        assertTrue(msg.contains("B at offset 1 needs 15 floats"), msg);
    }

    private static void check(UnpackedGemm g, Random r, boolean ta, boolean tb, int m, int n, int k, boolean acc,
                              boolean withBias, Epilogue ep) {
        int aOff = r.nextInt(3);
        int bOff = r.nextInt(3);
        int cOff = r.nextInt(3);
        float[] a = pad(random(r, m * k), aOff);
        float[] b = pad(random(r, k * n), bOff);
        float[] bias = withBias ? random(r, n) : null;
        float[] c0 = new float[cOff + m * n + 3];
        Arrays.fill(c0, SENTINEL);
        for (int i = 0; i < m * n; i++) {
            c0[cOff + i] = r.nextFloat() * 2 - 1;
        }
        float[] got = c0.clone();
        g.gemm(ta, tb, m, n, k, a, aOff, b, bOff, bias, got, cOff, acc, ep);
        float[] want = c0.clone();
        UnpackedGemm.gemmScalar(ta, tb, m, n, k, a, aOff, b, bOff, bias, want, cOff, acc, ep);
        String what = "transA " + ta + " transB " + tb + " " + m + "x" + k + "·" + k + "x" + n + " acc " + acc;
        for (int i = 0; i < c0.length; i++) {
            int row = (i - cOff) / Math.max(1, n);
            int col = (i - cOff) % Math.max(1, n);
            boolean inside = i >= cOff && i < cOff + m * n;
            if (!inside) {
                assertEquals(SENTINEL, got[i], what + ": wrote outside C at " + i);
                continue;
            }
            double mag = (acc ? Math.abs(c0[i]) : 0) + (bias != null ? Math.abs(bias[col]) : 0);
            for (int kk = 0; kk < k; kk++) {
                float x = ta ? a[aOff + kk * m + row] : a[aOff + row * k + kk];
                float y = tb ? b[bOff + col * k + kk] : b[bOff + kk * n + col];
                mag += Math.abs((double) x * y);
            }
            double tol = 1e-5 * mag + 1e-6 * (1 + Math.abs(want[i]));
            if (!(Math.abs(got[i] - want[i]) <= tol)) {
                fail(what + ": C[" + row + "][" + col + "] is " + got[i] + ", expected " + want[i]);
            }
        }
    }

    private static float[] pad(float[] x, int off) {
        float[] out = new float[off + x.length + 2];
        System.arraycopy(x, 0, out, off, x.length);
        return out;
    }

    static float[] random(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = r.nextFloat() * 2 - 1;
        }
        return a;
    }
}
