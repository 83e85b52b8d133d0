package dev.kiln.ir;

import java.util.Locale;

/**
 * FLOAT8E8M0, the scale type of the OCP microscaling formats: eight exponent bits and nothing else, so bits
 * {@code e} hold 2^(e - 127) for e in 0..254 and 255 is NaN; there is no sign, zero or infinity.
 *
 * <p>Converting a number rounds its magnitude to a power of two by Cast's {@code round_mode}: {@code up}
 * (ONNX's default), {@code down}, or {@code nearest} (ties up). A result beyond 2^127 or below 2^-127 (zero
 * included) saturates to that bound when {@code saturate} is set, else is NaN; so does infinity. Negative
 * numbers are unspecified by ONNX: their magnitude is converted, as ONNX's reference does.
 */
public final class ScaleFloat {
    private ScaleFloat() {}

    /** Cast's {@code round_mode}. */
    public enum RoundMode {
        UP, DOWN, NEAREST;

        /** The mode an attribute value names ({@code up}, {@code down}, {@code nearest}). */
        public static RoundMode parse(String s) {
            return valueOf(s.toUpperCase(Locale.ROOT));
        }
    }

    private static final int BIAS = 127;
    private static final int NAN_BITS = 0xFF;
    private static final int MAX_BITS = 0xFE;

    /** {@code v} rounded to a FLOAT8E8M0 value (a power of two or NaN). */
    public static double round(double v, boolean saturate, RoundMode mode) {
        return fromBits(toBits(v, saturate, mode));
    }

    /** The bits of {@code v} converted as {@link #round} does. */
    public static int toBits(double v, boolean saturate, RoundMode mode) {
        if (Double.isNaN(v)) {
            return NAN_BITS;
        }
        double a = Math.abs(v);
        if (Double.isInfinite(a)) {
            return saturate ? MAX_BITS : NAN_BITS;
        }
        if (a == 0) {
            return saturate ? 0 : NAN_BITS;
        }
        int floor = Math.getExponent(a);
        if (floor == Double.MIN_EXPONENT - 1) { // a double subnormal, far below 2^-127
            floor = Math.getExponent(a * 0x1p64) - 64;
        }
        double fraction = Math.scalb(a, -floor); // in [1, 2)
        int exponent = switch (mode) {
            case DOWN -> floor;
            case UP -> fraction > 1 ? floor + 1 : floor;
            case NEAREST -> fraction >= 1.5 ? floor + 1 : floor;
        };
        if (exponent > MAX_BITS - BIAS) {
            return saturate ? MAX_BITS : NAN_BITS;
        }
        if (exponent < -BIAS) {
            return saturate ? 0 : NAN_BITS;
        }
        return exponent + BIAS;
    }

    /** The value of bit pattern {@code bits} (its low 8 bits). */
    public static double fromBits(int bits) {
        int e = bits & 0xFF;
        return e == NAN_BITS ? Double.NaN : Math.scalb(1.0, e - BIAS);
    }
}
