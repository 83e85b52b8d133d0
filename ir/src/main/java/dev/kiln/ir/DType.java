package dev.kiln.ir;

import java.util.Locale;

/**
 * Element types of tensors, numbered as in ONNX's {@code TensorProto.DataType}.
 *
 * <p>The reference evaluator stores every floating type as {@code double} rounded to the type's precision,
 * every integer type as {@code long} (unsigned 64-bit as its two's-complement bits) and BOOL as
 * {@code boolean}, so an op is written once per kind rather than once per type. The float8, float4 and
 * float8e8m0 types ({@link MiniFloat}, {@link ScaleFloat}) are floating kinds like float16; the 4- and 2-bit
 * integers are integer kinds whose values are wrapped to their few bits.
 */
public enum DType {
    FLOAT32(1, "f32", Kind.FLOAT, 4),
    UINT8(2, "u8", Kind.INTEGER, 1),
    INT8(3, "i8", Kind.INTEGER, 1),
    UINT16(4, "u16", Kind.INTEGER, 2),
    INT16(5, "i16", Kind.INTEGER, 2),
    INT32(6, "i32", Kind.INTEGER, 4),
    INT64(7, "i64", Kind.INTEGER, 8),
    STRING(8, "str", Kind.STRING, 0),
    BOOL(9, "bool", Kind.BOOL, 1),
    FLOAT16(10, "f16", Kind.FLOAT, 2),
    FLOAT64(11, "f64", Kind.FLOAT, 8),
    UINT32(12, "u32", Kind.INTEGER, 4),
    UINT64(13, "u64", Kind.INTEGER, 8),
    BFLOAT16(16, "bf16", Kind.FLOAT, 2),
    FLOAT8E4M3FN(17, "f8e4m3fn", Kind.FLOAT, 1),
    FLOAT8E4M3FNUZ(18, "f8e4m3fnuz", Kind.FLOAT, 1),
    FLOAT8E5M2(19, "f8e5m2", Kind.FLOAT, 1),
    FLOAT8E5M2FNUZ(20, "f8e5m2fnuz", Kind.FLOAT, 1),
    /** Packed two to a byte, the first element in the low nibble (as INT4 and FLOAT4E2M1). */
    UINT4(21, "u4", Kind.INTEGER, 1),
    INT4(22, "i4", Kind.INTEGER, 1),
    FLOAT4E2M1(23, "f4e2m1", Kind.FLOAT, 1),
    FLOAT8E8M0(24, "f8e8m0", Kind.FLOAT, 1),
    /** Packed four to a byte, the first element in the lowest two bits (as INT2). */
    UINT2(25, "u2", Kind.INTEGER, 1),
    INT2(26, "i2", Kind.INTEGER, 1);

    /** How the reference evaluator stores elements of a type. */
    public enum Kind { FLOAT, INTEGER, BOOL, STRING }

    private final int onnxCode;
    private final String shortName;
    private final Kind kind;
    private final int byteSize;

    DType(int onnxCode, String shortName, Kind kind, int byteSize) {
        this.onnxCode = onnxCode;
        this.shortName = shortName;
        this.kind = kind;
        this.byteSize = byteSize;
    }

    public int onnxCode() { return onnxCode; }

    /** The short name used by the IR printer, e.g. {@code f32}. */
    public String shortName() { return shortName; }

    public Kind kind() { return kind; }

    /**
     * Bytes per element in a dense binary layout (0 for STRING); 1 for the 4- and 2-bit types, which a generated
     * class and the evaluator keep one to an element (see {@link #bitSize()} for their packed size).
     */
    public int byteSize() { return byteSize; }

    /** Bits per element as ONNX packs a tensor's data: 4 or 2 for the sub-byte types, else 8 x byteSize. */
    public int bitSize() {
        return switch (this) {
            case UINT4, INT4, FLOAT4E2M1 -> 4;
            case UINT2, INT2 -> 2;
            default -> byteSize * 8;
        };
    }

    /** True for the 4- and 2-bit types, which ONNX packs several to a byte. */
    public boolean isSubByte() {
        return bitSize() < 8 && this != STRING;
    }

    /** Bytes of {@code n} elements packed as ONNX stores them (a partly used last byte for sub-byte types). */
    public long packedBytes(long n) {
        return (n * bitSize() + 7) / 8;
    }

    /** True for the float8, float4 and float8e8m0 types, which hold few values and convert with care. */
    public boolean isLowPrecisionFloat() {
        return this == FLOAT8E4M3FN || this == FLOAT8E4M3FNUZ || this == FLOAT8E5M2 || this == FLOAT8E5M2FNUZ
                || this == FLOAT4E2M1 || this == FLOAT8E8M0;
    }

    public boolean isFloat() { return kind == Kind.FLOAT; }

    public boolean isInteger() { return kind == Kind.INTEGER; }

    /** True for integer types whose values are unsigned. */
    public boolean isUnsigned() {
        return this == UINT8 || this == UINT16 || this == UINT32 || this == UINT64 || this == UINT4 || this == UINT2;
    }

    /** Numeric: float or integer (not bool, not string). */
    public boolean isNumeric() { return kind == Kind.FLOAT || kind == Kind.INTEGER; }

    /** The type with ONNX code {@code code}; throws {@link KilnException} for codes Kiln does not know. */
    public static DType fromOnnx(int code) {
        for (DType t : values()) {
            if (t.onnxCode == code) {
                return t;
            }
        }
        throw new KilnException("unsupported tensor element type code " + code);
    }

    /** Parses a short name ({@code f32}) or an enum name ({@code float32}, case-insensitive). */
    public static DType parse(String name) {
        for (DType t : values()) {
            if (t.shortName.equals(name) || t.name().equalsIgnoreCase(name)) {
                return t;
            }
        }
        throw new KilnException("unknown dtype '" + name + "'");
    }

    /**
     * Rounds {@code v} to the nearest value representable in this type (for integer types: truncates and wraps).
     * For the float8 types this is Cast without saturation (too large a value becomes infinity or NaN, so every
     * value of the type, infinities and NaN included, rounds to itself); float4 always saturates; float8e8m0 rounds
     * up and saturates, as Cast does by default.
     */
    public double round(double v) {
        return switch (this) {
            case FLOAT32 -> (float) v;
            case FLOAT64 -> v;
            case FLOAT16 -> Float.float16ToFloat(Float.floatToFloat16((float) v));
            case BFLOAT16 -> bfloat16Round((float) v);
            case FLOAT8E4M3FN, FLOAT8E4M3FNUZ, FLOAT8E5M2, FLOAT8E5M2FNUZ, FLOAT4E2M1 -> MiniFloat.of(this).round(v, false);
            case FLOAT8E8M0 -> ScaleFloat.round(v, true, ScaleFloat.RoundMode.UP);
            case BOOL -> v != 0 ? 1 : 0;
            case STRING -> throw new KilnException("cannot convert a number to STRING");
            default -> wrap((long) v);
        };
    }

    /** The smallest value of an integer type of at most 32 bits, or of int64 (what saturating casts clamp to). */
    public long minValue() {
        return switch (this) {
            case INT8 -> Byte.MIN_VALUE;
            case INT16 -> Short.MIN_VALUE;
            case INT32 -> Integer.MIN_VALUE;
            case INT64 -> Long.MIN_VALUE;
            case INT4 -> -8;
            case INT2 -> -2;
            case UINT8, UINT16, UINT32, UINT4, UINT2 -> 0;
            default -> throw new KilnException(this + " has no integer range a long holds");
        };
    }

    /** The largest value of an integer type of at most 32 bits, or of int64. */
    public long maxValue() {
        return switch (this) {
            case INT8 -> Byte.MAX_VALUE;
            case UINT8 -> 0xFFL;
            case INT16 -> Short.MAX_VALUE;
            case UINT16 -> 0xFFFFL;
            case INT32 -> Integer.MAX_VALUE;
            case UINT32 -> 0xFFFF_FFFFL;
            case INT64 -> Long.MAX_VALUE;
            case INT4 -> 7;
            case UINT4 -> 15;
            case INT2 -> 1;
            case UINT2 -> 3;
            default -> throw new KilnException(this + " has no integer range a long holds");
        };
    }

    /** Wraps an integer into this integer type's range (two's complement), as a C cast would. */
    public long wrap(long v) {
        return switch (this) {
            case UINT8 -> v & 0xFFL;
            case INT8 -> (byte) v;
            case UINT16 -> v & 0xFFFFL;
            case INT16 -> (short) v;
            case INT32 -> (int) v;
            case UINT32 -> v & 0xFFFF_FFFFL;
            case UINT4 -> v & 0xFL;
            case INT4 -> v << 60 >> 60;
            case UINT2 -> v & 0x3L;
            case INT2 -> v << 62 >> 62;
            case BOOL -> v != 0 ? 1 : 0;
            default -> v;
        };
    }

    private static double bfloat16Round(float f) {
        if (Float.isNaN(f)) {
            return f;
        }
        int bits = Float.floatToRawIntBits(f);
        int rounding = 0x7FFF + ((bits >>> 16) & 1); // round half to even on the dropped 16 bits
        return Float.intBitsToFloat(((bits + rounding) >>> 16) << 16);
    }

    @Override
    public String toString() { return name().toLowerCase(Locale.ROOT); }
}
