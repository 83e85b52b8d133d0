package dev.kiln.ir.ops;

import dev.kiln.ir.Dim;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reads small integer "shape tensors" (Reshape/Expand/Tile targets, Shape outputs and what is built from them)
 * as dims during shape inference, so symbolic dims such as the batch {@code N} survive
 * {@code Shape -> Gather -> Concat -> Reshape} chains.
 *
 * <p>A shape tensor may hold the value -1 (Reshape's "infer this dim"), which no {@link Dim} can be. Within
 * symbolic tracking it is written as the marker {@link #INFER}: an unknown-prefixed symbol, so any consumer
 * that does not know the marker sees an unknown dim (a safe over-approximation), and Reshape, which does know
 * it, reads it back as -1.
 */
final class ShapeValues {
    private ShapeValues() {}

    /** Stands for the element value -1 in tracked shape tensors. */
    static final Dim INFER = Dim.sym(Dim.UNKNOWN_PREFIX + "minus1");

    /**
     * The elements of 0-D/1-D integer input i as dims, -1 as {@link #INFER}; empty when not known or when an
     * element is another negative value.
     */
    static Optional<List<Dim>> withMarkers(ShapeContext ctx, int i) {
        if (!ctx.hasInput(i)) {
            return Optional.empty();
        }
        Optional<Tensor> c = ctx.constant(i);
        if (c.isPresent()) {
            Tensor t = c.get();
            if (!t.isPlain() || t.rank() > 1 || !t.dtype().isInteger()) {
                return Optional.empty();
            }
            List<Dim> dims = new ArrayList<>();
            for (long v : t.longs()) {
                if (v == -1) {
                    dims.add(INFER);
                } else if (v < 0) {
                    return Optional.empty();
                } else {
                    dims.add(Dim.of(v));
                }
            }
            return Optional.of(dims);
        }
        return ctx.dimsValue(i);
    }

    /** The elements of input i as dims when known and none is the -1 marker (for Expand, Tile, ConstantOfShape...). */
    static Optional<List<Dim>> dims(ShapeContext ctx, int i) {
        return withMarkers(ctx, i).filter(d -> !d.contains(INFER));
    }

    /**
     * The number of elements of 1-D input i (a shape or repeats tensor), which must be static since it is the
     * rank of a result.
     */
    static int length(ShapeContext ctx, int i) {
        var shape = ctx.inputShape(i);
        if (shape.rank() != 1) {
            throw ctx.fail("input " + ctx.def().inputName(i) + " must be 1-D");
        }
        if (!shape.dim(0).isStatic()) {
            throw ctx.unsupported("a shape input " + ctx.def().inputName(i) + " of unknown length");
        }
        return Math.toIntExact(shape.dim(0).value());
    }

    /** {@code n} fresh unknown dims. */
    static List<Dim> unknowns(int n) {
        List<Dim> out = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            out.add(Dim.unknown());
        }
        return out;
    }

    /** A constant integer input's elements, if constant. */
    static Optional<long[]> longs(ShapeContext ctx, int i) {
        return ctx.constant(i).filter(t -> t.dtype().isInteger()).map(Tensor::toLongArray);
    }
}
