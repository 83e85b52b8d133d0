package dev.kiln.ir.ops;

import dev.kiln.ir.EvalContext;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.Tensor;

/** Row-major index arithmetic shared by the data-movement evaluators: strides, (un)ravelling, axis checks. */
final class Indexing {
    private Indexing() {}

    /** Row-major strides of {@code shape} (the last dim has stride 1). */
    static int[] strides(int[] shape) {
        int[] s = new int[shape.length];
        int stride = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            s[i] = stride;
            stride *= shape[i];
        }
        return s;
    }

    /** Writes the multi-index of flat index {@code flat} in {@code shape} into {@code out}. */
    static void unravel(int flat, int[] shape, int[] out) {
        for (int i = shape.length - 1; i >= 0; i--) {
            out[i] = shape[i] == 0 ? 0 : flat % shape[i];
            flat = shape[i] == 0 ? 0 : flat / shape[i];
        }
    }

    /** The flat index of multi-index {@code idx} with {@code strides}. */
    static int ravel(int[] idx, int[] strides) {
        int f = 0;
        for (int i = 0; i < idx.length; i++) {
            f += idx[i] * strides[i];
        }
        return f;
    }

    /** Product of {@code shape[from..to)}. */
    static int product(int[] shape, int from, int to) {
        int p = 1;
        for (int i = from; i < to; i++) {
            p *= shape[i];
        }
        return p;
    }

    /** Normalizes axis in [-rank, rank) to [0, rank), failing with the node named. */
    static int axis(NodeContext ctx, long axis, int rank) {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) {
            throw ctx.fail("axis " + axis + " is out of range for rank " + rank);
        }
        return (int) a;
    }

    /** Normalizes a list of axes against {@code rank}, failing on duplicates. */
    static int[] axes(NodeContext ctx, long[] axes, int rank) {
        int[] out = new int[axes.length];
        boolean[] seen = new boolean[rank];
        for (int i = 0; i < axes.length; i++) {
            out[i] = axis(ctx, axes[i], rank);
            if (seen[out[i]]) {
                throw ctx.fail("axis " + axes[i] + " is repeated");
            }
            seen[out[i]] = true;
        }
        return out;
    }

    /** An index into a dim of size {@code n}, negative counting from the end; fails when out of range. */
    static int index(NodeContext ctx, long i, int n) {
        long j = i < 0 ? i + n : i;
        if (j < 0 || j >= n) {
            throw ctx.fail("index " + i + " is out of bounds for a dim of size " + n);
        }
        return (int) j;
    }

    /** The elements of integer input i of an evaluation as longs. */
    static long[] longs(EvalContext ctx, int i) {
        Tensor t = ctx.input(i);
        if (!t.dtype().isInteger()) {
            throw ctx.fail("input " + ctx.def().inputName(i) + " must be an integer tensor");
        }
        return t.longs();
    }

    /** Saturating conversion to int for clamped slice bounds. */
    static int clampToInt(long v) {
        return (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, v));
    }
}
