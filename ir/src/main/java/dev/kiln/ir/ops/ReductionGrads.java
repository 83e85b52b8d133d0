package dev.kiln.ir.ops;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.GradContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;

/**
 * Gradient rules of the reductions beyond ReduceSum/ReduceMean ({@link DenseGrads}): ReduceMax, ReduceMin,
 * ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum, ReduceLogSumExp. The output and its gradient are first given
 * back the reduced axes (size 1) so that they broadcast against the input; {@code g} and {@code y} below are those.
 * A reduction that is the identity ({@code noop_with_empty_axes} without axes) passes the gradient through.
 */
final class ReductionGrads {
    private ReductionGrads() {}

    /** A rule in terms of x and the kept-rank y and g. */
    private interface KeptRule {
        Value apply(GradContext ctx, Value x, Value y, Value g);
    }

    /**
     * ReduceMax/ReduceMin: dX = g [x == y] / #{x == y over the reduced axes}: ties share the gradient evenly, as
     * torch.amax/amin (torch.max along a dim instead picks one index).
     */
    static void extremum(GradContext ctx) {
        apply(ctx, (c, x, y, g) -> {
            Value hit = c.emit("Where", c.emit("Equal", x, y), c.scalar(1, x), c.scalar(0, x));
            Value count = c.emit("ReduceSum", Attributes.builder().i("keepdims", 1).build(), hit,
                    axes(c));
            return c.emit("Mul", hit, c.emit("Div", g, count));
        });
    }

    /** y = sum |x|: dX = g sign(x). */
    static void l1(GradContext ctx) {
        apply(ctx, (c, x, y, g) -> c.emit("Mul", g, c.emit("Sign", x)));
    }

    /** y = sqrt(sum x^2): dX = g x / y, and 0 where y = 0 (as torch's norm backward). */
    static void l2(GradContext ctx) {
        apply(ctx, (c, x, y, g) -> {
            Value zero = c.scalar(0, x);
            Value safe = c.emit("Where", c.emit("Equal", y, zero), zero, c.emit("Div", g, y));
            return c.emit("Mul", x, safe);
        });
    }

    /** y = sum x^2: dX = 2 g x. */
    static void sumSquare(GradContext ctx) {
        apply(ctx, (c, x, y, g) -> c.emit("Mul", x, c.emit("Mul", g, c.scalar(2, x))));
    }

    /** y = log(sum x): dX = g / e^y (= g / sum x). */
    static void logSum(GradContext ctx) {
        apply(ctx, (c, x, y, g) -> c.emit("Expand", c.emit("Div", g, c.emit("Exp", y)), c.shapeOf(x)));
    }

    /** y = log(sum e^x): dX = g e^(x - y), the softmax over the reduced axes. */
    static void logSumExp(GradContext ctx) {
        apply(ctx, (c, x, y, g) -> c.emit("Mul", g, c.emit("Exp", c.emit("Sub", x, y))));
    }

    private static void apply(GradContext ctx, KeptRule rule) {
        if (!ctx.needsGrad(0)) {
            return;
        }
        long[] axes = DenseGrads.reducedAxes(ctx);
        if (axes.length == 0) {
            ctx.setInputGrad(0, ctx.outputGrad(0));
            return;
        }
        Value y = kept(ctx, ctx.output(0), axes);
        Value g = kept(ctx, ctx.outputGrad(0), axes);
        ctx.setInputGrad(0, rule.apply(ctx, ctx.input(0), y, g));
    }

    /** {@code v} with the reduced axes restored as size-1 dims (already so with keepdims=1). */
    private static Value kept(GradContext ctx, Value v, long[] axes) {
        if (ctx.attrInt("keepdims") != 0) {
            return v;
        }
        return ctx.emit("Unsqueeze", v, ctx.constant(Tensor.ofInt64s(axes)));
    }

    private static Value axes(GradContext ctx) {
        return ctx.constant(Tensor.ofInt64s(DenseGrads.reducedAxes(ctx)));
    }
}
