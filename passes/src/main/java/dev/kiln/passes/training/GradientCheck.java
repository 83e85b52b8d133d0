package dev.kiln.passes.training;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks the gradients autodiff builds against central finite differences of the loss, in double precision
 * through the reference evaluator: for each parameter element, {@code (L(p + h) - L(p - h)) / 2h} against the
 * analytic gradient. The model's parameters must be FLOAT64 (so no rounding hides or fakes an error).
 *
 * <p>The comparison is {@code |analytic - numeric| <= tolerance * max(1, |analytic|, |numeric|)}: with
 * {@code h = 1e-6} and losses of order 1, the difference quotient's own error is about 1e-10 (rounding) plus
 * {@code h^2 f'''} (truncation), far below the default tolerance of 1e-6, while a wrong rule is off by O(1).
 */
public final class GradientCheck {
    public static final double DEFAULT_STEP = 1e-6;
    public static final double DEFAULT_TOLERANCE = 1e-6;
    /** Elements checked per parameter at most (evenly spaced), so large parameters stay cheap. */
    public static final int MAX_ELEMENTS_PER_PARAMETER = 48;

    private GradientCheck() {}

    /**
     * The outcome of a check.
     *
     * @param checked the number of parameter elements compared
     * @param maxError the largest scaled error {@code |a - n| / max(1, |a|, |n|)}
     * @param worst where that error occurred, e.g. {@code w[3]: analytic 0.25, numeric 0.2500000001}
     * @param tolerance the tolerance the check used
     */
    public record Report(int checked, double maxError, String worst, double tolerance) {
        public boolean passed() { return checked > 0 && maxError <= tolerance; }

        @Override
        public String toString() {
            return (passed() ? "passed" : "FAILED") + ": " + checked + " elements, max scaled error " + maxError
                    + " (tolerance " + tolerance + ") at " + worst;
        }
    }

    /** {@link #check(TrainingGraph, Map, double, double)} with the default step and tolerance. */
    public static Report check(Graph model, TrainingSpec spec, Map<String, Tensor> inputs, Tensor labels) {
        return check(Autodiff.build(model, spec), withLabels(inputs, labels), DEFAULT_STEP, DEFAULT_TOLERANCE);
    }

    /**
     * Compares the training graph's gradients with central differences of its loss.
     *
     * @param feeds the data inputs and {@link TrainingGraph#LABELS} (parameters and state come from the graph)
     */
    public static Report check(TrainingGraph training, Map<String, Tensor> feeds, double step, double tolerance) {
        for (Map.Entry<String, Tensor> p : training.parameters().entrySet()) {
            if (p.getValue().dtype() != DType.FLOAT64) {
                throw new IllegalArgumentException("gradient check needs FLOAT64 parameters, but '" + p.getKey()
                        + "' is " + p.getValue().type());
            }
        }
        long seed = training.spec().seed();
        Map<String, Tensor> base = new LinkedHashMap<>(feeds);
        base.putAll(training.parameters());
        base.putAll(training.state());
        base.putAll(training.frozen());
        Map<String, Tensor> analytic = ReferenceEvaluator.run(training.graph(), base, seed, (v, t) -> { });
        Graph lossOnly = lossOnly(training.graph());

        int checked = 0;
        double maxError = 0;
        String worst = "nothing";
        for (Map.Entry<String, Tensor> p : training.parameters().entrySet()) {
            double[] values = p.getValue().toDoubleArray();
            double[] grad = analytic.get(TrainingGraph.gradName(p.getKey())).toDoubleArray();
            int stride = Math.max(1, values.length / MAX_ELEMENTS_PER_PARAMETER);
            for (int i = 0; i < values.length; i += stride) {
                double plus = loss(lossOnly, base, p.getKey(), p.getValue(), values, i, step, seed);
                double minus = loss(lossOnly, base, p.getKey(), p.getValue(), values, i, -step, seed);
                double numeric = (plus - minus) / (2 * step);
                double error = Math.abs(grad[i] - numeric) / Math.max(1, Math.max(Math.abs(grad[i]), Math.abs(numeric)));
                checked++;
                if (!(error <= maxError)) {
                    maxError = error;
                    worst = p.getKey() + "[" + i + "]: analytic " + grad[i] + ", numeric " + numeric;
                }
            }
        }
        return new Report(checked, maxError, worst, tolerance);
    }

    private static double loss(Graph lossOnly, Map<String, Tensor> base, String name, Tensor original,
                               double[] values, int i, double delta, long seed) {
        double[] moved = values.clone();
        moved[i] += delta;
        Map<String, Tensor> feeds = new LinkedHashMap<>(base);
        feeds.put(name, Tensor.wrapDoubles(original.dtype(), original.shape(), moved));
        return ReferenceEvaluator.run(lossOnly, feeds, seed, (v, t) -> { }).get(TrainingGraph.LOSS).getDouble(0);
    }

    /** The training graph cut down to the nodes the loss needs (same inputs, so the same feeds apply). */
    private static Graph lossOnly(Graph g) {
        Value loss = g.outputs().get(0);
        Set<Value> needed = Collections.newSetFromMap(new IdentityHashMap<>());
        needed.add(loss);
        List<Node> kept = new ArrayList<>();
        for (int i = g.nodes().size() - 1; i >= 0; i--) {
            Node n = g.nodes().get(i);
            if (n.outputs().stream().anyMatch(needed::contains)) {
                kept.add(n);
                needed.addAll(n.inputs());
            }
        }
        Collections.reverse(kept);
        Map<Value, Tensor> inits = new LinkedHashMap<>();
        g.initializers().forEach((v, t) -> {
            if (needed.contains(v)) {
                inits.put(v, t);
            }
        });
        return new Graph(g.name(), g.inputs(), inits, kept, List.of(loss));
    }

    private static Map<String, Tensor> withLabels(Map<String, Tensor> inputs, Tensor labels) {
        Map<String, Tensor> feeds = new LinkedHashMap<>(inputs);
        feeds.put(TrainingGraph.LABELS, labels);
        return feeds;
    }
}
