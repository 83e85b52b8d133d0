package dev.kiln.passes;

import dev.kiln.ir.Graph;
import dev.kiln.ir.KilnException;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code --verify}: evaluates the graph on seeded random inputs before and after a pass and fails, naming
 * the pass and the first value (in evaluation order) that diverges, when any output differs by more than
 * {@code ATOL + RTOL * |expected|}. Intermediate values are matched by name.
 */
final class NumericCheck {
    /** Float32 rounding of reordered or refactored arithmetic (folded BatchNorm, fused bias) stays well inside. */
    static final double ATOL = 1e-5;
    static final double RTOL = 1e-4;

    private final Map<String, Tensor> feeds;
    private Map<String, Tensor> previous;

    /** @param given real inputs to check with; when empty, seeded random ones ({@link RandomInputs}) */
    NumericCheck(Graph original, Map<String, Tensor> given) {
        this.feeds = given.isEmpty() ? RandomInputs.forGraph(original, 42) : given;
        try {
            this.previous = evaluateAll(original).values;
        } catch (KilnException e) {
            throw new KilnException("--verify: the model cannot run on " + (given.isEmpty()
                    ? "random inputs (integer inputs are filled with 0..2; give real inputs to verify this model)"
                    : "the given inputs") + ": " + e.getMessage(), e);
        }
    }

    private record Run(Map<String, Tensor> values, List<String> order, Map<String, Tensor> outputs) {}

    private Run evaluateAll(Graph g) {
        Map<String, Tensor> values = new HashMap<>();
        List<String> order = new ArrayList<>();
        Map<String, Tensor> outputs = ReferenceEvaluator.run(g, feeds, 7, (Value v, Tensor t) -> {
            values.put(v.name(), t);
            order.add(v.name());
        });
        g.initializers().forEach((v, t) -> values.put(v.name(), t));
        return new Run(values, order, new LinkedHashMap<>(outputs));
    }

    void compare(String passName, Graph next) {
        Run run = evaluateAll(next);
        for (Map.Entry<String, Tensor> e : run.outputs.entrySet()) {
            Tensor expected = previous.get(e.getKey());
            if (expected == null || !close(expected, e.getValue())) {
                throw new KilnException("--verify: pass '" + passName + "' changed the model's output '" + e.getKey()
                        + "' (" + firstDivergence(run) + ")");
            }
        }
        previous = run.values;
    }

    private String firstDivergence(Run run) {
        for (String name : run.order) {
            Tensor before = previous.get(name);
            Tensor after = run.values.get(name);
            if (before != null && java.util.Arrays.equals(before.shape(), after.shape()) && !close(before, after)) {
                return "first diverging value: '" + name + "', max abs error " + maxAbsError(before, after);
            }
        }
        return "no intermediate value with the same name diverges; the outputs do";
    }

    static boolean close(Tensor expected, Tensor actual) {
        if (expected.dtype() != actual.dtype() || !java.util.Arrays.equals(expected.shape(), actual.shape())) {
            return false;
        }
        if (!expected.dtype().isFloat()) {
            return expected.equals(actual);
        }
        for (int i = 0; i < expected.size(); i++) {
            double a = actual.getDouble(i);
            double b = expected.getDouble(i);
            if (Double.isNaN(a) && Double.isNaN(b)) {
                continue;
            }
            if (!(Math.abs(a - b) <= ATOL + RTOL * Math.abs(b)) && a != b) {
                return false;
            }
        }
        return true;
    }

    private static double maxAbsError(Tensor a, Tensor b) {
        if (!a.dtype().isNumeric() || !b.dtype().isNumeric()) {
            return Double.NaN;
        }
        double m = 0;
        for (int i = 0; i < a.size(); i++) {
            m = Math.max(m, Math.abs(a.getDouble(i) - b.getDouble(i)));
        }
        return m;
    }
}
