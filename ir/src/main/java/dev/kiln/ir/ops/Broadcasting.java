package dev.kiln.ir.ops;

import dev.kiln.ir.Dim;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeContext;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** Numpy-style multidirectional broadcasting, for symbolic shapes (shape rules) and concrete ones (evaluators). */
public final class Broadcasting {
    private Broadcasting() {}

    /** The broadcast of several symbolic shapes, or a {@link ShapeContext#fail} when they are incompatible. */
    public static Shape shape(ShapeContext ctx, List<Shape> shapes) {
        int rank = shapes.stream().mapToInt(Shape::rank).max().orElse(0);
        List<Dim> out = new ArrayList<>();
        for (int i = 0; i < rank; i++) {
            Dim result = Dim.of(1);
            for (Shape s : shapes) {
                int j = i - (rank - s.rank());
                if (j < 0) {
                    continue;
                }
                Optional<Dim> merged = merge(result, s.dim(j));
                if (merged.isEmpty()) {
                    throw ctx.fail("shapes " + shapes + " cannot be broadcast (axis " + i + ")");
                }
                result = merged.get();
            }
            out.add(result);
        }
        return new Shape(out);
    }

    /** Shape of input 0 broadcast with input 1 (and further inputs when present). */
    public static Shape inputs(ShapeContext ctx) {
        List<Shape> shapes = new ArrayList<>();
        for (int i = 0; i < ctx.inputCount(); i++) {
            if (ctx.hasInput(i)) {
                shapes.add(ctx.inputShape(i));
            }
        }
        return shape(ctx, shapes);
    }

    private static Optional<Dim> merge(Dim a, Dim b) {
        if (a.equals(b)) {
            return Optional.of(a);
        }
        if (a.isStatic() && a.value() == 1) {
            return Optional.of(b);
        }
        if (b.isStatic() && b.value() == 1) {
            return Optional.of(a);
        }
        if (a.isStatic() && b.isStatic()) {
            return Optional.empty();
        }
        // A symbolic dim meeting a static one >1 must equal it (or be 1) at run time.
        if (a.isStatic()) {
            return Optional.of(a);
        }
        if (b.isStatic()) {
            return Optional.of(b);
        }
        return Optional.of(Dim.unknown());
    }

    /** The broadcast of concrete shapes; throws {@link IllegalArgumentException} if incompatible. */
    public static int[] shape(int[]... shapes) {
        int rank = Arrays.stream(shapes).mapToInt(s -> s.length).max().orElse(0);
        int[] out = new int[rank];
        Arrays.fill(out, 1);
        for (int[] s : shapes) {
            for (int j = 0; j < s.length; j++) {
                int i = j + rank - s.length;
                if (s[j] == out[i] || s[j] == 1) {
                    continue;
                }
                if (out[i] != 1) {
                    throw new IllegalArgumentException("shapes " + Arrays.deepToString(shapes) + " cannot be broadcast");
                }
                out[i] = s[j];
            }
        }
        return out;
    }

    /**
     * For each flat index of {@code outShape}, the flat index of the element of a tensor of shape
     * {@code inShape} that broadcasts to it.
     */
    public static int[] indexMap(int[] outShape, int[] inShape) {
        int n = dev.kiln.ir.Tensor.sizeOf(outShape);
        int[] map = new int[n];
        int rank = outShape.length;
        int[] inStrides = new int[rank];
        int stride = 1;
        for (int j = inShape.length - 1; j >= 0; j--) {
            int i = j + rank - inShape.length;
            inStrides[i] = inShape[j] == 1 ? 0 : stride;
            stride *= inShape[j];
        }
        int[] idx = new int[rank];
        int flat = 0;
        for (int k = 0; k < n; k++) {
            map[k] = flat;
            for (int d = rank - 1; d >= 0; d--) {
                idx[d]++;
                flat += inStrides[d];
                if (idx[d] < outShape[d]) {
                    break;
                }
                flat -= inStrides[d] * idx[d];
                idx[d] = 0;
            }
        }
        return map;
    }
}
