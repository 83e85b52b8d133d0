package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.KilnException;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.List;
import java.util.Optional;

/**
 * Cast and CastLike: element type conversion as {@link Tensor#castTo} defines it (floats rounded to the
 * target, truncated toward zero into integers, non-zero to true, numbers to and from strings).
 */
final class CastOps {
    private CastOps() {}

    private static final String SATURATE_DOC = "float8 targets only: clamp out-of-range values to the type's "
            + "largest finite value (Kiln has no float8 types, so it never applies)";

    static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("Cast").since(21)
                .doc("Converts each element to the element type given by attribute 'to'.")
                .inputs("input").outputs("output")
                .requiredAttr("to", AttrType.INT, "the target element type as an ONNX DataType code")
                .attrInt("saturate", 1, SATURATE_DOC)
                .properties(OpProperty.ELEMENTWISE)
                .shape(ctx -> List.of(new TensorType(target(ctx), ctx.inputShape(0))))
                .eval(ctx -> List.of(cast(ctx, ctx.input(0), target(ctx))))
                .symbolic(ctx -> integerDims(ctx, target(ctx)))
                .grad(PointwiseGrads::cast)
                .build());
        r.add(OpDef.builder("CastLike").since(21)
                .doc("Converts each element of input to the element type of target_type.")
                .inputs("input", "target_type").outputs("output")
                .nonDifferentiable("target_type")
                .attrInt("saturate", 1, SATURATE_DOC)
                .properties(OpProperty.ELEMENTWISE)
                .shape(ctx -> List.of(new TensorType(ctx.inputDtype(1), ctx.inputShape(0))))
                .eval(ctx -> List.of(cast(ctx, ctx.input(0), ctx.input(1).dtype())))
                .symbolic(ctx -> integerDims(ctx, ctx.inputDtype(1)))
                .grad(PointwiseGrads::cast)
                .build());
    }

    private static DType target(NodeContext ctx) {
        long code = ctx.attrInt("to");
        try {
            return DType.fromOnnx(Math.toIntExact(code));
        } catch (KilnException | ArithmeticException e) {
            throw ctx.unsupported("cast to ONNX element type " + code);
        }
    }

    private static Tensor cast(NodeContext ctx, Tensor x, DType to) {
        try {
            return x.castTo(to);
        } catch (NumberFormatException e) {
            throw ctx.fail("cannot convert a string to " + to + ": " + e.getMessage());
        }
    }

    /** Integer to integer casts keep a shape tensor's dims (they are small and non-negative). */
    private static Optional<List<Dim>> integerDims(ShapeContext ctx, DType to) {
        if (!ctx.inputDtype(0).isInteger() || !to.isInteger()) {
            return Optional.empty();
        }
        return ctx.dimsValue(0);
    }
}
