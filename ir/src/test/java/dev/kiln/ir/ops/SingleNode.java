package dev.kiln.ir.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Test helper: builds a one-node graph whose inputs are graph inputs, runs it with the reference evaluator. */
final class SingleNode {
    private SingleNode() {}

    /**
     * Runs {@code op} on {@code inputs} ({@code null} for an omitted optional input) and returns its outputs
     * in order ({@code null} where {@code outputNames} has an empty name).
     */
    static List<Tensor> run(String op, Attributes attrs, List<Tensor> inputs, String... outputNames) {
        GraphBuilder b = new GraphBuilder(op);
        List<Value> in = new ArrayList<>();
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        for (int i = 0; i < inputs.size(); i++) {
            Tensor t = inputs.get(i);
            if (t == null) {
                in.add(Value.ABSENT);
            } else {
                in.add(b.input("in" + i, t.type()));
                feeds.put("in" + i, t);
            }
        }
        List<Value> outs = b.op(op).inputs(in).attrs(attrs).outputNames(outputNames).build();
        for (Value v : outs) {
            if (!v.isAbsent()) {
                b.output(v);
            }
        }
        Graph g = b.build();
        Map<String, Tensor> result = ReferenceEvaluator.run(g, feeds);
        List<Tensor> out = new ArrayList<>();
        for (String name : outputNames) {
            out.add(name.isEmpty() ? null : result.get(name));
        }
        return out;
    }

    static Tensor f32(int[] shape, double... values) {
        return Tensor.ofDoubles(dev.kiln.ir.DType.FLOAT32, shape, values);
    }

    static Tensor f64(int[] shape, double... values) {
        return Tensor.ofDoubles(dev.kiln.ir.DType.FLOAT64, shape, values);
    }

    static int[] dims(int... d) { return d; }

    /** Asserts shape and every element within {@code tol}. */
    static void assertTensor(int[] shape, double[] expected, Tensor actual, double tol) {
        assertArrayEquals(shape, actual.shape(), "shape");
        double[] got = actual.toDoubleArray();
        assertEquals(expected.length, got.length, "size");
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], got[i], tol, "element " + i);
        }
    }
}
