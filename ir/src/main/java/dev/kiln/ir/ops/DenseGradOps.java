package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
import dev.kiln.ir.DType;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.List;

/**
 * Kiln-domain gradient ops of dense layers, activations and classification losses: what autodiff emits where
 * no ONNX op computes the gradient in one node. Each takes the output gradient first.
 */
public final class DenseGradOps {
    private DenseGradOps() {}

    public static void register(OpTable.Registrar r) {
        r.add(activationGrad("ReluGrad", "dX = dY where Y > 0, else 0 (Y = Relu(X)).", "Y")
                .eval(ctx -> List.of(binary(ctx, (dy, y) -> y > 0 ? dy : 0)))
                .build());
        r.add(activationGrad("LeakyReluGrad", "dX = dY where X > 0, else alpha * dY (as PyTorch, slope alpha at 0).", "X")
                .attrFloat("alpha", 0.01f, "slope below zero, as in the forward LeakyRelu")
                .eval(ctx -> {
                    double alpha = ctx.attrFloat("alpha");
                    return List.of(binary(ctx, (dy, x) -> x > 0 ? dy : alpha * dy));
                })
                .build());
        r.add(activationGrad("SigmoidGrad", "dX = dY * Y * (1 - Y) (Y = Sigmoid(X)).", "Y")
                .eval(ctx -> List.of(binary(ctx, (dy, y) -> dy * y * (1 - y))))
                .build());
        r.add(activationGrad("TanhGrad", "dX = dY * (1 - Y^2) (Y = Tanh(X)).", "Y")
                .eval(ctx -> List.of(binary(ctx, (dy, y) -> dy * (1 - y * y))))
                .build());
        r.add(lossGrad("SoftmaxCrossEntropyLossGrad",
                "dScores = dLoss * w[label] / norm * (softmax(scores) - onehot(label)) over axis 1.", "scores")
                .eval(ctx -> List.of(lossGradient(ctx, true)))
                .build());
        r.add(lossGrad("NegativeLogLikelihoodLossGrad",
                "dInput = -dLoss * w[target] / norm at the target class, 0 elsewhere.", "input")
                .eval(ctx -> List.of(lossGradient(ctx, false)))
                .build());
    }

    private static OpDef.Builder activationGrad(String name, String doc, String saved) {
        return OpDef.builder(name).domain(OpTable.KILN_DOMAIN).since(1).doc(doc)
                .inputs("dY", saved).outputs("dX")
                .properties(OpProperty.ELEMENTWISE)
                .shape(DenseGradOps::sameTypes);
    }

    private static OpDef.Builder lossGrad(String name, String doc, String scores) {
        return OpDef.builder(name).domain(OpTable.KILN_DOMAIN).since(1).doc(doc)
                .inputs("dLoss", scores, "labels", "weights?").outputs("d" + scores)
                .attrString("reduction", "mean", "the forward loss's reduction: none, sum, or mean")
                .optionalAttr("ignore_index", AttrType.INT, "a label whose samples get no gradient")
                .shape(ctx -> {
                    Pointwise.requireFloat(ctx, 1);
                    if (ctx.inputDtype(0) != ctx.inputDtype(1)) {
                        throw ctx.fail("dLoss and " + ctx.def().inputName(1) + " must have the same element type");
                    }
                    Pointwise.requireInteger(ctx, 2);
                    return List.of(ctx.inputType(1));
                });
    }

    /** dY and the saved tensor have one type, which dX takes. */
    private static List<TensorType> sameTypes(ShapeContext ctx) {
        Pointwise.requireFloat(ctx, 0);
        if (!ctx.inputType(0).equals(ctx.inputType(1))) {
            throw ctx.fail("dY and " + ctx.def().inputName(1) + " must have the same type");
        }
        return List.of(ctx.inputType(0));
    }

    private static Tensor binary(EvalContext ctx, java.util.function.DoubleBinaryOperator f) {
        Tensor dy = ctx.input(0);
        double[] a = dy.doubles();
        double[] b = ctx.input(1).doubles();
        if (a.length != b.length) {
            throw ctx.fail("dY and " + ctx.def().inputName(1) + " differ in size");
        }
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = f.applyAsDouble(a[i], b[i]);
        }
        return Tensor.wrapDoubles(dy.dtype(), dy.shape(), out);
    }

    /**
     * The gradient of SoftmaxCrossEntropyLoss ({@code softmax} true, input 1 = scores) or NegativeLogLikelihoodLoss
     * (input 1 = log-probabilities) over (N, C, d1..dk) with labels (N, d1..dk): per sample, the upstream gradient
     * times the sample's weight, divided by the sum of the counted samples' weights for the mean reduction.
     */
    private static Tensor lossGradient(EvalContext ctx, boolean softmax) {
        Tensor dLoss = ctx.input(0);
        Tensor scores = ctx.input(1);
        Tensor labels = ctx.input(2);
        int[] shape = scores.shape();
        int n = shape[0];
        int c = shape[1];
        int inner = 1;
        for (int k = 2; k < shape.length; k++) {
            inner *= shape[k];
        }
        if (labels.size() != n * inner) {
            throw ctx.fail("labels " + labels.type() + " do not match scores " + scores.type());
        }
        String reduction = ctx.attrString("reduction");
        if (reduction.equals("none") ? dLoss.size() != n * inner : dLoss.size() != 1) {
            throw ctx.fail("dLoss " + dLoss.type() + " does not match reduction " + reduction);
        }
        double[] weights = ctx.hasInput(3) ? ctx.input(3).doubles() : null;
        boolean hasIgnore = ctx.isSet("ignore_index");
        long ignore = hasIgnore ? ctx.attrInt("ignore_index") : 0;
        double[] x = scores.doubles();
        double[] sampleWeight = new double[n * inner];
        double weightSum = 0;
        for (int s = 0; s < n * inner; s++) {
            long label = labels.getLong(s);
            if (hasIgnore && label == ignore) {
                continue;
            }
            if (label < 0 || label >= c) {
                throw ctx.fail("label " + label + " at sample " + s + " is outside [0, " + c + ")");
            }
            sampleWeight[s] = weights == null ? 1 : weights[(int) label];
            weightSum += sampleWeight[s];
        }
        double[] dx = new double[x.length];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < inner; j++) {
                int s = i * inner + j;
                if (sampleWeight[s] == 0) {
                    continue;
                }
                double upstream = reduction.equals("none") ? dLoss.getDouble(s) : dLoss.getDouble(0);
                double scale = upstream * sampleWeight[s] / (reduction.equals("mean") ? weightSum : 1);
                int label = (int) labels.getLong(s);
                if (softmax) {
                    double max = Double.NEGATIVE_INFINITY;
                    for (int k = 0; k < c; k++) {
                        max = Math.max(max, x[(i * c + k) * inner + j]);
                    }
                    double sum = 0;
                    for (int k = 0; k < c; k++) {
                        sum += Math.exp(x[(i * c + k) * inner + j] - max);
                    }
                    for (int k = 0; k < c; k++) {
                        int at = (i * c + k) * inner + j;
                        dx[at] = scale * (Math.exp(x[at] - max) / sum - (k == label ? 1 : 0));
                    }
                } else {
                    dx[(i * c + label) * inner + j] = -scale;
                }
            }
        }
        DType t = scores.dtype();
        return Tensor.wrapDoubles(t, shape, dx);
    }
}
