package dev.kiln.runtime;

import java.util.Arrays;

/**
 * Dims and storage of the intermediate tensors whose shape generated code learns only at run time (e.g. the padded
 * input inside a function-expanded CenterCropPad, whose dims follow from a {@code shape} input and that the model does
 * not declare). The producer of such a tensor resolves its dims each run into a per-instance {@code long[]} (a plain
 * dims array: every entry {@code >= 0}), checking the dims the code was compiled with ({@link ShapeChecks#UNKNOWN} for
 * the others) and that the tensor fits a Java array; its storage is a per-instance array that {@code fit} grows only
 * when a run needs more, so runs of sizes seen before allocate nothing.
 */
public final class DynamicTensors {
    /** The most elements a Java array holds on common JVMs. */
    public static final int MAX_ELEMENTS = Integer.MAX_VALUE - 8;

    private DynamicTensors() {}

    /**
     * Pad producing a tensor of run-time dims: fills {@code window} as {@link ShapeChecks#pad} does, writes the padded
     * dims into {@code dims}, and checks the dims {@code compiled} fixes.
     */
    public static void pad(String node, String input, long[] pads, int padsOffset, int padsCount, long[] axes,
                           int axesOffset, int axesCount, long[] inDims, long[] compiled, int batch, long[] window,
                           long[] dims) {
        ShapeChecks.padWindow(node, input, pads, padsOffset, padsCount, axes, axesOffset, axesCount, inDims, compiled,
                batch, window);
        int rank = inDims.length;
        for (int a = 0; a < rank; a++) {
            dims[a] = ShapeChecks.dim(inDims, a, batch) + window[a] + window[rank + a];
        }
        String wrong = wrong(dims, compiled, batch);
        if (wrong != null) {
            throw new IllegalArgumentException(node + ": input '" + input + "' holds " + list(pads, padsOffset, padsCount)
                    + ", which give" + wrong);
        }
    }

    /**
     * Slice producing a tensor of run-time dims: fills {@code window} as {@link ShapeChecks#slice} does, writes the
     * element counts per axis into {@code dims}, and checks the dims {@code compiled} fixes.
     */
    public static void slice(String node, String inputs, long[] starts, int startsOffset, long[] ends, int endsOffset,
                             long[] axes, int axesOffset, long[] steps, int stepsOffset, int count, long[] inDims,
                             long[] compiled, int batch, long[] window, long[] dims) {
        ShapeChecks.sliceWindow(node, inputs, starts, startsOffset, ends, endsOffset, axes, axesOffset, steps,
                stepsOffset, count, inDims, compiled, batch, window);
        int rank = inDims.length;
        System.arraycopy(window, 2 * rank, dims, 0, rank);
        String wrong = wrong(dims, compiled, batch);
        if (wrong != null) {
            throw new IllegalArgumentException(node + ": inputs " + inputs + " hold starts " + list(starts, startsOffset,
                    count) + ", ends " + list(ends, endsOffset, count) + ", which give" + wrong);
        }
    }

    /**
     * A dim of a run-time-shaped tensor that type inference ties to a dim resolved earlier (e.g. both dims of a square
     * pad) must equal it.
     */
    public static void requireDim(String node, String value, long[] dims, int axis, long expected) {
        if (dims[axis] != expected) {
            throw new IllegalArgumentException(node + ": '" + value + "' has the dims " + Arrays.toString(dims)
                    + ", but the model ties dim " + axis + " to a dim resolved earlier, " + expected);
        }
    }

    /**
     * What is wrong with the resolved dims, continuing "which give": a compiled dim they contradict or more elements
     * than a Java array holds; null when nothing is (so the passing path builds no message).
     */
    private static String wrong(long[] dims, long[] compiled, int batch) {
        long elements = 1;
        boolean same = dims.length == compiled.length;
        for (int a = 0; a < dims.length; a++) {
            same = same && (compiled[a] == ShapeChecks.UNKNOWN || dims[a] == ShapeChecks.dim(compiled, a, batch));
            elements = elements > MAX_ELEMENTS || dims[a] > MAX_ELEMENTS ? Long.MAX_VALUE : elements * dims[a];
        }
        if (!same) {
            return " the output shape " + Arrays.toString(dims) + ", but the code was compiled for "
                    + ShapeChecks.compiled(compiled, batch);
        }
        return elements > MAX_ELEMENTS ? " the output shape " + Arrays.toString(dims)
                + ", more elements than a Java array holds" : null;
    }

    /** {@code buffer} when it holds at least {@code n} elements, else a new array of {@code n}. */
    public static float[] fit(float[] buffer, int n) {
        return buffer.length >= n ? buffer : new float[n];
    }

    /** {@code buffer} when it holds at least {@code n} elements, else a new array of {@code n}. */
    public static double[] fit(double[] buffer, int n) {
        return buffer.length >= n ? buffer : new double[n];
    }

    /** {@code buffer} when it holds at least {@code n} elements, else a new array of {@code n}. */
    public static long[] fit(long[] buffer, int n) {
        return buffer.length >= n ? buffer : new long[n];
    }

    /** {@code buffer} when it holds at least {@code n} elements, else a new array of {@code n}. */
    public static int[] fit(int[] buffer, int n) {
        return buffer.length >= n ? buffer : new int[n];
    }

    /** {@code buffer} when it holds at least {@code n} elements, else a new array of {@code n}. */
    public static boolean[] fit(boolean[] buffer, int n) {
        return buffer.length >= n ? buffer : new boolean[n];
    }

    private static String list(long[] values, int offset, int count) {
        return Arrays.toString(Arrays.copyOfRange(values, offset, offset + count));
    }
}
