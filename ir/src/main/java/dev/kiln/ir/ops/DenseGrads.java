package dev.kiln.ir.ops;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.Dim;
import dev.kiln.ir.GradContext;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Gradient rules of dense, elementwise, shape and loss ops, attached to their declarations with
 * {@code .grad(DenseGrads::gemm)}. Each comment gives the rule in math; {@code g} is the output's gradient.
 */
final class DenseGrads {
    private DenseGrads() {}

    // ---- elementwise with broadcasting ----

    /** dA = sum_to(g, A), dB = sum_to(g, B). */
    static void add(GradContext ctx) {
        Value g = ctx.outputGrad(0);
        set(ctx, 0, () -> ctx.sumToShape(g, ctx.input(0)));
        set(ctx, 1, () -> ctx.sumToShape(g, ctx.input(1)));
    }

    /** dA = sum_to(g, A), dB = sum_to(-g, B). */
    static void sub(GradContext ctx) {
        Value g = ctx.outputGrad(0);
        set(ctx, 0, () -> ctx.sumToShape(g, ctx.input(0)));
        set(ctx, 1, () -> ctx.sumToShape(ctx.emit("Neg", g), ctx.input(1)));
    }

    /** dA = sum_to(g * B, A), dB = sum_to(g * A, B). */
    static void mul(GradContext ctx) {
        Value g = ctx.outputGrad(0);
        set(ctx, 0, () -> ctx.sumToShape(ctx.emit("Mul", g, ctx.input(1)), ctx.input(0)));
        set(ctx, 1, () -> ctx.sumToShape(ctx.emit("Mul", g, ctx.input(0)), ctx.input(1)));
    }

    /** dA = sum_to(g / B, A), dB = sum_to(-g * Y / B, B) (Y = A / B). */
    static void div(GradContext ctx) {
        Value g = ctx.outputGrad(0);
        Value b = ctx.input(1);
        set(ctx, 0, () -> ctx.sumToShape(ctx.emit("Div", g, b), ctx.input(0)));
        set(ctx, 1, () -> ctx.sumToShape(
                ctx.emit("Neg", ctx.emit("Div", ctx.emit("Mul", g, ctx.output(0)), b)), b));
    }

    /** dX = -g. */
    static void neg(GradContext ctx) {
        set(ctx, 0, () -> ctx.emit("Neg", ctx.outputGrad(0)));
    }

    /** dX = g * Y (Y = e^X). */
    static void exp(GradContext ctx) {
        set(ctx, 0, () -> ctx.emit("Mul", ctx.outputGrad(0), ctx.output(0)));
    }

    /** dX = g / X. */
    static void log(GradContext ctx) {
        set(ctx, 0, () -> ctx.emit("Div", ctx.outputGrad(0), ctx.input(0)));
    }

    /** dX = g / (2 Y) (Y = sqrt(X)). */
    static void sqrt(GradContext ctx) {
        set(ctx, 0, () -> ctx.emit("Div", ctx.outputGrad(0),
                ctx.emit("Mul", ctx.output(0), ctx.scalar(2, ctx.output(0)))));
    }

    /** dX = sum_to(g * E * X^(E-1), X); dE = sum_to(g * Y * ln X, E) (Y = X^E). */
    static void pow(GradContext ctx) {
        Value g = ctx.outputGrad(0);
        Value x = ctx.input(0);
        Value e = ctx.input(1);
        set(ctx, 0, () -> {
            Value exponent;
            Value exponentLess;
            var constant = ctx.constantValue(e);
            if (constant.isPresent()) {
                Tensor c = constant.get();
                double[] v = c.toDoubleArray();
                double[] less = new double[v.length];
                for (int i = 0; i < v.length; i++) {
                    less[i] = v[i] - 1;
                }
                exponent = ctx.constant(Tensor.wrapDoubles(x.dtype(), c.shape(), v));
                exponentLess = ctx.constant(Tensor.wrapDoubles(x.dtype(), c.shape(), less));
            } else if (e.dtype() == x.dtype()) {
                exponent = e;
                exponentLess = ctx.emit("Sub", e, ctx.scalar(1, e));
            } else {
                throw ctx.unsupported("the gradient of Pow with a non-constant exponent of another type");
            }
            Value slope = ctx.emit("Mul", exponent, ctx.emit("Pow", x, exponentLess));
            return ctx.sumToShape(ctx.emit("Mul", g, slope), x);
        });
        set(ctx, 1, () -> {
            if (e.dtype() != x.dtype()) {
                throw ctx.unsupported("the gradient of Pow's exponent of another type than the base");
            }
            return ctx.sumToShape(ctx.emit("Mul", g, ctx.emit("Mul", ctx.output(0), ctx.emit("Log", x))), e);
        });
    }

    // ---- activations ----

    /** dX = ReluGrad(g, Y). */
    static void relu(GradContext ctx) {
        set(ctx, 0, () -> ctx.emitKiln("ReluGrad", Attributes.EMPTY, ctx.outputGrad(0), ctx.output(0)));
    }

    /** dX = LeakyReluGrad(g, X){alpha}. */
    static void leakyRelu(GradContext ctx) {
        Attributes alpha = Attributes.builder().f("alpha", ctx.attrFloat("alpha")).build();
        set(ctx, 0, () -> ctx.emitKiln("LeakyReluGrad", alpha, ctx.outputGrad(0), ctx.input(0)));
    }

    /** dX = SigmoidGrad(g, Y) = g * Y * (1 - Y). */
    static void sigmoid(GradContext ctx) {
        set(ctx, 0, () -> ctx.emitKiln("SigmoidGrad", Attributes.EMPTY, ctx.outputGrad(0), ctx.output(0)));
    }

    /** dX = TanhGrad(g, Y) = g * (1 - Y^2). */
    static void tanh(GradContext ctx) {
        set(ctx, 0, () -> ctx.emitKiln("TanhGrad", Attributes.EMPTY, ctx.outputGrad(0), ctx.output(0)));
    }

    // ---- linear algebra ----

    /**
     * Y = alpha A'B' + beta C: dA = alpha g B'^T (transposed back when transA), dB = alpha A'^T g (transposed back
     * when transB), each one Gemm with transpose flags; dC = sum_to(beta g, C).
     */
    static void gemm(GradContext ctx) {
        Value g = ctx.outputGrad(0);
        float alpha = ctx.attrFloat("alpha");
        float beta = ctx.attrFloat("beta");
        boolean transA = ctx.attrInt("transA") != 0;
        boolean transB = ctx.attrInt("transB") != 0;
        Value a = ctx.input(0);
        Value b = ctx.input(1);
        set(ctx, 0, () -> transA
                ? gemm(ctx, b, g, alpha, transB, true)      // dA = alpha (g B'^T)^T = alpha B' g^T
                : gemm(ctx, g, b, alpha, false, !transB));  // dA = alpha g B'^T
        set(ctx, 1, () -> transB
                ? gemm(ctx, g, a, alpha, true, transA)      // dB = alpha (A'^T g)^T = alpha g^T A'
                : gemm(ctx, a, g, alpha, !transA, false));  // dB = alpha A'^T g
        set(ctx, 2, () -> {
            Value scaled = beta == 1f ? g : ctx.emit("Mul", g, ctx.scalar(beta, g));
            return ctx.sumToShape(scaled, ctx.input(2));
        });
    }

    private static Value gemm(GradContext ctx, Value a, Value b, float alpha, boolean transA, boolean transB) {
        Attributes.Builder attrs = Attributes.builder();
        if (alpha != 1f) {
            attrs.f("alpha", alpha);
        }
        if (transA) {
            attrs.i("transA", 1);
        }
        if (transB) {
            attrs.i("transB", 1);
        }
        return ctx.emit("Gemm", attrs.build(), a, b);
    }

    /**
     * Y = A @ B (numpy.matmul): dA = sum_to(g @ B^T, A), dB = sum_to(A^T @ g, B) over the last two axes, with 1-D
     * operands promoted as the forward promotes them; two 2-D operands take one Gemm each.
     */
    static void matMul(GradContext ctx) {
        Value g = ctx.outputGrad(0);
        Value a = ctx.input(0);
        Value b = ctx.input(1);
        if (a.shape().rank() == 2 && b.shape().rank() == 2) {
            set(ctx, 0, () -> gemm(ctx, g, b, 1f, false, true));
            set(ctx, 1, () -> gemm(ctx, a, g, 1f, true, false));
            return;
        }
        boolean vectorA = a.shape().rank() == 1;
        boolean vectorB = b.shape().rank() == 1;
        Value a2 = vectorA ? unsqueeze(ctx, a, 0) : a;
        Value b2 = vectorB ? unsqueeze(ctx, b, 1) : b;
        Value g2 = g;
        if (vectorB) {
            g2 = unsqueeze(ctx, g2, g2.shape().rank());
        }
        if (vectorA) {
            g2 = unsqueeze(ctx, g2, g2.shape().rank() - 1);
        }
        Value gm = g2;
        set(ctx, 0, () -> {
            Value d = ctx.sumToShape(ctx.emit("MatMul", gm, swapLast(ctx, b2)), a2);
            return vectorA ? squeeze(ctx, d, 0) : d;
        });
        set(ctx, 1, () -> {
            Value d = ctx.sumToShape(ctx.emit("MatMul", swapLast(ctx, a2), gm), b2);
            return vectorB ? squeeze(ctx, d, 1) : d;
        });
    }

    private static Value swapLast(GradContext ctx, Value v) {
        int r = v.shape().rank();
        long[] perm = new long[r];
        for (int k = 0; k < r; k++) {
            perm[k] = k;
        }
        perm[r - 2] = r - 1;
        perm[r - 1] = r - 2;
        return ctx.emit("Transpose", Attributes.builder().ints("perm", perm).build(), v);
    }

    private static Value unsqueeze(GradContext ctx, Value v, long axis) {
        return ctx.emit("Unsqueeze", v, ctx.constant(Tensor.ofInt64s(axis)));
    }

    private static Value squeeze(GradContext ctx, Value v, long axis) {
        return ctx.emit("Squeeze", v, ctx.constant(Tensor.ofInt64s(axis)));
    }

    // ---- shape and data movement ----

    /** dX = g. */
    static void identity(GradContext ctx) {
        set(ctx, 0, () -> ctx.outputGrad(0));
    }

    /** Reshape, Flatten, Squeeze, Unsqueeze move no element: dX = Reshape(g, shape(X)). */
    static void reshapeBack(GradContext ctx) {
        set(ctx, 0, () -> ctx.emit("Reshape", ctx.outputGrad(0), ctx.shapeOf(ctx.input(0))));
    }

    /** dX = Transpose(g, perm^-1). */
    static void transpose(GradContext ctx) {
        int r = ctx.input(0).shape().rank();
        long[] perm = ctx.optInts("perm").orElseGet(() -> {
            long[] reversed = new long[r];
            for (int k = 0; k < r; k++) {
                reversed[k] = r - 1 - k;
            }
            return reversed;
        });
        long[] inverse = new long[r];
        for (int k = 0; k < r; k++) {
            inverse[(int) perm[k]] = k;
        }
        set(ctx, 0, () -> ctx.emit("Transpose", Attributes.builder().ints("perm", inverse).build(), ctx.outputGrad(0)));
    }

    /** Y = Concat(X0, X1, ...) along axis: (dX0, dX1, ...) = Split(g, sizes) along axis. */
    static void concat(GradContext ctx) {
        int n = ctx.inputCount();
        int axis = ctx.output(0).shape().axis(ctx.attrInt("axis"));
        long[] sizes = new long[n];
        for (int i = 0; i < n; i++) {
            Dim d = ctx.input(i).shape().dim(axis);
            if (!d.isStatic()) {
                throw ctx.unsupported("the gradient of Concat along an axis of symbolic size " + d);
            }
            sizes[i] = d.value();
        }
        List<Value> parts = ctx.emitMulti("", "Split", Attributes.builder().i("axis", axis).build(), n,
                ctx.outputGrad(0), ctx.constant(Tensor.ofInt64s(sizes)));
        for (int i = 0; i < n; i++) {
            int k = i;
            set(ctx, i, () -> parts.get(k));
        }
    }

    /** (Y0, Y1, ...) = Split(X) along axis: dX = Concat(g0, g1, ...) with zeros for outputs without a gradient. */
    static void split(GradContext ctx) {
        int axis = ctx.input(0).shape().axis(ctx.attrInt("axis"));
        Value[] parts = new Value[ctx.outputCount()];
        for (int i = 0; i < parts.length; i++) {
            Value gi = ctx.outputGrad(i);
            parts[i] = gi.isAbsent() ? ctx.zerosLike(ctx.output(i)) : gi;
        }
        set(ctx, 0, () -> ctx.emit("Concat", Attributes.builder().i("axis", axis).build(), parts));
    }

    /** Y = X[starts:ends] with unit steps: dX = Pad(g) with zeros where X was cut off (constant bounds, static dims). */
    static void slice(GradContext ctx) {
        Value x = ctx.input(0);
        Shape s = x.shape();
        int r = s.rank();
        long[] starts = constantLongs(ctx, 1, "starts");
        long[] ends = constantLongs(ctx, 2, "ends");
        long[] axes = ctx.hasInput(3) ? constantLongs(ctx, 3, "axes") : null;
        long[] steps = ctx.hasInput(4) ? constantLongs(ctx, 4, "steps") : null;
        long[] pads = new long[2 * r];
        for (int k = 0; k < starts.length; k++) {
            int axis = s.axis(axes == null ? k : axes[k]);
            if (steps != null && steps[k] != 1) {
                throw ctx.unsupported("the gradient of Slice with step " + steps[k]);
            }
            Dim d = s.dim(axis);
            if (!d.isStatic()) {
                throw ctx.unsupported("the gradient of Slice along an axis of symbolic size " + d);
            }
            long dim = d.value();
            long start = clamp(starts[k] < 0 ? starts[k] + dim : starts[k], dim);
            long end = clamp(ends[k] < 0 ? ends[k] + dim : ends[k], dim);
            pads[axis] = start;
            pads[r + axis] = dim - Math.max(start, end);
        }
        set(ctx, 0, () -> ctx.emit("Pad", ctx.outputGrad(0), ctx.constant(Tensor.ofInt64s(pads))));
    }

    private static long clamp(long v, long dim) {
        return Math.max(0, Math.min(dim, v));
    }

    private static long[] constantLongs(GradContext ctx, int i, String what) {
        return ctx.constantValue(ctx.input(i)).map(Tensor::toLongArray).orElseThrow(
                () -> ctx.unsupported("the gradient of " + ctx.def().name() + " with non-constant " + what));
    }

    // ---- reductions ----

    /** Y = ReduceSum(X, axes): dX = Expand(g with the reduced axes restored, shape(X)). */
    static void reduceSum(GradContext ctx) {
        set(ctx, 0, () -> spreadOverReduced(ctx));
    }

    /** Y = ReduceMean(X, axes): dX = Expand(g, shape(X)) / (number of elements averaged). */
    static void reduceMean(GradContext ctx) {
        set(ctx, 0, () -> {
            Value spread = spreadOverReduced(ctx);
            Value x = ctx.input(0);
            Dim count = Dim.of(1);
            long[] axes = reducedAxes(ctx);
            for (long a : axes) {
                count = count.times(x.shape().dim((int) a));
            }
            if (count.isStatic()) {
                return ctx.emit("Div", spread, ctx.scalar(count.value(), x));
            }
            Attributes cast = Attributes.builder().i("to", x.dtype().onnxCode()).build();
            Value all = ctx.emit("Cast", cast, ctx.emit("Size", x));
            Value kept = ctx.emit("Cast", cast, ctx.emit("Size", ctx.output(0)));
            return ctx.emit("Div", spread, ctx.emit("Div", all, kept));
        });
    }

    private static Value spreadOverReduced(GradContext ctx) {
        Value g = ctx.outputGrad(0);
        Value x = ctx.input(0);
        long[] axes = reducedAxes(ctx);
        if (ctx.attrInt("keepdims") == 0 && axes.length > 0) {
            g = ctx.emit("Unsqueeze", g, ctx.constant(Tensor.ofInt64s(axes)));
        }
        return ctx.emit("Expand", g, ctx.shapeOf(x));
    }

    /** The reduced axes, normalized and sorted (all axes when none are given, unless that is a no-op). */
    static long[] reducedAxes(GradContext ctx) {
        int r = ctx.input(0).shape().rank();
        if (ctx.hasInput(1)) {
            long[] raw = constantLongs(ctx, 1, "axes");
            if (raw.length > 0) {
                long[] axes = new long[raw.length];
                for (int k = 0; k < raw.length; k++) {
                    axes[k] = Shape.normalizeAxis(raw[k], r);
                }
                Arrays.sort(axes);
                return axes;
            }
        }
        if (ctx.attrInt("noop_with_empty_axes") != 0) {
            return new long[0];
        }
        long[] all = new long[r];
        for (int k = 0; k < r; k++) {
            all[k] = k;
        }
        return all;
    }

    // ---- losses ----

    /** dScores = SoftmaxCrossEntropyLossGrad(g, scores, labels, weights?) with the forward's reduction and ignore_index. */
    static void softmaxCrossEntropyLoss(GradContext ctx) {
        if (!ctx.outputGrad(1).isAbsent()) {
            throw ctx.unsupported("the gradient through SoftmaxCrossEntropyLoss's log_prob output");
        }
        lossGrad(ctx, "SoftmaxCrossEntropyLossGrad");
    }

    /** dInput = NegativeLogLikelihoodLossGrad(g, input, target, weight?) with the forward's reduction and ignore_index. */
    static void negativeLogLikelihoodLoss(GradContext ctx) {
        lossGrad(ctx, "NegativeLogLikelihoodLossGrad");
    }

    private static void lossGrad(GradContext ctx, String op) {
        if (ctx.needsGrad(2)) {
            throw ctx.unsupported("training the class weights of " + ctx.def().name());
        }
        List<Value> in = new ArrayList<>(List.of(ctx.outputGrad(0), ctx.input(0), ctx.input(1)));
        if (ctx.hasInput(2)) {
            in.add(ctx.input(2));
        }
        set(ctx, 0, () -> ctx.emitKiln(op, ctx.attributes(), in.toArray(Value[]::new)));
    }

    // ----

    /** Builds and hands over input i's gradient only when it is needed (so unneeded nodes are never emitted). */
    private static void set(GradContext ctx, int i, java.util.function.Supplier<Value> grad) {
        if (ctx.needsGrad(i)) {
            ctx.setInputGrad(i, grad.get());
        }
    }
}
