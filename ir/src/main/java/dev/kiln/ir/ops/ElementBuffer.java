package dev.kiln.ir.ops;

import dev.kiln.ir.DType;
import dev.kiln.ir.Tensor;
import java.util.Arrays;

/**
 * A mutable flat array of elements of any dtype, filled by copying elements from tensors: lets data-movement
 * ops be written once over flat indices for every storage kind (double, long, bool, string).
 */
final class ElementBuffer {
    private final DType dtype;
    private final double[] doubles;
    private final long[] longs;
    private final boolean[] bools;
    private final String[] strings;

    private ElementBuffer(DType dtype, double[] d, long[] l, boolean[] b, String[] s) {
        this.dtype = dtype;
        this.doubles = d;
        this.longs = l;
        this.bools = b;
        this.strings = s;
    }

    /** {@code size} elements of {@code dtype}, all zero (false, empty string). */
    static ElementBuffer zeros(DType dtype, int size) {
        return switch (dtype.kind()) {
            case FLOAT -> new ElementBuffer(dtype, new double[size], null, null, null);
            case INTEGER -> new ElementBuffer(dtype, null, new long[size], null, null);
            case BOOL -> new ElementBuffer(dtype, null, null, new boolean[size], null);
            case STRING -> {
                String[] s = new String[size];
                Arrays.fill(s, "");
                yield new ElementBuffer(dtype, null, null, null, s);
            }
        };
    }

    /** A copy of {@code t}'s elements. */
    static ElementBuffer copyOf(Tensor t) {
        return switch (t.dtype().kind()) {
            case FLOAT -> new ElementBuffer(t.dtype(), t.doubles().clone(), null, null, null);
            case INTEGER -> new ElementBuffer(t.dtype(), null, t.longs().clone(), null, null);
            case BOOL -> new ElementBuffer(t.dtype(), null, null, t.bools().clone(), null);
            case STRING -> new ElementBuffer(t.dtype(), null, null, null, t.strings().clone());
        };
    }

    /** {@code size} copies of element {@code index} of {@code t}. */
    static ElementBuffer filled(Tensor t, int index, int size) {
        ElementBuffer b = zeros(t.dtype(), size);
        for (int i = 0; i < size; i++) {
            b.copy(i, t, index);
        }
        return b;
    }

    /** Sets element {@code dst} to element {@code srcIndex} of {@code src}, which must have this dtype. */
    void copy(int dst, Tensor src, int srcIndex) {
        switch (dtype.kind()) {
            case FLOAT -> doubles[dst] = src.doubles()[srcIndex];
            case INTEGER -> longs[dst] = src.longs()[srcIndex];
            case BOOL -> bools[dst] = src.bools()[srcIndex];
            case STRING -> strings[dst] = src.strings()[srcIndex];
        }
    }

    /**
     * Combines element {@code srcIndex} of {@code src} into element {@code dst} with a scatter reduction:
     * {@code none} overwrites; {@code add}, {@code mul}, {@code max}, {@code min} combine numerically (exactly in
     * long for integer types; for BOOL add and max are "or", mul and min are "and").
     */
    void combine(int dst, Tensor src, int srcIndex, String reduction) {
        if (reduction.equals("none")) {
            copy(dst, src, srcIndex);
            return;
        }
        switch (dtype.kind()) {
            case FLOAT -> {
                double a = doubles[dst];
                double b = src.doubles()[srcIndex];
                doubles[dst] = switch (reduction) {
                    case "add" -> a + b;
                    case "mul" -> a * b;
                    case "max" -> Double.isNaN(a) || Double.isNaN(b) ? Double.NaN : Math.max(a, b);
                    case "min" -> Double.isNaN(a) || Double.isNaN(b) ? Double.NaN : Math.min(a, b);
                    default -> throw new IllegalArgumentException("reduction " + reduction);
                };
            }
            case INTEGER -> {
                long a = longs[dst];
                long b = src.longs()[srcIndex];
                boolean unsigned = dtype.isUnsigned();
                longs[dst] = switch (reduction) {
                    case "add" -> a + b;
                    case "mul" -> a * b;
                    case "max" -> (unsigned ? Long.compareUnsigned(a, b) : Long.compare(a, b)) >= 0 ? a : b;
                    case "min" -> (unsigned ? Long.compareUnsigned(a, b) : Long.compare(a, b)) <= 0 ? a : b;
                    default -> throw new IllegalArgumentException("reduction " + reduction);
                };
            }
            case BOOL -> {
                boolean a = bools[dst];
                boolean b = src.bools()[srcIndex];
                bools[dst] = switch (reduction) {
                    case "add", "max" -> a || b;
                    case "mul", "min" -> a && b;
                    default -> throw new IllegalArgumentException("reduction " + reduction);
                };
            }
            case STRING -> throw new IllegalArgumentException("reduction " + reduction + " on strings");
        }
    }

    /** The elements as a tensor of {@code shape} (the buffer must not be used afterwards). */
    Tensor toTensor(int[] shape) {
        return switch (dtype.kind()) {
            case FLOAT -> Tensor.wrapDoubles(dtype, shape, doubles);
            case INTEGER -> Tensor.wrapLongs(dtype, shape, longs);
            case BOOL -> Tensor.wrapBools(shape, bools);
            case STRING -> Tensor.wrapStrings(shape, strings);
        };
    }

    /** A tensor of {@code shape} whose element i is element {@code sources[i]} of {@code src}. */
    static Tensor gather(Tensor src, int[] shape, int[] sources) {
        ElementBuffer b = zeros(src.dtype(), sources.length);
        for (int i = 0; i < sources.length; i++) {
            b.copy(i, src, sources[i]);
        }
        return b.toTensor(shape);
    }
}
