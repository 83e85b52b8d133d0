package dev.kiln.runtime;

/**
 * The score transforms of the ai.onnx.ml classifiers and regressors ({@code post_transform}) for generated code,
 * on one row in place, with ONNX Runtime's formulas (PROBIT through Winitzki's approximation of erfinv); they agree
 * with the reference evaluator's {@code MlTransforms}.
 */
public final class MlScores {
    private MlScores() {}

    /** post_transform values, in TreeEnsemble's integer order. */
    public enum Transform { NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO, PROBIT }

    /** Applies {@code t} to {@code row[from, from + n)}. */
    public static void apply(Transform t, double[] row, int from, int n) {
        switch (t) {
            case NONE -> { }
            case LOGISTIC -> {
                for (int i = from; i < from + n; i++) {
                    row[i] = logistic(row[i]);
                }
            }
            case PROBIT -> {
                for (int i = from; i < from + n; i++) {
                    row[i] = probit(row[i]);
                }
            }
            case SOFTMAX -> softmax(row, from, n, false);
            case SOFTMAX_ZERO -> softmax(row, from, n, true);
        }
    }

    public static double logistic(double v) {
        double e = 1 / (1 + Math.exp(-Math.abs(v)));
        return v < 0 ? 1 - e : e;
    }

    /** sqrt(2) * erfinv(2v - 1). */
    public static double probit(double v) {
        double x = v * 2 - 1;
        double sign = x < 0 ? -1 : 1;
        double t = (1 - x) * (1 + x);
        if (t == 0) {
            return 0;
        }
        double log = Math.log(t);
        double a = 2 / (Math.PI * 0.147) + 0.5 * log;
        double b = 1 / 0.147 * log;
        return 1.41421356 * sign * Math.sqrt(-a + Math.sqrt(a * a - b));
    }

    private static void softmax(double[] row, int from, int n, boolean zero) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = from; i < from + n; i++) {
            max = Math.max(max, row[i]);
        }
        double sum = 0;
        for (int i = from; i < from + n; i++) {
            // SOFTMAX_ZERO leaves (near-)zero scores (near) zero.
            row[i] = zero && Math.abs(row[i]) <= 1e-7 ? row[i] * Math.exp(-max) : Math.exp(row[i] - max);
            sum += row[i];
        }
        for (int i = from; i < from + n; i++) {
            row[i] = sum == 0 ? 0.5 : row[i] / sum;
        }
    }

    /** The index of the first largest of {@code v[from, from + n)}, relative to {@code from}. */
    public static int argMax(double[] v, int from, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (v[from + i] > v[from + best]) {
                best = i;
            }
        }
        return best;
    }

    /** Element {@code i} of a numeric array generated code holds ({@code float[]}, {@code double[]}, ...) as a double. */
    public static double at(Object x, int i) {
        return switch (x) {
            case float[] a -> a[i];
            case double[] a -> a[i];
            case long[] a -> a[i];
            case int[] a -> a[i];
            default -> throw new IllegalArgumentException("not a numeric array: " + x);
        };
    }

    /** Stores {@code v} as element {@code i} of a {@code float[]} or {@code double[]}. */
    public static void store(Object y, int i, double v) {
        switch (y) {
            case float[] a -> a[i] = (float) v;
            case double[] a -> a[i] = v;
            default -> throw new IllegalArgumentException("not a float array: " + y);
        }
    }
}
