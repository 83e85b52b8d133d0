package dev.kiln.runtime.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.runtime.PoolShape;
import dev.kiln.runtime.Pooling;
import dev.kiln.runtime.WorkerPool;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Pool gradients against their scalar twins (each input gets at most a few dozen float terms: 1e-5 absolute +
 * 1e-5 relative), against central differences of double-precision forwards written here (max and average pooling
 * are linear near inputs without ties, so the differences are exact to rounding: 1e-5 + 1e-5 rel), and the tie
 * rule (PyTorch's first maximum; NaN never winning, as Kiln's reference MaxPoolGrad).
 */
class PoolGradTest {
    private static final double TOL = 1e-5;
    private final Random rnd = new Random(5);

    private static final PoolShape[] SHAPES = {
        PoolShape.square(24, 24, 2),                                   // mnist_cnn's MaxPool(2)
        PoolShape.of(9, 11, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false),
        PoolShape.of(10, 13, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, false),
        PoolShape.of(9, 9, 3, 2, 2, 3, 0, 1, 2, 0, 1, 2, true),       // ceil mode, dilation
        PoolShape.of(7, 40, 2, 4, 3, 1, 1, 0, 0, 2, 2, 1, false),
        PoolShape.of(5, 5, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, false),
        PoolShape.of(12, 12, 3, 3, 3, 3, 0, 0, 0, 0, 1, 1, true),
    };

    @Test
    void maxPoolBackwardMatchesScalarTwinAndSavedPicks() {
        for (PoolShape s : SHAPES) {
            int planes = 3;
            float[] x = TrainCheck.random(rnd, planes * s.inPlane() + 1);
            float[] dy = TrainCheck.random(rnd, planes * s.outPlane() + 2);
            float[] want = new float[planes * s.inPlane() + 3];
            float[] got = new float[want.length];
            PoolGrad.maxPoolBackwardScalar(s, planes, x, 1, dy, 2, want, 3);
            PoolGrad.maxPoolBackward(s, planes, x, 1, dy, 2, got, 3);
            TrainCheck.close("max " + s, want, got, TOL, TOL);

            float[] y = new float[planes * s.outPlane()];
            int[] picks = new int[y.length + 1];
            PoolGrad.maxPoolForward(s, planes, x, 1, y, 0, picks, 1);
            float[] inference = new float[y.length];
            Pooling.maxPoolScalar(s, planes, x, 1, inference, 0);
            assertArrayEquals(inference, y, "forward " + s);
            float[] fromPicks = new float[want.length];
            PoolGrad.maxPoolBackward(s, planes, dy, 2, picks, 1, fromPicks, 3);
            assertArrayEquals(got, fromPicks, "saved picks " + s);
        }
    }

    @Test
    void averagePoolBackwardMatchesScalarTwin() {
        for (PoolShape s : SHAPES) {
            for (boolean includePad : new boolean[] {false, true}) {
                int planes = 2;
                float[] dy = TrainCheck.random(rnd, planes * s.outPlane() + 1);
                float[] want = new float[planes * s.inPlane() + 2];
                float[] got = new float[want.length];
                PoolGrad.averagePoolBackwardScalar(s, includePad, planes, dy, 1, want, 2);
                PoolGrad.averagePoolBackward(s, includePad, planes, dy, 1, got, 2);
                TrainCheck.close("average " + s + " includePad " + includePad, want, got, TOL, TOL);
            }
        }
    }

    @Test
    void gradientsMatchFiniteDifferences() {
        double h = 1e-4;
        for (PoolShape s : SHAPES) {
            int planes = 2;
            float[] x = TrainCheck.random(rnd, planes * s.inPlane());
            float[] g = TrainCheck.random(rnd, planes * s.outPlane());
            double[] xd = TrainCheck.toDouble(x);
            float[] dx = new float[x.length];
            PoolGrad.maxPoolBackward(s, planes, x, 0, g, 0, dx, 0);
            double[] fd = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                fd[i] = central(() -> poolLoss(s, planes, xd, g, 0), xd, i, h);
            }
            TrainCheck.close("fd max " + s, fd, dx, TOL, TOL);
            for (boolean includePad : new boolean[] {false, true}) {
                PoolGrad.averagePoolBackward(s, includePad, planes, g, 0, dx, 0);
                int mode = includePad ? 2 : 1;
                for (int i = 0; i < x.length; i++) {
                    fd[i] = central(() -> poolLoss(s, planes, xd, g, mode), xd, i, h);
                }
                TrainCheck.close("fd average " + s + " includePad " + includePad, fd, dx, TOL, TOL);
            }
        }
    }

    @Test
    void tiesGoToTheFirstMaximumInRowMajorWindowOrder() {
        // one 2x2 window over [[1, 3], [3, 2]]: PyTorch routes to (0, 1); a second window overlapping it
        PoolShape s = PoolShape.of(2, 3, 2, 2, 1, 1, 0, 0, 0, 0, 1, 1, false);
        float[] x = {1, 3, 3, 3, 2, 3};
        float[] dy = {10, 100};
        float[] dx = new float[6];
        PoolGrad.maxPoolBackward(s, 1, x, 0, dy, 0, dx, 0);
        assertArrayEquals(new float[] {0, 110, 0, 0, 0, 0}, dx);
        // a NaN never wins (Kiln's reference rule); a window of NaNs routes nothing
        x = new float[] {Float.NaN, Float.NaN, 5, Float.NaN, Float.NaN, 3};
        PoolGrad.maxPoolBackward(s, 1, x, 0, dy, 0, dx, 0);
        assertArrayEquals(new float[] {0, 0, 100, 0, 0, 0}, dx);
        // all -inf: the window's first tap
        x = new float[] {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY,
                Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY};
        float[] want = new float[6];
        PoolGrad.maxPoolBackwardScalar(s, 1, x, 0, dy, 0, want, 0);
        PoolGrad.maxPoolBackward(s, 1, x, 0, dy, 0, dx, 0);
        assertArrayEquals(new float[] {10, 100, 0, 0, 0, 0}, dx);
        assertArrayEquals(want, dx);
    }

    @Test
    void vectorPathOfTwoByTwoPoolsRoutesAsTheScalarRule() {
        // 2x2 / stride 2 takes MaxPoolGrad2x2: vectors of windows, the last one overlapping the one before when a
        // row's windows are no multiple of the vector, two window rows to a vector where a row has half a vector of
        // windows over a vector of inputs (4x4, 8x8, 16x16 at 4, 8, 16 lanes; an odd last window row alone), scalars
        // for other rows shorter than a vector; values on a coarse grid make ties, and NaN and -inf appear in every
        // position of a window
        PoolShape[] shapes = {PoolShape.square(24, 24, 2), PoolShape.of(25, 37, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, false),
            PoolShape.of(6, 70, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, false), PoolShape.square(2, 2, 2),
            PoolShape.square(8, 8, 2), PoolShape.square(32, 32, 2), PoolShape.of(9, 7, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1,
            false), PoolShape.square(4, 4, 2), PoolShape.square(16, 16, 2),
            PoolShape.of(10, 8, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, false), PoolShape.of(11, 8, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1,
            false), PoolShape.of(6, 16, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, false)};
        float[] special = {Float.NaN, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, -0f, 0f};
        for (PoolShape s : shapes) {
            int planes = 3;
            float[] x = new float[planes * s.inPlane() + 1];
            for (int i = 0; i < x.length; i++) {
                int r = rnd.nextInt(20);
                x[i] = r < special.length ? special[r] : (r - 12) / 2f;
            }
            float[] dy = TrainCheck.random(rnd, planes * s.outPlane() + 2);
            float[] want = new float[planes * s.inPlane() + 3];
            float[] got = new float[want.length];
            java.util.Arrays.fill(got, 7f);
            want[0] = want[1] = want[2] = 7f;
            got[0] = got[1] = got[2] = 7f;
            PoolGrad.maxPoolBackwardScalar(s, planes, x, 1, dy, 2, want, 3);
            PoolGrad.maxPoolBackward(s, planes, x, 1, dy, 2, got, 3);
            assertArrayEquals(want, got, "max " + s);
        }
    }

    @Test
    void backwardSplitOverThreadsGivesTheSameBits() {
        PoolShape[] shapes = {PoolShape.square(24, 24, 2), PoolShape.square(8, 8, 2), SHAPES[1], SHAPES[3]};
        try (WorkerPool pool = WorkerPool.of(2)) {
            for (PoolShape s : shapes) {
                for (int planes : new int[] {1, 7, 640}) {
                    float[] x = TrainCheck.random(rnd, planes * s.inPlane() + 1);
                    float[] dy = TrainCheck.random(rnd, planes * s.outPlane() + 2);
                    float[] one = new float[planes * s.inPlane() + 3];
                    float[] two = new float[one.length];
                    PoolGrad.maxPoolBackward(s, planes, x, 1, dy, 2, one, 3);
                    PoolGrad.maxPoolBackward(s, planes, x, 1, dy, 2, two, 3, pool);
                    assertArrayEquals(one, two, "max " + s + ", " + planes + " planes");
                    for (boolean pad : new boolean[] {false, true}) {
                        PoolGrad.averagePoolBackward(s, pad, planes, dy, 2, one, 3);
                        PoolGrad.averagePoolBackward(s, pad, planes, dy, 2, two, 3, pool);
                        assertArrayEquals(one, two, "average " + s + ", " + planes + " planes");
                    }
                }
            }
        }
    }

    @Test
    void globalPoolsBackward() {
        int planes = 5;
        int size = 37;
        float[] x = TrainCheck.random(rnd, planes * size);
        float[] dy = TrainCheck.random(rnd, planes);
        float[] want = new float[planes * size];
        float[] got = new float[planes * size];
        PoolGrad.globalAveragePoolBackwardScalar(planes, size, dy, 0, want, 0);
        PoolGrad.globalAveragePoolBackward(planes, size, dy, 0, got, 0);
        TrainCheck.close("global average", want, got, 1e-7, 1e-6);
        PoolGrad.globalMaxPoolBackward(planes, size, x, 0, dy, 0, got, 0);
        for (int p = 0; p < planes; p++) {
            int best = 0;
            for (int j = 1; j < size; j++) {
                best = x[p * size + j] > x[p * size + best] ? j : best;
            }
            for (int j = 0; j < size; j++) {
                assertEquals(j == best ? dy[p] : 0f, got[p * size + j], "global max plane " + p + " element " + j);
            }
        }
    }

    @Test
    void steadyStateAllocatesNothing() {
        PoolShape s = SHAPES[2];
        int planes = 4;
        float[] x = TrainCheck.random(rnd, planes * s.inPlane());
        float[] dy = TrainCheck.random(rnd, planes * s.outPlane());
        float[] dx = new float[x.length];
        assertEquals(0, TrainCheck.allocatedPerRun(() -> PoolGrad.averagePoolBackward(s, true, planes, dy, 0, dx, 0)));
        assertEquals(0, TrainCheck.allocatedPerRun(() -> PoolGrad.maxPoolBackward(s, planes, x, 0, dy, 0, dx, 0)));
    }

    static double central(java.util.function.DoubleSupplier f, double[] p, int i, double h) {
        double keep = p[i];
        p[i] = keep + h;
        double up = f.getAsDouble();
        p[i] = keep - h;
        double down = f.getAsDouble();
        p[i] = keep;
        return (up - down) / (2 * h);
    }

    /** sum of pool(x) * g in double; mode 0 max, 1 average, 2 average counting pads. */
    private static double poolLoss(PoolShape s, int planes, double[] x, float[] g, int mode) {
        double total = 0;
        for (int p = 0; p < planes; p++) {
            for (int oy = 0; oy < s.outH(); oy++) {
                for (int ox = 0; ox < s.outW(); ox++) {
                    double max = Double.NEGATIVE_INFINITY;
                    double sum = 0;
                    int count = 0;
                    for (int ky = 0; ky < s.kh(); ky++) {
                        for (int kx = 0; kx < s.kw(); kx++) {
                            int iy = oy * s.strideH() - s.padTop() + ky * s.dilationH();
                            int ix = ox * s.strideW() - s.padLeft() + kx * s.dilationW();
                            if (iy >= 0 && iy < s.h() && ix >= 0 && ix < s.w()) {
                                double v = x[p * s.inPlane() + iy * s.w() + ix];
                                max = Math.max(max, v);
                                sum += v;
                                count++;
                            } else if (mode == 2 && iy >= -s.padTop() && iy < s.h() + s.padBottom()
                                    && ix >= -s.padLeft() && ix < s.w() + s.padRight()) {
                                count++;
                            }
                        }
                    }
                    double out = mode == 0 ? max : sum / count;
                    total += out * g[p * s.outPlane() + oy * s.outW() + ox];
                }
            }
        }
        return total;
    }
}
