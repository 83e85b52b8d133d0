package dev.kiln.ir.builder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Tensor;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/** What the layers compute and how their recurrent and shape-changing nodes are laid out. */
class LayerSemanticsTest {

    private static Tensor run(UnaryOperator<Flow> layers, String shape, Tensor x) {
        ModelBuilder m = ModelBuilder.create("t");
        layers.apply(m.input("x", DType.FLOAT32, shape)).output("y");
        return ReferenceEvaluator.run(m.build(), Map.of("x", x)).get("y");
    }

    private static final Tensor X = Tensor.ofFloats(new int[] {1, 4}, -2f, -0.5f, 0f, 1.5f);

    @Test
    void activationsMatchTheirDefinitions() {
        double[] xs = {-2, -0.5, 0, 1.5};
        Map<String, UnaryOperator<Flow>> layers = Map.of(
                "gelu", Flow::gelu, "silu", Flow::silu, "leakyRelu", Flow::leakyRelu, "elu", Flow::elu,
                "sigmoid", Flow::sigmoid, "tanh", Flow::tanh, "softplus", Flow::softplus);
        Map<String, java.util.function.DoubleUnaryOperator> defs = Map.of(
                "gelu", v -> 0.5 * v * (1 + erf(v / Math.sqrt(2))),
                "silu", v -> v / (1 + Math.exp(-v)),
                "leakyRelu", v -> v > 0 ? v : 0.01 * v,
                "elu", v -> v > 0 ? v : Math.exp(v) - 1,
                "sigmoid", v -> 1 / (1 + Math.exp(-v)),
                "tanh", Math::tanh,
                "softplus", v -> Math.log1p(Math.exp(v)));
        for (String name : layers.keySet()) {
            Tensor y = run(layers.get(name), "N,4", X);
            for (int i = 0; i < xs.length; i++) {
                // float32 results of a few rounded float32 steps: within 1e-6 of the exact value
                assertEquals(defs.get(name).applyAsDouble(xs[i]), y.getDouble(i), 1e-6, name + "(" + xs[i] + ")");
            }
        }
    }

    @Test
    void softmaxRowsSumToOneAndLogSoftmaxIsTheirLog() {
        Tensor p = run(f -> f.softmax(), "N,4", X);
        Tensor lp = run(f -> f.logSoftmax(1), "N,4", X);
        double sum = 0;
        for (int i = 0; i < 4; i++) {
            sum += p.getDouble(i);
            assertEquals(Math.log(p.getDouble(i)), lp.getDouble(i), 1e-6);
        }
        assertEquals(1, sum, 1e-6);
    }

    @Test
    void reshapeFlattenSelectAndConcatKeepTheBatchSymbolic() {
        ModelBuilder m = ModelBuilder.create("s");
        Flow x = m.input("x", DType.FLOAT32, "N,2,3,4");
        assertEquals("f32[N,24]", x.flatten().type().toString());
        assertEquals("f32[N,6,4]", x.reshape(-1, 6, 4).type().toString());
        assertEquals("f32[N,3,4]", x.select(1, -1).type().toString());
        assertEquals("f32[N,4,3,4]", x.concat(1, x).type().toString());
    }

    @Test
    void selectTakesTheLastTimeStep() {
        Tensor seq = Tensor.ofFloats(new int[] {1, 3, 2}, 1, 2, 3, 4, 5, 6);
        assertArrayEquals(new float[] {5, 6}, run(f -> f.select(1, -1), "N,3,2", seq).toFloatArray());
    }

    @Test
    void lstmIsLaidOutAsPyTorchExportsIt() {
        ModelBuilder m = ModelBuilder.create("rnn").seed(3);
        Flow out = m.input("x", DType.FLOAT32, "N,5,6").lstm(8, true);
        assertEquals("f32[N,5,8]", out.type().toString());
        out.select(1, -1).dense(2).output("y");
        Graph g = m.build();
        assertEquals(List.of("Shape", "Constant", "Gather", "Constant", "Constant", "Unsqueeze", "Constant", "Concat",
                "ConstantOfShape", "Transpose", "LSTM", "Constant", "Squeeze", "Transpose", "Constant", "Gather", "Gemm"),
                g.nodes().stream().map(Node::op).toList());
        assertEquals(List.of("lstm1.W", "lstm1.R", "lstm1.B", "fc1.weight", "fc1.bias"), m.parameterNames());
        Tensor w = g.initializers().get(g.findValue("lstm1.W").orElseThrow());
        assertArrayEquals(new int[] {1, 32, 6}, w.shape());
        assertArrayEquals(new int[] {1, 64}, g.initializers().get(g.findValue("lstm1.B").orElseThrow()).shape());
        for (double v : w.doubles()) {
            assertTrue(Math.abs(v) <= 1 / Math.sqrt(8), "LSTM init is uniform in ±1/sqrt(hidden)");
        }
        Tensor y = ReferenceEvaluator.run(g, Map.of("x", Tensor.zeros(DType.FLOAT32, new int[] {3, 5, 6}))).get("y");
        assertArrayEquals(new int[] {3, 2}, y.shape());
    }

    @Test
    void gruIsTimeMajorWithoutBatchFirst() {
        ModelBuilder m = ModelBuilder.create("rnn");
        Flow out = m.input("x", DType.FLOAT32, "T,N,6").gru("enc", 4, false);
        assertEquals("f32[T,N,4]", out.type().toString());
        out.output("y");
        Graph g = m.build();
        Node gru = g.nodes().stream().filter(n -> n.op().equals("GRU")).findFirst().orElseThrow();
        assertEquals("/enc/GRU", gru.name());
        assertEquals(2, gru.outputs().size());
        assertTrue(g.nodes().stream().noneMatch(n -> n.op().equals("Transpose")));
        assertArrayEquals(new int[] {1, 12, 4}, g.initializers().get(g.findValue("enc.R").orElseThrow()).shape());
    }

    @Test
    void denseOnASequenceUsesMatMulWithTheSameWeightLayout() {
        Map<String, Tensor> w = Map.of(
                "fc1.weight", Tensor.ofFloats(new int[] {1, 2}, 2, -1),
                "fc1.bias", Tensor.ofFloats(new int[] {1}, 0.25f));
        ModelBuilder m = ModelBuilder.withWeights("seq", w);
        m.input("x", DType.FLOAT32, "N,3,2").dense(1).output("y");
        Graph g = m.build();
        assertEquals(List.of("Transpose", "MatMul", "Add"), g.nodes().stream().map(Node::op).toList());
        Tensor y = ReferenceEvaluator.run(g, Map.of("x", Tensor.ofFloats(new int[] {1, 3, 2}, 1, 1, 2, 0, 0, 3)))
                .get("y");
        assertArrayEquals(new float[] {1.25f, 4.25f, -2.75f}, y.toFloatArray());
    }

    /** erf by its Taylor series (converges quickly for |v| < 3). */
    private static double erf(double v) {
        double sum = 0;
        double term = v;
        for (int n = 0; n < 60; n++) {
            sum += term / (2 * n + 1);
            term *= -v * v / (n + 1);
        }
        return 2 / Math.sqrt(Math.PI) * sum;
    }
}
