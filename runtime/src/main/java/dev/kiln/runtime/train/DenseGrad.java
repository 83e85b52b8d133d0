package dev.kiln.runtime.train;

import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Small backward kernels of dense layers: the bias gradient (column sums of dY) and the ReLU-family gradients.
 * Each sums and selects with the same IEEE operations in its vector loop and its scalar twin, so the twins agree
 * bit for bit.
 */
public final class DenseGrad {

    private static final VectorSpecies<Float> S = Lanes.S;
    private static final int VL = Lanes.VL;

    private DenseGrad() { }

    /**
     * The bias gradient of a layer whose output is {@code rows x cols}: {@code db[j] (+)= sum_r dy[r][j]}, each
     * column summed over rows in order (starting from db's old value when accumulating).
     */
    public static void biasGrad(int rows, int cols, float[] dy, int dyOff, float[] db, int dbOff, boolean accumulate) {
        checkBias(rows, cols, dy, dyOff, db, dbOff);
        int j = 0;
        for (int bound = S.loopBound(cols); j < bound; j += VL) {
            FloatVector acc = accumulate ? FloatVector.fromArray(S, db, dbOff + j) : FloatVector.zero(S);
            for (int r = 0; r < rows; r++) {
                acc = acc.add(FloatVector.fromArray(S, dy, dyOff + r * cols + j));
            }
            acc.intoArray(db, dbOff + j);
        }
        columnSums(rows, cols, j, dy, dyOff, db, dbOff, accumulate);
    }

    /** The scalar twin of {@link #biasGrad}. */
    public static void biasGradScalar(int rows, int cols, float[] dy, int dyOff, float[] db, int dbOff,
                                      boolean accumulate) {
        checkBias(rows, cols, dy, dyOff, db, dbOff);
        columnSums(rows, cols, 0, dy, dyOff, db, dbOff, accumulate);
    }

    private static void columnSums(int rows, int cols, int from, float[] dy, int dyOff, float[] db, int dbOff,
                                   boolean accumulate) {
        for (int j = from; j < cols; j++) {
            float acc = accumulate ? db[dbOff + j] : 0f;
            for (int r = 0; r < rows; r++) {
                acc += dy[dyOff + r * cols + j];
            }
            db[dbOff + j] = acc;
        }
    }

    /**
     * ReLU's gradient from its output: {@code dx (+)= y <= 0 ? 0 : dy}, PyTorch's {@code threshold_backward}
     * (y > 0 exactly where the input was). dx may be dy itself.
     */
    public static void reluBackward(int n, float[] y, int yOff, float[] dy, int dyOff, float[] dx, int dxOff,
                                    boolean accumulate) {
        checkSpans("reluBackward", n, y, yOff, dy, dyOff, dx, dxOff);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += VL) {
            FloatVector yv = FloatVector.fromArray(S, y, yOff + i);
            FloatVector g = FloatVector.fromArray(S, dy, dyOff + i).blend(0f, yv.compare(VectorOperators.LE, 0f));
            if (accumulate) {
                g = FloatVector.fromArray(S, dx, dxOff + i).add(g);
            }
            g.intoArray(dx, dxOff + i);
        }
        reluTail(i, n, y, yOff, dy, dyOff, dx, dxOff, accumulate);
    }

    /** The scalar twin of {@link #reluBackward}. */
    public static void reluBackwardScalar(int n, float[] y, int yOff, float[] dy, int dyOff, float[] dx, int dxOff,
                                          boolean accumulate) {
        checkSpans("reluBackward", n, y, yOff, dy, dyOff, dx, dxOff);
        reluTail(0, n, y, yOff, dy, dyOff, dx, dxOff, accumulate);
    }

    private static void reluTail(int from, int n, float[] y, int yOff, float[] dy, int dyOff, float[] dx, int dxOff,
                                 boolean accumulate) {
        for (int i = from; i < n; i++) {
            float g = y[yOff + i] <= 0f ? 0f : dy[dyOff + i];
            dx[dxOff + i] = accumulate ? dx[dxOff + i] + g : g;
        }
    }

    /**
     * LeakyReLU's gradient from its input: {@code dx (+)= x > 0 ? dy : alpha * dy}, PyTorch's
     * {@code leaky_relu_backward}. dx may be dy itself.
     */
    public static void leakyReluBackward(int n, float alpha, float[] x, int xOff, float[] dy, int dyOff, float[] dx,
                                         int dxOff, boolean accumulate) {
        checkSpans("leakyReluBackward", n, x, xOff, dy, dyOff, dx, dxOff);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += VL) {
            FloatVector xv = FloatVector.fromArray(S, x, xOff + i);
            FloatVector d = FloatVector.fromArray(S, dy, dyOff + i);
            FloatVector g = d.mul(alpha).blend(d, xv.compare(VectorOperators.GT, 0f));
            if (accumulate) {
                g = FloatVector.fromArray(S, dx, dxOff + i).add(g);
            }
            g.intoArray(dx, dxOff + i);
        }
        leakyTail(i, n, alpha, x, xOff, dy, dyOff, dx, dxOff, accumulate);
    }

    /** The scalar twin of {@link #leakyReluBackward}. */
    public static void leakyReluBackwardScalar(int n, float alpha, float[] x, int xOff, float[] dy, int dyOff,
                                               float[] dx, int dxOff, boolean accumulate) {
        checkSpans("leakyReluBackward", n, x, xOff, dy, dyOff, dx, dxOff);
        leakyTail(0, n, alpha, x, xOff, dy, dyOff, dx, dxOff, accumulate);
    }

    private static void leakyTail(int from, int n, float alpha, float[] x, int xOff, float[] dy, int dyOff,
                                  float[] dx, int dxOff, boolean accumulate) {
        for (int i = from; i < n; i++) {
            float d = dy[dyOff + i];
            float g = x[xOff + i] > 0f ? d : d * alpha;
            dx[dxOff + i] = accumulate ? dx[dxOff + i] + g : g;
        }
    }

    private static void checkBias(int rows, int cols, float[] dy, int dyOff, float[] db, int dbOff) {
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("biasGrad: negative shape " + rows + "x" + cols);
        }
        span("biasGrad", "dy", dy, dyOff, (long) rows * cols);
        span("biasGrad", "db", db, dbOff, cols);
    }

    private static void checkSpans(String what, int n, float[] in, int inOff, float[] dy, int dyOff, float[] dx,
                                   int dxOff) {
        if (n < 0) {
            throw new IllegalArgumentException(what + ": negative length " + n);
        }
        span(what, "forward tensor", in, inOff, n);
        span(what, "dy", dy, dyOff, n);
        span(what, "dx", dx, dxOff, n);
    }

    static void span(String what, String name, float[] x, int off, long len) {
        Objects.requireNonNull(x, name);
        if (off < 0 || off + len > x.length) {
            throw new IllegalArgumentException(what + ": " + name + " at offset " + off + " needs " + len
                    + " floats, array has " + x.length);
        }
    }
}
