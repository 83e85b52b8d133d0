package dev.kiln.ir.ops;

import dev.kiln.ir.Attr;
import dev.kiln.ir.AttrType;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Normalizations: BatchNormalization (inference and training mode), InstanceNormalization, LayerNormalization,
 * RMSNormalization, GroupNormalization, LRN, LpNormalization and MeanVarianceNormalization. Statistics are population moments
 * accumulated in double over the groups {@link #groupIndex} assigns.
 */
public final class NormalizationOps {
    private NormalizationOps() {}

    public static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("BatchNormalization").since(15)
                .doc("Per-channel (axis 1) normalization with given statistics, or batch statistics in training mode.")
                .inputs("X", "scale", "B", "input_mean", "input_var").outputs("Y", "running_mean?", "running_var?")
                .nonDifferentiable("input_mean", "input_var")
                .attrFloat("epsilon", 1e-5f, "added to the variance before the square root")
                .attrFloat("momentum", 0.9f, "training mode: running = input * momentum + batch * (1 - momentum)")
                .attrInt("training_mode", 0, "1 normalizes with the batch's statistics and updates the running ones")
                .properties(OpProperty.TRAINING_AWARE)
                .shape(NormalizationOps::batchNormShape)
                .eval(NormalizationOps::batchNorm)
                .grad(NnGradRules::batchNormalization)
                .build());

        r.add(OpDef.builder("InstanceNormalization").since(6)
                .doc("Normalizes each (n, c) plane of X [N,C,D...] over its spatial cells, then scale[c] and B[c].")
                .inputs("input", "scale", "B").outputs("output")
                .attrFloat("epsilon", 1e-5f, "added to the variance before the square root")
                .shape(ctx -> {
                    requireChannelInput(ctx, 3);
                    checkPerChannel(ctx, 1, "scale");
                    checkPerChannel(ctx, 2, "B");
                    return Pointwise.sameAsInput(ctx);
                })
                .eval(ctx -> List.of(instanceNorm(ctx)))
                .grad(NormalizationGrads::instanceNormalization)
                .build());

        r.add(OpDef.builder("LayerNormalization").since(17)
                .doc("Normalizes X over axes [axis, rank), then Scale and B broadcast over those axes.")
                .inputs("X", "Scale", "B?").outputs("Y", "Mean?", "InvStdDev?")
                .attrInt("axis", -1, "first normalized axis")
                .attrFloat("epsilon", 1e-5f, "added to the variance before the square root")
                .attrInt("stash_type", 1, "ONNX element type of the statistics (Mean, InvStdDev outputs)")
                .shape(NormalizationOps::layerNormShape)
                .eval(NormalizationOps::layerNorm)
                .grad(NormalizationGrads::layerNormalization)
                .build());

        r.add(OpDef.builder("RMSNormalization").since(23)
                .doc("Divides X by the root mean square of its values over axes [axis, rank) (+ epsilon under the root), "
                        + "then multiplies by scale broadcast over those axes.")
                .inputs("X", "scale").outputs("Y")
                .attrInt("axis", -1, "first normalized axis")
                .attrFloat("epsilon", 1e-5f, "added to the mean square before the square root")
                .attrInt("stash_type", 1, "ONNX element type in which the mean square is computed")
                .shape(ctx -> {
                    Pointwise.requireFloat(ctx, 0);
                    stashType(ctx);
                    checkNormalizedParams(ctx, axisOf(ctx, ctx.inputShape(0).rank()));
                    return Pointwise.sameAsInput(ctx);
                })
                .eval(ctx -> List.of(rmsNorm(ctx)))
                .grad(NormalizationGrads::rmsNormalization)
                .build());

        r.add(OpDef.builder("GroupNormalization").since(21)
                .doc("Normalizes X [N,C,D...] over groups of C/num_groups channels, then per-channel scale and bias.")
                .inputs("X", "scale", "bias").outputs("Y")
                .attrFloat("epsilon", 1e-5f, "added to the variance before the square root")
                .requiredAttr("num_groups", AttrType.INT, "number of channel groups; must divide C")
                .attrInt("stash_type", 1, "ONNX element type in which the statistics are computed")
                .shape(ctx -> {
                    requireChannelInput(ctx, 2);
                    long groups = ctx.attrInt("num_groups");
                    Dim c = ctx.inputShape(0).dim(1);
                    if (groups < 1 || (c.isStatic() && c.value() % groups != 0)) {
                        throw ctx.fail("num_groups=" + groups + " must be positive and divide the " + c + " channels");
                    }
                    checkPerChannel(ctx, 1, "scale");
                    checkPerChannel(ctx, 2, "bias");
                    return Pointwise.sameAsInput(ctx);
                })
                .eval(ctx -> List.of(groupNorm(ctx)))
                .grad(NormalizationGrads::groupNormalization)
                .build());

        r.add(OpDef.builder("LRN").since(13)
                .doc("Local response normalization across `size` neighbouring channels of X [N,C,D...].")
                .inputs("X").outputs("Y")
                .attrFloat("alpha", 1e-4f, "scale of the sum of squares")
                .attrFloat("beta", 0.75f, "exponent")
                .attrFloat("bias", 1.0f, "added to the scaled sum of squares")
                .requiredAttr("size", AttrType.INT, "number of channels summed over")
                .shape(ctx -> {
                    requireChannelInput(ctx, 2);
                    if (ctx.attrInt("size") < 1) {
                        throw ctx.fail("size must be positive but is " + ctx.attrInt("size"));
                    }
                    return Pointwise.sameAsInput(ctx);
                })
                .eval(ctx -> List.of(lrn(ctx)))
                .build());

        r.add(OpDef.builder("LpNormalization").since(1)
                .doc("Divides X by its L1 or L2 norm along axis.")
                .inputs("input").outputs("output")
                .attrInt("axis", -1, "the axis along which norms are taken")
                .attrInt("p", 2, "the norm: 1 or 2")
                .shape(ctx -> {
                    Pointwise.requireFloat(ctx, 0);
                    axisOf(ctx, ctx.inputShape(0).rank());
                    long p = ctx.attrInt("p");
                    if (p != 1 && p != 2) {
                        throw ctx.fail("p must be 1 or 2 but is " + p);
                    }
                    return Pointwise.sameAsInput(ctx);
                })
                .eval(ctx -> List.of(lpNorm(ctx)))
                .build());

        r.add(OpDef.builder("MeanVarianceNormalization").since(13)
                .doc("(X - mean) / (sqrt(variance) + 1e-9), moments taken over axes.")
                .inputs("X").outputs("Y")
                .attr("axes", AttrType.INTS, Attr.Ints.of(0, 2, 3), "axes the moments are taken over")
                .shape(ctx -> {
                    Pointwise.requireFloat(ctx, 0);
                    reducedAxes(ctx, ctx.inputShape(0).rank());
                    return Pointwise.sameAsInput(ctx);
                })
                .eval(ctx -> List.of(meanVarianceNorm(ctx)))
                .build());
    }

    // ---- shared pieces ----

    private static void requireChannelInput(ShapeContext ctx, int minRank) {
        Pointwise.requireFloat(ctx, 0);
        if (ctx.inputShape(0).rank() < minRank) {
            throw ctx.fail("X must be N x C x ... (rank >= " + minRank + ") but has rank " + ctx.inputShape(0).rank());
        }
    }

    /** Input i must be a vector with one entry per channel of X. */
    private static void checkPerChannel(ShapeContext ctx, int i, String name) {
        Shape s = ctx.inputShape(i);
        Dim c = ctx.inputShape(0).dim(1);
        if (!ctx.inputDtype(i).isFloat()) {
            throw ctx.fail(name + " must be a floating type");
        }
        if (s.rank() != 1 || (s.dim(0).isStatic() && c.isStatic() && s.dim(0).value() != c.value())) {
            throw ctx.fail(name + " must be a vector of the " + c + " channels of X but has shape " + s);
        }
    }

    private static int axisOf(NodeContext ctx, int rank) {
        long axis = ctx.attrInt("axis");
        if (axis < -rank || axis >= rank) {
            throw ctx.fail("axis " + axis + " is out of range for rank " + rank);
        }
        return (int) (axis < 0 ? axis + rank : axis);
    }

    private static boolean[] reducedAxes(NodeContext ctx, int rank) {
        boolean[] reduced = new boolean[rank];
        for (long a : ctx.attrInts("axes")) {
            if (a < -rank || a >= rank) {
                throw ctx.fail("axis " + a + " in axes is out of range for rank " + rank);
            }
            reduced[(int) (a < 0 ? a + rank : a)] = true;
        }
        return reduced;
    }

    /**
     * For each element of a tensor of {@code shape}, the index of its group: the flat index of its position
     * with the {@code reduced} axes dropped. Groups are then the sets statistics are taken over.
     */
    static int[] groupIndex(int[] shape, boolean[] reduced) {
        int[] kept = shape.clone();
        for (int d = 0; d < kept.length; d++) {
            if (reduced[d]) {
                kept[d] = 1;
            }
        }
        return Broadcasting.indexMap(shape, kept);
    }

    /** Mean and population variance of each group: {@code {mean[], var[]}}. */
    static double[][] moments(double[] x, int[] group, int groups) {
        double[] sum = new double[groups];
        int[] count = new int[groups];
        for (int i = 0; i < x.length; i++) {
            sum[group[i]] += x[i];
            count[group[i]]++;
        }
        double[] mean = new double[groups];
        for (int g = 0; g < groups; g++) {
            mean[g] = sum[g] / count[g];
        }
        double[] sq = new double[groups];
        for (int i = 0; i < x.length; i++) {
            double d = x[i] - mean[group[i]];
            sq[group[i]] += d * d;
        }
        double[] var = new double[groups];
        for (int g = 0; g < groups; g++) {
            var[g] = sq[g] / count[g];
        }
        return new double[][] {mean, var};
    }

    private static int channelSize(int[] shape) {
        int cells = 1;
        for (int d = 2; d < shape.length; d++) {
            cells *= shape[d];
        }
        return cells;
    }

    // ---- BatchNormalization ----

    private static List<TensorType> batchNormShape(ShapeContext ctx) {
        requireChannelInput(ctx, 2);
        checkPerChannel(ctx, 1, "scale");
        checkPerChannel(ctx, 2, "B");
        checkPerChannel(ctx, 3, "input_mean");
        checkPerChannel(ctx, 4, "input_var");
        if (ctx.inputDtype(4) != ctx.inputDtype(3)) {
            throw ctx.fail("input_mean and input_var must have the same element type");
        }
        TensorType stats = ctx.inputType(3);
        List<TensorType> out = new ArrayList<>(List.of(ctx.inputType(0), stats, stats));
        return out.subList(0, Math.max(1, Math.min(3, ctx.outputCount())));
    }

    private static List<Tensor> batchNorm(EvalContext ctx) {
        Tensor xt = ctx.input(0);
        int[] xs = xt.shape();
        int c = xs[1];
        int cells = channelSize(xs);
        double[] x = xt.doubles();
        double[] scale = ctx.input(1).doubles();
        double[] bias = ctx.input(2).doubles();
        double[] inputMean = ctx.input(3).doubles();
        double[] inputVar = ctx.input(4).doubles();
        double eps = ctx.attrFloat("epsilon");
        boolean training = ctx.attrInt("training_mode") != 0;
        double[] mean = inputMean;
        double[] var = inputVar;
        double[] runningMean = inputMean.clone();
        double[] runningVar = inputVar.clone();
        if (training) {
            boolean[] reduced = new boolean[xs.length];
            Arrays.fill(reduced, true);
            reduced[1] = false;
            double[][] m = moments(x, groupIndex(xs, reduced), c);
            mean = m[0];
            var = m[1];
            double momentum = ctx.attrFloat("momentum");
            for (int ch = 0; ch < c; ch++) {
                runningMean[ch] = inputMean[ch] * momentum + mean[ch] * (1 - momentum);
                runningVar[ch] = inputVar[ch] * momentum + var[ch] * (1 - momentum);
            }
        }
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            int ch = (i / cells) % c;
            y[i] = (x[i] - mean[ch]) / Math.sqrt(var[ch] + eps) * scale[ch] + bias[ch];
        }
        DType statsType = ctx.input(3).dtype();
        List<Tensor> out = new ArrayList<>();
        out.add(Tensor.wrapDoubles(xt.dtype(), xs, y));
        out.add(Tensor.wrapDoubles(statsType, new int[] {c}, runningMean));
        out.add(Tensor.wrapDoubles(statsType, new int[] {c}, runningVar));
        return out.subList(0, Math.max(1, Math.min(3, ctx.outputCount())));
    }

    // ---- InstanceNormalization ----

    private static Tensor instanceNorm(EvalContext ctx) {
        Tensor xt = ctx.input(0);
        int[] xs = xt.shape();
        int c = xs[1];
        int cells = channelSize(xs);
        double[] x = xt.doubles();
        double[] scale = ctx.input(1).doubles();
        double[] bias = ctx.input(2).doubles();
        double eps = ctx.attrFloat("epsilon");
        boolean[] reduced = new boolean[xs.length];
        for (int d = 2; d < xs.length; d++) {
            reduced[d] = true;
        }
        double[][] m = moments(x, groupIndex(xs, reduced), xs[0] * c);
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            int plane = i / cells;
            int ch = plane % c;
            y[i] = (x[i] - m[0][plane]) / Math.sqrt(m[1][plane] + eps) * scale[ch] + bias[ch];
        }
        return Tensor.wrapDoubles(xt.dtype(), xs, y);
    }

    // ---- LayerNormalization ----

    private static DType stashType(NodeContext ctx) {
        long code = ctx.attrInt("stash_type");
        DType t;
        try {
            t = DType.fromOnnx((int) code);
        } catch (RuntimeException e) {
            throw ctx.fail("stash_type " + code + " is not an ONNX element type");
        }
        if (!t.isFloat()) {
            throw ctx.fail("stash_type must be a floating type but is " + t);
        }
        return t;
    }

    private static List<TensorType> layerNormShape(ShapeContext ctx) {
        Pointwise.requireFloat(ctx, 0);
        Shape x = ctx.inputShape(0);
        int axis = axisOf(ctx, x.rank());
        checkNormalizedParams(ctx, axis);
        List<Dim> statsDims = new ArrayList<>(x.dims().subList(0, axis));
        for (int d = axis; d < x.rank(); d++) {
            statsDims.add(Dim.of(1));
        }
        TensorType stats = new TensorType(stashType(ctx), new Shape(statsDims));
        return List.of(ctx.inputType(0), stats, stats);
    }

    /** Every input after X (scale, bias) must broadcast to X's dims from {@code axis} on, without widening them. */
    private static void checkNormalizedParams(ShapeContext ctx, int axis) {
        Shape x = ctx.inputShape(0);
        Shape normalized = new Shape(x.dims().subList(axis, x.rank()));
        for (int i = 1; i < ctx.inputCount(); i++) {
            if (!ctx.hasInput(i)) {
                continue;
            }
            Shape s = ctx.inputShape(i);
            Shape merged = Broadcasting.shape(ctx, List.of(normalized, s));
            if (s.rank() > normalized.rank() || !merged.mayEqual(normalized)) {
                throw ctx.fail(ctx.def().inputName(i) + " of shape " + s + " does not broadcast to the normalized dims "
                        + normalized + " (axis=" + axis + ")");
            }
        }
    }

    private static List<Tensor> layerNorm(EvalContext ctx) {
        Tensor xt = ctx.input(0);
        int[] xs = xt.shape();
        int axis = axisOf(ctx, xs.length);
        int[] normShape = Arrays.copyOfRange(xs, axis, xs.length);
        int inner = Tensor.sizeOf(normShape);
        int outer = xt.size() / Math.max(inner, 1);
        double[] x = xt.doubles();
        double eps = ctx.attrFloat("epsilon");
        int[] scaleIndex = Broadcasting.indexMap(normShape, ctx.input(1).shape());
        double[] scale = ctx.input(1).doubles();
        double[] bias = ctx.hasInput(2) ? ctx.input(2).doubles() : null;
        int[] biasIndex = ctx.hasInput(2) ? Broadcasting.indexMap(normShape, ctx.input(2).shape()) : null;
        boolean[] reduced = new boolean[xs.length];
        for (int d = axis; d < xs.length; d++) {
            reduced[d] = true;
        }
        double[][] m = moments(x, groupIndex(xs, reduced), outer);
        double[] invStd = new double[outer];
        for (int g = 0; g < outer; g++) {
            invStd[g] = 1 / Math.sqrt(m[1][g] + eps);
        }
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            int g = i / inner;
            int j = i % inner;
            double v = (x[i] - m[0][g]) * invStd[g] * scale[scaleIndex[j]];
            y[i] = bias == null ? v : v + bias[biasIndex[j]];
        }
        int[] statsShape = xs.clone();
        for (int d = axis; d < xs.length; d++) {
            statsShape[d] = 1;
        }
        DType stash = stashType(ctx);
        return List.of(Tensor.wrapDoubles(xt.dtype(), xs, y), Tensor.wrapDoubles(stash, statsShape, m[0]),
                Tensor.wrapDoubles(stash, statsShape, invStd));
    }

    // ---- RMSNormalization ----

    private static Tensor rmsNorm(EvalContext ctx) {
        Tensor xt = ctx.input(0);
        int[] xs = xt.shape();
        int axis = axisOf(ctx, xs.length);
        int[] normShape = Arrays.copyOfRange(xs, axis, xs.length);
        int inner = Tensor.sizeOf(normShape);
        double[] x = xt.doubles();
        double[] scale = ctx.input(1).doubles();
        int[] scaleIndex = Broadcasting.indexMap(normShape, ctx.input(1).shape());
        double eps = ctx.attrFloat("epsilon");
        double[] y = new double[x.length];
        for (int base = 0; base < x.length; base += inner) {
            double squares = 0;
            for (int j = 0; j < inner; j++) {
                squares += x[base + j] * x[base + j];
            }
            double inv = 1 / Math.sqrt(squares / inner + eps);
            for (int j = 0; j < inner; j++) {
                y[base + j] = x[base + j] * inv * scale[scaleIndex[j]];
            }
        }
        return Tensor.wrapDoubles(xt.dtype(), xs, y);
    }

    // ---- GroupNormalization ----

    private static Tensor groupNorm(EvalContext ctx) {
        Tensor xt = ctx.input(0);
        int[] xs = xt.shape();
        int n = xs[0];
        int c = xs[1];
        int groups = Math.toIntExact(ctx.attrInt("num_groups"));
        if (groups < 1 || c % groups != 0) {
            throw ctx.fail("num_groups=" + groups + " must be positive and divide the " + c + " channels");
        }
        int cells = channelSize(xs);
        int groupSize = c / groups * cells;
        double[] x = xt.doubles();
        double[] scale = ctx.input(1).doubles();
        double[] bias = ctx.input(2).doubles();
        double eps = ctx.attrFloat("epsilon");
        // Elements of one (n, group) are contiguous: the group index is the flat index over [N, G, C/G * cells].
        double[][] m = moments(x, groupIndex(new int[] {n, groups, groupSize}, new boolean[] {false, false, true}),
                n * groups);
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            int g = i / groupSize;
            int ch = (i / cells) % c;
            y[i] = (x[i] - m[0][g]) / Math.sqrt(m[1][g] + eps) * scale[ch] + bias[ch];
        }
        return Tensor.wrapDoubles(xt.dtype(), xs, y);
    }

    // ---- LRN ----

    private static Tensor lrn(EvalContext ctx) {
        Tensor xt = ctx.input(0);
        int[] xs = xt.shape();
        int c = xs[1];
        int cells = channelSize(xs);
        int size = Math.toIntExact(ctx.attrInt("size"));
        double alpha = ctx.attrFloat("alpha");
        double beta = ctx.attrFloat("beta");
        double bias = ctx.attrFloat("bias");
        int below = (size - 1) / 2;
        int above = size - 1 - below;
        double[] x = xt.doubles();
        double[] y = new double[x.length];
        for (int ni = 0; ni < xs[0]; ni++) {
            for (int ch = 0; ch < c; ch++) {
                for (int cell = 0; cell < cells; cell++) {
                    double squares = 0;
                    for (int j = Math.max(0, ch - below); j <= Math.min(c - 1, ch + above); j++) {
                        double v = x[(ni * c + j) * cells + cell];
                        squares += v * v;
                    }
                    int i = (ni * c + ch) * cells + cell;
                    y[i] = x[i] / Math.pow(bias + alpha / size * squares, beta);
                }
            }
        }
        return Tensor.wrapDoubles(xt.dtype(), xs, y);
    }

    // ---- LpNormalization ----

    private static Tensor lpNorm(EvalContext ctx) {
        Tensor xt = ctx.input(0);
        int[] xs = xt.shape();
        boolean[] reduced = new boolean[xs.length];
        reduced[axisOf(ctx, xs.length)] = true;
        int[] group = groupIndex(xs, reduced);
        int groups = xs.length == 0 ? 1 : xt.size() / Math.max(1, xs[axisOf(ctx, xs.length)]);
        long p = ctx.attrInt("p");
        double[] x = xt.doubles();
        double[] norm = new double[groups];
        for (int i = 0; i < x.length; i++) {
            norm[group[i]] += p == 1 ? Math.abs(x[i]) : x[i] * x[i];
        }
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double nrm = p == 1 ? norm[group[i]] : Math.sqrt(norm[group[i]]);
            // An all-zero slice stays zero (ONNX's reference divides by 1 there, not by 0).
            y[i] = nrm == 0 ? x[i] : x[i] / nrm;
        }
        return Tensor.wrapDoubles(xt.dtype(), xs, y);
    }

    // ---- MeanVarianceNormalization ----

    private static Tensor meanVarianceNorm(EvalContext ctx) {
        Tensor xt = ctx.input(0);
        int[] xs = xt.shape();
        boolean[] reduced = reducedAxes(ctx, xs.length);
        int groups = 1;
        for (int d = 0; d < xs.length; d++) {
            if (!reduced[d]) {
                groups *= xs[d];
            }
        }
        int[] group = groupIndex(xs, reduced);
        double[] x = xt.doubles();
        double[][] m = moments(x, group, groups);
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = (x[i] - m[0][group[i]]) / (Math.sqrt(m[1][group[i]]) + 1e-9);
        }
        return Tensor.wrapDoubles(xt.dtype(), xs, y);
    }
}
