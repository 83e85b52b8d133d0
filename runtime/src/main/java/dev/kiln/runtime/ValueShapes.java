package dev.kiln.runtime;

import java.util.Arrays;

/**
 * Checks, for generated code, that values known only at run time (TopK's K, the kept count of Compress and NonZero,
 * MaxUnpool's output_shape) give the output shape the code was compiled for; a mismatch throws an
 * IllegalArgumentException naming the node, the input, its values, the shape they give and the compiled one.
 * Nothing here allocates unless it throws.
 */
public final class ValueShapes {
    private ValueShapes() {}

    /** The most values a message lists before eliding the rest. */
    private static final int SHOWN = 16;

    /**
     * TopK's K ({@code k[offset]}) for an axis of length {@code axisLength}: returns it when it is in
     * [0, axisLength] and gives {@code compiledShape} (whose dim {@code axis} is the compiled K).
     */
    public static int topK(String node, String input, long[] k, int offset, int axisLength, int axis,
                           int[] compiledShape) {
        long value = k[offset];
        if (value < 0 || value > axisLength) {
            throw new IllegalArgumentException(node + ": input '" + input + "' = [" + value + "] is outside [0, "
                    + axisLength + "], the length of axis " + axis);
        }
        if (value != compiledShape[axis]) {
            throw mismatch(node, input, "[" + value + "]", with(compiledShape, axis, (int) value), compiledShape);
        }
        return (int) value;
    }

    /**
     * Compress: {@code count}, the number of true elements of {@code condition[offset .. offset + length)}, must
     * be dim {@code axis} of the compiled shape.
     */
    public static void kept(String node, String input, boolean[] condition, int offset, int length, int count, int axis,
                            int[] compiledShape) {
        if (count != compiledShape[axis]) {
            boolean[] shown = Arrays.copyOfRange(condition, offset, offset + Math.min(length, SHOWN));
            String values = Arrays.toString(shown);
            if (length > SHOWN) {
                values = values.substring(0, values.length() - 1) + ", ...]";
            }
            throw mismatch(node, input, values + " (" + count + " true)", with(compiledShape, axis, count),
                    compiledShape);
        }
    }

    /** NonZero: {@code count} non-zero elements of input {@code input} must be dim 1 of the compiled [rank, count]. */
    public static void nonZero(String node, String input, int count, int[] compiledShape) {
        if (count != compiledShape[1]) {
            throw new IllegalArgumentException(node + ": input '" + input + "' has " + count + " non-zero elements,"
                    + " giving output shape " + Arrays.toString(with(compiledShape, 1, count))
                    + ", but the code was compiled for " + Arrays.toString(compiledShape));
        }
    }

    /** A shape fed as values ({@code shape[offset .. offset + rank)}) must be the compiled shape itself. */
    public static void shape(String node, String input, long[] shape, int offset, int[] compiledShape) {
        for (int d = 0; d < compiledShape.length; d++) {
            if (shape[offset + d] != compiledShape[d]) {
                long[] got = Arrays.copyOfRange(shape, offset, offset + compiledShape.length);
                throw new IllegalArgumentException(node + ": input '" + input + "' = " + Arrays.toString(got)
                        + " gives output shape " + Arrays.toString(got) + ", but the code was compiled for "
                        + Arrays.toString(compiledShape));
            }
        }
    }

    private static int[] with(int[] shape, int axis, int value) {
        int[] s = shape.clone();
        s[axis] = value;
        return s;
    }

    private static IllegalArgumentException mismatch(String node, String input, String values, int[] got, int[] compiled) {
        return new IllegalArgumentException(node + ": input '" + input + "' = " + values + " gives output shape "
                + Arrays.toString(got) + ", but the code was compiled for " + Arrays.toString(compiled));
    }
}
