package dev.kiln.ir.ops;

import dev.kiln.ir.DType;

/**
 * Exact integer arithmetic on the evaluator's {@code long} storage, with the dtype deciding signedness:
 * UINT64 values are stored as their two's-complement bits, so its division, remainder and comparisons
 * must be the unsigned ones. Narrower types are wrapped by the tensor factories afterwards.
 */
public final class IntegerMath {
    private IntegerMath() {}

    /** Division truncating toward zero (C semantics); 0 for a zero divisor, which ONNX leaves undefined (numpy gives 0). */
    public static long div(DType t, long a, long b) {
        if (b == 0) {
            return 0;
        }
        return t == DType.UINT64 ? Long.divideUnsigned(a, b) : a / b;
    }

    /**
     * Remainder: with {@code fmod} the sign follows the dividend (C {@code %}), otherwise it follows the
     * divisor (Python {@code %}, ONNX Mod's default). 0 for a zero divisor, as numpy gives.
     */
    public static long mod(DType t, long a, long b, boolean fmod) {
        if (b == 0) {
            return 0;
        }
        if (t == DType.UINT64) {
            return Long.remainderUnsigned(a, b);
        }
        long r = a % b;
        if (!fmod && r != 0 && (r < 0) != (b < 0)) {
            r += b;
        }
        return r;
    }

    /** Compares as the dtype orders its values (unsigned for UINT64). */
    public static int compare(DType t, long a, long b) {
        return t == DType.UINT64 ? Long.compareUnsigned(a, b) : Long.compare(a, b);
    }

    public static long max(DType t, long a, long b) {
        return compare(t, a, b) >= 0 ? a : b;
    }

    public static long min(DType t, long a, long b) {
        return compare(t, a, b) <= 0 ? a : b;
    }

    /** |a|; the identity on unsigned types (wrapping on the most negative value, as C does). */
    public static long abs(DType t, long a) {
        return t.isUnsigned() ? a : Math.abs(a);
    }

    /** -1, 0 or 1. */
    public static long sign(DType t, long a) {
        return t.isUnsigned() ? (a == 0 ? 0 : 1) : Long.signum(a);
    }

    /** Smallest value of an integer dtype (as stored). */
    public static long minValue(DType t) {
        return switch (t) {
            case INT8 -> Byte.MIN_VALUE;
            case INT16 -> Short.MIN_VALUE;
            case INT32 -> Integer.MIN_VALUE;
            case INT64 -> Long.MIN_VALUE;
            case INT4, INT2 -> t.minValue();
            default -> 0;
        };
    }

    /** Largest value of an integer dtype (as stored: UINT64's is all ones, i.e. -1). */
    public static long maxValue(DType t) {
        return switch (t) {
            case INT8 -> Byte.MAX_VALUE;
            case INT16 -> Short.MAX_VALUE;
            case INT32 -> Integer.MAX_VALUE;
            case INT64 -> Long.MAX_VALUE;
            case UINT8 -> 0xFFL;
            case INT4, UINT4, INT2, UINT2 -> t.maxValue();
            case UINT16 -> 0xFFFFL;
            case UINT32 -> 0xFFFF_FFFFL;
            case UINT64 -> -1L;
            default -> throw new IllegalArgumentException(t + " is not an integer type");
        };
    }

    /** Bits in an integer dtype. */
    public static int bits(DType t) {
        return t.bitSize();
    }

    /**
     * base^exponent by repeated squaring, wrapping like C integer multiplication. A negative exponent gives
     * the truncated real power (1 for base 1, ±1 for base -1, 0 otherwise; 0^negative is left at 0).
     */
    public static long pow(long base, long exponent, boolean unsignedExponent) {
        if (exponent < 0 && !unsignedExponent) {
            if (base == 1) {
                return 1;
            }
            if (base == -1) {
                return (exponent & 1) == 0 ? 1 : -1;
            }
            return 0;
        }
        long result = 1;
        long b = base;
        long e = exponent;
        while (e != 0) {
            if ((e & 1) != 0) {
                result *= b;
            }
            b *= b;
            e >>>= 1;
        }
        return result;
    }

    /**
     * Logical shift of an unsigned value; shifting by the type's width or more gives 0 (C leaves it
     * undefined; numpy gives 0).
     */
    public static long shift(DType t, long value, long amount, boolean left) {
        if (Long.compareUnsigned(amount, bits(t)) >= 0) {
            return 0;
        }
        return left ? value << amount : value >>> amount;
    }
}
