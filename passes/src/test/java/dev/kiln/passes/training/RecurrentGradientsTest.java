package dev.kiln.passes.training;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attr;
import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Node;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.onnx.OnnxImporter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The shared LSTM and GRU models (PyTorch exports: Transpose to seq-major, a forward LSTM/GRU with zero initial
 * states, GRU with linear_before_reset=1, Squeeze, Transpose, Gather of the last step, Gemm) trained with
 * cross-entropy: every parameter's gradient from the training graph agrees with central differences of the
 * loss. The models are widened to float64 first, so the check is in double precision.
 */
class RecurrentGradientsTest {
    private static final double STEP = 1e-5;
    /** |analytic - numeric| <= ABS + REL * |numeric|: differences of O(h^2) ~ 1e-10 plus rounding. */
    private static final double ABS = 1e-8;
    private static final double REL = 1e-6;
    private static final int SAMPLES_PER_PARAMETER = 6;

    @Test
    void lstmModelGradientsMatchFiniteDifferences() {
        check("lstm");
    }

    @Test
    void gruModelGradientsMatchFiniteDifferences() {
        check("gru");
    }

    private static void check(String modelName) {
        Graph model = widen(OnnxImporter.load(TrainRef.model(modelName)));
        TrainingGraph tg = Autodiff.build(model, TrainingSpec.of(Loss.CROSS_ENTROPY));
        Random random = new Random(3);
        int batch = 2;
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        feeds.put(model.inputs().get(0).name(), uniform(random, batch, 28, 28));
        feeds.put(TrainingGraph.LABELS, Tensor.wrapLongs(DType.INT64, new int[] {batch}, new long[] {3, 7}));
        feeds.putAll(tg.parameters());
        Map<String, Tensor> result = ReferenceEvaluator.run(tg.graph(), feeds);
        Graph lossOnly = lossOnly(tg.graph());
        for (Map.Entry<String, Tensor> p : tg.parameters().entrySet()) {
            Tensor grad = result.get(TrainingGraph.gradName(p.getKey()));
            double[] base = p.getValue().doubles();
            for (int s = 0; s < SAMPLES_PER_PARAMETER; s++) {
                int e = random.nextInt(base.length);
                double numeric = (loss(lossOnly, feeds, p.getKey(), e, base[e] + STEP)
                        - loss(lossOnly, feeds, p.getKey(), e, base[e] - STEP)) / (2 * STEP);
                double analytic = grad.getDouble(e);
                assertTrue(Math.abs(analytic - numeric) <= ABS + REL * Math.abs(numeric), modelName + ": d loss / d "
                        + p.getKey() + "[" + e + "] is " + analytic + " but central differences give " + numeric);
            }
        }
    }

    private static double loss(Graph g, Map<String, Tensor> feeds, String param, int element, double value) {
        Map<String, Tensor> moved = new LinkedHashMap<>(feeds);
        Tensor t = feeds.get(param);
        double[] v = t.doubles().clone();
        v[element] = value;
        moved.put(param, Tensor.wrapDoubles(t.dtype(), t.shape(), v));
        return ReferenceEvaluator.run(g, moved).get(TrainingGraph.LOSS).getDouble(0);
    }

    /** The training graph cut down to the nodes the loss depends on (the same inputs, one output). */
    private static Graph lossOnly(Graph g) {
        Value loss = g.findValue(TrainingGraph.LOSS).orElseThrow();
        Set<Value> needed = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        needed.add(loss);
        List<Node> kept = new ArrayList<>();
        List<Node> nodes = g.nodes();
        for (int i = nodes.size() - 1; i >= 0; i--) {
            Node n = nodes.get(i);
            if (n.outputs().stream().anyMatch(needed::contains)) {
                kept.add(0, n);
                n.inputs().stream().filter(v -> !v.isAbsent()).forEach(needed::add);
            }
        }
        return g.withNodes(kept, List.of(loss));
    }

    private static Tensor uniform(Random random, int... shape) {
        double[] v = new double[Tensor.sizeOf(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = random.nextDouble() * 2 - 1;
        }
        return Tensor.wrapDoubles(DType.FLOAT64, shape, v);
    }

    /** The same graph with every float32 value, initializer and tensor attribute in float64. */
    static Graph widen(Graph g) {
        GraphBuilder b = new GraphBuilder(g.name());
        Map<Value, Value> map = new HashMap<>();
        for (Value v : g.inputs()) {
            map.put(v, b.input(v.name(), wide(v.dtype()), v.shape()));
        }
        g.initializers().forEach((v, t) -> map.put(v, b.initializer(v.name(), wide(t))));
        for (Node n : g.nodes()) {
            Attributes.Builder a = Attributes.builder();
            n.attributes().asMap().forEach((k, attr) -> a.set(k, attr instanceof Attr.TensorValue tv
                    ? new Attr.TensorValue(wide(tv.value()))
                    : k.equals("to") && n.op().equals("Cast") && attr instanceof Attr.Int i
                            && i.value() == DType.FLOAT32.onnxCode() ? new Attr.Int(DType.FLOAT64.onnxCode()) : attr));
            List<Value> in = n.inputs().stream().map(v -> v.isAbsent() ? v : map.get(v)).toList();
            List<String> names = n.outputs().stream().map(v -> v.isAbsent() ? "" : v.name()).toList();
            List<Value> outs = b.op(n.op()).domain(n.domain()).name(n.name()).inputs(in).attrs(a.build())
                    .outputNames(names).build();
            for (int i = 0; i < outs.size(); i++) {
                map.put(n.outputs().get(i), outs.get(i));
            }
        }
        g.outputs().forEach(v -> b.output(map.get(v)));
        return b.build();
    }

    private static DType wide(DType t) {
        return t == DType.FLOAT32 ? DType.FLOAT64 : t;
    }

    private static Tensor wide(Tensor t) {
        return t.dtype() == DType.FLOAT32 ? Tensor.wrapDoubles(DType.FLOAT64, t.shape(), t.toDoubleArray()) : t;
    }
}
