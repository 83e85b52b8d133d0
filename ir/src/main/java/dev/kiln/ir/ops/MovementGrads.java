package dev.kiln.ir.ops;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.GradContext;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;

/**
 * Gradient rules of ops that copy or repeat elements: Expand, Tile and constant-mode Pad. Each gradient is the
 * adjoint copy: repeated elements sum their gradients, dropped ones get none, padding gets none.
 */
final class MovementGrads {
    private MovementGrads() {}

    /** Y = Expand(X, shape) broadcasts X: dX = sum_to(g, X). */
    static void expand(GradContext ctx) {
        if (ctx.needsGrad(0)) {
            ctx.setInputGrad(0, ctx.sumToShape(ctx.outputGrad(0), ctx.input(0)));
        }
    }

    /**
     * Y = Tile(X, repeats): along axis k output index r * d_k + i reads X's index i, so g reshaped to
     * [repeats_0, d_0, repeats_1, d_1, ...] and summed over the repeat axes (0, 2, 4, ...) is dX. Needs constant
     * repeats and at most one symbolic dim of X (it becomes the reshape's -1).
     */
    static void tile(GradContext ctx) {
        if (!ctx.needsGrad(0)) {
            return;
        }
        Value x = ctx.input(0);
        long[] reps = ctx.constantValue(ctx.input(1)).map(Tensor::toLongArray)
                .orElseThrow(() -> ctx.unsupported("the gradient of Tile with non-constant repeats"));
        Shape s = x.shape();
        int r = s.rank();
        long[] interleaved = new long[2 * r];
        long[] repeatAxes = new long[r];
        boolean symbolic = false;
        for (int k = 0; k < r; k++) {
            Dim d = s.dim(k);
            interleaved[2 * k] = reps[k];
            if (d.isStatic()) {
                interleaved[2 * k + 1] = d.value();
            } else if (!symbolic) {
                symbolic = true;
                interleaved[2 * k + 1] = -1;
            } else {
                throw ctx.unsupported("the gradient of Tile on " + x.type() + ", with more than one symbolic dim");
            }
            repeatAxes[k] = 2 * k;
        }
        if (r == 0) {
            ctx.setInputGrad(0, ctx.outputGrad(0));
            return;
        }
        Value split = ctx.emit("Reshape", ctx.outputGrad(0), ctx.constant(Tensor.ofInt64s(interleaved)));
        ctx.setInputGrad(0, ctx.reduceSum(split, repeatAxes, false));
    }

    /**
     * Y = Pad(X, pads, value, axes) in constant mode: dX = Pad(g, -pads, axes), which crops what was padded and
     * zero-fills what negative pads cropped. The constant value is declared non-differentiable.
     */
    static void pad(GradContext ctx) {
        if (!ctx.needsGrad(0)) {
            return;
        }
        String mode = ctx.attrString("mode");
        if (!mode.equals("constant")) {
            throw ctx.unsupported("the gradient of Pad in " + mode + " mode (constant mode only)");
        }
        Value pads = ctx.input(1);
        Value negated = ctx.constantValue(pads).map(t -> {
            long[] p = t.toLongArray();
            long[] n = new long[p.length];
            for (int i = 0; i < p.length; i++) {
                n[i] = -p[i];
            }
            return ctx.constant(Tensor.wrapLongs(DType.INT64, t.shape(), n));
        }).orElseGet(() -> ctx.emit("Neg", pads));
        Value axes = ctx.hasInput(3) ? ctx.input(3) : Value.ABSENT;
        Attributes constant = Attributes.builder().s("mode", "constant").build();
        Value dx = axes.isAbsent()
                ? ctx.emit("Pad", constant, ctx.outputGrad(0), negated)
                : ctx.emit("Pad", constant, ctx.outputGrad(0), negated, Value.ABSENT, axes);
        ctx.setInputGrad(0, dx);
    }
}
