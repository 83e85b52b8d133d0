package dev.kiln.ir.ops;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.Dim;
import dev.kiln.ir.GradContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;

/**
 * Gradient rules of LayerNormalization, InstanceNormalization, GroupNormalization and RMSNormalization, from ONNX
 * ops. The first three normalize x over a set of axes D: with mean m, inv = 1/sqrt(var + eps) and xhat = (x - m)
 * inv per group, {@code dX = inv (dxhat - mean_D(dxhat) - xhat mean_D(dxhat xhat))} where dxhat = g scale;
 * RMSNormalization is the same without the centring. The statistics are recomputed from x in x's type (as the
 * reference forward computes them), not read from stashed outputs.
 */
final class NormalizationGrads {
    private NormalizationGrads() {}

    /** The per-group statistics of x over {@code axes}, kept as size-1 dims so they broadcast against x. */
    private record Moments(Value inv, Value xhat, Value axes) {}

    private static Moments moments(GradContext ctx, Value x, long[] axes, float epsilon) {
        Value axesValue = ctx.constant(Tensor.ofInt64s(axes));
        Value mean = meanOver(ctx, x, axesValue);
        Value centered = ctx.emit("Sub", x, mean);
        Value var = meanOver(ctx, ctx.emit("Mul", centered, centered), axesValue);
        Value inv = ctx.emit("Reciprocal", ctx.emit("Sqrt", ctx.emit("Add", var, ctx.scalar(epsilon, var))));
        return new Moments(inv, ctx.emit("Mul", centered, inv), axesValue);
    }

    private static Value meanOver(GradContext ctx, Value v, Value axes) {
        return ctx.emit("ReduceMean", Attributes.builder().i("keepdims", 1).build(), v, axes);
    }

    /** dX = inv (dxhat - mean(dxhat) - xhat mean(dxhat xhat)): the gradient through the normalization itself. */
    private static Value throughNormalization(GradContext ctx, Moments m, Value dxhat) {
        Value centeredGrad = ctx.emit("Sub", dxhat, meanOver(ctx, dxhat, m.axes()));
        Value projection = ctx.emit("Mul", m.xhat(), meanOver(ctx, ctx.emit("Mul", dxhat, m.xhat()), m.axes()));
        return ctx.emit("Mul", m.inv(), ctx.emit("Sub", centeredGrad, projection));
    }

    /**
     * LayerNormalization(X, Scale, B) -> Y, Mean, InvStdDev over axes [axis, rank): dScale = sum_to(g xhat, Scale),
     * dB = sum_to(g, B), dX through the normalization; a gradient reaching Mean adds g_m / |D| and one reaching
     * InvStdDev adds -g_s inv^2 xhat / |D| (d inv / d x = -inv^3 (x - m) / |D|).
     */
    static void layerNormalization(GradContext ctx) {
        Value x = ctx.input(0);
        int rank = x.shape().rank();
        int axis = x.shape().axis(ctx.attrInt("axis"));
        long[] axes = new long[rank - axis];
        for (int k = axis; k < rank; k++) {
            axes[k - axis] = k;
        }
        Moments m = moments(ctx, x, axes, ctx.attrFloat("epsilon"));
        Value g = ctx.outputGrad(0);
        Value scale = ctx.input(1);
        if (ctx.needsGrad(1)) {
            // Only Y depends on Scale and B: with no gradient reaching Y theirs is zero.
            ctx.setInputGrad(1, g.isAbsent() ? ctx.zerosLike(scale) : ctx.sumToShape(ctx.emit("Mul", g, m.xhat()), scale));
        }
        if (ctx.hasInput(2) && ctx.needsGrad(2)) {
            ctx.setInputGrad(2, g.isAbsent() ? ctx.zerosLike(ctx.input(2)) : ctx.sumToShape(g, ctx.input(2)));
        }
        if (!ctx.needsGrad(0)) {
            return;
        }
        Value dx = g.isAbsent() ? null : throughNormalization(ctx, m, ctx.emit("Mul", g, ctx.input(1)));
        Value gMean = statisticGrad(ctx, 1, x);
        Value gInv = statisticGrad(ctx, 2, x);
        if (gMean != null || gInv != null) {
            Value count = ctx.scalar(1, x);
            Dim cells = Dim.of(1);
            for (long a : axes) {
                cells = cells.times(x.shape().dim((int) a));
            }
            if (cells.isStatic()) {
                count = ctx.scalar(cells.value(), x);
            } else {
                Attributes cast = Attributes.builder().i("to", x.dtype().onnxCode()).build();
                count = ctx.emit("Div", ctx.emit("Cast", cast, ctx.emit("Size", x)),
                        ctx.emit("Cast", cast, ctx.emit("Size", m.inv())));
            }
            if (gMean != null) {
                dx = plus(ctx, dx, ctx.emit("Expand", ctx.emit("Div", gMean, count), ctx.shapeOf(x)));
            }
            if (gInv != null) {
                Value factor = ctx.emit("Div", ctx.emit("Mul", gInv, ctx.emit("Mul", m.inv(), m.inv())), count);
                dx = plus(ctx, dx, ctx.emit("Neg", ctx.emit("Mul", factor, m.xhat())));
            }
        }
        if (dx != null) {
            ctx.setInputGrad(0, dx);
        }
    }

    /**
     * RMSNormalization: with inv = 1/sqrt(mean_D(x^2) + eps) and xhat = x inv, {@code dX = inv (dxhat - xhat
     * mean_D(dxhat xhat))} where dxhat = g scale (the layer-norm rule without the centring terms), and dscale the
     * sum of g xhat over the broadcast dims.
     */
    static void rmsNormalization(GradContext ctx) {
        Value g = ctx.outputGrad(0);
        Value x = ctx.input(0);
        Value scale = ctx.input(1);
        if (g.isAbsent()) {
            if (ctx.needsGrad(1)) {
                ctx.setInputGrad(1, ctx.zerosLike(scale));
            }
            return;
        }
        int rank = x.shape().rank();
        int axis = x.shape().axis(ctx.attrInt("axis"));
        long[] axes = new long[rank - axis];
        for (int k = axis; k < rank; k++) {
            axes[k - axis] = k;
        }
        Value axesValue = ctx.constant(Tensor.ofInt64s(axes));
        Value meanSquare = meanOver(ctx, ctx.emit("Mul", x, x), axesValue);
        Value inv = ctx.emit("Reciprocal",
                ctx.emit("Sqrt", ctx.emit("Add", meanSquare, ctx.scalar(ctx.attrFloat("epsilon"), meanSquare))));
        Value xhat = ctx.emit("Mul", x, inv);
        if (ctx.needsGrad(1)) {
            ctx.setInputGrad(1, ctx.sumToShape(ctx.emit("Mul", g, xhat), scale));
        }
        if (ctx.needsGrad(0)) {
            Value dxhat = ctx.emit("Mul", g, scale);
            Value projection = ctx.emit("Mul", xhat, meanOver(ctx, ctx.emit("Mul", dxhat, xhat), axesValue));
            ctx.setInputGrad(0, ctx.emit("Mul", inv, ctx.emit("Sub", dxhat, projection)));
        }
    }

    /** The gradient reaching statistic output i, in x's type; null when none does. */
    private static Value statisticGrad(GradContext ctx, int output, Value x) {
        if (output >= ctx.outputCount()) {
            return null;
        }
        Value g = ctx.outputGrad(output);
        if (g.isAbsent()) {
            return null;
        }
        return g.dtype() == x.dtype() ? g
                : ctx.emit("Cast", Attributes.builder().i("to", x.dtype().onnxCode()).build(), g);
    }

    private static Value plus(GradContext ctx, Value sum, Value term) {
        return sum == null ? term : ctx.emit("Add", sum, term);
    }

    /** InstanceNormalization(X, scale, B) over the spatial axes 2..: per-channel dScale and dB summed over N and cells. */
    static void instanceNormalization(GradContext ctx) {
        Value x = ctx.input(0);
        Value g = ctx.outputGrad(0);
        int rank = x.shape().rank();
        long[] spatial = new long[rank - 2];
        for (int k = 2; k < rank; k++) {
            spatial[k - 2] = k;
        }
        Moments m = moments(ctx, x, spatial, ctx.attrFloat("epsilon"));
        long[] allButChannel = allButChannel(rank);
        if (ctx.needsGrad(1)) {
            ctx.setInputGrad(1, ctx.reduceSum(ctx.emit("Mul", g, m.xhat()), allButChannel, false));
        }
        if (ctx.needsGrad(2)) {
            ctx.setInputGrad(2, ctx.reduceSum(g, allButChannel, false));
        }
        if (ctx.needsGrad(0)) {
            ctx.setInputGrad(0, throughNormalization(ctx, m, ctx.emit("Mul", g, perChannel(ctx, ctx.input(1), rank))));
        }
    }

    /**
     * GroupNormalization(X, scale, bias) (opset 21: per-channel scale and bias): X [N, C, D...] viewed as
     * [N, G, C/G * cells] is normalized over its last axis; dScale and dBias as for InstanceNormalization.
     */
    static void groupNormalization(GradContext ctx) {
        Value x = ctx.input(0);
        Value g = ctx.outputGrad(0);
        int rank = x.shape().rank();
        long groups = ctx.attrInt("num_groups");
        Value grouped = ctx.emit("Reshape", x, ctx.constant(Tensor.ofInt64s(0, groups, -1)));
        Moments m = moments(ctx, grouped, new long[] {2}, ctx.attrFloat("epsilon"));
        long[] allButChannel = allButChannel(rank);
        if (ctx.needsGrad(1)) {
            Value xhat = ctx.emit("Reshape", m.xhat(), ctx.shapeOf(x));
            ctx.setInputGrad(1, ctx.reduceSum(ctx.emit("Mul", g, xhat), allButChannel, false));
        }
        if (ctx.needsGrad(2)) {
            ctx.setInputGrad(2, ctx.reduceSum(g, allButChannel, false));
        }
        if (ctx.needsGrad(0)) {
            Value dxhat = ctx.emit("Mul", g, perChannel(ctx, ctx.input(1), rank));
            Value groupedGrad = ctx.emit("Reshape", dxhat, ctx.constant(Tensor.ofInt64s(0, groups, -1)));
            ctx.setInputGrad(0, ctx.emit("Reshape", throughNormalization(ctx, m, groupedGrad), ctx.shapeOf(x)));
        }
    }

    private static long[] allButChannel(int rank) {
        long[] axes = new long[rank - 1];
        for (int i = 1; i < axes.length; i++) {
            axes[i] = i + 1;
        }
        return axes;
    }

    /** A per-channel vector [C] as [C, 1, ...], broadcasting over [N, C, D...]. */
    private static Value perChannel(GradContext ctx, Value v, int rank) {
        if (rank == 2) {
            return v;
        }
        long[] axes = new long[rank - 2];
        for (int i = 0; i < axes.length; i++) {
            axes[i] = i + 1;
        }
        return ctx.emit("Unsqueeze", v, ctx.constant(Tensor.ofInt64s(axes)));
    }
}
