package dev.kiln.ir.ops;

import java.util.List;

/**
 * The score transforms of the ai.onnx.ml classifiers and regressors ({@code post_transform}), applied to one row of
 * scores in place, with the formulas ONNX Runtime uses (PROBIT through the same closed-form approximation of the
 * inverse error function, so results agree with exported expected values).
 */
public final class MlTransforms {
    private MlTransforms() {}

    /** The transforms in the order of TreeEnsemble's integer {@code post_transform} codes. */
    public static final List<String> NAMES = List.of("NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT");

    /** Applies transform {@code name} to {@code row[from, from + n)}. */
    public static void apply(String name, double[] row, int from, int n) {
        switch (name) {
            case "NONE" -> { }
            case "LOGISTIC" -> {
                for (int i = from; i < from + n; i++) {
                    row[i] = logistic(row[i]);
                }
            }
            case "PROBIT" -> {
                for (int i = from; i < from + n; i++) {
                    row[i] = probit(row[i]);
                }
            }
            case "SOFTMAX" -> softmax(row, from, n, false);
            case "SOFTMAX_ZERO" -> softmax(row, from, n, true);
            default -> throw new IllegalArgumentException("unknown post_transform '" + name + "'");
        }
    }

    public static double logistic(double v) {
        double e = 1 / (1 + Math.exp(-Math.abs(v)));
        return v < 0 ? 1 - e : e;
    }

    /** sqrt(2) * erfinv(2v - 1), erfinv by the approximation of Winitzki (a = 0.147). */
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

    /** Softmax; with {@code zero}, entries within 1e-7 of 0 stay (almost) 0 (SOFTMAX_ZERO), and an all-zero row gives 0.5s. */
    private static void softmax(double[] row, int from, int n, boolean zero) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = from; i < from + n; i++) {
            max = Math.max(max, row[i]);
        }
        double sum = 0;
        for (int i = from; i < from + n; i++) {
            row[i] = zero && Math.abs(row[i]) <= 1e-7 ? row[i] * Math.exp(-max) : Math.exp(row[i] - max);
            sum += row[i];
        }
        for (int i = from; i < from + n; i++) {
            row[i] = sum == 0 ? 0.5 : row[i] / sum;
        }
    }
}
