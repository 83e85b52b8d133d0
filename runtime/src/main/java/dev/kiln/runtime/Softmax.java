package dev.kiln.runtime;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Softmax and log-softmax over the last axis of a row-major [rows, n] block: vectorized max, exp and sum,
 * each row computed in three passes that stay in cache.
 *
 * <p>The exponential is {@link VectorMath#exp} (its row form {@code VectorMath.expShifted}, the same bits), built
 * from IEEE operations only, rather than the Vector API's
 * {@code lanewise(EXP)}: that one is SVML under C2 but {@link Math#exp} per lane in the interpreter and C1, so
 * its last bit depends on the JIT tier. Measured in {@code NnKernelBench} (docs/BENCHMARKS.md): both are
 * within 2e-7 relative of {@link Math#exp} on [-88, 0], 12-16x faster than scalar {@link Math#exp};
 * {@code lanewise(EXP)} is ~1.4x faster than VectorMath. Tail elements (n mod vector length) use
 * {@link Math#exp}. Input and output may be the same array at the same offset.
 */
public final class Softmax {
    private static final VectorSpecies<Float> S = GemmKernel.SPECIES;
    private static final int VL = S.length();

    private Softmax() {}

    /** {@code y[r][j] = exp(x[r][j] - max_r) / sum_j exp(x[r][j] - max_r)} for each of {@code rows} rows of length n. */
    public static void softmax(int rows, int n, float[] x, int xOff, float[] y, int yOff) {
        for (int r = 0; r < rows; r++) {
            int xo = xOff + r * n;
            int yo = yOff + r * n;
            float max = rowMax(x, xo, n);
            float sum = VectorMath.expShifted(x, xo, n, max, y, yo);
            scale(y, yo, n, 1f / sum);
        }
    }

    /** {@code y[r][j] = x[r][j] - max_r - log(sum_j exp(x[r][j] - max_r))}, the numerically stable form. */
    public static void logSoftmax(int rows, int n, float[] x, int xOff, float[] y, int yOff) {
        for (int r = 0; r < rows; r++) {
            int xo = xOff + r * n;
            int yo = yOff + r * n;
            float max = rowMax(x, xo, n);
            float sum = VectorMath.expShifted(x, xo, n, max, null, 0);
            float shift = max + (float) Math.log(sum);
            int j = 0;
            for (int bound = S.loopBound(n); j < bound; j += VL) {
                FloatVector.fromArray(S, x, xo + j).sub(shift).intoArray(y, yo + j);
            }
            for (; j < n; j++) {
                y[yo + j] = x[xo + j] - shift;
            }
        }
    }

    /** Plain twin of {@link #softmax}: double accumulation of the sum, {@link Math#exp}. */
    public static void softmaxScalar(int rows, int n, float[] x, int xOff, float[] y, int yOff) {
        for (int r = 0; r < rows; r++) {
            int xo = xOff + r * n;
            int yo = yOff + r * n;
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j++) {
                max = Math.max(max, x[xo + j]);
            }
            double sum = 0;
            for (int j = 0; j < n; j++) {
                sum += Math.exp(x[xo + j] - max);
            }
            for (int j = 0; j < n; j++) {
                y[yo + j] = (float) (Math.exp(x[xo + j] - max) / sum);
            }
        }
    }

    /** Plain twin of {@link #logSoftmax}. */
    public static void logSoftmaxScalar(int rows, int n, float[] x, int xOff, float[] y, int yOff) {
        for (int r = 0; r < rows; r++) {
            int xo = xOff + r * n;
            int yo = yOff + r * n;
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j++) {
                max = Math.max(max, x[xo + j]);
            }
            double sum = 0;
            for (int j = 0; j < n; j++) {
                sum += Math.exp(x[xo + j] - max);
            }
            double log = Math.log(sum);
            for (int j = 0; j < n; j++) {
                y[yo + j] = (float) (x[xo + j] - max - log);
            }
        }
    }

    static float rowMax(float[] x, int off, int n) {
        int j = 0;
        float max = Float.NEGATIVE_INFINITY;
        if (n >= VL) {
            FloatVector acc = FloatVector.fromArray(S, x, off);
            for (j = VL; j <= n - VL; j += VL) {
                acc = acc.max(FloatVector.fromArray(S, x, off + j));
            }
            max = acc.reduceLanes(VectorOperators.MAX);
        }
        for (; j < n; j++) {
            max = Math.max(max, x[off + j]);
        }
        return max;
    }

    private static void scale(float[] y, int yo, int n, float f) {
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += VL) {
            FloatVector.fromArray(S, y, yo + j).mul(f).intoArray(y, yo + j);
        }
        for (; j < n; j++) {
            y[yo + j] *= f;
        }
    }
}
