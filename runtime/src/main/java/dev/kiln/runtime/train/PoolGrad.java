package dev.kiln.runtime.train;

import dev.kiln.runtime.PoolShape;
import dev.kiln.runtime.PlaneSplit;
import dev.kiln.runtime.WorkerPool;
import java.util.Arrays;
import java.util.Objects;

/**
 * Backward kernels of 2-D max and average pooling and of GlobalAveragePool over NCHW planes ({@code planes = N * C}
 * contiguous H x W planes of the input, outH x outW planes of the output), with the geometry of the forward's
 * {@link PoolShape} (strides, begin/end pads, dilations, ceil mode already in outH/outW). Input gradients are
 * overwritten, not accumulated into.
 *
 * <p>MaxPool routes each output gradient to the input its window took: the first maximum in row-major window
 * order, as PyTorch breaks ties; a NaN never wins, as in Kiln's reference (MaxPoolGrad in NnGradOps: the first non-NaN
 * tap starts, a strictly greater one replaces it; a window of NaNs routes nothing). PyTorch would route to a NaN,
 * a case training does not survive anyway. Windows overlap, so picks add up. The pick is saved by
 * {@link #maxPoolForward} or recomputed from the input by {@link #maxPoolBackward(PoolShape, int, float[], int,
 * float[], int, float[], int)}. AveragePool spreads {@code dy / count} over its window, the count as in the forward
 * (inside taps, or taps inside the padded input with {@code countIncludePad}); the count of a window is a product of
 * a row count and a column count, so the scaled gradient row is formed once and, for stride 1, added to each input
 * row it covers a vector at a time.
 */
public final class PoolGrad {
    private static final int T_ROW = 8;
    private static final int T_COUNTS = 9;

    private PoolGrad() {}

    /**
     * MaxPool forward that also records each window's pick: {@code argmax[p * outPlane + o]} is the index
     * {@code iy * W + ix} inside plane p of the input (or -1 for a window with no input tap, whose output is -inf).
     */
    public static void maxPoolForward(PoolShape s, int planes, float[] x, int xOff, float[] y, int yOff, int[] argmax,
                                      int argOff) {
        check(s, planes, x, xOff, s.inPlane(), "x");
        check(s, planes, y, yOff, s.outPlane(), "y");
        checkIndices(s, planes, argmax, argOff);
        for (int p = 0; p < planes; p++) {
            int pin = xOff + p * s.inPlane();
            int po = p * s.outPlane();
            for (int oy = 0; oy < s.outH(); oy++) {
                for (int ox = 0; ox < s.outW(); ox++) {
                    int o = po + oy * s.outW() + ox;
                    int pick = pick(s, x, pin, oy, ox);
                    argmax[argOff + o] = pick;
                    y[yOff + o] = pick < 0 ? Float.NEGATIVE_INFINITY : x[pin + pick];
                }
            }
        }
    }

    /** MaxPool backward from the picks {@link #maxPoolForward} saved. */
    public static void maxPoolBackward(PoolShape s, int planes, float[] dy, int dyOff, int[] argmax, int argOff,
                                       float[] dx, int dxOff) {
        check(s, planes, dy, dyOff, s.outPlane(), "dy");
        check(s, planes, dx, dxOff, s.inPlane(), "dx");
        checkIndices(s, planes, argmax, argOff);
        Arrays.fill(dx, dxOff, dxOff + planes * s.inPlane(), 0f);
        int outPlane = s.outPlane();
        for (int p = 0; p < planes; p++) {
            int pin = dxOff + p * s.inPlane();
            int po = p * outPlane;
            for (int o = 0; o < outPlane; o++) {
                int pick = argmax[argOff + po + o];
                if (pick >= 0) {
                    dx[pin + pick] += dy[dyOff + po + o];
                }
            }
        }
    }

    /** MaxPool backward recomputing each window's pick from the forward's input x. */
    public static void maxPoolBackward(PoolShape s, int planes, float[] x, int xOff, float[] dy, int dyOff,
                                       float[] dx, int dxOff) {
        maxPoolBackward(s, planes, x, xOff, dy, dyOff, dx, dxOff, null);
    }

    /**
     * {@link #maxPoolBackward(PoolShape, int, float[], int, float[], int, float[], int)} with the planes split over
     * {@code pool} (or null) when there are enough of them; a plane's gradient does not depend on the split.
     */
    public static void maxPoolBackward(PoolShape s, int planes, float[] x, int xOff, float[] dy, int dyOff,
                                       float[] dx, int dxOff, WorkerPool pool) {
        check(s, planes, x, xOff, s.inPlane(), "x");
        check(s, planes, dy, dyOff, s.outPlane(), "dy");
        check(s, planes, dx, dxOff, s.inPlane(), "dx");
        if (!PlaneSplit.splits(s, planes, pool)) {
            maxPoolPlanes(s, planes, x, xOff, dy, dyOff, dx, dxOff);
            return;
        }
        TASKS.get().run(s, planes, x, xOff, dy, dyOff, dx, dxOff, pool);
    }

    private static final ThreadLocal<MaxBackwardTask> TASKS = ThreadLocal.withInitial(MaxBackwardTask::new);
    private static final ThreadLocal<AverageBackwardTask> AVERAGE_TASKS =
            ThreadLocal.withInitial(AverageBackwardTask::new);

    /** One split pooling backward's arguments, reused per calling thread. */
    private abstract static class BackwardTask extends PlaneSplit {
        PoolShape s;
        float[] x;
        int xOff;
        float[] dy;
        int dyOff;
        float[] dx;
        int dxOff;

        void run(PoolShape s, int planes, float[] x, int xOff, float[] dy, int dyOff, float[] dx, int dxOff,
                 WorkerPool pool) {
            this.s = s;
            this.x = x;
            this.xOff = xOff;
            this.dy = dy;
            this.dyOff = dyOff;
            this.dx = dx;
            this.dxOff = dxOff;
            runOn(pool, planes);
        }

        @Override
        protected void clear() {
            x = null;
            dy = null;
            dx = null;
        }
    }

    private static final class MaxBackwardTask extends BackwardTask {
        @Override
        protected void planes(int p0, int count) {
            maxPoolPlanes(s, count, x, xOff + p0 * s.inPlane(), dy, dyOff + p0 * s.outPlane(), dx,
                    dxOff + p0 * s.inPlane());
        }
    }

    private static final class AverageBackwardTask extends BackwardTask {
        boolean countIncludePad;

        @Override
        protected void planes(int p0, int count) {
            averagePlanes(s, countIncludePad, count, dy, dyOff + p0 * s.outPlane(), dx, dxOff + p0 * s.inPlane());
        }
    }

    private static void maxPoolPlanes(PoolShape s, int planes, float[] x, int xOff, float[] dy, int dyOff,
                                      float[] dx, int dxOff) {
        if (MaxPoolGrad2x2.supports(s)) {
            if (2 * s.outH() != s.h() || 2 * s.outW() != s.w()) {
                Arrays.fill(dx, dxOff, dxOff + planes * s.inPlane(), 0f); // the inputs no window covers
            }
            MaxPoolGrad2x2.backward(s, planes, x, xOff, dy, dyOff, dx, dxOff);
            return;
        }
        Arrays.fill(dx, dxOff, dxOff + planes * s.inPlane(), 0f);
        for (int p = 0; p < planes; p++) {
            int pin = xOff + p * s.inPlane();
            int pdx = dxOff + p * s.inPlane();
            int pdy = dyOff + p * s.outPlane();
            for (int oy = 0; oy < s.outH(); oy++) {
                for (int ox = 0; ox < s.outW(); ox++) {
                    int pick = pick(s, x, pin, oy, ox);
                    if (pick >= 0) {
                        dx[pdx + pick] += dy[pdy + oy * s.outW() + ox];
                    }
                }
            }
        }
    }

    /**
     * The first maximum of window (oy, ox) in row-major order over its valid taps, NaN never winning; its in-plane
     * index, or -1 when no tap is inside or all are NaN. The valid taps of a window form a rectangle of the dilated grid, found by
     * arithmetic, so the loop carries no bounds tests.
     */
    private static int pick(PoolShape s, float[] x, int pin, int oy, int ox) {
        int iy0 = oy * s.strideH() - s.padTop();
        int ix0 = ox * s.strideW() - s.padLeft();
        int dh = s.dilationH();
        int dw = s.dilationW();
        int ky0 = firstTap(iy0, dh);
        int ky1 = lastTap(iy0, dh, s.kh(), s.h());
        int kx0 = firstTap(ix0, dw);
        int kx1 = lastTap(ix0, dw, s.kw(), s.w());
        if (ky0 >= ky1 || kx0 >= kx1) {
            return -1;
        }
        int best = -1;
        float max = Float.NEGATIVE_INFINITY;
        for (int ky = ky0; ky < ky1; ky++) {
            int row = (iy0 + ky * dh) * s.w() + ix0;
            for (int kx = kx0; kx < kx1; kx++) {
                int at = row + kx * dw;
                float v = x[pin + at];
                if (v > max || (best < 0 && v == v)) {
                    max = v;
                    best = at;
                }
            }
        }
        return best;
    }

    /** First tap k with {@code start + k * d >= 0}. */
    private static int firstTap(int start, int d) {
        return start >= 0 ? 0 : Math.ceilDiv(-start, d);
    }

    /** One past the last tap k below {@code k} with {@code start + k * d < size}. */
    private static int lastTap(int start, int d, int k, int size) {
        return Math.max(0, Math.min(k, Math.ceilDiv(size - start, d)));
    }

    /** AveragePool backward: each output gradient divided by its window's count, added to the window's inputs. */
    public static void averagePoolBackward(PoolShape s, boolean countIncludePad, int planes, float[] dy, int dyOff,
                                           float[] dx, int dxOff) {
        averagePoolBackward(s, countIncludePad, planes, dy, dyOff, dx, dxOff, null);
    }

    /** As the overload without a pool, the planes split over {@code pool} (or null) when there are enough of them. */
    public static void averagePoolBackward(PoolShape s, boolean countIncludePad, int planes, float[] dy, int dyOff,
                                           float[] dx, int dxOff, WorkerPool pool) {
        check(s, planes, dy, dyOff, s.outPlane(), "dy");
        check(s, planes, dx, dxOff, s.inPlane(), "dx");
        if (!PlaneSplit.splits(s, planes, pool)) {
            averagePlanes(s, countIncludePad, planes, dy, dyOff, dx, dxOff);
            return;
        }
        AverageBackwardTask task = AVERAGE_TASKS.get();
        task.countIncludePad = countIncludePad;
        task.run(s, planes, null, 0, dy, dyOff, dx, dxOff, pool);
    }

    private static void averagePlanes(PoolShape s, boolean countIncludePad, int planes, float[] dy, int dyOff,
                                      float[] dx, int dxOff) {
        Arrays.fill(dx, dxOff, dxOff + planes * s.inPlane(), 0f);
        float[] counts = PanelScratch.work(T_COUNTS, s.outH() + s.outW());
        for (int oy = 0; oy < s.outH(); oy++) {
            counts[oy] = count(oy * s.strideH() - s.padTop(), s.dilationH(), s.kh(), s.h(), s.padTop(),
                    s.padBottom(), countIncludePad);
        }
        for (int ox = 0; ox < s.outW(); ox++) {
            counts[s.outH() + ox] = count(ox * s.strideW() - s.padLeft(), s.dilationW(), s.kw(), s.w(), s.padLeft(),
                    s.padRight(), countIncludePad);
        }
        float[] row = PanelScratch.work(T_ROW, s.outW());
        int sw = s.strideW();
        for (int p = 0; p < planes; p++) {
            int pdx = dxOff + p * s.inPlane();
            int pdy = dyOff + p * s.outPlane();
            for (int oy = 0; oy < s.outH(); oy++) {
                float rc = counts[oy];
                for (int ox = 0; ox < s.outW(); ox++) {
                    row[ox] = dy[pdy + oy * s.outW() + ox] / (rc * counts[s.outH() + ox]);
                }
                int iy0 = oy * s.strideH() - s.padTop();
                int ky1 = lastTap(iy0, s.dilationH(), s.kh(), s.h());
                for (int ky = firstTap(iy0, s.dilationH()); ky < ky1; ky++) {
                    int dst = pdx + (iy0 + ky * s.dilationH()) * s.w();
                    for (int kx = 0; kx < s.kw(); kx++) {
                        // outputs ox whose tap kx reads column ox*sw + ix0, inside [0, w) for ox in [lo, hi)
                        int ix0 = kx * s.dilationW() - s.padLeft();
                        int lo = Math.min(s.outW(), Math.max(0, Math.ceilDiv(-ix0, sw)));
                        int hi = Math.max(lo, Math.min(s.outW(), Math.ceilDiv(s.w() - ix0, sw)));
                        if (sw == 1) {
                            Lanes.add(row, lo, dx, dst + lo + ix0, hi - lo);
                        } else {
                            for (int ox = lo; ox < hi; ox++) {
                                dx[dst + ox * sw + ix0] += row[ox];
                            }
                        }
                    }
                }
            }
        }
    }

    /** Taps of one window axis counted by the forward's divisor: inside the input, or inside the padded input. */
    private static float count(int start, int d, int k, int size, int padBegin, int padEnd, boolean includePad) {
        int n = 0;
        for (int t = 0; t < k; t++) {
            int i = start + t * d;
            boolean counted = includePad ? i >= -padBegin && i < size + padEnd : i >= 0 && i < size;
            n += counted ? 1 : 0;
        }
        return n;
    }

    /** GlobalAveragePool backward: {@code dx[p, :] = dy[p] / size}. */
    public static void globalAveragePoolBackward(int planes, int size, float[] dy, int dyOff, float[] dx, int dxOff) {
        checkGlobal(planes, size, dy, dyOff, dx, dxOff);
        for (int p = 0; p < planes; p++) {
            Arrays.fill(dx, dxOff + p * size, dxOff + (p + 1) * size, dy[dyOff + p] / size);
        }
    }

    /** GlobalMaxPool backward: {@code dy[p]} to the first maximum of plane p (NaN never winning), zeros elsewhere. */
    public static void globalMaxPoolBackward(int planes, int size, float[] x, int xOff, float[] dy, int dyOff,
                                             float[] dx, int dxOff) {
        checkGlobal(planes, size, dy, dyOff, dx, dxOff);
        Arrays.fill(dx, dxOff, dxOff + planes * size, 0f);
        for (int p = 0; p < planes; p++) {
            int best = -1;
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < size; j++) {
                float v = x[xOff + p * size + j];
                if (v > max || (best < 0 && v == v)) {
                    max = v;
                    best = j;
                }
            }
            if (best >= 0) {
                dx[dxOff + p * size + best] = dy[dyOff + p];
            }
        }
    }

    // ---- scalar twins ------------------------------------------------------------------------------------------

    /** Plain twin of the max-pool backward: every tap of every window, bounds checked, the same pick rule. */
    public static void maxPoolBackwardScalar(PoolShape s, int planes, float[] x, int xOff, float[] dy, int dyOff,
                                             float[] dx, int dxOff) {
        double[] acc = new double[planes * s.inPlane()];
        for (int p = 0; p < planes; p++) {
            for (int oy = 0; oy < s.outH(); oy++) {
                for (int ox = 0; ox < s.outW(); ox++) {
                    int best = -1;
                    float max = Float.NEGATIVE_INFINITY;
                    for (int ky = 0; ky < s.kh(); ky++) {
                        for (int kx = 0; kx < s.kw(); kx++) {
                            int iy = oy * s.strideH() - s.padTop() + ky * s.dilationH();
                            int ix = ox * s.strideW() - s.padLeft() + kx * s.dilationW();
                            if (iy >= 0 && iy < s.h() && ix >= 0 && ix < s.w()) {
                                int at = iy * s.w() + ix;
                                float v = x[xOff + p * s.inPlane() + at];
                                boolean first = best < 0 && !Float.isNaN(v);
                                if (first || v > max) {
                                    max = v;
                                    best = at;
                                }
                            }
                        }
                    }
                    if (best >= 0) {
                        acc[p * s.inPlane() + best] += dy[dyOff + p * s.outPlane() + oy * s.outW() + ox];
                    }
                }
            }
        }
        for (int i = 0; i < acc.length; i++) {
            dx[dxOff + i] = (float) acc[i];
        }
    }

    /** Plain twin of {@link #averagePoolBackward}: each window's taps counted and fed, in double. */
    public static void averagePoolBackwardScalar(PoolShape s, boolean countIncludePad, int planes, float[] dy,
                                                 int dyOff, float[] dx, int dxOff) {
        double[] acc = new double[planes * s.inPlane()];
        for (int p = 0; p < planes; p++) {
            for (int oy = 0; oy < s.outH(); oy++) {
                for (int ox = 0; ox < s.outW(); ox++) {
                    int count = 0;
                    for (int ky = 0; ky < s.kh(); ky++) {
                        for (int kx = 0; kx < s.kw(); kx++) {
                            int iy = oy * s.strideH() - s.padTop() + ky * s.dilationH();
                            int ix = ox * s.strideW() - s.padLeft() + kx * s.dilationW();
                            boolean inside = iy >= 0 && iy < s.h() && ix >= 0 && ix < s.w();
                            boolean padded = iy >= -s.padTop() && iy < s.h() + s.padBottom()
                                    && ix >= -s.padLeft() && ix < s.w() + s.padRight();
                            count += inside || (countIncludePad && padded) ? 1 : 0;
                        }
                    }
                    double g = (double) dy[dyOff + p * s.outPlane() + oy * s.outW() + ox] / count;
                    for (int ky = 0; ky < s.kh(); ky++) {
                        for (int kx = 0; kx < s.kw(); kx++) {
                            int iy = oy * s.strideH() - s.padTop() + ky * s.dilationH();
                            int ix = ox * s.strideW() - s.padLeft() + kx * s.dilationW();
                            if (iy >= 0 && iy < s.h() && ix >= 0 && ix < s.w()) {
                                acc[p * s.inPlane() + iy * s.w() + ix] += g;
                            }
                        }
                    }
                }
            }
        }
        for (int i = 0; i < acc.length; i++) {
            dx[dxOff + i] = (float) acc[i];
        }
    }

    /** Plain twin of {@link #globalAveragePoolBackward}, divided in double. */
    public static void globalAveragePoolBackwardScalar(int planes, int size, float[] dy, int dyOff, float[] dx,
                                                       int dxOff) {
        for (int p = 0; p < planes; p++) {
            for (int j = 0; j < size; j++) {
                dx[dxOff + p * size + j] = (float) ((double) dy[dyOff + p] / size);
            }
        }
    }

    private static void check(PoolShape s, int planes, float[] a, int off, int per, String name) {
        Objects.requireNonNull(a, name);
        long need = (long) planes * per;
        if (planes < 0 || off < 0 || off + need > a.length) {
            throw new IllegalArgumentException("pool gradient " + s + " over " + planes + " planes: " + name
                    + " needs " + need + " floats from " + off + ", array has " + a.length);
        }
    }

    private static void checkIndices(PoolShape s, int planes, int[] a, int off) {
        Objects.requireNonNull(a, "argmax");
        long need = (long) planes * s.outPlane();
        if (off < 0 || off + need > a.length) {
            throw new IllegalArgumentException("max pool " + s + " over " + planes + " planes: argmax needs " + need
                    + " ints from " + off + ", array has " + a.length);
        }
    }

    private static void checkGlobal(int planes, int size, float[] dy, int dyOff, float[] dx, int dxOff) {
        if (planes < 0 || size <= 0 || dyOff < 0 || dyOff + (long) planes > dy.length || dxOff < 0
                || dxOff + (long) planes * size > dx.length) {
            throw new IllegalArgumentException("global pool gradient over " + planes + " planes of " + size
                    + ": dy needs " + planes + " floats from " + dyOff + " (has " + dy.length + "), dx "
                    + (long) planes * size + " from " + dxOff + " (has " + dx.length + ")");
        }
    }
}
