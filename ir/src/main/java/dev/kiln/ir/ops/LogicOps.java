package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
import dev.kiln.ir.DType;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.ops.Pointwise.BoolBinaryOperator;
import dev.kiln.ir.ops.Pointwise.Comparison;
import java.util.List;
import java.util.function.LongBinaryOperator;

/** Comparisons, boolean logic, bitwise integer ops and Where, elementwise with numpy broadcasting. */
final class LogicOps {
    private LogicOps() {}

    static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("Equal").since(19)
                .doc("A == B elementwise with numpy broadcasting (numbers, bools or strings; NaN equals nothing).")
                .inputs("A", "B").outputs("C")
                .properties(OpProperty.ELEMENTWISE, OpProperty.COMMUTATIVE)
                .shape(ctx -> Pointwise.predicateBroadcast(ctx, t -> true, "a tensor"))
                .eval(ctx -> List.of(Pointwise.compare(ctx.input(0), ctx.input(1), Comparison.EQUAL)))
                .build());
        comparison(r, "Less", 13, "A < B", Comparison.LESS);
        comparison(r, "LessOrEqual", 16, "A <= B", Comparison.LESS_OR_EQUAL);
        comparison(r, "Greater", 13, "A > B", Comparison.GREATER);
        comparison(r, "GreaterOrEqual", 16, "A >= B", Comparison.GREATER_OR_EQUAL);

        r.add(OpDef.builder("Not").since(1)
                .doc("Logical negation of a bool tensor.")
                .inputs("X").outputs("Y")
                .properties(OpProperty.ELEMENTWISE)
                .shape(ctx -> {
                    Pointwise.requireBool(ctx, 0);
                    return Pointwise.sameAsInput(ctx);
                })
                .eval(ctx -> {
                    boolean[] x = ctx.input(0).bools();
                    boolean[] y = new boolean[x.length];
                    for (int i = 0; i < x.length; i++) {
                        y[i] = !x[i];
                    }
                    return List.of(Tensor.wrapBools(ctx.input(0).shape(), y));
                })
                .build());
        logical(r, "And", "A and B", (a, b) -> a && b);
        logical(r, "Or", "A or B", (a, b) -> a || b);
        logical(r, "Xor", "A xor B", (a, b) -> a ^ b);

        r.add(OpDef.builder("BitShift").since(11)
                .doc("Logical shift of unsigned integers X by Y bits, LEFT or RIGHT, with numpy broadcasting.")
                .inputs("X", "Y").outputs("Z")
                .requiredAttr("direction", AttrType.STRING, "LEFT or RIGHT")
                .properties(OpProperty.ELEMENTWISE)
                .shape(ctx -> {
                    String d = ctx.attrString("direction");
                    if (!d.equals("LEFT") && !d.equals("RIGHT")) {
                        throw ctx.fail("direction must be LEFT or RIGHT, not '" + d + "'");
                    }
                    Pointwise.require(ctx, 0, DType::isUnsigned, "an unsigned integer type");
                    return Pointwise.broadcastSameType(ctx);
                })
                .eval(ctx -> {
                    DType t = ctx.input(0).dtype();
                    boolean left = ctx.attrString("direction").equals("LEFT");
                    return List.of(Pointwise.integers(ctx.input(0), ctx.input(1),
                            (x, n) -> IntegerMath.shift(t, x, n, left)));
                })
                .build());
        bitwise(r, "BitwiseAnd", "A & B", (a, b) -> a & b);
        bitwise(r, "BitwiseOr", "A | B", (a, b) -> a | b);
        bitwise(r, "BitwiseXor", "A ^ B", (a, b) -> a ^ b);
        r.add(OpDef.builder("BitwiseNot").since(18)
                .doc("~X elementwise on integers.")
                .inputs("X").outputs("Y")
                .properties(OpProperty.ELEMENTWISE)
                .shape(ctx -> {
                    Pointwise.requireInteger(ctx, 0);
                    return Pointwise.sameAsInput(ctx);
                })
                .eval(ctx -> List.of(Pointwise.unary(ctx.input(0), v -> {
                    throw new IllegalStateException("unreachable: BitwiseNot on floats");
                }, v -> ~v)))
                .build());

        r.add(OpDef.builder("Where").since(16)
                .doc("condition ? X : Y elementwise, broadcasting all three.")
                .inputs("condition", "X", "Y").outputs("output")
                .properties(OpProperty.ELEMENTWISE)
                .shape(ctx -> {
                    Pointwise.requireBool(ctx, 0);
                    if (ctx.inputDtype(1) != ctx.inputDtype(2)) {
                        throw ctx.fail("X and Y must have the same element type");
                    }
                    return List.of(new TensorType(ctx.inputDtype(1), Broadcasting.inputs(ctx)));
                })
                .eval(ctx -> List.of(Pointwise.select(ctx.input(0), ctx.input(1), ctx.input(2))))
                .symbolic(ShapeArithmetic::where)
                .grad(PointwiseGrads::where)
                .build());
    }

    private static void comparison(OpTable.Registrar r, String name, int since, String what, Comparison c) {
        r.add(OpDef.builder(name).since(since)
                .doc(what + " elementwise with numpy broadcasting (false wherever a NaN is involved).")
                .inputs("A", "B").outputs("C")
                .properties(OpProperty.ELEMENTWISE)
                .shape(ctx -> Pointwise.predicateBroadcast(ctx, DType::isNumeric, "a numeric type"))
                .eval(ctx -> List.of(Pointwise.compare(ctx.input(0), ctx.input(1), c)))
                .build());
    }

    private static void logical(OpTable.Registrar r, String name, String what, BoolBinaryOperator f) {
        r.add(OpDef.builder(name).since(7)
                .doc(what + " elementwise on bool tensors with numpy broadcasting.")
                .inputs("A", "B").outputs("C")
                .properties(OpProperty.ELEMENTWISE, OpProperty.COMMUTATIVE)
                .shape(ctx -> Pointwise.predicateBroadcast(ctx, t -> t == DType.BOOL, "bool"))
                .eval(ctx -> List.of(Pointwise.logical(ctx.input(0), ctx.input(1), f)))
                .build());
    }

    private static void bitwise(OpTable.Registrar r, String name, String what, LongBinaryOperator f) {
        r.add(OpDef.builder(name).since(18)
                .doc(what + " elementwise on integers with numpy broadcasting.")
                .inputs("A", "B").outputs("C")
                .properties(OpProperty.ELEMENTWISE, OpProperty.COMMUTATIVE)
                .shape(ctx -> {
                    Pointwise.requireInteger(ctx, 0);
                    return Pointwise.broadcastSameType(ctx);
                })
                .eval(ctx -> List.of(Pointwise.integers(ctx.input(0), ctx.input(1), f)))
                .build());
    }
}
