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
        if (len == VL) { // a row of one vector, as mnist_cnn's conv2 has: no loop (see copy)
            FloatVector.fromArray(S, dst, d).add(FloatVector.fromArray(S, src, s)).intoArray(dst, d);
            return;
        }
        int j = 0;
        for (int bound = S.loopBound(len); j < bound; j += VL) {
            FloatVector.fromArray(S, dst, d + j).add(FloatVector.fromArray(S, src, s + j)).intoArray(dst, d + j);
        }
        for (; j < len; j++) {
            dst[d + j] += src[s + j];
        }
    }

    /**
     * {@code dst[d..d+len) = src[s..s+len)} for the short runs of im2col (a tap's row of output pixels): for 8 to
     * 24 floats {@code System.arraycopy}'s call cost more than the copy.
     */
    static void copy(float[] src, int s, float[] dst, int d, int len) {
        if (len % VL == 0 && len <= 4 * VL) {
            // C2's pre-, main and post-loops around a loop of a few iterations cost more than the copy (im2col of
            // mnist_cnn's conv2, 2,000 rows of 8 pixels an image: 8.2 -> 3.4 µs; conv1's rows of 24: 2.45 -> 1.8 µs
            // an image). A loop over 1-4 vectors without the scalar tail was as slow as the general one.
            switch (len / VL) {
                case 4:
                    FloatVector.fromArray(S, src, s + 3 * VL).intoArray(dst, d + 3 * VL);
                    // fall through
                case 3:
                    FloatVector.fromArray(S, src, s + 2 * VL).intoArray(dst, d + 2 * VL);
                    // fall through
                case 2:
                    FloatVector.fromArray(S, src, s + VL).intoArray(dst, d + VL);
                    // fall through
                case 1:
                    FloatVector.fromArray(S, src, s).intoArray(dst, d);
                    return;
                default:
                    return;
            }
        }
        int j = 0;
        for (int bound = S.loopBound(len); j < bound; j += VL) {
            FloatVector.fromArray(S, src, s + j).intoArray(dst, d + j);
        }
        for (; j < len; j++) {
            dst[d + j] = src[s + j];
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
