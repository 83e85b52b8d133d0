package dev.kiln.ir.ops;

import dev.kiln.ir.DType;
import dev.kiln.ir.Tensor;

/**
 * Reference evaluation of a reduction over a set of axes: the input elements that fold into each output
 * element are gathered into one array (in row-major order) and handed to a {@link Kernel}. An empty group
 * (a reduced axis of size 0) reaches the kernel as an empty array, which then returns its identity.
 */
final class Reduction {
    private Reduction() {}

    /** What one reduction computes from the elements of one group, per storage kind. */
    interface Kernel {
        double floats(double[] values);

        long integers(DType t, long[] values);

        /** Only ReduceMax and ReduceMin (opset 20) accept BOOL. */
        default boolean bools(boolean[] values) {
            throw new IllegalStateException("reduction of bools");
        }
    }

    /**
     * Reduces x over the axes marked in {@code reduced}; reduced axes stay as 1s when {@code keepdims},
     * else they are dropped. The result has x's dtype.
     */
    static Tensor reduce(Tensor x, boolean[] reduced, boolean keepdims, Kernel k) {
        int[] shape = x.shape();
        int[] kept = shape.clone();
        int groupSize = 1;
        int outRank = 0;
        for (int d = 0; d < shape.length; d++) {
            if (reduced[d]) {
                kept[d] = 1;
                groupSize *= shape[d];
            } else {
                outRank++;
            }
        }
        int[] outShape = kept;
        if (!keepdims) {
            outShape = new int[outRank];
            for (int d = 0, j = 0; d < shape.length; d++) {
                if (!reduced[d]) {
                    outShape[j++] = shape[d];
                }
            }
        }
        int groups = Tensor.sizeOf(kept);
        // indexMap sends each input element to the kept-shape element it broadcasts from: its group.
        int[] groupOf = Broadcasting.indexMap(shape, kept);
        int[][] members = new int[groups][groupSize];
        int[] filled = new int[groups];
        for (int i = 0; i < groupOf.length; i++) {
            int g = groupOf[i];
            members[g][filled[g]++] = i;
        }
        DType t = x.dtype();
        return switch (t.kind()) {
            case FLOAT -> {
                double[] out = new double[groups];
                double[] values = new double[groupSize];
                for (int g = 0; g < groups; g++) {
                    for (int m = 0; m < groupSize; m++) {
                        values[m] = x.doubles()[members[g][m]];
                    }
                    out[g] = k.floats(values);
                }
                yield Tensor.wrapDoubles(t, outShape, out);
            }
            case INTEGER -> {
                long[] out = new long[groups];
                long[] values = new long[groupSize];
                for (int g = 0; g < groups; g++) {
                    for (int m = 0; m < groupSize; m++) {
                        values[m] = x.longs()[members[g][m]];
                    }
                    out[g] = k.integers(t, values);
                }
                yield Tensor.wrapLongs(t, outShape, out);
            }
            case BOOL -> {
                boolean[] out = new boolean[groups];
                boolean[] values = new boolean[groupSize];
                for (int g = 0; g < groups; g++) {
                    for (int m = 0; m < groupSize; m++) {
                        values[m] = x.bools()[members[g][m]];
                    }
                    out[g] = k.bools(values);
                }
                yield Tensor.wrapBools(outShape, out);
            }
            case STRING -> throw new IllegalArgumentException("reduction of strings");
        };
    }

    /** An integer element's numeric value (UINT64 read as unsigned). */
    static double toDouble(DType t, long v) {
        if (t == DType.UINT64 && v < 0) {
            return (double) (v >>> 1) * 2.0 + (v & 1);
        }
        return v;
    }
}
