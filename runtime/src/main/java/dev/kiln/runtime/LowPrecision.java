package dev.kiln.runtime;

/**
 * Rounding to ONNX's float8, float4 and float8e8m0 element types, which generated code holds in {@code float}s
 * (every stored value one of the type's), and wrapping to the 4- and 2-bit integers, held in {@code int}s.
 *
 * <p>The float8 and float4 conversions round to nearest, ties to even. With {@code saturate} (ONNX Cast's default)
 * a value beyond the type's largest finite one, infinity included, becomes that value; without it the value
 * becomes infinity in FLOAT8E5M2 and NaN in the types without infinities (E4M3FN, E4M3FNUZ, E5M2FNUZ). The FNUZ
 * types have no -0. FLOAT4E2M1 has neither infinity nor NaN: it always saturates and takes NaN to -0, as ONNX's
 * reference does. FLOAT8E8M0 holds powers of two 2^-127..2^127 and NaN; see {@link #toFloat8E8M0}.
 */
public final class LowPrecision {
    private LowPrecision() {}

    /** How a number is rounded to a power of two for FLOAT8E8M0 (Cast's {@code round_mode}). */
    public enum RoundMode {
        /** To the next power of two at or above the magnitude (ONNX's default). */
        UP,
        /** To the power of two at or below the magnitude. */
        DOWN,
        /** To the nearer power of two; a magnitude of 1.5 times a power of two goes up. */
        NEAREST
    }

    // What a format does with values past its largest finite one when not saturating.
    private static final int TO_INFINITY = 0;
    private static final int TO_NAN = 1;
    private static final int SATURATES = 2;

    /** {@code v} rounded to FLOAT8E4M3FN (largest 448). */
    public static float toFloat8E4M3FN(double v, boolean saturate) {
        return round(v, saturate, 3, -6, 448, TO_NAN, true);
    }

    /** {@code v} rounded to FLOAT8E4M3FNUZ (largest 240, no -0). */
    public static float toFloat8E4M3FNUZ(double v, boolean saturate) {
        return round(v, saturate, 3, -7, 240, TO_NAN, false);
    }

    /** {@code v} rounded to FLOAT8E5M2 (largest 57344, with infinities). */
    public static float toFloat8E5M2(double v, boolean saturate) {
        return round(v, saturate, 2, -14, 57344, TO_INFINITY, true);
    }

    /** {@code v} rounded to FLOAT8E5M2FNUZ (largest 57344, no -0). */
    public static float toFloat8E5M2FNUZ(double v, boolean saturate) {
        return round(v, saturate, 2, -15, 57344, TO_NAN, false);
    }

    /** {@code v} rounded to FLOAT4E2M1 (0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives). */
    public static float toFloat4E2M1(double v) {
        return Double.isNaN(v) ? -0.0f : round(v, true, 1, 0, 6, SATURATES, true);
    }

    /**
     * {@code v}'s magnitude rounded to a power of two by {@code mode} (ONNX leaves negative numbers unspecified;
     * this is its reference's reading). Beyond 2^127, below 2^-127 (zero included) and infinite values saturate to
     * the nearer bound with {@code saturate}, else become NaN, as NaN does.
     */
    public static float toFloat8E8M0(double v, boolean saturate, RoundMode mode) {
        double a = Math.abs(v);
        if (Double.isNaN(a)) {
            return Float.NaN;
        }
        if (Double.isInfinite(a)) {
            return saturate ? 0x1p127f : Float.NaN;
        }
        if (a == 0) {
            return saturate ? 0x1p-127f : Float.NaN;
        }
        int floor = Math.getExponent(a);
        if (floor < Double.MIN_EXPONENT) { // a subnormal double, far below 2^-127
            return saturate ? 0x1p-127f : Float.NaN;
        }
        double fraction = Math.scalb(a, -floor);
        int exponent = switch (mode) {
            case UP -> fraction > 1 ? floor + 1 : floor;
            case DOWN -> floor;
            case NEAREST -> fraction >= 1.5 ? floor + 1 : floor;
        };
        if (exponent > 127) {
            return saturate ? 0x1p127f : Float.NaN;
        }
        if (exponent < -127) {
            return saturate ? 0x1p-127f : Float.NaN;
        }
        return Math.scalb(1.0f, exponent);
    }

    /** {@code v} wrapped to INT4 (-8..7), as a C cast to a 4-bit integer would. */
    public static int toInt4(long v) {
        return (int) (v << 60 >> 60);
    }

    /** {@code v} wrapped to UINT4 (0..15). */
    public static int toUint4(long v) {
        return (int) (v & 0xF);
    }

    /** {@code v} wrapped to INT2 (-2..1). */
    public static int toInt2(long v) {
        return (int) (v << 62 >> 62);
    }

    /** {@code v} wrapped to UINT2 (0..3). */
    public static int toUint2(long v) {
        return (int) (v & 0x3);
    }

    /**
     * {@code v} rounded half to even to a binary format with {@code mantissaBits} stored mantissa bits, smallest
     * normal exponent {@code minExponent} (below which the spacing stays that of the subnormals) and largest
     * finite value {@code max}; {@code overflow} says what lies beyond it when not saturating.
     */
    private static float round(double v, boolean saturate, int mantissaBits, int minExponent, float max, int overflow,
                               boolean negativeZero) {
        if (Double.isNaN(v)) {
            return Float.NaN;
        }
        double a = Math.abs(v);
        double r = a;
        if (!Double.isInfinite(a)) {
            double quantum = Math.scalb(1.0, Math.max(Math.getExponent(a), minExponent) - mantissaBits);
            r = Math.rint(a / quantum) * quantum;
        }
        if (r > max) {
            if (saturate || overflow == SATURATES) {
                r = max;
            } else if (overflow == TO_INFINITY) {
                r = Double.POSITIVE_INFINITY;
            } else {
                return Float.NaN;
            }
        }
        if (r == 0 && !negativeZero) {
            return 0.0f;
        }
        return (float) Math.copySign(r, v);
    }
}
