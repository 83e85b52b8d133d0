package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
import dev.kiln.ir.DType;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.List;

/**
 * The ops on ONNX optionals (a tensor or a sequence, or nothing): making one (Optional), asking whether it holds a
 * value (OptionalHasElement) and taking the value out (OptionalGetElement). As in opset 18, the last two also accept
 * a plain tensor or sequence (which always holds its value), and OptionalHasElement a missing input (which never does).
 */
final class OptionalOps {
    private OptionalOps() {}

    static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("Optional").since(15)
                .doc("An optional holding the input, or the empty optional of attribute 'type' when there is no input.")
                .inputs("input?").outputs("output")
                .optionalAttr("type", AttrType.TYPE, "the type of the value, needed when there is no input")
                .properties(OpProperty.CONTAINERS)
                .shape(OptionalOps::optionalType)
                .eval(ctx -> List.of(ctx.hasInput(0) ? Tensor.optionalOf(ctx.input(0))
                        : Tensor.emptyOptional(emptyType(ctx))))
                .build());
        r.add(OpDef.builder("OptionalHasElement").since(18)
                .doc("True when the input optional holds a value (a tensor or sequence input always does; a missing "
                        + "input never does), as a bool scalar.")
                .inputs("input?").outputs("output")
                .properties(OpProperty.CONTAINERS)
                .shape(ctx -> List.of(new TensorType(DType.BOOL, Shape.SCALAR)))
                .eval(ctx -> {
                    boolean has = ctx.hasInput(0)
                            && (!ctx.input(0).type().isOptional() || !ctx.input(0).elements().isEmpty());
                    return List.of(Tensor.wrapBools(new int[0], new boolean[] {has}));
                })
                .build());
        r.add(OpDef.builder("OptionalGetElement").since(18)
                .doc("The value an optional holds (an error when it is empty); a tensor or sequence input unchanged.")
                .inputs("input").outputs("output")
                .properties(OpProperty.CONTAINERS)
                .shape(ctx -> {
                    TensorType t = ctx.inputType(0);
                    if (!t.isOptional()) {
                        return List.of(t);
                    }
                    if (!t.ranked()) {
                        return List.of(TensorType.unrankedSequence(t.dtype()));
                    }
                    return List.of(t.content());
                })
                .eval(ctx -> {
                    Tensor in = ctx.input(0);
                    if (!in.type().isOptional()) {
                        return List.of(in);
                    }
                    if (in.elements().isEmpty()) {
                        throw ctx.fail("the optional is empty");
                    }
                    return List.of(in.elements().get(0));
                })
                .build());
    }

    private static List<TensorType> optionalType(ShapeContext ctx) {
        if (!ctx.hasInput(0)) {
            return List.of(emptyType(ctx));
        }
        TensorType in = ctx.inputType(0);
        if (in.isOptional()) {
            throw ctx.fail("input must be a tensor or a sequence, not an optional");
        }
        if (ctx.isSet("type") && !TensorType.optionalOf(ctx.attrType("type")).admits(TensorType.optionalOf(in))) {
            throw ctx.fail("attribute 'type' is " + ctx.attrType("type") + " but the input is " + in);
        }
        return List.of(TensorType.optionalOf(in));
    }

    /** The empty optional's type, from attribute 'type'. */
    private static TensorType emptyType(dev.kiln.ir.NodeContext ctx) {
        if (!ctx.isSet("type")) {
            throw ctx.fail("an Optional without input needs attribute 'type'");
        }
        TensorType t = ctx.attrType("type");
        if (t.isOptional()) {
            throw ctx.fail("attribute 'type' must be a tensor or sequence type, not " + t);
        }
        return TensorType.optionalOf(t);
    }
}
