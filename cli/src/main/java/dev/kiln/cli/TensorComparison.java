package dev.kiln.cli;

import dev.kiln.ir.Tensor;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * The result of comparing an actual tensor with an expected one: whether it matches and, for floating
 * outputs, the largest absolute and relative errors and where the worst element is.
 *
 * @param matches true when dtype and shape agree and every element is accepted
 * @param maxAbsError largest {@code |actual - expected|} over finite elements (0 when none)
 * @param maxRelError largest {@code |actual - expected| / |expected|} over finite elements (infinite when an
 *     expected zero was missed)
 * @param problem empty when {@code matches}, else what is wrong in one line
 */
public record TensorComparison(boolean matches, double maxAbsError, double maxRelError, String problem) {
    public TensorComparison {
        Objects.requireNonNull(problem);
    }

    /** Compares {@code actual} with {@code expected} element by element. */
    public static TensorComparison of(Tensor expected, Tensor actual, Tolerance tolerance) {
        if (!expected.isPlain() || !actual.isPlain()) {
            return ofContainers(expected, actual, tolerance);
        }
        if (expected.dtype() != actual.dtype()) {
            return mismatch("expected " + expected.type() + " but got " + actual.type());
        }
        if (!Arrays.equals(expected.shape(), actual.shape())) {
            return mismatch("expected shape " + Arrays.toString(expected.shape()) + " but got "
                    + Arrays.toString(actual.shape()));
        }
        return switch (expected.dtype().kind()) {
            case FLOAT -> compareFloats(expected, actual, tolerance);
            case INTEGER -> compareExact(expected, actual, i -> expected.longs()[i] == actual.longs()[i],
                    i -> Long.toString(expected.longs()[i]), i -> Long.toString(actual.longs()[i]));
            case BOOL -> compareExact(expected, actual, i -> expected.bools()[i] == actual.bools()[i],
                    i -> Boolean.toString(expected.bools()[i]), i -> Boolean.toString(actual.bools()[i]));
            case STRING -> compareExact(expected, actual, i -> expected.strings()[i].equals(actual.strings()[i]),
                    i -> '"' + expected.strings()[i] + '"', i -> '"' + actual.strings()[i] + '"');
        };
    }

    /**
     * Sequences and optionals match when they are of the same kind and hold as many tensors, each matching its
     * counterpart; the errors reported are the largest over all tensors.
     */
    private static TensorComparison ofContainers(Tensor expected, Tensor actual, Tolerance tolerance) {
        if (expected.kind() != actual.kind() || expected.dtype() != actual.dtype()) {
            return mismatch("expected " + expected.type() + " but got " + actual.type());
        }
        List<Tensor> e = expected.elements();
        List<Tensor> a = actual.elements();
        String unit = expected.type().isSequence() ? "tensors" : "values";
        if (e.size() != a.size()) {
            return mismatch("expected " + e.size() + " " + unit + " but got " + a.size());
        }
        double maxAbs = 0;
        double maxRel = 0;
        for (int i = 0; i < e.size(); i++) {
            TensorComparison c = of(e.get(i), a.get(i), tolerance);
            if (!c.matches()) {
                return mismatch((expected.type().isSequence() ? "tensor " + i : "the optional's value") + ": "
                        + c.problem());
            }
            maxAbs = Math.max(maxAbs, Double.isNaN(c.maxAbsError()) ? 0 : c.maxAbsError());
            maxRel = Math.max(maxRel, Double.isNaN(c.maxRelError()) ? 0 : c.maxRelError());
        }
        return new TensorComparison(true, maxAbs, maxRel, "");
    }

    private static TensorComparison mismatch(String problem) {
        return new TensorComparison(false, Double.NaN, Double.NaN, problem);
    }

    private static TensorComparison compareFloats(Tensor expected, Tensor actual, Tolerance tolerance) {
        double[] e = expected.doubles();
        double[] a = actual.doubles();
        double maxAbs = 0;
        double maxRel = 0;
        int firstBad = -1;
        int worst = -1;
        double worstExcess = 0;
        for (int i = 0; i < e.length; i++) {
            boolean ok = tolerance.accepts(e[i], a[i]);
            if (Double.isFinite(e[i]) && Double.isFinite(a[i])) {
                double diff = Math.abs(a[i] - e[i]);
                maxAbs = Math.max(maxAbs, diff);
                maxRel = Math.max(maxRel, diff == 0 ? 0 : diff / Math.abs(e[i]));
                double excess = diff - (tolerance.atol() + tolerance.rtol() * Math.abs(e[i]));
                if (!ok && (worst < 0 || excess > worstExcess)) {
                    worst = i;
                    worstExcess = excess;
                }
            }
            if (!ok && firstBad < 0) {
                firstBad = i;
            }
        }
        if (firstBad < 0) {
            return new TensorComparison(true, maxAbs, maxRel, "");
        }
        int at = worst >= 0 ? worst : firstBad;
        String problem = String.format(Locale.ROOT, "max abs error %s, max rel error %s; worst at %s: expected %s, got %s",
                fmt(maxAbs), fmt(maxRel), index(expected.shape(), at), e[at], a[at]);
        return new TensorComparison(false, maxAbs, maxRel, problem);
    }

    private interface ElementTest {
        boolean same(int i);
    }

    private interface ElementText {
        String text(int i);
    }

    private static TensorComparison compareExact(Tensor expected, Tensor actual, ElementTest same,
                                                 ElementText expectedText, ElementText actualText) {
        int bad = 0;
        int first = -1;
        for (int i = 0; i < expected.size(); i++) {
            if (!same.same(i)) {
                bad++;
                if (first < 0) {
                    first = i;
                }
            }
        }
        if (bad == 0) {
            return new TensorComparison(true, 0, 0, "");
        }
        return mismatch(bad + " of " + expected.size() + " elements differ (exact comparison); first at "
                + index(expected.shape(), first) + ": expected " + expectedText.text(first) + ", got "
                + actualText.text(first));
    }

    /** The multi-index of flat element {@code flat} in a row-major tensor of {@code shape}. */
    static String index(int[] shape, int flat) {
        int[] idx = new int[shape.length];
        int rest = flat;
        for (int d = shape.length - 1; d >= 0; d--) {
            if (shape[d] > 0) {
                idx[d] = rest % shape[d];
                rest /= shape[d];
            }
        }
        return Arrays.toString(idx);
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, "%.3g", v);
    }
}
