package dev.kiln.ir;

import java.util.Locale;

/**
 * Element types of tensors, numbered as in ONNX's {@code TensorProto.DataType}.
 *
 * <p>The reference evaluator stores every floating type as {@code double} rounded to the type's precision,
 * every integer type as {@code long} (unsigned 64-bit as its two's-complement bits) and BOOL as
 * {@code boolean}, so an op is written once per kind rather than once per type.
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
    BFLOAT16(16, "bf16", Kind.FLOAT, 2);

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

    /** Bytes per element in a dense binary layout (0 for STRING). */
    public int byteSize() { return byteSize; }

    public boolean isFloat() { return kind == Kind.FLOAT; }

    public boolean isInteger() { return kind == Kind.INTEGER; }

    /** True for integer types whose values are unsigned. */
    public boolean isUnsigned() {
        return this == UINT8 || this == UINT16 || this == UINT32 || this == UINT64;
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

    /** Rounds {@code v} to the nearest value representable in this type (for integer types: truncates and wraps). */
    public double round(double v) {
        return switch (this) {
            case FLOAT32 -> (float) v;
            case FLOAT64 -> v;
            case FLOAT16 -> Float.float16ToFloat(Float.floatToFloat16((float) v));
            case BFLOAT16 -> bfloat16Round((float) v);
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
            case UINT8, UINT16, UINT32 -> 0;
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
