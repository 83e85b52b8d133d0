package dev.kiln.runtime;

import java.util.Arrays;

/**
 * Run-time checks for generated code whose tensor shapes depend on values known only at run time (Reshape's
 * target, Expand's shape, Tile's repeats, Squeeze/Unsqueeze axes, Split sizes, Slice bounds, Pad pads,
 * ConstantOfShape's shape, Range's bounds, OneHot's depth, given as graph inputs or computed): the code was
 * compiled for the shapes the model declares, so each check computes, as the ONNX spec does, the shape the values
 * give and throws {@link IllegalArgumentException} naming the node, the input, its values and both shapes when
 * they differ. Nothing is allocated unless a check fails.
 *
 * <p>Dims arrays ({@code inDims}, {@code outDims}) hold one entry per axis: {@code d >= 0} is a static dim, {@code d
 * < 0} means {@code -d} times the batch ({@link #UNKNOWN} for a dim known only at run time, in messages). The dims
 * {@link DynamicTensors} resolves at run time are plain dims arrays too. Values are read from {@code values[offset ..
 * offset + count)}; integer inputs of other widths are widened to {@code long[]} by the generated code first.
 */
public final class ShapeChecks {
    /** Stands for an omitted optional input (Slice's axes or steps, Pad's axes). */
    public static final long[] ABSENT = new long[0];

    /**
     * In a compiled dims array, a dim generated code learns only at run time (an intermediate whose shape depends on
     * input values and that the model does not declare, see {@link DynamicTensors}).
     */
    public static final long UNKNOWN = Long.MIN_VALUE;

    private ShapeChecks() {}

    /** Dim {@code i} of an encoded dims array, the batch substituted. */
    public static long dim(long[] dims, int i, int batch) {
        long d = dims[i];
        return d >= 0 ? d : -d * batch;
    }

    private static long size(long[] dims, int batch) {
        long n = 1;
        for (int i = 0; i < dims.length; i++) {
            n *= dim(dims, i, batch);
        }
        return n;
    }

    /**
     * Reshape: {@code 0} copies the input dim at that position (a zero dim when {@code allowZero}), one {@code -1}
     * takes what remains of the input's elements, every other value is the dim.
     */
    public static void reshape(String node, String input, long[] shape, int offset, int count, long[] inDims,
                               long[] outDims, boolean allowZero, int batch) {
        long inSize = size(inDims, batch);
        int minusOne = -1;
        long known = 1;
        boolean zero = false;
        for (int i = 0; i < count; i++) {
            long v = shape[offset + i];
            if (v == -1) {
                if (minusOne >= 0) {
                    throw invalid(node, input, shape, offset, count, "has more than one -1", outDims, batch);
                }
                minusOne = i;
            } else if (v < -1) {
                throw invalid(node, input, shape, offset, count, "has the negative dim " + v, outDims, batch);
            } else if (v == 0 && !allowZero) {
                if (i >= inDims.length) {
                    throw invalid(node, input, shape, offset, count, "has a 0 at position " + i
                            + ", past the input's rank " + inDims.length, outDims, batch);
                }
                known *= dim(inDims, i, batch);
            } else {
                zero |= v == 0;
                known = multiply(known, v, node, input, shape, offset, count, outDims, batch);
            }
        }
        if (allowZero && zero && minusOne >= 0) {
            throw invalid(node, input, shape, offset, count, "has both 0 and -1 with allowzero", outDims, batch);
        }
        long inferred = 0;
        if (minusOne >= 0) {
            if (known == 0 || inSize % known != 0) {
                throw invalid(node, input, shape, offset, count, "leaves no whole dim for its -1 (the input "
                        + shape(inDims, batch) + " has " + inSize + " elements)", outDims, batch);
            }
            inferred = inSize / known;
        } else if (known != inSize) {
            throw invalid(node, input, shape, offset, count, "has " + known + " elements, the input "
                    + shape(inDims, batch) + " " + inSize, outDims, batch);
        }
        boolean same = count == outDims.length;
        for (int i = 0; same && i < count; i++) {
            same = reshapeDim(shape, offset, i, inDims, allowZero, minusOne, inferred, batch) == dim(outDims, i, batch);
        }
        if (!same) {
            long[] given = new long[count];
            for (int i = 0; i < count; i++) {
                given[i] = reshapeDim(shape, offset, i, inDims, allowZero, minusOne, inferred, batch);
            }
            throw mismatch(node, input, shape, offset, count, given, outDims, batch);
        }
    }

    private static long reshapeDim(long[] shape, int offset, int i, long[] inDims, boolean allowZero, int minusOne,
                                   long inferred, int batch) {
        long v = shape[offset + i];
        return i == minusOne ? inferred : v == 0 && !allowZero ? dim(inDims, i, batch) : v;
    }

    private static long multiply(long a, long b, String node, String input, long[] values, int offset, int count,
                                 long[] outDims, int batch) {
        long hi = Math.multiplyHigh(a, b);
        long lo = a * b;
        if ((hi != 0 || lo < 0) && (hi != -1 || lo >= 0)) {
            throw invalid(node, input, values, offset, count, "has more elements than a long counts", outDims, batch);
        }
        return lo;
    }

    /** Expand: the input and the shape broadcast against each other (numpy rules, in both directions). */
    public static void expand(String node, String input, long[] shape, int offset, int count, long[] inDims,
                              long[] outDims, int batch) {
        int rank = Math.max(inDims.length, count);
        for (int i = 0; i < rank; i++) {
            if (i < count && shape[offset + i] < 0) {
                throw invalid(node, input, shape, offset, count, "has the negative dim " + shape[offset + i], outDims,
                        batch);
            }
            if (expandDim(shape, offset, count, inDims, rank, i, batch) < 0) {
                throw invalid(node, input, shape, offset, count, "does not broadcast with the input "
                        + shape(inDims, batch), outDims, batch);
            }
        }
        boolean same = rank == outDims.length;
        for (int i = 0; same && i < rank; i++) {
            same = expandDim(shape, offset, count, inDims, rank, i, batch) == dim(outDims, i, batch);
        }
        if (!same) {
            long[] given = new long[rank];
            for (int i = 0; i < rank; i++) {
                given[i] = expandDim(shape, offset, count, inDims, rank, i, batch);
            }
            throw mismatch(node, input, shape, offset, count, given, outDims, batch);
        }
    }

    /** Output dim i of a broadcast, or -1 when the two dims do not broadcast. */
    private static long expandDim(long[] shape, int offset, int count, long[] inDims, int rank, int i, int batch) {
        int j = i - (rank - inDims.length);
        int k = i - (rank - count);
        long a = j >= 0 ? dim(inDims, j, batch) : 1;
        long b = k >= 0 ? shape[offset + k] : 1;
        return a == b || b == 1 ? a : a == 1 ? b : -1;
    }

    /** Tile: output dim i is input dim i times {@code repeats[i]}. */
    public static void tile(String node, String input, long[] repeats, int offset, int count, long[] inDims,
                            long[] outDims, int batch) {
        if (count != inDims.length) {
            throw invalid(node, input, repeats, offset, count, "has " + count + " entries for an input of rank "
                    + inDims.length, outDims, batch);
        }
        for (int i = 0; i < count; i++) {
            if (repeats[offset + i] < 0) {
                throw invalid(node, input, repeats, offset, count, "has the negative repeat " + repeats[offset + i],
                        outDims, batch);
            }
        }
        boolean same = count == outDims.length;
        for (int i = 0; same && i < count; i++) {
            same = dim(inDims, i, batch) * repeats[offset + i] == dim(outDims, i, batch);
        }
        if (!same) {
            long[] given = new long[count];
            for (int i = 0; i < count; i++) {
                given[i] = dim(inDims, i, batch) * repeats[offset + i];
            }
            throw mismatch(node, input, repeats, offset, count, given, outDims, batch);
        }
    }

    /** Squeeze: removes the listed axes (negative counts from the end), each of which must be 1. */
    public static void squeeze(String node, String input, long[] axes, int offset, int count, long[] inDims,
                               long[] outDims, int batch) {
        int rank = inDims.length;
        checkAxes(node, input, axes, offset, count, rank, outDims, batch);
        for (int k = 0; k < count; k++) {
            int a = (int) normalized(axes[offset + k], rank);
            if (dim(inDims, a, batch) != 1) {
                throw invalid(node, input, axes, offset, count, "lists axis " + a + " of size " + dim(inDims, a, batch)
                        + " of the input " + shape(inDims, batch) + ", which cannot be squeezed", outDims, batch);
            }
        }
        boolean same = rank - count == outDims.length;
        for (int a = 0, j = 0; same && a < rank; a++) {
            if (!listed(axes, offset, count, a, rank)) {
                same = dim(inDims, a, batch) == dim(outDims, j++, batch);
            }
        }
        if (!same) {
            long[] given = new long[rank - count];
            for (int a = 0, j = 0; a < rank; a++) {
                if (!listed(axes, offset, count, a, rank)) {
                    given[j++] = dim(inDims, a, batch);
                }
            }
            throw mismatch(node, input, axes, offset, count, given, outDims, batch);
        }
    }

    /** Unsqueeze: inserts size-1 axes at the listed positions of the output (negative counts from its end). */
    public static void unsqueeze(String node, String input, long[] axes, int offset, int count, long[] inDims,
                                 long[] outDims, int batch) {
        int rank = inDims.length + count;
        checkAxes(node, input, axes, offset, count, rank, outDims, batch);
        boolean same = rank == outDims.length;
        for (int a = 0, k = 0; same && a < rank; a++) {
            same = (listed(axes, offset, count, a, rank) ? 1 : dim(inDims, k++, batch)) == dim(outDims, a, batch);
        }
        if (!same) {
            long[] given = new long[rank];
            for (int a = 0, k = 0; a < rank; a++) {
                given[a] = listed(axes, offset, count, a, rank) ? 1 : dim(inDims, k++, batch);
            }
            throw mismatch(node, input, axes, offset, count, given, outDims, batch);
        }
    }

    /** Axes in [-rank, rank), none listed twice. */
    private static void checkAxes(String node, String input, long[] axes, int offset, int count, int rank,
                                  long[] outDims, int batch) {
        for (int k = 0; k < count; k++) {
            long a = axes[offset + k];
            if (a < -rank || a >= rank) {
                throw invalid(node, input, axes, offset, count, "has the axis " + a + ", outside [" + -rank + ", "
                        + rank + ")", outDims, batch);
            }
            for (int m = 0; m < k; m++) {
                if (normalized(axes[offset + m], rank) == normalized(a, rank)) {
                    throw invalid(node, input, axes, offset, count, "lists axis " + normalized(a, rank) + " twice",
                            outDims, batch);
                }
            }
        }
    }

    private static long normalized(long axis, int rank) {
        return axis < 0 ? axis + rank : axis;
    }

    private static boolean listed(long[] axes, int offset, int count, int axis, int rank) {
        for (int k = 0; k < count; k++) {
            if (normalized(axes[offset + k], rank) == axis) {
                return true;
            }
        }
        return false;
    }

    /**
     * Split with sizes given: one size per output, summing to the input's dim along {@code axis}; {@code parts} holds
     * the outputs' dims along the axis the code was compiled for.
     */
    public static void split(String node, String input, long[] split, int offset, int count, int axis, long[] inDims,
                             long[] parts, int batch) {
        if (count != parts.length) {
            throw invalid(node, input, split, offset, count, "has " + count + " sizes for " + parts.length
                    + " outputs", parts, batch);
        }
        long sum = 0;
        for (int i = 0; i < count; i++) {
            if (split[offset + i] < 0) {
                throw invalid(node, input, split, offset, count, "has the negative size " + split[offset + i], parts,
                        batch);
            }
            sum += split[offset + i];
        }
        if (sum != dim(inDims, axis, batch)) {
            throw invalid(node, input, split, offset, count, "sums to " + sum + ", not the input's dim "
                    + dim(inDims, axis, batch) + " along axis " + axis, parts, batch);
        }
        for (int i = 0; i < count; i++) {
            if (split[offset + i] != dim(parts, i, batch)) {
                throw mismatch(node, input, split, offset, count, Arrays.copyOfRange(split, offset, offset + count),
                        parts, batch);
            }
        }
    }

    /** ConstantOfShape: the values are the output's dims. */
    public static void constantOfShape(String node, String input, long[] shape, int offset, int count, long[] outDims,
                                       int batch) {
        for (int i = 0; i < count; i++) {
            if (shape[offset + i] < 0) {
                throw invalid(node, input, shape, offset, count, "has the negative dim " + shape[offset + i], outDims,
                        batch);
            }
        }
        boolean same = count == outDims.length;
        for (int i = 0; same && i < count; i++) {
            same = shape[offset + i] == dim(outDims, i, batch);
        }
        if (!same) {
            throw mismatch(node, input, shape, offset, count, Arrays.copyOfRange(shape, offset, offset + count),
                    outDims, batch);
        }
    }

    /**
     * Slice: fills {@code window} ({@code 3 * rank} longs: each axis's first index, step, then element count) from
     * starts, ends and the optional axes and steps ({@link #ABSENT} when omitted), clamped as the ONNX spec says,
     * and checks the counts against {@code outDims}. Axes not listed are whole (start 0, step 1).
     */
    public static void slice(String node, String inputs, long[] starts, int startsOffset, long[] ends, int endsOffset,
                             long[] axes, int axesOffset, long[] steps, int stepsOffset, int count, long[] inDims,
                             long[] outDims, int batch, long[] window) {
        sliceWindow(node, inputs, starts, startsOffset, ends, endsOffset, axes, axesOffset, steps, stepsOffset, count,
                inDims, outDims, batch, window);
        int rank = inDims.length;
        boolean same = rank == outDims.length;
        for (int a = 0; same && a < rank; a++) {
            same = window[2 * rank + a] == dim(outDims, a, batch);
        }
        if (!same) {
            throw new IllegalArgumentException(node + ": inputs " + inputs + " hold "
                    + sliceValues(starts, startsOffset, ends, endsOffset, axes, axesOffset, steps, stepsOffset, count)
                    + ", which give the output shape " + Arrays.toString(Arrays.copyOfRange(window, 2 * rank, 3 * rank))
                    + " from the input " + shape(inDims, batch) + ", but the code was compiled for "
                    + compiled(outDims, batch));
        }
    }

    /**
     * Slice's window as {@link #slice} fills it, without comparing the counts to a compiled shape ({@code outDims} only
     * names it in messages); axes, steps of 0 and repeated axes are refused.
     */
    static void sliceWindow(String node, String inputs, long[] starts, int startsOffset, long[] ends, int endsOffset,
                            long[] axes, int axesOffset, long[] steps, int stepsOffset, int count, long[] inDims,
                            long[] outDims, int batch, long[] window) {
        int rank = inDims.length;
        // A step of 0 marks an axis not listed yet (a listed one never has step 0).
        Arrays.fill(window, 0, 2 * rank, 0);
        for (int k = 0; k < count; k++) {
            long axis = axes == ABSENT ? k : normalized(axes[axesOffset + k], rank);
            if (axis < 0 || axis >= rank) {
                throw sliceInvalid(node, inputs, starts, startsOffset, ends, endsOffset, axes, axesOffset, steps,
                        stepsOffset, count, "slices axis " + (axes == ABSENT ? k : axes[axesOffset + k])
                        + " of an input of rank " + rank, outDims, batch);
            }
            int a = (int) axis;
            if (window[rank + a] != 0) {
                throw sliceInvalid(node, inputs, starts, startsOffset, ends, endsOffset, axes, axesOffset, steps,
                        stepsOffset, count, "slices axis " + a + " twice", outDims, batch);
            }
            long step = steps == ABSENT ? 1 : steps[stepsOffset + k];
            if (step == 0) {
                throw sliceInvalid(node, inputs, starts, startsOffset, ends, endsOffset, axes, axesOffset, steps,
                        stepsOffset, count, "has a step of 0", outDims, batch);
            }
            long d = dim(inDims, a, batch);
            long s = starts[startsOffset + k];
            long e = ends[endsOffset + k];
            s = s < 0 ? s + d : s;
            e = e < 0 ? e + d : e;
            long n;
            if (step > 0) {
                s = Math.max(0, Math.min(d, s));
                e = Math.max(0, Math.min(d, e));
                n = e > s ? (e - s - 1) / step + 1 : 0;
            } else {
                s = Math.max(0, Math.min(d - 1, s));
                e = Math.max(-1, Math.min(d - 1, e));
                n = s > e ? (s - e - 1) / -step + 1 : 0;
            }
            window[a] = s;
            window[rank + a] = step;
            window[2 * rank + a] = n;
        }
        for (int a = 0; a < rank; a++) {
            if (window[rank + a] == 0) {
                window[rank + a] = 1;
                window[2 * rank + a] = dim(inDims, a, batch);
            }
        }
    }

    private static IllegalArgumentException sliceInvalid(String node, String inputs, long[] starts, int startsOffset,
                                                         long[] ends, int endsOffset, long[] axes, int axesOffset,
                                                         long[] steps, int stepsOffset, int count, String why,
                                                         long[] outDims, int batch) {
        return new IllegalArgumentException(node + ": inputs " + inputs + " hold "
                + sliceValues(starts, startsOffset, ends, endsOffset, axes, axesOffset, steps, stepsOffset, count)
                + ", which " + why + " (the code was compiled for " + compiled(outDims, batch) + ")");
    }

    private static String sliceValues(long[] starts, int startsOffset, long[] ends, int endsOffset, long[] axes,
                                      int axesOffset, long[] steps, int stepsOffset, int count) {
        return "starts " + list(starts, startsOffset, count) + ", ends " + list(ends, endsOffset, count)
                + (axes == ABSENT ? "" : ", axes " + list(axes, axesOffset, count))
                + (steps == ABSENT ? "" : ", steps " + list(steps, stepsOffset, count));
    }

    /**
     * Pad: fills {@code window} ({@code 2 * rank} longs: each axis's pad before, then after) from pads and the
     * optional axes ({@link #ABSENT} when omitted: pads covers every axis), and checks the padded dims against
     * {@code outDims}. Negative pads crop.
     */
    public static void pad(String node, String input, long[] pads, int padsOffset, int padsCount, long[] axes,
                           int axesOffset, int axesCount, long[] inDims, long[] outDims, int batch, long[] window) {
        padWindow(node, input, pads, padsOffset, padsCount, axes, axesOffset, axesCount, inDims, outDims, batch, window);
        int rank = inDims.length;
        boolean same = rank == outDims.length;
        for (int a = 0; same && a < rank; a++) {
            same = dim(inDims, a, batch) + window[a] + window[rank + a] == dim(outDims, a, batch);
        }
        if (!same) {
            long[] given = new long[rank];
            for (int a = 0; a < rank; a++) {
                given[a] = dim(inDims, a, batch) + window[a] + window[rank + a];
            }
            throw mismatch(node, input, pads, padsOffset, padsCount, given, outDims, batch);
        }
    }

    /**
     * Pad's window as {@link #pad} fills it, without comparing the padded dims to a compiled shape ({@code outDims}
     * only names it in messages); a pad count that does not match the axes, bad axes and crops below zero are refused.
     */
    static void padWindow(String node, String input, long[] pads, int padsOffset, int padsCount, long[] axes,
                          int axesOffset, int axesCount, long[] inDims, long[] outDims, int batch, long[] window) {
        int rank = inDims.length;
        int count = axes == ABSENT ? rank : axesCount;
        if (padsCount != 2 * count) {
            throw invalid(node, input, pads, padsOffset, padsCount, "has " + padsCount + " pads for " + count
                    + " axes (two each)", outDims, batch);
        }
        if (axes != ABSENT) {
            checkAxes(node, input, axes, axesOffset, axesCount, rank, outDims, batch);
        }
        Arrays.fill(window, 0, 2 * rank, 0);
        for (int k = 0; k < count; k++) {
            int a = axes == ABSENT ? k : (int) normalized(axes[axesOffset + k], rank);
            window[a] = pads[padsOffset + k];
            window[rank + a] = pads[padsOffset + count + k];
        }
        for (int a = 0; a < rank; a++) {
            long d = dim(inDims, a, batch) + window[a] + window[rank + a];
            if (d < 0) {
                throw invalid(node, input, pads, padsOffset, padsCount, "crops axis " + a + " of the input "
                        + shape(inDims, batch) + " below zero", outDims, batch);
            }
        }
    }

    /** Range over integers: {@code max(ceil((limit - start) / delta), 0)} elements. */
    public static void range(String node, String inputs, long start, long limit, long delta, long compiled) {
        if (delta == 0) {
            throw new IllegalArgumentException(node + ": inputs " + inputs + " hold start " + start + ", limit " + limit
                    + ", delta 0; delta must not be 0 (the code was compiled for " + compiled + " elements)");
        }
        long n = Math.max(-Math.floorDiv(start - limit, delta), 0);
        if (n != compiled) {
            throw new IllegalArgumentException(node + ": inputs " + inputs + " hold start " + start + ", limit " + limit
                    + ", delta " + delta + ", which give the output shape [" + n
                    + "], but the code was compiled for [" + compiled + "]");
        }
    }

    /** Range over floating values: {@code max(ceil((limit - start) / delta), 0)} elements. */
    public static void range(String node, String inputs, double start, double limit, double delta, long compiled) {
        if (delta == 0 || Double.isNaN(delta)) {
            throw new IllegalArgumentException(node + ": inputs " + inputs + " hold start " + start + ", limit " + limit
                    + ", delta " + delta + "; delta must be non-zero (the code was compiled for " + compiled
                    + " elements)");
        }
        double n = Math.max(Math.ceil((limit - start) / delta), 0);
        if (n != compiled) {
            throw new IllegalArgumentException(node + ": inputs " + inputs + " hold start " + start + ", limit " + limit
                    + ", delta " + delta + ", which give the output shape [" + (long) n
                    + "], but the code was compiled for [" + compiled + "]");
        }
    }

    /** OneHot: the new axis has {@code depth} elements (a non-integer depth was truncated to an integer). */
    public static void oneHot(String node, String input, long depth, long compiled) {
        if (depth != compiled) {
            throw new IllegalArgumentException(node + ": input '" + input + "' holds depth " + depth
                    + ", which gives the new axis " + depth + " elements, but the code was compiled for " + compiled);
        }
    }

    private static IllegalArgumentException mismatch(String node, String input, long[] values, int offset, int count,
                                                     long[] given, long[] outDims, int batch) {
        return new IllegalArgumentException(node + ": " + subject(input) + " holds " + list(values, offset, count)
                + ", which gives the output shape " + Arrays.toString(given) + ", but the code was compiled for "
                + compiled(outDims, batch));
    }

    static IllegalArgumentException invalid(String node, String input, long[] values, int offset, int count,
                                                    String why, long[] outDims, int batch) {
        return new IllegalArgumentException(node + ": " + subject(input) + " holds " + list(values, offset, count)
                + ", which " + why + " (the code was compiled for " + compiled(outDims, batch) + ")");
    }

    private static String subject(String input) {
        return "input '" + input + "'";
    }

    private static String list(long[] values, int offset, int count) {
        return Arrays.toString(Arrays.copyOfRange(values, offset, offset + count));
    }

    /** The dims with the batch substituted; a dim known only at run time ({@link #UNKNOWN}) prints as {@code ?}. */
    static String shape(long[] dims, int batch) {
        StringBuilder s = new StringBuilder("[");
        for (int i = 0; i < dims.length; i++) {
            s.append(i == 0 ? "" : ", ").append(dims[i] == UNKNOWN ? "?" : Long.toString(dim(dims, i, batch)));
        }
        return s.append(']').toString();
    }

    /** The compiled shape with the batch substituted, saying so when a dim depends on it. */
    static String compiled(long[] dims, int batch) {
        boolean batched = Arrays.stream(dims).anyMatch(d -> d < 0 && d != UNKNOWN);
        return shape(dims, batch) + (batched ? " at batch " + batch : "");
    }
}
