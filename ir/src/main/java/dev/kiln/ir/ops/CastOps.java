package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.KilnException;
import dev.kiln.ir.MiniFloat;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.ScaleFloat;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.List;
import java.util.Optional;

/**
 * Cast and CastLike: element type conversion as {@link Tensor#castTo} defines it (floats rounded to the
 * target, truncated toward zero into integers, non-zero to true, numbers to and from strings), with the
 * float8 targets' {@code saturate} and float8e8m0's {@code round_mode} ({@link MiniFloat}, {@link ScaleFloat});
 * BitCast, the same bits read as another type.
 */
final class CastOps {
    private CastOps() {}

    private static final String SATURATE_DOC = "float8 targets only: out-of-range values (infinities included) "
            + "become the type's largest finite value; 0: infinity or NaN, as the type has them";
    private static final String ROUND_MODE_DOC = "float8e8m0 targets only: up, down or nearest (ties up) power of two";

    static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("Cast").since(21)
                .doc("Converts each element to the element type given by attribute 'to'.")
                .inputs("input").outputs("output")
                .requiredAttr("to", AttrType.INT, "the target element type as an ONNX DataType code")
                .attrInt("saturate", 1, SATURATE_DOC)
                .attrString("round_mode", "up", ROUND_MODE_DOC)
                .properties(OpProperty.ELEMENTWISE)
                .shape(ctx -> {
                    roundMode(ctx);
                    return List.of(new TensorType(target(ctx), ctx.inputShape(0)));
                })
                .eval(ctx -> List.of(cast(ctx, ctx.input(0), target(ctx))))
                .symbolic(ctx -> integerDims(ctx, target(ctx)))
                .grad(PointwiseGrads::cast)
                .build());
        r.add(OpDef.builder("CastLike").since(21)
                .doc("Converts each element of input to the element type of target_type.")
                .inputs("input", "target_type").outputs("output")
                .nonDifferentiable("target_type")
                .attrInt("saturate", 1, SATURATE_DOC)
                .attrString("round_mode", "up", ROUND_MODE_DOC)
                .properties(OpProperty.ELEMENTWISE)
                .shape(ctx -> {
                    roundMode(ctx);
                    return List.of(new TensorType(ctx.inputDtype(1), ctx.inputShape(0)));
                })
                .eval(ctx -> List.of(cast(ctx, ctx.input(0), ctx.input(1).dtype())))
                .symbolic(ctx -> integerDims(ctx, ctx.inputDtype(1)))
                .grad(PointwiseGrads::cast)
                .build());
        registerBitCast(r);
    }

    /**
     * BitCast: each element's bits read as the target type of the same width (an ONNX element type's bits: IEEE
     * binary16/32/64, bfloat16's 16, two's complement integers, bool as 0 or 1).
     */
    static void registerBitCast(OpTable.Registrar r) {
        r.add(OpDef.builder("BitCast").since(26)
                .doc("Reinterprets each element's bits as the element type 'to' of the same width.")
                .inputs("input").outputs("output")
                .requiredAttr("to", AttrType.INT, "the target element type as an ONNX DataType code")
                .properties(OpProperty.ELEMENTWISE)
                .shape(ctx -> {
                    DType from = ctx.inputDtype(0);
                    DType to = target(ctx);
                    if (from.isLowPrecisionFloat() || to.isLowPrecisionFloat() || from.isSubByte() || to.isSubByte()) {
                        throw ctx.unsupported("BitCast from " + from + " to " + to + " (the float8, float4 and "
                                + "sub-byte integer types)");
                    }
                    if (from == DType.STRING || to == DType.STRING || from.byteSize() != to.byteSize()) {
                        throw ctx.fail("BitCast needs two numeric or bool types of one width, not " + from + " ("
                                + from.byteSize() + " bytes) to " + to + " (" + to.byteSize() + " bytes)");
                    }
                    return List.of(new TensorType(to, ctx.inputShape(0)));
                })
                .eval(ctx -> List.of(bitCast(ctx.input(0), target(ctx))))
                .build());
    }

    private static Tensor bitCast(Tensor x, DType to) {
        DType from = x.dtype();
        long[] bits = new long[x.size()];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = switch (from) {
                case FLOAT32 -> Float.floatToRawIntBits((float) x.getDouble(i));
                case FLOAT64 -> Double.doubleToRawLongBits(x.getDouble(i));
                case FLOAT16 -> Float.floatToFloat16((float) x.getDouble(i));
                case BFLOAT16 -> Float.floatToRawIntBits((float) x.getDouble(i)) >>> 16;
                case BOOL -> x.bools()[i] ? 1 : 0;
                default -> x.longs()[i];
            };
        }
        if (to == DType.BOOL) {
            boolean[] b = new boolean[bits.length];
            for (int i = 0; i < b.length; i++) {
                b[i] = (bits[i] & 0xFF) != 0;
            }
            return Tensor.wrapBools(x.shape(), b);
        }
        if (!to.isFloat()) {
            return Tensor.wrapLongs(to, x.shape(), bits);
        }
        double[] v = new double[bits.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = switch (to) {
                case FLOAT32 -> Float.intBitsToFloat((int) bits[i]);
                case FLOAT16 -> Float.float16ToFloat((short) bits[i]);
                case BFLOAT16 -> Float.intBitsToFloat((int) bits[i] << 16);
                default -> Double.longBitsToDouble(bits[i]);
            };
        }
        return Tensor.wrapDoubles(to, x.shape(), v);
    }

    private static DType target(NodeContext ctx) {
        long code = ctx.attrInt("to");
        try {
            return DType.fromOnnx(Math.toIntExact(code));
        } catch (KilnException | ArithmeticException e) {
            throw ctx.unsupported("cast to ONNX element type " + code);
        }
    }

    /** Cast's round_mode, checked at shape time so a bad name is reported before evaluation. */
    private static ScaleFloat.RoundMode roundMode(NodeContext ctx) {
        String mode = ctx.attrString("round_mode");
        try {
            return ScaleFloat.RoundMode.parse(mode);
        } catch (IllegalArgumentException e) {
            throw ctx.fail("round_mode must be up, down or nearest, not '" + mode + "'");
        }
    }

    private static Tensor cast(NodeContext ctx, Tensor x, DType to) {
        try {
            if (to.isLowPrecisionFloat() && to != x.dtype()) {
                Tensor numbers = x.dtype() == DType.STRING ? x.castTo(DType.FLOAT64) : x;
                return toLowPrecision(numbers, to, ctx.attrInt("saturate") != 0, roundMode(ctx));
            }
            return x.castTo(to);
        } catch (NumberFormatException e) {
            throw ctx.fail("cannot convert a string to " + to + ": " + e.getMessage());
        }
    }

    /**
     * {@code x} cast to a float8, float4 or float8e8m0 type with Cast's saturation and rounding mode (bools as
     * 0 and 1, integers by value).
     */
    static Tensor toLowPrecision(Tensor x, DType to, boolean saturate, ScaleFloat.RoundMode mode) {
        double[] v = new double[x.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = convert(x.getDouble(i), to, saturate, mode);
        }
        return Tensor.wrapDoubles(to, x.shape(), v);
    }

    /** One number converted to a float8, float4 or float8e8m0 type as Cast does. */
    static double convert(double v, DType to, boolean saturate, ScaleFloat.RoundMode mode) {
        return to == DType.FLOAT8E8M0 ? ScaleFloat.round(v, saturate, mode) : MiniFloat.of(to).round(v, saturate);
    }

    /** Integer to integer casts keep a shape tensor's dims (they are small and non-negative). */
    private static Optional<List<Dim>> integerDims(ShapeContext ctx, DType to) {
        if (!ctx.inputDtype(0).isInteger() || !to.isInteger()) {
            return Optional.empty();
        }
        return ctx.dimsValue(0);
    }
}
