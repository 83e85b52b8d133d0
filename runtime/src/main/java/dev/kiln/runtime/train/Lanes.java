package dev.kiln.runtime.train;

import dev.kiln.runtime.VectorWidth;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector species of the training kernels and the few vector loops they share (row add, scaled add, sum).
 * The species is the inference kernels' one, {@link VectorWidth#FLOAT}.
 */
final class Lanes {
    static final VectorSpecies<Float> S = VectorWidth.FLOAT;
    static final int VL = S.length();

    private Lanes() {}

    /** {@code dst[d..d+len) += src[s..s+len)}. */
    static void add(float[] src, int s, float[] dst, int d, int len) {
        int j = 0;
        for (int bound = S.loopBound(len); j < bound; j += VL) {
            FloatVector.fromArray(S, dst, d + j).add(FloatVector.fromArray(S, src, s + j)).intoArray(dst, d + j);
        }
        for (; j < len; j++) {
            dst[d + j] += src[s + j];
        }
    }

    /**
     * Sum of {@code len} floats: VL partial sums over the vector part, lanes reduced in a fixed order, then the
     * tail; the same bits for any thread that runs it.
     */
    static float sum(float[] a, int off, int len) {
        FloatVector acc = FloatVector.zero(S);
        int j = 0;
        for (int bound = S.loopBound(len); j < bound; j += VL) {
            acc = acc.add(FloatVector.fromArray(S, a, off + j));
        }
        float sum = acc.lane(0); // lanes in order, no call: docs/KERNELS.md
        for (int l = 1; l < VL; l++) {
            sum += acc.lane(l);
        }
        for (; j < len; j++) {
            sum += a[off + j];
        }
        return sum;
    }

    /** Column sums: {@code out[j] (+)= sum over rows i of a[off + i*ld + j]}, j < n, rows in order. */
    static void columnSums(int rows, int n, float[] a, int off, int ld, float[] out, int outOff, boolean accumulate) {
        if (!accumulate) {
            java.util.Arrays.fill(out, outOff, outOff + n, 0f);
        }
        for (int i = 0; i < rows; i++) {
            add(a, off + i * ld, out, outOff, n);
        }
    }
}
