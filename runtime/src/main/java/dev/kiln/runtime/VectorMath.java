package dev.kiln.runtime;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * exp, expm1 and tanh on float vectors built only from IEEE operations (add, mul, fma, div, min/max, bit moves).
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

    private VectorMath() { }

    /** e^x per lane: x = n ln2 + r, |r| ≤ ln2/2, e^r by a degree-6 polynomial (Cephes expf), times 2^n. */
    public static FloatVector exp(FloatVector x) {
        x = x.max(EXP_MIN).min(EXP_MAX);
        FloatVector t = x.fma(LOG2E, ROUNDER);
        FloatVector n = t.sub(ROUNDER);
        FloatVector r = n.fma(n.broadcast(-LN2_HI), x);
        r = n.fma(n.broadcast(-LN2_LO), r);
        FloatVector p = r.broadcast(1.9875691500e-4f)
                .fma(r, r.broadcast(1.3981999507e-3f))
                .fma(r, r.broadcast(8.3334519073e-3f))
                .fma(r, r.broadcast(4.1665795894e-2f))
                .fma(r, r.broadcast(1.6666665459e-1f))
                .fma(r, r.broadcast(5.0000001201e-1f));
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
}
