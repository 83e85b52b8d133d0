package dev.kiln.ir.ops;

import dev.kiln.ir.DType;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.ArrayList;
import java.util.List;

/**
 * Arithmetic applied elementwise with numpy broadcasting (Add ... Pow, the variadic Sum/Max/Min/Mean, Clip);
 * the same family's math functions, comparisons and logic, and casts are declared in {@link MathFunctionOps},
 * {@link LogicOps} and {@link CastOps}, registered from here.
 */
public final class ElementwiseOps {
    private ElementwiseOps() {}

    public static void register(OpTable.Registrar r) {
        registerArithmetic(r);
        registerVariadic(r);
        r.add(clip());
        MathFunctionOps.register(r);
        LogicOps.register(r);
        CastOps.register(r);
    }

    private static void registerArithmetic(OpTable.Registrar r) {
        r.add(OpDef.builder("Add").since(14)
                .doc("Elementwise sum with numpy broadcasting.")
                .inputs("A", "B").outputs("C")
                .properties(OpProperty.ELEMENTWISE, OpProperty.COMMUTATIVE)
                .shape(Pointwise::numericBroadcast)
                .eval(ctx -> List.of(Pointwise.binary(ctx.input(0), ctx.input(1), Double::sum, Long::sum)))
                .symbolic(ShapeArithmetic.binary(ShapeArithmetic::plus))
                .grad(DenseGrads::add)
                .build());
        r.add(OpDef.builder("Sub").since(14)
                .doc("Elementwise difference A - B with numpy broadcasting.")
                .inputs("A", "B").outputs("C")
                .properties(OpProperty.ELEMENTWISE)
                .shape(Pointwise::numericBroadcast)
                .eval(ctx -> List.of(Pointwise.binary(ctx.input(0), ctx.input(1), (a, b) -> a - b, (a, b) -> a - b)))
                .symbolic(ShapeArithmetic.binary(ShapeArithmetic::minus))
                .grad(DenseGrads::sub)
                .build());
        r.add(OpDef.builder("Mul").since(14)
                .doc("Elementwise product with numpy broadcasting.")
                .inputs("A", "B").outputs("C")
                .properties(OpProperty.ELEMENTWISE, OpProperty.COMMUTATIVE)
                .shape(Pointwise::numericBroadcast)
                .eval(ctx -> List.of(Pointwise.binary(ctx.input(0), ctx.input(1), (a, b) -> a * b, (a, b) -> a * b)))
                .symbolic(ShapeArithmetic.binary(ShapeArithmetic::times))
                .grad(DenseGrads::mul)
                .build());
        r.add(OpDef.builder("Div").since(14)
                .doc("Elementwise quotient A / B with numpy broadcasting; integer division truncates toward zero.")
                .inputs("A", "B").outputs("C")
                .properties(OpProperty.ELEMENTWISE)
                .shape(Pointwise::numericBroadcast)
                .eval(ctx -> {
                    DType t = ctx.input(0).dtype();
                    return List.of(Pointwise.binary(ctx.input(0), ctx.input(1), (a, b) -> a / b,
                            (a, b) -> IntegerMath.div(t, a, b)));
                })
                .symbolic(ShapeArithmetic.binary(ShapeArithmetic::dividedBy))
                .grad(DenseGrads::div)
                .build());
        r.add(OpDef.builder("Mod").since(13)
                .doc("Elementwise remainder with numpy broadcasting; its sign follows the divisor unless fmod=1.")
                .inputs("A", "B").outputs("C")
                .attrInt("fmod", 0, "1: C fmod, sign of the dividend; 0: sign of the divisor (integers, "
                        + "and floats as numpy.mod does, though ONNX requires fmod=1 for floats)")
                .properties(OpProperty.ELEMENTWISE)
                .shape(ctx -> {
                    long fmod = ctx.attrInt("fmod");
                    if (fmod != 0 && fmod != 1) {
                        throw ctx.fail("fmod must be 0 or 1, not " + fmod);
                    }
                    return Pointwise.numericBroadcast(ctx);
                })
                .eval(ctx -> {
                    DType t = ctx.input(0).dtype();
                    boolean fmod = ctx.attrInt("fmod") == 1;
                    return List.of(Pointwise.binary(ctx.input(0), ctx.input(1), (a, b) -> floatMod(a, b, fmod),
                            (a, b) -> IntegerMath.mod(t, a, b, fmod)));
                })
                .build());
        r.add(OpDef.builder("Pow").since(15)
                .doc("Elementwise X^Y with numpy broadcasting; Y may have another numeric dtype, the result has X's.")
                .inputs("X", "Y").outputs("Z")
                .properties(OpProperty.ELEMENTWISE)
                .shape(ctx -> {
                    Pointwise.require(ctx, 0, t -> t.isFloat() || t == DType.INT32 || t == DType.INT64,
                            "a floating type, int32 or int64");
                    Pointwise.requireNumeric(ctx, 1);
                    return List.of(new TensorType(ctx.inputDtype(0), Broadcasting.inputs(ctx)));
                })
                .eval(ctx -> List.of(pow(ctx.input(0), ctx.input(1))))
                .grad(DenseGrads::pow)
                .build());
    }

    /** Remainder of floats: C fmod, or numpy.mod (moved to the divisor's sign) when not {@code fmod}. */
    private static double floatMod(double a, double b, boolean fmod) {
        double r = a % b;
        if (!fmod && r != 0 && (r < 0) != (b < 0)) {
            r += b;
        }
        return r;
    }

    /**
     * X^Y: floats by {@link Math#pow}; integer bases exactly (wrapping) for integer exponents, else the real
     * power truncated toward zero, as C's {@code (int) pow(x, y)}.
     */
    private static Tensor pow(Tensor x, Tensor y) {
        int[] shape = Broadcasting.shape(x.shape(), y.shape());
        int[] ix = Broadcasting.indexMap(shape, x.shape());
        int[] iy = Broadcasting.indexMap(shape, y.shape());
        if (x.dtype().isFloat()) {
            double[] out = new double[ix.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = Math.pow(x.doubles()[ix[i]], y.getDouble(iy[i]));
            }
            return Tensor.wrapDoubles(x.dtype(), shape, out);
        }
        long[] out = new long[ix.length];
        boolean unsignedExponent = y.dtype() == DType.UINT64;
        for (int i = 0; i < out.length; i++) {
            long base = x.longs()[ix[i]];
            out[i] = y.dtype().isInteger()
                    ? IntegerMath.pow(base, y.longs()[iy[i]], unsignedExponent)
                    : (long) Math.pow(base, y.doubles()[iy[i]]);
        }
        return Tensor.wrapLongs(x.dtype(), shape, out);
    }

    private static void registerVariadic(OpTable.Registrar r) {
        r.add(OpDef.builder("Sum").since(13)
                .doc("Elementwise sum of one or more tensors with numpy broadcasting.")
                .inputs("data_0...").outputs("sum")
                .properties(OpProperty.ELEMENTWISE, OpProperty.COMMUTATIVE)
                .shape(Pointwise::floatBroadcast)
                .eval(ctx -> List.of(Pointwise.fold(inputs(ctx), Double::sum, Long::sum, v -> v)))
                .grad(PointwiseGrads::sum)
                .build());
        r.add(OpDef.builder("Mean").since(13)
                .doc("Elementwise mean of one or more tensors with numpy broadcasting.")
                .inputs("data_0...").outputs("mean")
                .properties(OpProperty.ELEMENTWISE, OpProperty.COMMUTATIVE)
                .shape(Pointwise::floatBroadcast)
                .eval(ctx -> {
                    int n = ctx.inputCount();
                    return List.of(Pointwise.fold(inputs(ctx), Double::sum, Long::sum, v -> v / n));
                })
                .grad(PointwiseGrads::mean)
                .build());
        r.add(OpDef.builder("Max").since(13)
                .doc("Elementwise maximum of one or more tensors with numpy broadcasting; NaN propagates.")
                .inputs("data_0...").outputs("max")
                .properties(OpProperty.ELEMENTWISE, OpProperty.COMMUTATIVE)
                .shape(Pointwise::numericBroadcast)
                .eval(ctx -> {
                    DType t = ctx.input(0).dtype();
                    return List.of(Pointwise.fold(inputs(ctx), Math::max, (a, b) -> IntegerMath.max(t, a, b), v -> v));
                })
                .grad(PointwiseGrads::extremum)
                .build());
        r.add(OpDef.builder("Min").since(13)
                .doc("Elementwise minimum of one or more tensors with numpy broadcasting; NaN propagates.")
                .inputs("data_0...").outputs("min")
                .properties(OpProperty.ELEMENTWISE, OpProperty.COMMUTATIVE)
                .shape(Pointwise::numericBroadcast)
                .eval(ctx -> {
                    DType t = ctx.input(0).dtype();
                    return List.of(Pointwise.fold(inputs(ctx), Math::min, (a, b) -> IntegerMath.min(t, a, b), v -> v));
                })
                .grad(PointwiseGrads::extremum)
                .build());
    }

    private static List<Tensor> inputs(EvalContext ctx) {
        List<Tensor> xs = new ArrayList<>();
        for (int i = 0; i < ctx.inputCount(); i++) {
            xs.add(ctx.input(i));
        }
        return xs;
    }

    private static OpDef clip() {
        return OpDef.builder("Clip").since(13)
                .doc("Limits each element to [min, max] (given as optional scalar inputs; absent means unbounded).")
                .inputs("input", "min?", "max?").outputs("output")
                .nonDifferentiable("min", "max")
                .properties(OpProperty.ELEMENTWISE, OpProperty.ACTIVATION)
                .shape(ctx -> {
                    Pointwise.requireNumeric(ctx, 0);
                    for (int i = 1; i < ctx.inputCount(); i++) {
                        if (!ctx.hasInput(i)) {
                            continue;
                        }
                        if (ctx.inputDtype(i) != ctx.inputDtype(0)) {
                            throw ctx.fail(ctx.def().inputName(i) + " must have the input's element type");
                        }
                        if (!isSingleElement(ctx, i)) {
                            throw ctx.fail(ctx.def().inputName(i) + " must be a scalar");
                        }
                    }
                    return Pointwise.sameAsInput(ctx);
                })
                .eval(ElementwiseOps::evalClip)
                .grad(PointwiseGrads::clip)
                .build();
    }

    /** A scalar, or (leniently, as exporters produce them) a one-element tensor. */
    private static boolean isSingleElement(ShapeContext ctx, int i) {
        var shape = ctx.inputShape(i);
        return shape.rank() == 0 || shape.isStatic() && shape.elementCount().value() == 1;
    }

    private static List<Tensor> evalClip(EvalContext ctx) {
        Tensor x = ctx.input(0);
        DType t = x.dtype();
        if (t.isFloat()) {
            double lo = ctx.hasInput(1) ? ctx.input(1).doubles()[0] : Double.NEGATIVE_INFINITY;
            double hi = ctx.hasInput(2) ? ctx.input(2).doubles()[0] : Double.POSITIVE_INFINITY;
            // min(max(x, lo), hi) as numpy.clip: NaN propagates, and min > max yields max everywhere.
            return List.of(Pointwise.unary(x, v -> Math.min(Math.max(v, lo), hi), v -> v));
        }
        long lo = ctx.hasInput(1) ? ctx.input(1).longs()[0] : IntegerMath.minValue(t);
        long hi = ctx.hasInput(2) ? ctx.input(2).longs()[0] : IntegerMath.maxValue(t);
        return List.of(Pointwise.unary(x, v -> v, v -> IntegerMath.min(t, IntegerMath.max(t, v, lo), hi)));
    }
}
