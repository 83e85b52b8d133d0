package dev.kiln.runtime;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * exp, expm1 and tanh on float vectors built only from IEEE operations (add, mul, fma, div, min/max, bit moves),
 * and the same operations written out in array loops for the kernels (Sigmoid, Tanh, Elu rows; Softmax's
 * exponentials), which must not hand a vector to a call (see the comment above those).
 *
 * <p>Why not {@code lanewise(EXP)}: C2 compiles it to a call into SVML while the interpreter and C1 fall back to
 * {@code Math.exp} per lane, and the two differ in the last bit. A kernel must give the same bits whichever tier
 * runs it on whichever thread (docs/KERNELS.md), so the transcendental functions are written out here: every
 * operation below is correctly rounded by IEEE 754 and so bit-reproducible everywhere. Accuracy: within 2 ulp
 * of the exact result (tests compare against {@link Math}).
 */
public final class VectorMath {

    private static final float LOG2E = 1.44269504088896341f;
    /** ln 2 split in a part exact in few bits and a remainder (Cody-Waite), so x - n ln2 loses nothing. */
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /** 1.5 * 2^23: adding it rounds a float below 2^22 to an integer kept in the low mantissa bits. */
    private static final float ROUNDER = 12582912f;
    private static final int ROUNDER_BITS = 0x4B400000;
    /** exp overflows above ~88.72 and flushes to 0 below ~-103.97; clamping keeps n within two scalings. */
    private static final float EXP_MAX = 89f;
    private static final float EXP_MIN = -104f;
    /** e^r = 1 + r + r^2 (E0 + r (E1 + ...)) on |r| ≤ ln2/2 (Cephes expf). */
    private static final float E0 = 5.0000001201e-1f;
    private static final float E1 = 1.6666665459e-1f;
    private static final float E2 = 4.1665795894e-2f;
    private static final float E3 = 8.3334519073e-3f;
    private static final float E4 = 1.3981999507e-3f;
    private static final float E5 = 1.9875691500e-4f;
    private static final VectorSpecies<Float> S = GemmKernel.SPECIES;
    private static final int VL = S.length();
    /** The int species of S's shape: a static final, so C2 sees it as a constant (a withLanes call inline boxed). */
    private static final VectorSpecies<Integer> I = S.withLanes(int.class);

    private VectorMath() { }

    /** e^x per lane: x = n ln2 + r, |r| ≤ ln2/2, e^r by a degree-6 polynomial (Cephes expf), times 2^n. */
    public static FloatVector exp(FloatVector x) {
        x = x.max(EXP_MIN).min(EXP_MAX);
        FloatVector t = x.fma(LOG2E, ROUNDER);
        FloatVector n = t.sub(ROUNDER);
        FloatVector r = n.fma(n.broadcast(-LN2_HI), x);
        r = n.fma(n.broadcast(-LN2_LO), r);
        FloatVector p = r.broadcast(E5)
                .fma(r, r.broadcast(E4))
                .fma(r, r.broadcast(E3))
                .fma(r, r.broadcast(E2))
                .fma(r, r.broadcast(E1))
                .fma(r, r.broadcast(E0));
        FloatVector y = p.mul(r.mul(r)).add(r).add(1f);
        // 2^n as two factors 2^(n/2) and 2^(n - n/2), each a normal float for n in [-150, 129].
        IntVector ni = t.reinterpretAsInts().sub(ROUNDER_BITS);
        IntVector half = ni.lanewise(VectorOperators.ASHR, 1);
        FloatVector s1 = half.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = ni.sub(half).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return y.mul(s1).mul(s2);
    }

    /**
     * e^x - 1 per lane without the cancellation of exp(x) - 1 near 0: with x = n ln2 + r,
     * e^x - 1 = 2^n (e^r - 1) + (2^n - 1), and e^r - 1 by its Taylor series (|r| ≤ 0.35, degree 7).
     */
    static FloatVector expm1(FloatVector x) {
        FloatVector xc = x.max(-30f).min(88f);
        FloatVector t = xc.fma(LOG2E, ROUNDER);
        FloatVector n = t.sub(ROUNDER);
        FloatVector r = n.fma(n.broadcast(-LN2_HI), xc);
        r = n.fma(n.broadcast(-LN2_LO), r);
        FloatVector p = r.broadcast(1f / 5040)
                .fma(r, r.broadcast(1f / 720))
                .fma(r, r.broadcast(1f / 120))
                .fma(r, r.broadcast(1f / 24))
                .fma(r, r.broadcast(1f / 6))
                .fma(r, r.broadcast(0.5f));
        FloatVector em1r = p.mul(r.mul(r)).add(r);
        FloatVector scale = t.reinterpretAsInts().sub(ROUNDER_BITS).add(127)
                .lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector y = scale.fma(em1r, scale.sub(1f));
        return y.blend(exp(x), x.compare(VectorOperators.GT, 88f));
    }

    /** tanh per lane: an odd polynomial below 0.625 (Cephes tanhf), else 1 - 2 / (e^(2|x|) + 1) with x's sign. */
    public static FloatVector tanh(FloatVector x) {
        FloatVector ax = x.abs();
        FloatVector z = x.mul(x);
        FloatVector p = z.broadcast(-5.70498872745e-3f)
                .fma(z, z.broadcast(2.06390887954e-2f))
                .fma(z, z.broadcast(-5.37397155531e-2f))
                .fma(z, z.broadcast(1.33314422036e-1f))
                .fma(z, z.broadcast(-3.33332819422e-1f));
        FloatVector small = p.mul(z).fma(x, x);
        FloatVector big = x.broadcast(1f).sub(x.broadcast(2f).div(exp(ax.add(ax)).add(1f)));
        big = big.blend(big.neg(), x.compare(VectorOperators.LT, 0f));
        return small.blend(big, ax.compare(VectorOperators.GE, 0.625f));
    }

    // The row forms below are the vector functions above written out inside their loops, operation for operation
    // (so the same bits), because a vector handed to a method of ours is boxed whenever C2 does not inline it, and
    // it stops inlining ours at ~18,000 parse nodes, which one exp nearly fills: Epilogue.applyRows running
    // Sigmoid, Tanh and Elu GEMMs of one model through calls to exp, tanh and expm1 allocated 512 B a call
    // (docs/KERNELS.md). The JDK's vector methods are inlined past that limit, so these loops cannot box.

    /**
     * The sum of e^(x[xo + j] - shift) over j < n, also written to {@code y} from {@code yo} unless y is null:
     * Softmax's row. Vector lanes are {@link #exp}'s bits, summed per lane and the lanes in order; the tail past the
     * last whole vector is {@link Math#exp}. y may be x at the same offset.
     */
    static float expShifted(float[] x, int xo, int n, float shift, float[] y, int yo) {
        FloatVector one = FloatVector.broadcast(S, 1f);
        FloatVector lo = FloatVector.broadcast(S, EXP_MIN);
        FloatVector hi = FloatVector.broadcast(S, EXP_MAX);
        FloatVector log2e = FloatVector.broadcast(S, LOG2E);
        FloatVector rounder = FloatVector.broadcast(S, ROUNDER);
        FloatVector ln2Hi = FloatVector.broadcast(S, -LN2_HI);
        FloatVector ln2Lo = FloatVector.broadcast(S, -LN2_LO);
        FloatVector p5 = FloatVector.broadcast(S, E5);
        FloatVector p4 = FloatVector.broadcast(S, E4);
        FloatVector p3 = FloatVector.broadcast(S, E3);
        FloatVector p2 = FloatVector.broadcast(S, E2);
        FloatVector p1 = FloatVector.broadcast(S, E1);
        FloatVector p0 = FloatVector.broadcast(S, E0);
        IntVector rounderBits = IntVector.broadcast(I, ROUNDER_BITS);
        IntVector bias = IntVector.broadcast(I, 127);
        FloatVector acc = FloatVector.zero(S);
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += VL) {
            FloatVector u = FloatVector.fromArray(S, x, xo + j).sub(shift).max(lo).min(hi);
            FloatVector t = u.fma(log2e, rounder);
            FloatVector m = t.sub(rounder);
            FloatVector r = m.fma(ln2Hi, u);
            r = m.fma(ln2Lo, r);
            FloatVector p = p5.fma(r, p4).fma(r, p3).fma(r, p2).fma(r, p1).fma(r, p0);
            FloatVector e = p.mul(r.mul(r)).add(r).add(one);
            IntVector ni = t.reinterpretAsInts().sub(rounderBits);
            IntVector half = ni.lanewise(VectorOperators.ASHR, 1);
            e = e.mul(half.add(bias).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats())
                    .mul(ni.sub(half).add(bias).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats());
            if (y != null) {
                e.intoArray(y, yo + j);
            }
            acc = acc.add(e);
        }
        float sum = acc.lane(0); // lanes in order, no call: docs/KERNELS.md
        for (int l = 1; l < VL; l++) {
            sum += acc.lane(l);
        }
        for (; j < n; j++) {
            float e = (float) Math.exp(x[xo + j] - shift);
            if (y != null) {
                y[yo + j] = e;
            }
            sum += e;
        }
        return sum;
    }

    /** In place, {@code vectors * VL} floats of each of {@code rows} rows {@code stride} apart: 1 / (1 + e^-x). */
    static void sigmoidRows(float[] a, int off, int stride, int rows, int width) {
        FloatVector one = FloatVector.broadcast(S, 1f);
        FloatVector lo = FloatVector.broadcast(S, EXP_MIN);
        FloatVector hi = FloatVector.broadcast(S, EXP_MAX);
        FloatVector log2e = FloatVector.broadcast(S, LOG2E);
        FloatVector rounder = FloatVector.broadcast(S, ROUNDER);
        FloatVector ln2Hi = FloatVector.broadcast(S, -LN2_HI);
        FloatVector ln2Lo = FloatVector.broadcast(S, -LN2_LO);
        FloatVector p5 = FloatVector.broadcast(S, E5);
        FloatVector p4 = FloatVector.broadcast(S, E4);
        FloatVector p3 = FloatVector.broadcast(S, E3);
        FloatVector p2 = FloatVector.broadcast(S, E2);
        FloatVector p1 = FloatVector.broadcast(S, E1);
        FloatVector p0 = FloatVector.broadcast(S, E0);
        IntVector rounderBits = IntVector.broadcast(I, ROUNDER_BITS);
        IntVector bias = IntVector.broadcast(I, 127);
        for (int row = off, k = 0; k < rows; k++, row += stride) {
            for (int i = row; i < row + width; i += VL) {
                FloatVector x = FloatVector.fromArray(S, a, i);
                // exp(-x)
                FloatVector u = x.neg().max(lo).min(hi);
                FloatVector t = u.fma(log2e, rounder);
                FloatVector n = t.sub(rounder);
                FloatVector r = n.fma(ln2Hi, u);
                r = n.fma(ln2Lo, r);
                FloatVector p = p5.fma(r, p4).fma(r, p3).fma(r, p2).fma(r, p1).fma(r, p0);
                FloatVector y = p.mul(r.mul(r)).add(r).add(one);
                IntVector ni = t.reinterpretAsInts().sub(rounderBits);
                IntVector half = ni.lanewise(VectorOperators.ASHR, 1);
                FloatVector s1 = half.add(bias).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
                FloatVector s2 = ni.sub(half).add(bias).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
                FloatVector e = y.mul(s1).mul(s2);
                one.div(e.add(one)).intoArray(a, i);
            }
        }
    }
    /** {@link #tanh} in place over rows, as {@link #sigmoidRows}. */
    static void tanhRows(float[] a, int off, int stride, int rows, int width) {
        FloatVector one = FloatVector.broadcast(S, 1f);
        FloatVector two = FloatVector.broadcast(S, 2f);
        FloatVector zero = FloatVector.zero(S);
        FloatVector cut = FloatVector.broadcast(S, 0.625f);
        FloatVector t4 = FloatVector.broadcast(S, -5.70498872745e-3f);
        FloatVector t3 = FloatVector.broadcast(S, 2.06390887954e-2f);
        FloatVector t2 = FloatVector.broadcast(S, -5.37397155531e-2f);
        FloatVector t1 = FloatVector.broadcast(S, 1.33314422036e-1f);
        FloatVector t0 = FloatVector.broadcast(S, -3.33332819422e-1f);
        FloatVector lo = FloatVector.broadcast(S, EXP_MIN);
        FloatVector hi = FloatVector.broadcast(S, EXP_MAX);
        FloatVector log2e = FloatVector.broadcast(S, LOG2E);
        FloatVector rounder = FloatVector.broadcast(S, ROUNDER);
        FloatVector ln2Hi = FloatVector.broadcast(S, -LN2_HI);
        FloatVector ln2Lo = FloatVector.broadcast(S, -LN2_LO);
        FloatVector p5 = FloatVector.broadcast(S, E5);
        FloatVector p4 = FloatVector.broadcast(S, E4);
        FloatVector p3 = FloatVector.broadcast(S, E3);
        FloatVector p2 = FloatVector.broadcast(S, E2);
        FloatVector p1 = FloatVector.broadcast(S, E1);
        FloatVector p0 = FloatVector.broadcast(S, E0);
        IntVector rounderBits = IntVector.broadcast(I, ROUNDER_BITS);
        IntVector bias = IntVector.broadcast(I, 127);
        for (int row = off, k = 0; k < rows; k++, row += stride) {
            for (int i = row; i < row + width; i += VL) {
                FloatVector x = FloatVector.fromArray(S, a, i);
                FloatVector ax = x.abs();
                FloatVector z = x.mul(x);
                FloatVector q = t4.fma(z, t3).fma(z, t2).fma(z, t1).fma(z, t0);
                FloatVector small = q.mul(z).fma(x, x);
                // exp(2|x|)
                FloatVector u = ax.add(ax).max(lo).min(hi);
                FloatVector t = u.fma(log2e, rounder);
                FloatVector n = t.sub(rounder);
                FloatVector r = n.fma(ln2Hi, u);
                r = n.fma(ln2Lo, r);
                FloatVector p = p5.fma(r, p4).fma(r, p3).fma(r, p2).fma(r, p1).fma(r, p0);
                FloatVector y = p.mul(r.mul(r)).add(r).add(one);
                IntVector ni = t.reinterpretAsInts().sub(rounderBits);
                IntVector half = ni.lanewise(VectorOperators.ASHR, 1);
                FloatVector s1 = half.add(bias).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
                FloatVector s2 = ni.sub(half).add(bias).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
                FloatVector e = y.mul(s1).mul(s2);
                FloatVector big = one.sub(two.div(e.add(one)));
                big = big.blend(big.neg(), x.compare(VectorOperators.LT, zero));
                small.blend(big, ax.compare(VectorOperators.GE, cut)).intoArray(a, i);
            }
        }
    }

    /**
     * Elu, {@code x > 0 ? x : alpha (e^x - 1)}, in place over rows, as {@link #sigmoidRows}: {@link #expm1} without
     * its exp for x above 88, a lane the blend never takes from it.
     */
    static void eluRows(float[] a, int off, int stride, int rows, int width, float alpha) {
        FloatVector one = FloatVector.broadcast(S, 1f);
        FloatVector zero = FloatVector.zero(S);
        FloatVector scaleBy = FloatVector.broadcast(S, alpha);
        FloatVector lo = FloatVector.broadcast(S, -30f);
        FloatVector hi = FloatVector.broadcast(S, 88f);
        FloatVector log2e = FloatVector.broadcast(S, LOG2E);
        FloatVector rounder = FloatVector.broadcast(S, ROUNDER);
        FloatVector ln2Hi = FloatVector.broadcast(S, -LN2_HI);
        FloatVector ln2Lo = FloatVector.broadcast(S, -LN2_LO);
        FloatVector f7 = FloatVector.broadcast(S, 1f / 5040);
        FloatVector f6 = FloatVector.broadcast(S, 1f / 720);
        FloatVector f5 = FloatVector.broadcast(S, 1f / 120);
        FloatVector f4 = FloatVector.broadcast(S, 1f / 24);
        FloatVector f3 = FloatVector.broadcast(S, 1f / 6);
        FloatVector f2 = FloatVector.broadcast(S, 0.5f);
        IntVector rounderBits = IntVector.broadcast(I, ROUNDER_BITS);
        IntVector bias = IntVector.broadcast(I, 127);
        for (int row = off, k = 0; k < rows; k++, row += stride) {
            for (int i = row; i < row + width; i += VL) {
                FloatVector x = FloatVector.fromArray(S, a, i);
                FloatVector xc = x.max(lo).min(hi);
                FloatVector t = xc.fma(log2e, rounder);
                FloatVector n = t.sub(rounder);
                FloatVector r = n.fma(ln2Hi, xc);
                r = n.fma(ln2Lo, r);
                FloatVector p = f7.fma(r, f6).fma(r, f5).fma(r, f4).fma(r, f3).fma(r, f2);
                FloatVector em1r = p.mul(r.mul(r)).add(r);
                FloatVector scale = t.reinterpretAsInts().sub(rounderBits).add(bias)
                        .lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
                FloatVector em1 = scale.fma(em1r, scale.sub(one));
                x.blend(em1.mul(scaleBy), x.compare(VectorOperators.LE, zero)).intoArray(a, i);
            }
        }
    }
}
