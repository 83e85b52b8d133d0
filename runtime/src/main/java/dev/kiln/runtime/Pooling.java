package dev.kiln.runtime;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * 2-D max and average pooling and the global pools over NCHW planes ({@code planes = N * C} contiguous
 * H x W planes in, outH x outW planes out).
 *
 * <p>Windows that lie wholly inside the input are computed a vector of outputs at a time along the output
 * width: with stride 1 each tap is one contiguous load; with stride 2 (undilated) two contiguous loads per
 * tap pair are reduced vertically first and then split into even and odd lanes by one-vector shuffles and a
 * blend.
 * Windows touching the padding, and other strides, take the scalar path, which skips padded taps.
 * A window with no input tap gives -inf (max) or NaN (average without counted pads), as ONNX's reference does.
 */
public final class Pooling {
    private static final VectorSpecies<Float> S = GemmKernel.SPECIES;
    private static final int VL = S.length();
    /** Lanes 0, 2, 4, ... of a vector, twice over: into its lower half and again into its upper half. */
    private static final VectorShuffle<Float> EVEN = VectorShuffle.fromOp(S, i -> 2 * i % VL);
    /** Lanes 1, 3, 5, ... of a vector, twice over. */
    private static final VectorShuffle<Float> ODD = VectorShuffle.fromOp(S, i -> (2 * i + 1) % VL);
    /**
     * Lanes VL / 2 and up. The even lanes of two vectors {@code lo, hi} side by side are
     * {@code lo.rearrange(EVEN).blend(hi.rearrange(EVEN), UPPER)}: one-vector shuffles of constant indices and a
     * constant blend, where the two-vector {@code rearrange} builds its masks and wrapped indices at run time.
     */
    private static final VectorMask<Float> UPPER = VectorMask.fromLong(S, -1L << (VL / 2));

    private Pooling() {}

    /** ONNX MaxPool over {@code planes} planes. */
    public static void maxPool(PoolShape s, int planes, float[] in, int inOff, float[] out, int outOff) {
        if (plain2x2(s)) {
            maxPool2x2(s, planes, in, inOff, out, outOff);
            return;
        }
        if (!vectorizable(s) || s.outW() < VL) {
            // no vector fits a row: the plain loops are the fastest (measured, docs/BENCHMARKS.md)
            maxPoolScalar(s, planes, in, inOff, out, outOff);
            return;
        }
        for (int p = 0; p < planes; p++) {
            int pin = inOff + p * s.inPlane();
            int pout = outOff + p * s.outPlane();
            for (int oy = 0; oy < s.outH(); oy++) {
                maxRow(s, in, pin, out, pout + oy * s.outW(), oy);
            }
        }
    }

    /**
     * The CNNs' pool: 2 x 2 windows, stride 2, no padding or dilation, every window inside the input (not so for
     * a ceil_mode output over an odd size).
     */
    private static boolean plain2x2(PoolShape s) {
        return s.kh() == 2 && s.kw() == 2 && s.strideH() == 2 && s.strideW() == 2 && s.dilationH() == 1
                && s.dilationW() == 1 && s.padTop() == 0 && s.padLeft() == 0 && s.padBottom() == 0
                && s.padRight() == 0 && 2 * s.outH() <= s.h() && 2 * s.outW() <= s.w();
    }

    /**
     * 2 x 2 / 2 max pooling with no window test: per output row, VL / 2 windows at a time from a vector of VL
     * inputs of each of the two rows (their maximum, then that of its even and odd lanes), and a plain max of four
     * for what is left. The vector holds VL / 2 windows but is stored whole: its upper half falls on outputs this
     * call writes later (the row's next windows, or the next row's first), so it needs no masked store, and the
     * loads past a row's end feed only those lanes. The last stores, whose upper half would leave this call's
     * output, take the plain path. The general path ran mnist_cnn's 7-wide rows through its bounds-checked scalar
     * loop at ~30 ns per output. Max is exact, so the lanes' order changes no bit.
     *
     * <p>Only the runtime's one species is used: a second one (this method had 4-lane vectors for rows narrower
     * than VL) makes the Vector API's shared call sites bimorphic, and C2 then compiled some kernels with vector
     * operations left as calls that box, in about one test JVM in five (docs/KERNELS.md).
     */
    private static void maxPool2x2(PoolShape s, int planes, float[] in, int inOff, float[] out, int outOff) {
        int w = s.w();
        int outW = s.outW();
        int outH = s.outH();
        int inPlane = s.inPlane();
        int outPlane = s.outPlane();
        int outEnd = outOff + planes * outPlane;
        for (int p = 0; p < planes; p++) {
            for (int oy = 0; oy < outH; oy++) {
                int r0 = inOff + p * inPlane + 2 * oy * w;
                int r1 = r0 + w;
                int o = outOff + p * outPlane + oy * outW;
                int ox = 0;
                for (; ox < outW && o + ox + VL <= outEnd && r1 + 2 * ox + VL <= in.length; ox += VL / 2) {
                    FloatVector m = FloatVector.fromArray(S, in, r0 + 2 * ox)
                            .max(FloatVector.fromArray(S, in, r1 + 2 * ox));
                    m.rearrange(EVEN).max(m.rearrange(ODD)).intoArray(out, o + ox);
                }
                for (; ox < outW; ox++) {
                    int i0 = r0 + 2 * ox;
                    int i1 = r1 + 2 * ox;
                    out[o + ox] = Math.max(Math.max(in[i0], in[i0 + 1]), Math.max(in[i1], in[i1 + 1]));
                }
            }
        }
    }

    /** ONNX AveragePool over {@code planes} planes; {@code countIncludePad} counts padding cells in the divisor. */
    public static void averagePool(PoolShape s, boolean countIncludePad, int planes, float[] in, int inOff,
                                   float[] out, int outOff) {
        if (!vectorizable(s) || s.outW() < VL) {
            averagePoolScalar(s, countIncludePad, planes, in, inOff, out, outOff);
            return;
        }
        for (int p = 0; p < planes; p++) {
            int pin = inOff + p * s.inPlane();
            int pout = outOff + p * s.outPlane();
            for (int oy = 0; oy < s.outH(); oy++) {
                averageRow(s, countIncludePad, in, pin, out, pout + oy * s.outW(), oy);
            }
        }
    }

    /**
     * {@link #maxPool} with the planes split over {@code pool} when there are more than ~10 µs of them, an even
     * share per thread with single units taken from another's share at the end
     * ({@link WorkerPool#parallelForBalanced}: a thread pools the planes of the images it convolved); a plane's
     * outputs do not depend on the split. Allocates nothing.
     */
    public static void maxPool(PoolShape s, int planes, float[] in, int inOff, float[] out, int outOff,
                               WorkerPool pool) {
        if (!PlaneSplit.splits(s, planes, pool)) {
            maxPool(s, planes, in, inOff, out, outOff);
            return;
        }
        TASKS.get().run(s, false, false, planes, in, inOff, out, outOff, pool);
    }

    /** {@link #averagePool} split over {@code pool} as {@link #maxPool(PoolShape, int, float[], int, float[], int, WorkerPool)} is. */
    public static void averagePool(PoolShape s, boolean countIncludePad, int planes, float[] in, int inOff,
                                   float[] out, int outOff, WorkerPool pool) {
        if (!PlaneSplit.splits(s, planes, pool)) {
            averagePool(s, countIncludePad, planes, in, inOff, out, outOff);
            return;
        }
        TASKS.get().run(s, true, countIncludePad, planes, in, inOff, out, outOff, pool);
    }

    private static final ThreadLocal<PoolTask> TASKS = ThreadLocal.withInitial(PoolTask::new);

    /** One threaded pooling call's arguments, reused per calling thread (a capturing lambda allocated per call). */
    private static final class PoolTask extends PlaneSplit {
        private PoolShape s;
        private boolean average;
        private boolean countIncludePad;
        private float[] in;
        private int inOff;
        private float[] out;
        private int outOff;

        void run(PoolShape s, boolean average, boolean countIncludePad, int planes, float[] in, int inOff,
                 float[] out, int outOff, WorkerPool pool) {
            this.s = s;
            this.average = average;
            this.countIncludePad = countIncludePad;
            this.in = in;
            this.inOff = inOff;
            this.out = out;
            this.outOff = outOff;
            runOn(pool, planes);
        }

        @Override
        protected void clear() {
            in = null;
            out = null;
        }

        @Override
        protected void planes(int p0, int count) {
            int i = inOff + p0 * s.inPlane();
            int o = outOff + p0 * s.outPlane();
            if (average) {
                averagePool(s, countIncludePad, count, in, i, out, o);
            } else {
                maxPool(s, count, in, i, out, o);
            }
        }
    }

    /** GlobalMaxPool: {@code out[p] = max} over the {@code size} elements of plane p. */
    public static void globalMaxPool(int planes, int size, float[] in, int inOff, float[] out, int outOff) {
        for (int p = 0; p < planes; p++) {
            out[outOff + p] = Softmax.rowMax(in, inOff + p * size, size);
        }
    }

    /** GlobalAveragePool: {@code out[p] = mean} of the {@code size} elements of plane p. */
    public static void globalAveragePool(int planes, int size, float[] in, int inOff, float[] out, int outOff) {
        for (int p = 0; p < planes; p++) {
            int o = inOff + p * size;
            FloatVector acc = FloatVector.zero(S);
            int j = 0;
            for (int bound = S.loopBound(size); j < bound; j += VL) {
                acc = acc.add(FloatVector.fromArray(S, in, o + j));
            }
            float sum = acc.lane(0); // lanes in order, no call: docs/KERNELS.md
            for (int l = 1; l < VL; l++) {
                sum += acc.lane(l);
            }
            for (; j < size; j++) {
                sum += in[o + j];
            }
            out[outOff + p] = sum / size;
        }
    }

    /** Plain twin of {@link #maxPool}: every tap of every window, bounds checked. */
    public static void maxPoolScalar(PoolShape s, int planes, float[] in, int inOff, float[] out, int outOff) {
        for (int p = 0; p < planes; p++) {
            for (int oy = 0; oy < s.outH(); oy++) {
                for (int ox = 0; ox < s.outW(); ox++) {
                    float best = Float.NEGATIVE_INFINITY;
                    for (int ky = 0; ky < s.kh(); ky++) {
                        for (int kx = 0; kx < s.kw(); kx++) {
                            int iy = oy * s.strideH() - s.padTop() + ky * s.dilationH();
                            int ix = ox * s.strideW() - s.padLeft() + kx * s.dilationW();
                            if (iy >= 0 && iy < s.h() && ix >= 0 && ix < s.w()) {
                                best = Math.max(best, in[inOff + p * s.inPlane() + iy * s.w() + ix]);
                            }
                        }
                    }
                    out[outOff + p * s.outPlane() + oy * s.outW() + ox] = best;
                }
            }
        }
    }

    /** Plain twin of {@link #averagePool}: double sum; pads count when inside the padded input. */
    public static void averagePoolScalar(PoolShape s, boolean countIncludePad, int planes, float[] in, int inOff,
                                         float[] out, int outOff) {
        for (int p = 0; p < planes; p++) {
            for (int oy = 0; oy < s.outH(); oy++) {
                for (int ox = 0; ox < s.outW(); ox++) {
                    double sum = 0;
                    int count = 0;
                    for (int ky = 0; ky < s.kh(); ky++) {
                        for (int kx = 0; kx < s.kw(); kx++) {
                            int iy = oy * s.strideH() - s.padTop() + ky * s.dilationH();
                            int ix = ox * s.strideW() - s.padLeft() + kx * s.dilationW();
                            if (iy >= 0 && iy < s.h() && ix >= 0 && ix < s.w()) {
                                sum += in[inOff + p * s.inPlane() + iy * s.w() + ix];
                                count++;
                            } else if (countIncludePad && iy >= -s.padTop() && iy < s.h() + s.padBottom()
                                    && ix >= -s.padLeft() && ix < s.w() + s.padRight()) {
                                count++;
                            }
                        }
                    }
                    out[outOff + p * s.outPlane() + oy * s.outW() + ox] = (float) (sum / count);
                }
            }
        }
    }

    /** Plain twin of {@link #globalMaxPool}. */
    public static void globalMaxPoolScalar(int planes, int size, float[] in, int inOff, float[] out, int outOff) {
        for (int p = 0; p < planes; p++) {
            float best = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < size; j++) {
                best = Math.max(best, in[inOff + p * size + j]);
            }
            out[outOff + p] = best;
        }
    }

    /** Plain twin of {@link #globalAveragePool}: double sum. */
    public static void globalAveragePoolScalar(int planes, int size, float[] in, int inOff, float[] out, int outOff) {
        for (int p = 0; p < planes; p++) {
            double sum = 0;
            for (int j = 0; j < size; j++) {
                sum += in[inOff + p * size + j];
            }
            out[outOff + p] = (float) (sum / size);
        }
    }

    private static void maxRow(PoolShape s, float[] in, int plane, float[] out, int row, int oy) {
        int iy0 = oy * s.strideH() - s.padTop();
        int first = Math.min(s.outW(), Math.ceilDiv(s.padLeft(), s.strideW()));
        for (int x = 0; x < first; x++) {
            out[row + x] = maxAt(s, in, plane, iy0, x);
        }
        int ox = first;
        if (vectorizable(s)) {
            for (; ox + VL <= s.outW() && lastRead(s, ox) < s.w(); ox += VL) {
                maxVector(s, in, plane, iy0, ox, out, row);
            }
            int end = vectorEnd(s, first, ox);
            if (end > ox) {
                // the row's last interior outputs as one full vector ending at the last interior output,
                // overlapping the previous vector (it recomputes the same values)
                maxVector(s, in, plane, iy0, end - VL, out, row);
                ox = end;
            }
        }
        for (; ox < s.outW(); ox++) {
            out[row + ox] = maxAt(s, in, plane, iy0, ox);
        }
    }

    /** Max of the VL windows starting at output column ox, all inside the row. */
    private static void maxVector(PoolShape s, float[] in, int plane, int iy0, int ox, float[] out, int row) {
        FloatVector acc = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        if (s.strideW() == 1) {
            for (int ky = 0; ky < s.kh(); ky++) {
                int iy = iy0 + ky * s.dilationH();
                if (iy < 0 || iy >= s.h()) {
                    continue;
                }
                int base = plane + iy * s.w() + ox - s.padLeft();
                for (int kx = 0; kx < s.kw(); kx++) {
                    acc = acc.max(FloatVector.fromArray(S, in, base + kx * s.dilationW()));
                }
            }
        } else {
            for (int kx = 0; kx < s.kw(); kx += 2) {
                FloatVector lo = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
                FloatVector hi = lo;
                for (int ky = 0; ky < s.kh(); ky++) {
                    int iy = iy0 + ky * s.dilationH();
                    if (iy < 0 || iy >= s.h()) {
                        continue;
                    }
                    int base = plane + iy * s.w() + 2 * ox - s.padLeft() + kx;
                    lo = lo.max(FloatVector.fromArray(S, in, base));
                    hi = hi.max(FloatVector.fromArray(S, in, base + VL));
                }
                acc = acc.max(lo.rearrange(EVEN).blend(hi.rearrange(EVEN), UPPER));
                if (kx + 1 < s.kw()) {
                    acc = acc.max(lo.rearrange(ODD).blend(hi.rearrange(ODD), UPPER));
                }
            }
        }
        acc.intoArray(out, row + ox);
    }

    private static void averageRow(PoolShape s, boolean includePad, float[] in, int plane, float[] out, int row, int oy) {
        int iy0 = oy * s.strideH() - s.padTop();
        int first = Math.min(s.outW(), Math.ceilDiv(s.padLeft(), s.strideW()));
        for (int x = 0; x < first; x++) {
            out[row + x] = averageAt(s, includePad, in, plane, iy0, x);
        }
        int ox = first;
        if (vectorizable(s)) {
            // Interior windows have every column tap; only the row taps vary, so one divisor serves the row.
            int rows = 0;
            for (int ky = 0; ky < s.kh(); ky++) {
                int iy = iy0 + ky * s.dilationH();
                boolean inside = iy >= 0 && iy < s.h();
                boolean padded = iy >= -s.padTop() && iy < s.h() + s.padBottom();
                rows += inside || (includePad && padded) ? 1 : 0;
            }
            float count = rows * s.kw();
            for (; ox + VL <= s.outW() && lastRead(s, ox) < s.w(); ox += VL) {
                averageVector(s, in, plane, iy0, ox, out, row, count);
            }
            int end = vectorEnd(s, first, ox);
            if (end > ox) {
                averageVector(s, in, plane, iy0, end - VL, out, row, count);
                ox = end;
            }
        }
        for (; ox < s.outW(); ox++) {
            out[row + ox] = averageAt(s, includePad, in, plane, iy0, ox);
        }
    }

    /** Mean of the VL windows starting at output column ox, all inside the row. */
    private static void averageVector(PoolShape s, float[] in, int plane, int iy0, int ox, float[] out, int row,
                                      float count) {
        FloatVector acc = FloatVector.zero(S);
        for (int ky = 0; ky < s.kh(); ky++) {
            int iy = iy0 + ky * s.dilationH();
            if (iy < 0 || iy >= s.h()) {
                continue;
            }
            if (s.strideW() == 1) {
                int base = plane + iy * s.w() + ox - s.padLeft();
                for (int kx = 0; kx < s.kw(); kx++) {
                    acc = acc.add(FloatVector.fromArray(S, in, base + kx * s.dilationW()));
                }
            } else {
                for (int kx = 0; kx < s.kw(); kx += 2) {
                    int base = plane + iy * s.w() + 2 * ox - s.padLeft() + kx;
                    FloatVector lo = FloatVector.fromArray(S, in, base);
                    FloatVector hi = FloatVector.fromArray(S, in, base + VL);
                    acc = acc.add(lo.rearrange(EVEN).blend(hi.rearrange(EVEN), UPPER));
                    if (kx + 1 < s.kw()) {
                        acc = acc.add(lo.rearrange(ODD).blend(hi.rearrange(ODD), UPPER));
                    }
                }
            }
        }
        acc.div(count).intoArray(out, row + ox);
    }

    /** Stride 1, or stride 2 undilated along the width: the layouts the vector paths read. */
    private static boolean vectorizable(PoolShape s) {
        return s.strideW() == 1 || (s.strideW() == 2 && s.dilationW() == 1);
    }

    /**
     * One past the last output column whose window lies inside the row, when the vector of VL outputs ending
     * there is all interior and goes beyond {@code ox}; otherwise {@code ox}.
     */
    private static int vectorEnd(PoolShape s, int first, int ox) {
        int end = s.outW();
        while (end > ox && end - VL >= first && lastRead(s, end - VL) >= s.w()) {
            end--;
        }
        return end > ox && end - VL >= first ? end : ox;
    }

    /**
     * Last input column the vector block of outputs {@code ox .. ox+VL-1} loads; the stride-2 path loads
     * pairs of columns, so with an odd kernel width it reads one column past the last tap.
     */
    private static int lastRead(PoolShape s, int ox) {
        int last = (ox + VL - 1) * s.strideW() - s.padLeft() + (s.kw() - 1) * s.dilationW();
        return s.strideW() == 2 && (s.kw() & 1) == 1 ? last + 1 : last;
    }

    private static float maxAt(PoolShape s, float[] in, int plane, int iy0, int ox) {
        int ix0 = ox * s.strideW() - s.padLeft();
        float best = Float.NEGATIVE_INFINITY;
        for (int ky = 0; ky < s.kh(); ky++) {
            int iy = iy0 + ky * s.dilationH();
            if (iy < 0 || iy >= s.h()) {
                continue;
            }
            int r = plane + iy * s.w();
            for (int kx = 0; kx < s.kw(); kx++) {
                int ix = ix0 + kx * s.dilationW();
                if (ix >= 0 && ix < s.w()) {
                    best = Math.max(best, in[r + ix]);
                }
            }
        }
        return best;
    }

    private static float averageAt(PoolShape s, boolean includePad, float[] in, int plane, int iy0, int ox) {
        int ix0 = ox * s.strideW() - s.padLeft();
        float sum = 0;
        int rows = 0;
        int cols = 0;
        int paddedRows = 0;
        int paddedCols = 0;
        for (int kx = 0; kx < s.kw(); kx++) {
            int ix = ix0 + kx * s.dilationW();
            cols += ix >= 0 && ix < s.w() ? 1 : 0;
            paddedCols += ix >= -s.padLeft() && ix < s.w() + s.padRight() ? 1 : 0;
        }
        for (int ky = 0; ky < s.kh(); ky++) {
            int iy = iy0 + ky * s.dilationH();
            paddedRows += iy >= -s.padTop() && iy < s.h() + s.padBottom() ? 1 : 0;
            if (iy < 0 || iy >= s.h()) {
                continue;
            }
            rows++;
            int r = plane + iy * s.w();
            for (int kx = 0; kx < s.kw(); kx++) {
                int ix = ix0 + kx * s.dilationW();
                if (ix >= 0 && ix < s.w()) {
                    sum += in[r + ix];
                }
            }
        }
        return sum / (includePad ? paddedRows * paddedCols : rows * cols);
    }
}
