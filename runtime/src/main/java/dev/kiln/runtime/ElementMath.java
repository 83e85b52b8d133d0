package dev.kiln.runtime;

/**
 * Scalar arithmetic generated code needs on element types other than float32: integer division, remainder,
 * power and shifts with ONNX's (numpy's) edge cases, unsigned 64-bit conversions, and rounding a float to
 * float16 or bfloat16 (which generated code holds in {@code float}s).
 */
public final class ElementMath {
    private ElementMath() {}

    /** Division truncating toward zero; 0 for a zero divisor (ONNX leaves it undefined, numpy gives 0). */
    public static long div(long a, long b) {
        return b == 0 ? 0 : a / b;
    }

    /** {@link #div} of unsigned 64-bit values held in their two's-complement bits. */
    public static long divUnsigned(long a, long b) {
        return b == 0 ? 0 : Long.divideUnsigned(a, b);
    }

    /**
     * Remainder: with {@code fmod} its sign follows the dividend (C {@code %}), otherwise the divisor (Python
     * {@code %}, ONNX Mod's default); 0 for a zero divisor.
     */
    public static long mod(long a, long b, boolean fmod) {
        if (b == 0) {
            return 0;
        }
        long r = a % b;
        return !fmod && r != 0 && (r < 0) != (b < 0) ? r + b : r;
    }

    /** {@link #mod} of unsigned 64-bit values. */
    public static long modUnsigned(long a, long b) {
        return b == 0 ? 0 : Long.remainderUnsigned(a, b);
    }

    /** Floating remainder: C fmod, or moved to the divisor's sign (numpy.mod) when not {@code fmod}. */
    public static double mod(double a, double b, boolean fmod) {
        double r = a % b;
        return !fmod && r != 0 && (r < 0) != (b < 0) ? r + b : r;
    }

    /**
     * base^exponent by repeated squaring, wrapping like C integer multiplication; a negative exponent gives the
     * truncated real power (1 for base 1, ±1 for base -1, else 0).
     */
    public static long pow(long base, long exponent) {
        if (exponent < 0) {
            return base == 1 ? 1 : base == -1 ? ((exponent & 1) == 0 ? 1 : -1) : 0;
        }
        return powUnsigned(base, exponent);
    }

    /** base^exponent for an unsigned 64-bit exponent. */
    public static long powUnsigned(long base, long exponent) {
        long result = 1;
        long b = base;
        for (long e = exponent; e != 0; e >>>= 1) {
            if ((e & 1) != 0) {
                result *= b;
            }
            b *= b;
        }
        return result;
    }

    /** Logical shift of an unsigned value of {@code bits} bits; shifting by the width or more gives 0. */
    public static long shift(long value, long amount, int bits, boolean left) {
        if (Long.compareUnsigned(amount, bits) >= 0) {
            return 0;
        }
        return left ? value << amount : value >>> amount;
    }

    /** An unsigned 64-bit value (two's-complement bits) as the nearest double. */
    public static double unsignedToDouble(long v) {
        return v >= 0 ? v : (double) (v >>> 1) * 2.0 + (v & 1);
    }

    /** A double truncated toward zero to a 64-bit integer; NaN gives 0, values from 2^63 wrap to unsigned bits. */
    public static long toLong(double v) {
        if (v >= 0x1p63) {
            return (long) (v - 0x1p63) + Long.MIN_VALUE;
        }
        return (long) v;
    }

    /**
     * A string's number, as ONNX Cast from string reads it: plain or scientific notation ({@code "3.14"}, {@code "1e-5"},
     * {@code "1E8"}) around optional whitespace, and {@code INF}, {@code +INF}, {@code -INF} and {@code NaN} in any
     * case (also {@code infinity}). The caller converts the double to the target type as a Cast from float64 would.
     *
     * @throws NumberFormatException naming the string when it is not a number (ONNX leaves that undefined)
     */
    public static double parseNumber(String s) {
        String t = s.strip();
        return switch (t.toLowerCase(java.util.Locale.ROOT)) {
            case "nan" -> Double.NaN;
            case "inf", "+inf", "infinity", "+infinity" -> Double.POSITIVE_INFINITY;
            case "-inf", "-infinity" -> Double.NEGATIVE_INFINITY;
            default -> {
                try {
                    yield Double.parseDouble(t);
                } catch (NumberFormatException e) {
                    throw new NumberFormatException("Cast from string: \"" + s + "\" is not a number");
                }
            }
        };
    }

    /** f rounded to the nearest float16 (half to even). */
    public static float toFloat16(float f) {
        return Float.float16ToFloat(Float.floatToFloat16(f));
    }

    /** f rounded to the nearest bfloat16 (half to even on the dropped 16 bits); NaN stays NaN. */
    public static float toBfloat16(float f) {
        if (Float.isNaN(f)) {
            return f;
        }
        int bits = Float.floatToRawIntBits(f);
        return Float.intBitsToFloat(((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16) << 16);
    }

    /** v wrapped to int32, as a C cast would. */
    public static int toInt32(long v) {
        return (int) v;
    }

    /** v wrapped to int16. */
    public static int toInt16(long v) {
        return (short) v;
    }

    /** v wrapped to int8. */
    public static int toInt8(long v) {
        return (byte) v;
    }

    /** v wrapped to uint16 (0 to 65535). */
    public static int toUint16(long v) {
        return (int) (v & 0xFFFF);
    }

    /** v wrapped to uint8 (0 to 255). */
    public static int toUint8(long v) {
        return (int) (v & 0xFF);
    }

    /** v wrapped to uint32 (0 to 2^32 - 1). */
    public static long toUint32(long v) {
        return v & 0xFFFF_FFFFL;
    }
}
