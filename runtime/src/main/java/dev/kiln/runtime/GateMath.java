package dev.kiln.runtime;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Sigmoid and tanh over float arrays, the activations of the LSTM and GRU gates in {@link Recurrent} and
 * {@code train.RecurrentTraining} (which must agree bit for bit): each lane is one range reduction, one polynomial
 * and one division, about 22 vector operations, half of 1 / (1 + {@link VectorMath#exp}(-x)) plus
 * {@link VectorMath#tanh} (which computes two branches for every lane). Like {@link VectorMath}, built from IEEE
 * operations only, so every JIT tier and thread gives the same bits.
 *
 * <p>The math is written out inside each loop rather than called per vector: a vector passed to a method C2 does
 * not inline is boxed, and C2 declines a 130-byte callee at a call site it deems cold (a gate loop of two
 * iterations at hidden 20: 7.7 KB allocated per training call, measured) or past its node budget (several
 * activations in one method). The constants are vectors made once before each loop: written as scalars or as
 * {@code x.broadcast(c)} inside it, C2 rebuilt them every iteration (sigmoid 18 -> 12 cycles per vector hoisted,
 * docs/BENCHMARKS.md). They are locals of each method, not shared static final vectors: read from fields, they
 * were rebuilt in the loop again (28 x the lstm gates 7.2 -> 9.2 µs). Clamps are compare + blend: a Java
 * {@code min}/{@code max} costs about five AVX2 instructions, as it orders -0 below +0 and propagates NaN; here NaN
 * compares false and passes through unchanged.
 *
 * <p>A gate pass is bound by the latency of each lane's chain of operations (the out-of-order window holds only a
 * few vectors' chains), not by the FMA units: at 16 lanes the same chain per vector ran the lstm gates 23 % faster.
 * So both clamps compare the unclamped value (the same bits: the two ranges are disjoint, NaN fails both) and the
 * polynomial is evaluated in Estrin's form, (p0 + p1 r) + r^2 ((p2 + p3 r) + r^2 p4), three dependent FMAs after
 * r^2 instead of Horner's four, and tanh's range reduction starts from |x| times 2 log2e rather than waiting for
 * 2|x| (an exact doubling either way): 28 x the lstm gates 7.27 -> 6.72 µs, with the error bounds below unchanged.
 *
 * <p>Errors over all 2^32 floats ({@link GateMathErrors} in the tests, figures in docs/BENCHMARKS.md): sigmoid
 * within 2 ulp of 1 / (1 + exp(-x)) wherever that is a normal float (x ≥ -87.3), below it at most 4.2e-39 away
 * (x ≤ -88.38 gives 0, -infinity too); tanh within 3 ulp of Math.tanh everywhere (the 3 near |x| = 0.03, where
 * e + 2 rounds), exactly ±1 beyond |x| = 9.01 as the nearest float is, ±0 for ±0; NaN gives NaN. Scalar tails
 * (len not a multiple of the vector length) use the double formulas.
 */
public final class GateMath {
    private static final VectorSpecies<Float> S = GemmKernel.SPECIES;
    private static final int VL = S.length();

    private static final float LOG2E = 1.44269504088896341f;
    /** ln 2 split in a part exact in few bits and a remainder (Cody-Waite), so y - n ln2 loses nothing. */
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /** 1.5 * 2^23: adding it rounds a float below 2^22 to an integer kept in the low mantissa bits. */
    private static final float ROUNDER = 12582912f;
    /** Added to the bits of (y log2e + ROUNDER), then shifted left 23: the bits of 2^n. */
    private static final int SCALE_BIAS = 127 - 0x4B400000;
    /** Minimax fit of P in e^r - 1 = r + r^2 P(r) for |r| ≤ ln2/2: 0.29 ulp of relative error before rounding. */
    private static final float P0 = 0.4999999701976776f;
    private static final float P1 = 0.1666654348373413f;
    private static final float P2 = 0.04166720062494278f;
    private static final float P3 = 0.008366547524929047f;
    private static final float P4 = 0.0013882543426007032f;
    /** Bound of sigmoid's e^-x argument: 89 rounds to n = 128, whose 2^n bits are +infinity, so sigmoid gives 0. */
    private static final float SIGMOID_EXP_MAX = 89f;
    /** e^-87 = 1.6e-38 is still a normal scale; 1 / (1 + e^-87) is already 1 in float. */
    private static final float SIGMOID_EXP_MIN = -87f;
    /** tanh(x) rounds to 1 in float above 9.011 (1 - tanh x = 2 e^-2x < 2^-25); clamping keeps e^2x finite. */
    private static final float TANH_MAX = 9.1f;
    private static final int SIGN = 0x80000000;

    private GateMath() {}

    /**
     * dst = 1 / (1 + e^-x) with x = clip(src), over {@code len} floats (the ranges equal or disjoint);
     * {@code clip} bounds x to [-clip, clip], {@code Float.POSITIVE_INFINITY} for none.
     */
    public static void sigmoid(float[] src, int srcOff, float[] dst, int dstOff, int len, float clip) {
        FloatVector expMax = FloatVector.broadcast(S, SIGMOID_EXP_MAX);
        FloatVector expMin = FloatVector.broadcast(S, SIGMOID_EXP_MIN);
        FloatVector log2e = FloatVector.broadcast(S, LOG2E);
        FloatVector rounder = FloatVector.broadcast(S, ROUNDER);
        FloatVector ln2Hi = FloatVector.broadcast(S, -LN2_HI);
        FloatVector ln2Lo = FloatVector.broadcast(S, -LN2_LO);
        FloatVector p4 = FloatVector.broadcast(S, P4);
        FloatVector p3 = FloatVector.broadcast(S, P3);
        FloatVector p2 = FloatVector.broadcast(S, P2);
        FloatVector p1 = FloatVector.broadcast(S, P1);
        FloatVector p0 = FloatVector.broadcast(S, P0);
        FloatVector one = FloatVector.broadcast(S, 1f);
        int j = 0;
        for (int bound = S.loopBound(len); j < bound; j += VL) {
            FloatVector y = clip(FloatVector.fromArray(S, src, srcOff + j), clip).neg();
            VectorMask<Float> high = y.compare(VectorOperators.GT, expMax);
            VectorMask<Float> low = y.compare(VectorOperators.LT, expMin);
            y = y.blend(expMax, high).blend(expMin, low);
            // e^y = 2^n e^r, |r| ≤ ln2/2
            FloatVector t = y.fma(log2e, rounder);
            FloatVector n = t.sub(rounder);
            FloatVector r = n.fma(ln2Hi, y);
            r = n.fma(ln2Lo, r);
            FloatVector r2 = r.mul(r);
            FloatVector p = r2.fma(r2.fma(p4, r.fma(p3, p2)), r.fma(p1, p0)); // P(r), Estrin
            FloatVector em1 = p.fma(r2, r);
            // 2^n for n in [-126, 128]; 2^128 has the bits of +infinity, and (e^r - 1) + 1 > 0 keeps it so
            FloatVector scale = t.reinterpretAsInts().add(SCALE_BIAS).lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats();
            FloatVector e = em1.add(one).mul(scale);
            one.div(e.add(one)).intoArray(dst, dstOff + j);
        }
        for (; j < len; j++) {
            dst[dstOff + j] = sigmoid(clip(src[srcOff + j], clip));
        }
    }

    /**
     * dst = tanh(clip(src)) over {@code len} floats (the ranges equal or disjoint), as e / (e + 2) with
     * e = e^(2|x|) - 1 (exact as 2|x| near 0, so no second branch for small x) and the sign of x put back by its bit.
     */
    public static void tanh(float[] src, int srcOff, float[] dst, int dstOff, int len, float clip) {
        FloatVector tanhMax = FloatVector.broadcast(S, TANH_MAX);
        FloatVector twoLog2e = FloatVector.broadcast(S, 2 * LOG2E);
        FloatVector rounder = FloatVector.broadcast(S, ROUNDER);
        FloatVector ln2Hi = FloatVector.broadcast(S, -LN2_HI);
        FloatVector ln2Lo = FloatVector.broadcast(S, -LN2_LO);
        FloatVector p4 = FloatVector.broadcast(S, P4);
        FloatVector p3 = FloatVector.broadcast(S, P3);
        FloatVector p2 = FloatVector.broadcast(S, P2);
        FloatVector p1 = FloatVector.broadcast(S, P1);
        FloatVector p0 = FloatVector.broadcast(S, P0);
        FloatVector one = FloatVector.broadcast(S, 1f);
        FloatVector two = FloatVector.broadcast(S, 2f);
        int j = 0;
        for (int bound = S.loopBound(len); j < bound; j += VL) {
            FloatVector x = clip(FloatVector.fromArray(S, src, srcOff + j), clip);
            FloatVector ax = x.abs();
            ax = ax.blend(tanhMax, ax.compare(VectorOperators.GT, tanhMax));
            // t from ax with 2 log2e (exact): the bits of u log2e + rounder without waiting for u
            FloatVector t = ax.fma(twoLog2e, rounder);
            FloatVector u = ax.add(ax);
            FloatVector n = t.sub(rounder);
            FloatVector r = n.fma(ln2Hi, u);
            r = n.fma(ln2Lo, r);
            FloatVector r2 = r.mul(r);
            FloatVector p = r2.fma(r2.fma(p4, r.fma(p3, p2)), r.fma(p1, p0)); // P(r), Estrin, as in sigmoid
            FloatVector em1 = p.fma(r2, r);
            FloatVector scale = t.reinterpretAsInts().add(SCALE_BIAS).lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats();
            // e^u - 1 = 2^n (e^r - 1) + (2^n - 1), n in [0, 27]: exactly e^r - 1 when n = 0
            FloatVector e = scale.fma(em1, scale.sub(one));
            IntVector sign = x.reinterpretAsInts().and(SIGN);
            e.div(e.add(two)).reinterpretAsInts().or(sign).reinterpretAsFloats().intoArray(dst, dstOff + j);
        }
        for (; j < len; j++) {
            dst[dstOff + j] = (float) Math.tanh(clip(src[srcOff + j], clip));
        }
    }

    /** 1 / (1 + e^-x) in double, rounded once: the scalar tails' formula. */
    public static float sigmoid(float x) {
        return (float) (1.0 / (1.0 + Math.exp(-x)));
    }

    private static FloatVector clip(FloatVector x, float clip) {
        return clip == Float.POSITIVE_INFINITY ? x : x.max(-clip).min(clip);
    }

    private static float clip(float x, float clip) {
        return Math.min(Math.max(x, -clip), clip);
    }
}
