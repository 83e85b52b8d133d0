package dev.kiln.ir;

/**
 * The float8 and float4 element formats of ONNX (FLOAT8E4M3FN, FLOAT8E4M3FNUZ, FLOAT8E5M2, FLOAT8E5M2FNUZ,
 * FLOAT4E2M1): their bit layouts, and rounding a number to them as ONNX's Cast does.
 *
 * <p>A format has a sign bit, {@code exponentBits} exponent bits with {@code bias}, {@code mantissaBits} mantissa
 * bits and subnormals. They differ in their special values: E5M2 is IEEE-like (infinities, NaNs, -0); the FN
 * formats have no infinities and one NaN pattern per sign (all ones); the FNUZ formats have no infinities, no -0,
 * and one NaN, the bits of -0 ({@code 0x80}); E2M1 has neither infinities nor NaN.
 *
 * <p>Rounding is to nearest, ties to even. A value beyond the largest finite one ({@link #max()}) after rounding
 * saturates to it when asked (Cast's {@code saturate}, the default); otherwise it becomes infinity in E5M2 and
 * NaN in the FN and FNUZ formats. E2M1 always saturates, infinities included, and has no NaN: ONNX's reference
 * (and the backend tests' expected data) turn NaN into -0, although the float4 page of ONNX's docs says 6.
 */
public enum MiniFloat {
    E4M3FN(4, 3, 7, Specials.FN),
    E4M3FNUZ(4, 3, 8, Specials.FNUZ),
    E5M2(5, 2, 15, Specials.IEEE),
    E5M2FNUZ(5, 2, 16, Specials.FNUZ),
    E2M1(2, 1, 1, Specials.NONE);

    /** Which special values a format has. */
    private enum Specials { IEEE, FN, FNUZ, NONE }

    private final int exponentBits;
    private final int mantissaBits;
    private final int bias;
    private final Specials specials;
    private final double max;

    MiniFloat(int exponentBits, int mantissaBits, int bias, Specials specials) {
        this.exponentBits = exponentBits;
        this.mantissaBits = mantissaBits;
        this.bias = bias;
        this.specials = specials;
        int topExponent = (1 << exponentBits) - 1;
        int maxMantissa = (1 << mantissaBits) - 1;
        // IEEE reserves the top exponent; FN reserves its all-ones mantissa for NaN.
        int maxExponent = specials == Specials.IEEE ? topExponent - 1 : topExponent;
        int mantissa = specials == Specials.FN ? maxMantissa - 1 : maxMantissa;
        this.max = Math.scalb(1 + (double) mantissa / (1 << mantissaBits), maxExponent - bias);
    }

    /** The format of a float8 or float4 element type. */
    public static MiniFloat of(DType t) {
        return switch (t) {
            case FLOAT8E4M3FN -> E4M3FN;
            case FLOAT8E4M3FNUZ -> E4M3FNUZ;
            case FLOAT8E5M2 -> E5M2;
            case FLOAT8E5M2FNUZ -> E5M2FNUZ;
            case FLOAT4E2M1 -> E2M1;
            default -> throw new IllegalArgumentException(t + " is not a float8 or float4 type");
        };
    }

    /** The largest finite value. */
    public double max() { return max; }

    /** Bits per element (8 or 4). */
    public int bits() { return 1 + exponentBits + mantissaBits; }

    /** {@code v} rounded to this format (a value it holds exactly: a finite number, or an infinity or NaN it has). */
    public double round(double v, boolean saturate) {
        if (Double.isNaN(v)) {
            return specials == Specials.NONE ? -0.0 : Double.NaN;
        }
        double a = Math.abs(v);
        double r;
        if (Double.isInfinite(a)) {
            r = a;
        } else {
            // Below the smallest normal exponent the spacing stays that of the subnormals.
            int exponent = Math.max(Math.getExponent(a), 1 - bias);
            double quantum = Math.scalb(1.0, exponent - mantissaBits);
            r = Math.rint(a / quantum) * quantum;
        }
        if (r > max) {
            if (saturate || specials == Specials.NONE) {
                r = max;
            } else if (specials == Specials.IEEE) {
                r = Double.POSITIVE_INFINITY;
            } else {
                return Double.NaN;
            }
        }
        if (r == 0 && specials == Specials.FNUZ) {
            return 0.0;
        }
        return Math.copySign(r, v);
    }

    /** The bits of {@code v}, which must be a value of this format ({@link #round} gives one). */
    public int toBits(double v) {
        int signBit = 1 << (exponentBits + mantissaBits);
        if (Double.isNaN(v)) {
            return switch (specials) {
                case FNUZ -> signBit;
                case FN, IEEE -> signBit - 1;
                case NONE -> throw new IllegalArgumentException(this + " has no NaN");
            };
        }
        int sign = Math.copySign(1.0, v) < 0 ? signBit : 0;
        double a = Math.abs(v);
        if (Double.isInfinite(a)) {
            if (specials != Specials.IEEE) {
                throw new IllegalArgumentException(this + " has no infinity");
            }
            return sign | ((1 << exponentBits) - 1) << mantissaBits;
        }
        if (a == 0) {
            return specials == Specials.FNUZ ? 0 : sign; // FNUZ's -0 bits are its NaN
        }
        int exponent = Math.getExponent(a);
        int biased;
        double mantissa;
        if (exponent < 1 - bias) {
            biased = 0;
            mantissa = Math.scalb(a, bias - 1 + mantissaBits);
        } else {
            biased = exponent + bias;
            mantissa = (Math.scalb(a, -exponent) - 1) * (1 << mantissaBits);
        }
        if (mantissa != Math.rint(mantissa) || a > max) {
            throw new IllegalArgumentException(v + " is not a value of " + this);
        }
        return sign | biased << mantissaBits | (int) mantissa;
    }

    /** The value of bit pattern {@code bits} (the low {@link #bits()} bits are read). */
    public double fromBits(int bits) {
        int signBit = 1 << (exponentBits + mantissaBits);
        bits &= 2 * signBit - 1;
        int topExponent = (1 << exponentBits) - 1;
        int mantissaMask = (1 << mantissaBits) - 1;
        int biased = bits >>> mantissaBits & topExponent;
        int mantissa = bits & mantissaMask;
        switch (specials) {
            case FNUZ -> {
                if (bits == signBit) {
                    return Double.NaN;
                }
            }
            case FN -> {
                if (biased == topExponent && mantissa == mantissaMask) {
                    return Double.NaN;
                }
            }
            case IEEE -> {
                if (biased == topExponent) {
                    return mantissa == 0 ? ((bits & signBit) != 0 ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY)
                            : Double.NaN;
                }
            }
            case NONE -> { }
        }
        double magnitude = biased == 0
                ? Math.scalb((double) mantissa, 1 - bias - mantissaBits)
                : Math.scalb(1 + (double) mantissa / (1 << mantissaBits), biased - bias);
        return (bits & signBit) != 0 ? -magnitude : magnitude;
    }
}
