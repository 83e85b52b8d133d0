package dev.kiln.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attr;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.passes.training.Autodiff;
import dev.kiln.passes.training.Loss;
import dev.kiln.passes.training.TrainingSpec;
import dev.kiln.runtime.train.Optimizer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Generated trainers of reverse and bidirectional LSTM and GRU layers: each direction runs the one-direction
 * training kernels on its slices of W, R, B, the states and Y, and its gradient walks back the gates its forward
 * kept. Batch-major layers (layout=1) train as sequence-major ones between Transposes. Each model trains like the
 * reference trainer ({@link TrainerModelsTest#agree}), and with 2 threads to the bit like with one.
 */
class RecurrentDirectionsTrainerTest {
    private static final TrainingSpec SPEC = TrainingSpec.of(Loss.CROSS_ENTROPY);

    /** 0.3 times a seeded gaussian. */
    private static Tensor g(long seed, int... shape) {
        float[] v = TrainerLayersTest.gaussian(shape, seed).toFloatArray();
        for (int i = 0; i < v.length; i++) {
            v[i] *= 0.3f;
        }
        return Tensor.ofFloats(shape, v);
    }

    /** x [N, 5, 4] -> Transpose to sequence-major [5, N, 4]. */
    private static Value sequence(GraphBuilder b) {
        Value x = b.input("x", DType.FLOAT32, Shape.of(Dim.sym("N"), Dim.of(5), Dim.of(4)));
        return b.op("Transpose").inputs(x).attr("perm", new long[] {1, 0, 2}).output();
    }

    /** [N, k] -> Gemm to 10 logits. */
    private static void logits(GraphBuilder b, Value h, int k) {
        b.output(b.op("Gemm").inputs(h, b.initializer("fcW", g(7, 10, k)), b.initializer("fcB", g(8, 10)))
                .attr("transB", 1).output());
    }

    /**
     * A bidirectional LSTM, hidden 6, whose Y [5, 2, N, 6] is made [5, N, 12] for a forward GRU (linear_before_reset
     * 1), whose last state feeds the logits.
     */
    static Graph bidiLstmIntoGru() {
        GraphBuilder b = new GraphBuilder("bidi");
        Value seq = sequence(b);
        List<Value> l = b.op("LSTM").inputs(seq, b.initializer("W", g(1, 2, 24, 4)), b.initializer("R", g(2, 2, 24, 6)),
                b.initializer("B", g(3, 2, 48))).attr("hidden_size", 6L).attr("direction", "bidirectional")
                .outputCount(1).build();
        Value yt = b.op("Transpose").inputs(l.get(0)).attr("perm", new long[] {0, 2, 1, 3}).output(); // [5, N, 2, 6]
        Value y2 = b.op("Reshape").inputs(yt, b.initializer("shp", Tensor.ofInt64s(0, 0, 12))).output(); // [5, N, 12]
        List<Value> gg = b.op("GRU").inputs(y2, b.initializer("gW", g(4, 1, 18, 12)),
                b.initializer("gR", g(5, 1, 18, 6)), b.initializer("gB", g(6, 1, 36))).attr("hidden_size", 6L)
                .attr("linear_before_reset", 1L).outputCount(2).build();
        Value h = b.op("Squeeze").inputs(gg.get(1), b.initializer("ax0", Tensor.ofInt64s(0))).output();
        logits(b, h, 6);
        return b.build();
    }

    /**
     * A bidirectional GRU, hidden 6, whose Y_h [2, N, 6] (both directions' last states) is made [N, 12]; its
     * activations spelled out, once per direction, as exporters write them.
     */
    static Graph bidiGru(long linearBeforeReset) {
        GraphBuilder b = new GraphBuilder("bidi_gru");
        Value seq = sequence(b);
        List<Value> gg = b.op("GRU").inputs(seq, b.initializer("W", g(1, 2, 18, 4)), b.initializer("R", g(2, 2, 18, 6)),
                b.initializer("B", g(3, 2, 36))).attr("hidden_size", 6L).attr("direction", "bidirectional")
                .attr("linear_before_reset", linearBeforeReset)
                .attr("activations", new Attr.Strs(List.of("Sigmoid", "Tanh", "Sigmoid", "Tanh")))
                .outputCount(2).build();
        Value hn = b.op("Transpose").inputs(gg.get(1)).attr("perm", new long[] {1, 0, 2}).output(); // [N, 2, 6]
        logits(b, b.op("Flatten").inputs(hn).attr("axis", 1L).output(), 12);
        return b.build();
    }

    /** A reverse LSTM, hidden 6, whose last cell state Y_c [1, N, 6] alone feeds the logits. */
    static Graph reverseLstmCell() {
        GraphBuilder b = new GraphBuilder("rev_lstm");
        Value seq = sequence(b);
        List<Value> l = b.op("LSTM").inputs(seq, b.initializer("W", g(1, 1, 24, 4)), b.initializer("R", g(2, 1, 24, 6)),
                b.initializer("B", g(3, 1, 48))).attr("hidden_size", 6L).attr("direction", "reverse")
                .outputCount(3).build();
        Value c = b.op("Squeeze").inputs(l.get(2), b.initializer("ax0", Tensor.ofInt64s(0))).output();
        logits(b, c, 6);
        return b.build();
    }

    /** The trainer's calls of the recurrent training kernels, in order. */
    private static List<String> recurrentCalls(Graph graph, String name) {
        String trainer = TrainerModelsTest.generate(graph, name, SPEC, 1).sources().stream().map(Object::toString)
                .filter(src -> src.contains("class NetTrainer")).findFirst().orElseThrow();
        return trainer.lines().filter(line -> line.contains("RecurrentTraining.")).map(String::strip).toList();
    }

    private static TrainerModelsTest.Compiled trainsLikeTheReference(Graph graph, String name, Path dir)
            throws Exception {
        TrainerModelsTest.Compiled one = TrainerModelsTest.compile(graph, name, SPEC, 1);
        double[] worst = TrainerModelsTest.agree(one, name, Optimizer.adam(1e-2), Optimizer.adam(1e-2), dir);
        System.out.printf("%s: loss %.2e param %.2e%n", name, worst[0], worst[1]);
        TrainerModelsTest.threadsAgreeBitwise(one, TrainerModelsTest.compile(graph, name, SPEC, 2), name);
        return one;
    }

    @Test
    void bidirectionalLstmUnderAGruTrains(@TempDir Path dir) throws Exception {
        Graph graph = bidiLstmIntoGru();
        List<String> calls = recurrentCalls(graph, "bidi");
        // Forward: both LSTM directions and the GRU keep their gates; backward: each walks its own back.
        assertEquals(2, calls.stream().filter(c -> c.contains("lstmForward(")).count(), calls::toString);
        assertEquals(2, calls.stream().filter(c -> c.contains("lstmBackward(")).count(), calls::toString);
        assertTrue(calls.stream().noneMatch(c -> c.contains("Grad(")), () -> "a forward recomputed: " + calls);
        trainsLikeTheReference(graph, "bidi", dir);
    }

    @Test
    void bidirectionalGruTrainsOnBothLastStates(@TempDir Path dir) throws Exception {
        trainsLikeTheReference(bidiGru(1), "bidi_gru", dir);
        // ONNX's default form, the reset gate applied before R_h: both directions keep their gates too
        Graph resetFirst = bidiGru(0);
        List<String> calls = recurrentCalls(resetFirst, "bidi_gru0");
        String backward = ".*gruBackward\\(4, 6, 5, batch, (false|true), false, .*"; // reverse?, linear_before_reset
        assertEquals(2, calls.stream().filter(c -> c.matches(backward)).count(), calls::toString);
        trainsLikeTheReference(resetFirst, "bidi_gru0", dir);
    }

    @Test
    void reverseLstmTrainsOnItsLastCellState(@TempDir Path dir) throws Exception {
        trainsLikeTheReference(reverseLstmCell(), "rev_lstm", dir);
    }

    /** x [N, 5, 4], batch-major as layout=1 reads it. */
    private static Value batchMajor(GraphBuilder b) {
        return b.input("x", DType.FLOAT32, Shape.of(Dim.sym("N"), Dim.of(5), Dim.of(4)));
    }

    /** A batch-first LSTM classifier: LSTM(layout=1, hidden 6) whose Y_h [N, 1, 6] is flattened into the logits. */
    static Graph batchFirstLstm() {
        GraphBuilder b = new GraphBuilder("bf_lstm");
        List<Value> l = b.op("LSTM").inputs(batchMajor(b), b.initializer("W", g(1, 1, 24, 4)),
                b.initializer("R", g(2, 1, 24, 6)), b.initializer("B", g(3, 1, 48))).attr("hidden_size", 6L)
                .attr("layout", 1L).outputCount(2).build();
        logits(b, b.op("Flatten").inputs(l.get(1)).attr("axis", 1L).output(), 6); // Y_h [N, 1, 6]
        return b.build();
    }

    /**
     * A batch-first bidirectional GRU (layout=1, hidden 6, ONNX's default linear_before_reset 0) whose Y
     * [N, 5, 2, 6] is made [N, 5, 12] and averaged over time into the logits.
     */
    static Graph batchFirstBidiGru() {
        GraphBuilder b = new GraphBuilder("bf_bidi_gru");
        List<Value> gg = b.op("GRU").inputs(batchMajor(b), b.initializer("W", g(1, 2, 18, 4)),
                b.initializer("R", g(2, 2, 18, 6)), b.initializer("B", g(3, 2, 36))).attr("hidden_size", 6L)
                .attr("direction", "bidirectional").attr("layout", 1L).outputCount(1).build();
        Value y = b.op("Reshape").inputs(gg.get(0), b.initializer("shp", Tensor.ofInt64s(0, 0, 12))).output();
        Value mean = b.op("ReduceMean").inputs(y, b.initializer("time", Tensor.ofInt64s(1))).attr("keepdims", 0L)
                .output();
        logits(b, mean, 12);
        return b.build();
    }

    /**
     * A batch-first bidirectional LSTM (layout=1, hidden 6) whose initial states [N, 2, 6] are computed from the
     * sequence's mean by two trained Gemms (the batch is symbolic, so initial_h [N, D, H] of layout 1 cannot be an
     * initializer, and the op does not broadcast it), and whose Y_c [N, 2, 6] feeds the logits. Two directions, so
     * the states' Transposes move elements.
     */
    static Graph batchFirstLstmWithInitialStates() {
        GraphBuilder b = new GraphBuilder("bf_lstm_h0");
        Value x = batchMajor(b);
        Value mean = b.op("ReduceMean").inputs(x, b.initializer("time", Tensor.ofInt64s(1))).attr("keepdims", 0L)
                .output(); // [N, 4]
        Value[] states = new Value[2];
        for (int k = 0; k < 2; k++) {
            Value s = b.op("Gemm").inputs(mean, b.initializer("s" + k + "W", g(10 + k, 12, 4)),
                    b.initializer("s" + k + "B", g(12 + k, 12))).attr("transB", 1L).output(); // [N, 12]
            s = b.op("Tanh").inputs(s).output();
            states[k] = b.op("Reshape").inputs(s, b.initializer("shp" + k, Tensor.ofInt64s(0, 2, 6))).output();
        }
        List<Value> l = b.op("LSTM").inputs(x, b.initializer("W", g(1, 2, 24, 4)), b.initializer("R", g(2, 2, 24, 6)),
                b.initializer("B", g(3, 2, 48)), Value.ABSENT, states[0], states[1]).attr("hidden_size", 6L)
                .attr("direction", "bidirectional").attr("layout", 1L).outputCount(3).build();
        logits(b, b.op("Flatten").inputs(l.get(2)).attr("axis", 1L).output(), 12); // Y_c [N, 2, 6]
        return b.build();
    }

    /**
     * A batch-major model trains like the reference trainer on the graph the compiler trains (where the node is
     * sequence-major between Transposes), like the reference trainer differentiating the layout-1 node itself
     * (its LSTMGrad / GRUGrad read layout 1), and with 2 threads to the bit like with one.
     */
    private static void batchMajorTrainsLikeTheReference(Graph graph, String name, Path dir) throws Exception {
        TrainerModelsTest.Compiled one = trainsLikeTheReference(graph, name, dir);
        TrainerModelsTest.Compiled layoutOne = new TrainerModelsTest.Compiled(one.net(), one.trainer(),
                Autodiff.build(graph, SPEC));
        assertTrue(layoutOne.training().graph().nodes().stream().anyMatch(n -> n.op().endsWith("Grad")
                && n.attributes().get("layout").map(a -> ((Attr.Int) a).value() == 1).orElse(false)),
                "the reference differentiates the layout-1 node");
        double[] worst = TrainerModelsTest.agree(layoutOne, name, Optimizer.adam(1e-2), Optimizer.adam(1e-2), dir);
        System.out.printf("%s against layout=1 gradients: loss %.2e param %.2e%n", name, worst[0], worst[1]);
        // The inference class of the training compile runs the rewritten graph too, and gives the model's logits.
        Tensor x = TrainerModelsTest.randomInput(one, 3, 21);
        Tensor expected = ReferenceEvaluator.run(graph, Map.of("x", x)).get(graph.outputs().get(0).name());
        Object net = one.net().getMethod("load").invoke(null);
        float[] actual = (float[]) one.net().getMethod("run", float[].class, int.class)
                .invoke(net, x.toFloatArray(), 3);
        assertTrue(TrainerModelsTest.maxAbsDiff(expected, actual) <= 1e-5, name + ": inference differs by "
                + TrainerModelsTest.maxAbsDiff(expected, actual));
    }

    @Test
    void aBatchFirstLstmTrainsOnItsLastState(@TempDir Path dir) throws Exception {
        Graph graph = batchFirstLstm();
        List<String> calls = recurrentCalls(graph, "bf_lstm");
        // Sequence-major kernels, the forward keeping its gates for the backward
        assertEquals(1, calls.stream().filter(c -> c.contains("lstmForward(")).count(), calls::toString);
        assertEquals(1, calls.stream().filter(c -> c.contains("lstmBackward(")).count(), calls::toString);
        assertTrue(calls.stream().noneMatch(c -> c.contains("Grad(")), () -> "a forward recomputed: " + calls);
        batchMajorTrainsLikeTheReference(graph, "bf_lstm", dir);
    }

    @Test
    void aBatchFirstBidirectionalGruTrainsOnItsOutputSequence(@TempDir Path dir) throws Exception {
        Graph graph = batchFirstBidiGru();
        List<String> calls = recurrentCalls(graph, "bf_bidi_gru");
        assertEquals(2, calls.stream().filter(c -> c.contains("gruForward(")).count(), calls::toString);
        assertEquals(2, calls.stream().filter(c -> c.contains("gruBackward(")).count(), calls::toString);
        batchMajorTrainsLikeTheReference(graph, "bf_bidi_gru", dir);
    }

    @Test
    void aBatchFirstLstmTrainsItsInitialStatesPath(@TempDir Path dir) throws Exception {
        Graph graph = batchFirstLstmWithInitialStates();
        List<String> calls = recurrentCalls(graph, "bf_lstm_h0");
        assertEquals(2, calls.stream().filter(c -> c.contains("lstmBackward(")).count(), calls::toString);
        batchMajorTrainsLikeTheReference(graph, "bf_lstm_h0", dir);
    }
}
