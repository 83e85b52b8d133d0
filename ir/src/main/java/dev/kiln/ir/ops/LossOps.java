package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Classification losses over (N, C, d1..dk) scores and (N, d1..dk) class labels: NegativeLogLikelihoodLoss on
 * log-probabilities and SoftmaxCrossEntropyLoss on raw scores, each with optional class weights, an ignored
 * label and none/sum/mean reduction.
 */
public final class LossOps {
    private LossOps() {}

    public static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("NegativeLogLikelihoodLoss").since(13)
                .doc("loss = -input[n, target, d...] * weight[target], then reduced (none, sum, or weighted mean).")
                .inputs("input", "target", "weight?")
                .outputs("loss")
                .attrString("reduction", "mean", "none, sum, or mean (divided by the sum of the samples' weights)")
                .optionalAttr("ignore_index", AttrType.INT, "a target value whose samples contribute nothing")
                .shape(ctx -> List.of(lossType(ctx)))
                .eval(ctx -> List.of(nll(ctx, ctx.input(0).doubles(), ctx.input(0).shape())))
                .grad(DenseGrads::negativeLogLikelihoodLoss)
                .build());
        r.add(OpDef.builder("SoftmaxCrossEntropyLoss").since(13)
                .doc("NegativeLogLikelihoodLoss of log(softmax(scores)) over axis 1; optionally outputs those log-probabilities.")
                .inputs("scores", "labels", "weights?")
                .outputs("output", "log_prob?")
                .attrString("reduction", "mean", "none, sum, or mean (divided by the sum of the samples' weights)")
                .optionalAttr("ignore_index", AttrType.INT, "a label value whose samples contribute nothing")
                .shape(ctx -> List.of(lossType(ctx), ctx.inputType(0)))
                .eval(LossOps::softmaxCrossEntropy)
                .grad(DenseGrads::softmaxCrossEntropyLoss)
                .build());
    }

    // ---- shape rule ----

    /** The loss type: (N, d1..dk) for reduction none, else a scalar; checks scores, labels and weights agree. */
    private static TensorType lossType(ShapeContext ctx) {
        TensorType in = ctx.inputType(0);
        if (!in.dtype().isFloat()) {
            throw ctx.fail(ctx.def().inputName(0) + " must be a floating type");
        }
        if (in.rank() < 2) {
            throw ctx.fail(ctx.def().inputName(0) + " must have shape (N, C, d1, ..., dk) but has rank " + in.rank());
        }
        TensorType target = ctx.inputType(1);
        if (!target.dtype().isInteger()) {
            throw ctx.fail(ctx.def().inputName(1) + " must be an integer tensor");
        }
        List<Dim> expected = new ArrayList<>();
        expected.add(in.shape().dim(0));
        for (int k = 2; k < in.rank(); k++) {
            expected.add(in.shape().dim(k));
        }
        requireCompatible(ctx, 1, new Shape(expected));
        if (ctx.hasInput(2)) {
            if (ctx.inputDtype(2) != in.dtype()) {
                throw ctx.fail(ctx.def().inputName(2) + " must have the element type of " + ctx.def().inputName(0));
            }
            requireCompatible(ctx, 2, Shape.of(in.shape().dim(1)));
        }
        return new TensorType(in.dtype(), reduction(ctx).equals("none") ? new Shape(expected) : Shape.SCALAR);
    }

    private static void requireCompatible(ShapeContext ctx, int i, Shape expected) {
        Shape actual = ctx.inputShape(i);
        boolean ok = actual.rank() == expected.rank();
        for (int k = 0; ok && k < actual.rank(); k++) {
            ok = actual.dim(k).equals(expected.dim(k)) || !actual.dim(k).isStatic() || !expected.dim(k).isStatic();
        }
        if (!ok) {
            throw ctx.fail(ctx.def().inputName(i) + " must have shape " + expected + " but has " + actual);
        }
    }

    private static String reduction(NodeContext ctx) {
        String r = ctx.attrString("reduction");
        if (!r.equals("none") && !r.equals("sum") && !r.equals("mean")) {
            throw ctx.fail("reduction must be none, sum or mean but is '" + r + "'");
        }
        return r;
    }

    // ---- reference semantics ----

    private static List<Tensor> softmaxCrossEntropy(EvalContext ctx) {
        Tensor scores = ctx.input(0);
        int[] shape = scores.shape();
        int n = shape[0];
        int c = shape[1];
        int inner = 1;
        for (int k = 2; k < shape.length; k++) {
            inner *= shape[k];
        }
        double[] x = scores.doubles();
        double[] logProb = new double[x.length];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < inner; j++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int k = 0; k < c; k++) {
                    max = Math.max(max, x[(i * c + k) * inner + j]);
                }
                double sum = 0;
                for (int k = 0; k < c; k++) {
                    sum += Math.exp(x[(i * c + k) * inner + j] - max);
                }
                double logSum = Math.log(sum);
                for (int k = 0; k < c; k++) {
                    int at = (i * c + k) * inner + j;
                    logProb[at] = x[at] - max - logSum;
                }
            }
        }
        Tensor loss = nll(ctx, logProb, shape);
        if (ctx.outputCount() < 2) {
            return List.of(loss);
        }
        return List.of(loss, Tensor.wrapDoubles(scores.dtype(), shape, logProb));
    }

    /**
     * Negative log-likelihood of {@code logProb} (shape (N, C, d1..dk)) at the labels of input 1, weighted by
     * the optional input 2, and reduced. The mean divides by the sum of the samples' weights (1 each without
     * weights), so ignored samples count in neither the numerator nor the denominator.
     */
    private static Tensor nll(EvalContext ctx, double[] logProb, int[] shape) {
        Tensor target = ctx.input(1);
        int n = shape[0];
        int c = shape[1];
        int inner = 1;
        for (int k = 2; k < shape.length; k++) {
            inner *= shape[k];
        }
        int[] lossShape = target.shape();
        if (lossShape.length != shape.length - 1 || lossShape[0] != n
                || !Arrays.equals(Arrays.copyOfRange(lossShape, 1, lossShape.length),
                        Arrays.copyOfRange(shape, 2, shape.length))) {
            throw ctx.fail(ctx.def().inputName(1) + " shape " + target.type() + " does not match "
                    + Arrays.toString(shape));
        }
        double[] weight = null;
        if (ctx.hasInput(2)) {
            Tensor w = ctx.input(2);
            if (w.rank() != 1 || w.dim(0) != c) {
                throw ctx.fail(ctx.def().inputName(2) + " must have shape [" + c + "] but has " + w.type());
            }
            weight = w.doubles();
        }
        boolean hasIgnore = ctx.isSet("ignore_index");
        long ignore = hasIgnore ? ctx.attrInt("ignore_index") : 0;
        double[] loss = new double[n * inner];
        double lossSum = 0;
        double weightSum = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < inner; j++) {
                long label = target.getLong(i * inner + j);
                if (hasIgnore && label == ignore) {
                    continue;
                }
                if (label < 0 || label >= c) {
                    throw ctx.fail(ctx.def().inputName(1) + " value " + label + " at sample " + (i * inner + j)
                            + " is outside [0, " + c + ")" + (hasIgnore ? " and is not ignore_index " + ignore : ""));
                }
                double w = weight == null ? 1 : weight[(int) label];
                loss[i * inner + j] = -logProb[(i * c + (int) label) * inner + j] * w;
                lossSum += loss[i * inner + j];
                weightSum += w;
            }
        }
        DType dtype = ctx.input(0).dtype();
        return switch (reduction(ctx)) {
            case "none" -> Tensor.wrapDoubles(dtype, lossShape, loss);
            case "sum" -> Tensor.wrapDoubles(dtype, new int[0], new double[] {lossSum});
            default -> Tensor.wrapDoubles(dtype, new int[0], new double[] {lossSum / weightSum});
        };
    }
}
