package dev.kiln.runtime;

import java.util.Arrays;

/**
 * Reductions whose axes generated code reads at run time (ONNX Reduce* with axes fed as a graph input): resolves
 * the axes values into a mask of reduced axes, checks that they give the output shape the code was compiled for,
 * and lays out, for the static input shape, where each output element's group of input elements starts and the
 * offsets of a group's members. Nothing here allocates unless it throws.
 */
public final class ReduceAxes {
    private ReduceAxes() {}

    /**
     * Marks in {@code reduced} the axes that {@code axes[offset .. offset + count)} select for an input of shape
     * {@code inShape}, as ONNX defines it: negative axes count from the end; no axes reduce every axis, or none
     * with {@code noopWithEmptyAxes}. Returns false when nothing is reduced because of {@code noopWithEmptyAxes}:
     * {@link #layout} then gives groups of one element, which the reduction still folds (ONNX's reference applies
     * the per-element function, e.g. squares for ReduceSumSquare, rather than returning the input).
     *
     * @param node the node as messages name it ({@code node 'r' (ReduceSum)})
     * @param input the name of the axes input
     * @param compiledShape the output shape the generated code was compiled for
     * @throws IllegalArgumentException naming the node, the input, its values, the compiled shape and the shape
     *     the values give, when an axis is out of range, listed twice, or the shapes differ
     */
    public static boolean resolve(String node, String input, long[] axes, int offset, int count, int[] inShape,
                                  boolean keepdims, boolean noopWithEmptyAxes, int[] compiledShape, boolean[] reduced) {
        int rank = inShape.length;
        Arrays.fill(reduced, count == 0 && !noopWithEmptyAxes);
        for (int k = 0; k < count; k++) {
            long a = axes[offset + k];
            if (a < -rank || a >= rank) {
                throw new IllegalArgumentException(node + ": input '" + input + "' = " + values(axes, offset, count)
                        + " has axis " + a + ", out of range for rank " + rank);
            }
            int d = (int) (a < 0 ? a + rank : a);
            if (reduced[d]) {
                throw new IllegalArgumentException(node + ": input '" + input + "' = " + values(axes, offset, count)
                        + " lists axis " + a + " twice");
            }
            reduced[d] = true;
        }
        if (!matches(inShape, reduced, keepdims, compiledShape)) {
            throw new IllegalArgumentException(node + ": input '" + input + "' = " + values(axes, offset, count)
                    + " gives output shape " + Arrays.toString(outputShape(inShape, reduced, keepdims))
                    + ", but the code was compiled for " + Arrays.toString(compiledShape));
        }
        return count > 0 || !noopWithEmptyAxes;
    }

    /** True when reducing {@code inShape} over {@code reduced} gives {@code expected} (without allocating). */
    private static boolean matches(int[] inShape, boolean[] reduced, boolean keepdims, int[] expected) {
        int j = 0;
        for (int d = 0; d < inShape.length; d++) {
            if (reduced[d] && !keepdims) {
                continue;
            }
            if (j >= expected.length || expected[j] != (reduced[d] ? 1 : inShape[d])) {
                return false;
            }
            j++;
        }
        return j == expected.length;
    }

    /** The shape of the result of reducing {@code inShape} over the axes marked in {@code reduced}. */
    public static int[] outputShape(int[] inShape, boolean[] reduced, boolean keepdims) {
        int rank = 0;
        for (int d = 0; d < inShape.length; d++) {
            rank += reduced[d] && !keepdims ? 0 : 1;
        }
        int[] out = new int[rank];
        for (int d = 0, j = 0; d < inShape.length; d++) {
            if (!reduced[d]) {
                out[j++] = inShape[d];
            } else if (keepdims) {
                out[j++] = 1;
            }
        }
        return out;
    }

    /**
     * Lays out the reduction of a row-major input of shape {@code inShape} over the axes marked in {@code reduced}:
     * {@code groupStart[g]} is the input offset of the first element of output element g's group (output elements
     * in row-major order of the kept axes), {@code members[m]} the offset of member m from its group's start
     * (row-major over the reduced axes). Returns the group size, the number of members; {@code groupStart} needs
     * the product of the kept dims and {@code members} that of the reduced dims.
     */
    public static int layout(int[] inShape, boolean[] reduced, int[] groupStart, int[] members) {
        fill(inShape, reduced, false, groupStart);
        return fill(inShape, reduced, true, members);
    }

    /**
     * Writes into {@code offsets}, in row-major order, the input offsets of every index over the axes whose mark
     * is {@code which} (the other axes at 0); returns how many.
     */
    private static int fill(int[] shape, boolean[] reduced, boolean which, int[] offsets) {
        int count = 1;
        for (int d = 0; d < shape.length; d++) {
            if (reduced[d] == which) {
                count *= shape[d];
            }
        }
        if (count == 0) {
            return 0;
        }
        offsets[0] = 0;
        int filled = 1;
        int stride = 1;
        // From the innermost axis out: each selected axis repeats what is filled so far once per further position,
        // so the outer axis varies slowest (row-major).
        for (int d = shape.length - 1; d >= 0; d--) {
            if (reduced[d] == which && shape[d] != 1) {
                int block = filled;
                for (int i = 1; i < shape[d]; i++) {
                    for (int k = 0; k < block; k++) {
                        offsets[filled++] = offsets[k] + i * stride;
                    }
                }
            }
            stride *= shape[d];
        }
        return count;
    }

    private static String values(long[] axes, int offset, int count) {
        return Arrays.toString(Arrays.copyOfRange(axes, offset, offset + count));
    }
}
