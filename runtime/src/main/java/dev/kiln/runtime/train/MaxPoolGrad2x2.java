package dev.kiln.runtime.train;

import dev.kiln.runtime.PoolShape;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link PoolGrad#maxPoolBackward(PoolShape, int, float[], int, float[], int, float[], int)} for the CNNs' pool: 2x2
 * windows, stride 2, no padding or dilation, every window inside the input. The windows are disjoint, so each input
 * gets either its window's gradient or zero, and VL windows at a time can pick without branches: the four taps of
 * VL windows are the even and odd lanes of two input rows, the pick is {@link PoolGrad}'s rule (the first non-NaN
 * tap in row-major order starts, a strictly greater one replaces it) as masks, and the gradient goes back to the
 * picked lanes, interleaved into the two input rows. Every input a window covers is stored (its gradient or 0), so
 * a row whose windows are not a multiple of VL ends with one more vector block over its last VL windows, which
 * stores again the same values for the windows it overlaps; rows of VL/2 windows over input rows of VL floats go
 * two window rows to a block, and other rows shorter than VL run the same rule on scalars.
 * Inputs no window covers (an odd last row or column) are left to the caller.
 * The generic scalar pick was a third of mnist_cnn's training step, a mispredicted branch per tap, and its
 * bounds arithmetic per window most of the rest.
 */
final class MaxPoolGrad2x2 {
    private static final VectorSpecies<Float> S = Lanes.S;
    private static final int VL = S.length();
    /*
     * Two vectors' lanes are combined with one-vector shuffles of constant indices and a blend of a constant mask
     * (what the two-vector rearrange does, without building its masks and wrapped indices at run time): the even
     * lanes of t0, t1 side by side are t0.rearrange(EVEN).blend(t1.rearrange(EVEN), UPPER), and lanes 0.. of a and
     * b interleaved (a0 b0 a1 b1 ...) are a.rearrange(LOW_TWICE).blend(b.rearrange(LOW_TWICE), ODD_LANES).
     */
    /** Lanes 0, 2, 4, ... into the lower half and again into the upper half. */
    private static final VectorShuffle<Float> EVEN = VectorShuffle.fromOp(S, i -> 2 * i % VL);
    /** Lanes 1, 3, 5, ... likewise. */
    private static final VectorShuffle<Float> ODD = VectorShuffle.fromOp(S, i -> (2 * i + 1) % VL);
    /** Lanes 0, 0, 1, 1, ... of the lower half. */
    private static final VectorShuffle<Float> LOW_TWICE = VectorShuffle.fromOp(S, i -> i / 2);
    /** Lanes VL/2, VL/2, VL/2 + 1, ... of the upper half. */
    private static final VectorShuffle<Float> HIGH_TWICE = VectorShuffle.fromOp(S, i -> VL / 2 + i / 2);
    private static final VectorMask<Float> UPPER = VectorMask.fromLong(S, -1L << (VL / 2));
    private static final VectorMask<Float> ODD_LANES = VectorMask.fromLong(S, 0xAAAA_AAAA_AAAA_AAAAL);

    private MaxPoolGrad2x2() {}

    /** Whether {@link #backward} computes this shape. */
    static boolean supports(PoolShape s) {
        return s.kh() == 2 && s.kw() == 2 && s.strideH() == 2 && s.strideW() == 2 && s.padTop() == 0
                && s.padLeft() == 0 && s.padBottom() == 0 && s.padRight() == 0 && s.dilationH() == 1
                && s.dilationW() == 1 && 2 * s.outH() <= s.h() && 2 * s.outW() <= s.w();
    }

    /** dx of every window of {@code planes} planes (the inputs no window covers untouched). */
    static void backward(PoolShape s, int planes, float[] x, int xOff, float[] dy, int dyOff, float[] dx, int dxOff) {
        int w = s.w();
        int outW = s.outW();
        int last = outW - VL; // the last vector block's first window; negative: the row is scalar
        // Rows of exactly VL/2 windows over an input row of VL floats (mnist_cnn's second pool, 8x8 -> 4x4, at 8
        // lanes) go two window rows to a vector block instead of one scalar window at a time.
        boolean pairsRows = 2 * outW == VL && w == VL;
        for (int p = 0; p < planes; p++) {
            int pin = xOff + p * s.inPlane();
            int pdx = dxOff + p * s.inPlane();
            int pdy = dyOff + p * s.outPlane();
            for (int oy = 0; oy < s.outH(); oy++) {
                int r0 = 2 * oy * w;
                int g = pdy + oy * outW;
                if (pairsRows && oy + 1 < s.outH()) {
                    // Rows of VL/2 windows, two at a time: one vector of each of their four input rows. The next
                    // window row's inputs start 2w further; its gradients follow this row's in dy.
                    int r2 = r0 + 2 * w;
                    block(x, pin + r0, pin + r2, pin + r0 + w, pin + r2 + w, dy, g, dx, pdx + r0, pdx + r2,
                            pdx + r0 + w, pdx + r2 + w);
                    oy++;
                    continue;
                }
                if (last < 0) {
                    for (int ox = 0; ox < outW; ox++) {
                        window(x, pin + r0 + 2 * ox, w, dy[g + ox], dx, pdx + r0 + 2 * ox);
                    }
                    continue;
                }
                for (int ox = 0; ; ox += VL) {
                    int at = Math.min(ox, last);
                    int top = r0 + 2 * at;
                    int bottom = top + w;
                    block(x, pin + top, pin + top + VL, pin + bottom, pin + bottom + VL, dy, g + at, dx, pdx + top,
                            pdx + top + VL, pdx + bottom, pdx + bottom + VL);
                    if (at == last) {
                        break;
                    }
                }
            }
        }
    }

    /** One window whose top-left tap is at {@code i}, by {@link #block}'s rule, its gradient {@code grad}. */
    private static void window(float[] x, int i, int w, float grad, float[] dx, int d) {
        float a = x[i];
        float b = x[i + 1];
        float c = x[i + w];
        float e = x[i + w + 1];
        int pick = a == a ? 0 : -1;
        float best = a == a ? a : Float.NEGATIVE_INFINITY;
        if (b > best || (pick < 0 && b == b)) {
            pick = 1;
            best = b;
        }
        if (c > best || (pick < 0 && c == c)) {
            pick = 2;
            best = c;
        }
        if (e > best || (pick < 0 && e == e)) {
            pick = 3;
        }
        dx[d] = pick == 0 ? grad : 0f;
        dx[d + 1] = pick == 1 ? grad : 0f;
        dx[d + w] = pick == 2 ? grad : 0f;
        dx[d + w + 1] = pick == 3 ? grad : 0f;
    }

    /**
     * VL windows: the first VL/2 with top taps in the vector at {@code top0} and bottom taps at {@code bottom0}, the
     * others at {@code top1} and {@code bottom1} (the next VL floats of the same rows, or the next window row); their
     * gradients from {@code dy[g]}, in that order; dx written at the matching {@code d} offsets.
     */
    private static void block(float[] x, int top0, int top1, int bottom0, int bottom1, float[] dy, int g, float[] dx,
                              int dTop0, int dTop1, int dBottom0, int dBottom1) {
        FloatVector t0 = FloatVector.fromArray(S, x, top0);
        FloatVector t1 = FloatVector.fromArray(S, x, top1);
        FloatVector u0 = FloatVector.fromArray(S, x, bottom0);
        FloatVector u1 = FloatVector.fromArray(S, x, bottom1);
        FloatVector a = t0.rearrange(EVEN).blend(t1.rearrange(EVEN), UPPER);
        FloatVector b = t0.rearrange(ODD).blend(t1.rearrange(ODD), UPPER);
        FloatVector c = u0.rearrange(EVEN).blend(u1.rearrange(EVEN), UPPER);
        FloatVector d = u0.rearrange(ODD).blend(u1.rearrange(ODD), UPPER);
        // The scalar rule as masks: a tap is taken when greater than the best so far, or when it is the first
        // non-NaN one (v == v); the last tap taken wins.
        VectorMask<Float> has = a.eq(a);
        FloatVector best = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY).blend(a, has);
        VectorMask<Float> takeB = b.compare(VectorOperators.GT, best).or(has.not().and(b.eq(b)));
        best = best.blend(b, takeB);
        has = has.or(takeB);
        VectorMask<Float> takeC = c.compare(VectorOperators.GT, best).or(has.not().and(c.eq(c)));
        best = best.blend(c, takeC);
        has = has.or(takeC);
        VectorMask<Float> takeD = d.compare(VectorOperators.GT, best).or(has.not().and(d.eq(d)));
        VectorMask<Float> pickC = takeC.andNot(takeD);
        VectorMask<Float> pickB = takeB.andNot(takeC).andNot(takeD);
        VectorMask<Float> pickA = a.eq(a).andNot(takeB).andNot(takeC).andNot(takeD);
        FloatVector grad = FloatVector.fromArray(S, dy, g);
        FloatVector zero = FloatVector.zero(S);
        FloatVector ga = zero.blend(grad, pickA);
        FloatVector gb = zero.blend(grad, pickB);
        FloatVector gc = zero.blend(grad, pickC);
        FloatVector gd = zero.blend(grad, takeD);
        ga.rearrange(LOW_TWICE).blend(gb.rearrange(LOW_TWICE), ODD_LANES).intoArray(dx, dTop0);
        ga.rearrange(HIGH_TWICE).blend(gb.rearrange(HIGH_TWICE), ODD_LANES).intoArray(dx, dTop1);
        gc.rearrange(LOW_TWICE).blend(gd.rearrange(LOW_TWICE), ODD_LANES).intoArray(dx, dBottom0);
        gc.rearrange(HIGH_TWICE).blend(gd.rearrange(HIGH_TWICE), ODD_LANES).intoArray(dx, dBottom1);
    }
}
