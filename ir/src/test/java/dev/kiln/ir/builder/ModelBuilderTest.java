package dev.kiln.ir.builder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attr;
import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphException;
import dev.kiln.ir.Node;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.ShapeException;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ModelBuilderTest {

    private static Graph mlp(long seed) {
        ModelBuilder m = ModelBuilder.create("mlp").seed(seed);
        m.input("input", DType.FLOAT32, "N,784")
                .dense(512, Activation.RELU)
                .dense(256, Activation.RELU)
                .dense(10)
                .output("output");
        return m.build();
    }

    private static Tensor init(Graph g, String name) {
        return g.initializers().get(g.findValue(name).orElseThrow());
    }

    @Test
    void mlpHasPyTorchNamesShapesAndGemmLayout() {
        Graph g = mlp(0);
        assertEquals(List.of("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"),
                g.initializers().keySet().stream().map(Value::name).toList());
        assertArrayEquals(new int[] {512, 784}, init(g, "fc1.weight").shape());
        assertArrayEquals(new int[] {10}, init(g, "fc3.bias").shape());
        assertEquals(List.of("/fc1/Gemm", "/Relu", "/fc2/Gemm", "/Relu_1", "/fc3/Gemm"),
                g.nodes().stream().map(Node::name).toList());
        Node gemm = g.nodes().get(0);
        assertEquals("Gemm", gemm.op());
        assertEquals(new Attr.Int(1), gemm.attributes().get("transB").orElseThrow());
        assertEquals("/fc1/Gemm_output_0", gemm.output(0).name());
        assertEquals(1, g.outputs().size());
        assertEquals("output", g.outputs().get(0).name());
        assertEquals("f32[N,10]", g.outputs().get(0).type().toString());
        assertSame(g.outputs().get(0), g.nodes().get(4).output(0));
    }

    @Test
    void seededInitIsDeterministicAndPerParameter() {
        Graph a = mlp(7);
        Graph b = mlp(7);
        Graph c = mlp(8);
        for (String p : List.of("fc1.weight", "fc1.bias", "fc3.weight")) {
            assertEquals(init(a, p), init(b, p), p);
            assertNotEquals(init(a, p), init(c, p), p);
        }
        // A parameter's values depend on the seed and its own name only, not on the layers around it.
        ModelBuilder m = ModelBuilder.create("one").seed(7);
        m.input("input", DType.FLOAT32, "N,784").dense(512).output("y");
        assertEquals(init(a, "fc1.weight"), init(m.build(), "fc1.weight"));
    }

    @Test
    void linearInitIsUniformWithinKaimingBound() {
        Tensor w = init(mlp(0), "fc1.weight");
        double bound = 1 / Math.sqrt(784);
        double max = 0;
        double sum = 0;
        for (double v : w.doubles()) {
            assertTrue(Math.abs(v) <= bound, "value " + v + " outside ±" + bound);
            max = Math.max(max, Math.abs(v));
            sum += v;
        }
        // 401408 uniform draws: the extreme is within 0.1% of the bound and the mean near 0 (sd of mean ~ 2.6e-5).
        assertTrue(max > 0.999 * bound, "max " + max);
        assertTrue(Math.abs(sum / w.size()) < 2e-4, "mean " + sum / w.size());
        assertEquals(DType.FLOAT32, w.dtype());
    }

    @Test
    void denseComputesXTimesWeightTransposedPlusBias() {
        Map<String, Tensor> weights = Map.of(
                "fc1.weight", Tensor.ofFloats(new int[] {2, 3}, 1, 2, 3, -1, 0, 1),
                "fc1.bias", Tensor.ofFloats(new int[] {2}, 0.5f, -10));
        ModelBuilder m = ModelBuilder.withWeights("d", weights);
        m.input("x", DType.FLOAT32, "N,3").dense(2).relu().output("y");
        Graph g = m.build();
        Tensor y = ReferenceEvaluator.run(g, Map.of("x", Tensor.ofFloats(new int[] {2, 3}, 1, 1, 1, 2, 0, 20)))
                .get("y");
        // row 0: [1+2+3+0.5, -1+0+1-10] -> relu; row 1: [2+0+60+0.5, -2+0+20-10]
        assertArrayEquals(new float[] {6.5f, 0f, 62.5f, 8f}, y.toFloatArray());
        assertSame(weights.get("fc1.weight"), g.initializers().get(g.findValue("fc1.weight").orElseThrow()));
    }

    @Test
    void convAndPoolingShapesAndAttributes() {
        ModelBuilder m = ModelBuilder.create("cnn");
        Flow y = m.input("image", DType.FLOAT32, "N,3,32,32")
                .conv2d(Conv2d.of(8, 3).padding(1).stride(2))
                .relu()
                .conv2d(Conv2d.of(16, 3).named("block.conv").groups(2).bias(false))
                .maxPool2d(2)
                .avgPool2d(3, 1, 1)
                .globalAvgPool();
        assertEquals("f32[N,16,1,1]", y.type().toString());
        y.flatten().dense("head", 4).output("logits");
        Graph g = m.build();
        assertArrayEquals(new int[] {8, 3, 3, 3}, init(g, "conv1.weight").shape());
        assertArrayEquals(new int[] {16, 4, 3, 3}, init(g, "block.conv.weight").shape());
        assertTrue(g.findValue("block.conv.bias").isEmpty());
        Node conv = g.nodes().get(0);
        assertEquals("/conv1/Conv", conv.name());
        assertEquals(Attr.Ints.of(1, 1, 1, 1), conv.attributes().get("pads").orElseThrow());
        assertEquals(Attr.Ints.of(2, 2), conv.attributes().get("strides").orElseThrow());
        assertEquals(Attr.Ints.of(3, 3), conv.attributes().get("kernel_shape").orElseThrow());
        assertEquals("f32[N,4]", g.outputs().get(0).type().toString());
        // Conv bias bound is 1/sqrt(in/groups * kh * kw) = 1/sqrt(27).
        for (double v : init(g, "conv1.bias").doubles()) {
            assertTrue(Math.abs(v) <= 1 / Math.sqrt(27));
        }
    }

    @Test
    void batchNormStartsAsIdentityStatistics() {
        ModelBuilder m = ModelBuilder.create("bn");
        m.input("x", DType.FLOAT32, "N,3,2,2").batchNorm().output("y");
        Graph g = m.build();
        assertEquals(List.of("bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"), m.parameterNames());
        assertArrayEquals(new double[] {1, 1, 1}, init(g, "bn1.weight").doubles());
        assertArrayEquals(new double[] {0, 0, 0}, init(g, "bn1.running_mean").doubles());
        assertArrayEquals(new double[] {1, 1, 1}, init(g, "bn1.running_var").doubles());
        assertEquals("BatchNormalization", g.nodes().get(0).op());
    }

    @Test
    void residualBranchesShareAHandle() {
        ModelBuilder m = ModelBuilder.create("res");
        Flow x = m.input("x", DType.FLOAT32, "N,16");
        Flow h = x.dense(16, Activation.RELU).dense(16);
        Flow sum = x.add(h).relu();
        sum.output("y");
        Graph g = m.build();
        Node add = g.nodes().stream().filter(n -> n.op().equals("Add")).findFirst().orElseThrow();
        assertSame(x.value(), add.input(0));
        assertSame(h.value(), add.input(1));
        assertEquals(List.of("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"), m.parameterNames());
    }

    @Test
    void dropoutIsAbsentInInferenceGraphsAndKeptOnRequest() {
        ModelBuilder inference = ModelBuilder.create("d");
        Flow x = inference.input("x", DType.FLOAT32, "N,4");
        assertSame(x, x.dropout(0.5));
        ModelBuilder training = ModelBuilder.create("d").keepDropout(true);
        training.input("x", DType.FLOAT32, "N,4").dropout(0.25).output("y");
        Graph g = training.build();
        assertEquals(List.of("Constant", "Dropout"), g.nodes().stream().map(Node::op).toList());
    }

    @Test
    void missingGivenWeightNamesTheParameterLayerAndShape() {
        ModelBuilder m = ModelBuilder.withWeights("w", Map.of("fc1.weight", Tensor.zeros(DType.FLOAT32, new int[] {2, 3})));
        Flow x = m.input("x", DType.FLOAT32, "N,3");
        WeightException e = assertThrows(WeightException.class, () -> x.dense(2));
        assertTrue(e.getMessage().contains("'fc1.bias'") && e.getMessage().contains("'fc1' (Dense 3 -> 2)")
                && e.getMessage().contains("f32[2]") && e.getMessage().contains("[fc1.weight]"), e.getMessage());
    }

    @Test
    void wrongShapedGivenWeightNamesBothShapes() {
        ModelBuilder m = ModelBuilder.withWeights("w", Map.of(
                "fc1.weight", Tensor.zeros(DType.FLOAT32, new int[] {3, 2}),
                "fc1.bias", Tensor.zeros(DType.FLOAT32, new int[] {2})));
        Flow x = m.input("x", DType.FLOAT32, "N,3");
        WeightException e = assertThrows(WeightException.class, () -> x.dense(2));
        assertTrue(e.getMessage().contains("'fc1.weight' is f32[3,2]") && e.getMessage().contains("needs f32[2,3]"),
                e.getMessage());
    }

    @Test
    void unusedGivenWeightFailsTheBuild() {
        Map<String, Tensor> w = new HashMap<>();
        w.put("fc1.weight", Tensor.zeros(DType.FLOAT32, new int[] {2, 3}));
        w.put("fc1.bias", Tensor.zeros(DType.FLOAT32, new int[] {2}));
        w.put("fc2.wieght", Tensor.zeros(DType.FLOAT32, new int[] {2, 2}));
        ModelBuilder m = ModelBuilder.withWeights("w", w);
        m.input("x", DType.FLOAT32, "N,3").dense(2).output("y");
        WeightException e = assertThrows(WeightException.class, m::build);
        assertTrue(e.getMessage().contains("[fc2.wieght]"), e.getMessage());
    }

    @Test
    void layerErrorsNameTheProblem() {
        ModelBuilder m = ModelBuilder.create("e");
        Flow x = m.input("x", DType.FLOAT32, "N,K");
        ShapeException dyn = assertThrows(ShapeException.class, () -> x.dense(4));
        assertTrue(dyn.getMessage().contains("static") && dyn.getMessage().contains("f32[N,K]"), dyn.getMessage());
        ShapeException rank = assertThrows(ShapeException.class, () -> x.conv2d(4, 3));
        assertTrue(rank.getMessage().contains("rank 4"), rank.getMessage());
        Flow y = m.input("y", DType.FLOAT32, "N,4");
        y.dense("head", 2);
        WeightException dup = assertThrows(WeightException.class, () -> y.dense("head", 2));
        assertTrue(dup.getMessage().contains("'head' is used twice"), dup.getMessage());
        assertThrows(IllegalStateException.class, () -> m.seed(3));
        assertThrows(IllegalArgumentException.class, () -> Dense.of(0));
        assertThrows(IllegalArgumentException.class, () -> Conv2d.of(6, 3).groups(4));
    }

    @Test
    void outputsNeedNamesThatAreFreeAndABuilderIsSingleUse() {
        ModelBuilder m = ModelBuilder.create("o");
        Flow x = m.input("x", DType.FLOAT32, "N,4");
        assertThrows(GraphException.class, m::build);
        Flow r = x.relu();
        assertThrows(GraphException.class, () -> r.output("x"));
        r.output("y");
        // An input (or an already-output value) as output goes through Identity, as in a PyTorch export.
        x.output("x_copy");
        Graph g = m.build();
        assertEquals(List.of("y", "x_copy"), g.outputs().stream().map(Value::name).toList());
        assertSame(g, m.build());
        assertThrows(IllegalStateException.class, r::relu);
    }
}
