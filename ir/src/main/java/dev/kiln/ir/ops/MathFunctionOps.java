package dev.kiln.ir.ops;

import dev.kiln.ir.DType;
import dev.kiln.ir.GradRule;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.TensorType;
import java.util.List;
import java.util.function.DoubleUnaryOperator;

/** Unary math functions applied elementwise: Neg, Abs, rounding, exp/log, trigonometric, NaN/Inf tests. */
final class MathFunctionOps {
    private MathFunctionOps() {}

    static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("Neg").since(13)
                .doc("-x elementwise (signed integers wrap on their minimum, as in C).")
                .inputs("X").outputs("Y")
                .properties(OpProperty.ELEMENTWISE, OpProperty.ZERO_PRESERVING)
                .shape(ctx -> {
                    Pointwise.requireSigned(ctx, 0);
                    return Pointwise.sameAsInput(ctx);
                })
                .eval(ctx -> List.of(Pointwise.unary(ctx.input(0), v -> -v, v -> -v)))
                .grad(DenseGrads::neg)
                .build());
        r.add(OpDef.builder("Abs").since(13)
                .doc("|x| elementwise (the identity on unsigned types).")
                .inputs("X").outputs("Y")
                .properties(OpProperty.ELEMENTWISE, OpProperty.ZERO_PRESERVING)
                .shape(MathFunctionOps::numericUnary)
                .eval(ctx -> {
                    DType t = ctx.input(0).dtype();
                    return List.of(Pointwise.unary(ctx.input(0), Math::abs, v -> IntegerMath.abs(t, v)));
                })
                .grad(PointwiseGrads::abs)
                .build());
        r.add(OpDef.builder("Sign").since(13)
                .doc("-1, 0 or 1 by the sign of x elementwise (NaN stays NaN).")
                .inputs("input").outputs("output")
                .properties(OpProperty.ELEMENTWISE, OpProperty.ZERO_PRESERVING)
                .shape(MathFunctionOps::numericUnary)
                .eval(ctx -> {
                    DType t = ctx.input(0).dtype();
                    return List.of(Pointwise.unary(ctx.input(0), Math::signum, v -> IntegerMath.sign(t, v)));
                })
                .grad(PointwiseGrads::piecewiseConstant)
                .build());
        r.add(OpDef.builder("Erf").since(13)
                .doc("The error function elementwise (on integers: computed in double, truncated).")
                .inputs("input").outputs("output")
                .properties(OpProperty.ELEMENTWISE, OpProperty.ZERO_PRESERVING)
                .shape(MathFunctionOps::numericUnary)
                .eval(ctx -> List.of(Pointwise.unary(ctx.input(0), SpecialFunctions::erf,
                        v -> (long) SpecialFunctions.erf(v))))
                .grad(PointwiseGrads::erf)
                .build());

        floatFunction(r, "Reciprocal", 13, "1/x elementwise.", false, v -> 1 / v,
                PointwiseGrads::reciprocal);
        floatFunction(r, "Floor", 13, "Largest integer <= x elementwise.", true, Math::floor,
                PointwiseGrads::piecewiseConstant);
        floatFunction(r, "Ceil", 13, "Smallest integer >= x elementwise.", true, Math::ceil,
                PointwiseGrads::piecewiseConstant);
        floatFunction(r, "Round", 11, "Nearest integer elementwise, halves to even.", true, Math::rint,
                PointwiseGrads::piecewiseConstant);
        floatFunction(r, "Exp", 13, "e^x elementwise.", false, Math::exp,
                DenseGrads::exp);
        floatFunction(r, "Log", 13, "Natural logarithm elementwise (NaN below 0, -inf at 0).", false, Math::log,
                DenseGrads::log);
        floatFunction(r, "Sqrt", 13, "Square root elementwise (NaN below 0).", true, Math::sqrt,
                DenseGrads::sqrt);
        floatFunction(r, "Sin", 7, "Sine elementwise.", true, Math::sin,
                PointwiseGrads::sin);
        floatFunction(r, "Cos", 7, "Cosine elementwise.", false, Math::cos,
                PointwiseGrads::cos);
        floatFunction(r, "Tan", 7, "Tangent elementwise.", true, Math::tan,
                PointwiseGrads::tan);
        floatFunction(r, "Asin", 7, "Arcsine elementwise.", true, Math::asin,
                PointwiseGrads::asin);
        floatFunction(r, "Acos", 7, "Arccosine elementwise.", false, Math::acos,
                PointwiseGrads::acos);
        floatFunction(r, "Atan", 7, "Arctangent elementwise.", true, Math::atan,
                PointwiseGrads::atan);
        floatFunction(r, "Sinh", 9, "Hyperbolic sine elementwise.", true, Math::sinh,
                PointwiseGrads::sinh);
        floatFunction(r, "Cosh", 9, "Hyperbolic cosine elementwise.", false, Math::cosh,
                PointwiseGrads::cosh);
        floatFunction(r, "Asinh", 9, "Inverse hyperbolic sine elementwise.", true, SpecialFunctions::asinh,
                PointwiseGrads::asinh);
        floatFunction(r, "Acosh", 9, "Inverse hyperbolic cosine elementwise.", false, SpecialFunctions::acosh,
                PointwiseGrads::acosh);
        floatFunction(r, "Atanh", 9, "Inverse hyperbolic tangent elementwise.", true, SpecialFunctions::atanh,
                PointwiseGrads::atanh);

        r.add(OpDef.builder("IsNaN").since(20)
                .doc("True where x is NaN.")
                .inputs("X").outputs("Y")
                .properties(OpProperty.ELEMENTWISE)
                .shape(MathFunctionOps::floatTest)
                .eval(ctx -> List.of(Pointwise.test(ctx.input(0), Double::isNaN)))
                .build());
        r.add(OpDef.builder("IsInf").since(20)
                .doc("True where x is an infinity of a detected sign.")
                .inputs("X").outputs("Y")
                .attrInt("detect_negative", 1, "1: -inf counts")
                .attrInt("detect_positive", 1, "1: +inf counts")
                .properties(OpProperty.ELEMENTWISE)
                .shape(MathFunctionOps::floatTest)
                .eval(ctx -> {
                    boolean negative = ctx.attrInt("detect_negative") != 0;
                    boolean positive = ctx.attrInt("detect_positive") != 0;
                    return List.of(Pointwise.test(ctx.input(0), v -> v == Double.NEGATIVE_INFINITY && negative
                            || v == Double.POSITIVE_INFINITY && positive));
                })
                .build());
    }

    /** Declares a unary function ONNX defines on floats only, computed in double and rounded once. */
    private static void floatFunction(OpTable.Registrar r, String name, int since, String doc,
                                      boolean zeroPreserving, DoubleUnaryOperator f) {
        r.add(floatFunctionBuilder(name, since, doc, zeroPreserving, f).build());
    }

    /** A unary float function with a gradient rule. */
    private static void floatFunction(OpTable.Registrar r, String name, int since, String doc,
                                      boolean zeroPreserving, DoubleUnaryOperator f, GradRule grad) {
        r.add(floatFunctionBuilder(name, since, doc, zeroPreserving, f).grad(grad).build());
    }

    private static OpDef.Builder floatFunctionBuilder(String name, int since, String doc, boolean zeroPreserving,
                                                      DoubleUnaryOperator f) {
        // ONNX names the operands X/Y for some of these and input/output for others.
        boolean xy = List.of("Reciprocal", "Floor", "Ceil", "Round", "Sqrt").contains(name);
        OpDef.Builder b = OpDef.builder(name).since(since).doc(doc)
                .inputs(xy ? "X" : "input").outputs(xy ? "Y" : "output")
                .properties(OpProperty.ELEMENTWISE)
                .shape(Pointwise::floatUnary)
                .eval(ctx -> List.of(Pointwise.unary(ctx, f)));
        if (zeroPreserving) {
            b.properties(OpProperty.ZERO_PRESERVING);
        }
        return b;
    }

    private static List<TensorType> numericUnary(ShapeContext ctx) {
        Pointwise.requireNumeric(ctx, 0);
        return Pointwise.sameAsInput(ctx);
    }

    private static List<TensorType> floatTest(ShapeContext ctx) {
        Pointwise.requireFloat(ctx, 0);
        return List.of(new TensorType(DType.BOOL, ctx.inputShape(0)));
    }
}
