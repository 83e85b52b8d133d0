package dev.kiln.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attr;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Node;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import dev.kiln.passes.OptLevel;
import dev.kiln.passes.PassManager;
import dev.kiln.passes.PassOptions;
import dev.kiln.passes.training.GradientCheck;
import dev.kiln.passes.training.Loss;
import dev.kiln.passes.training.TrainingGraph;
import dev.kiln.passes.training.TrainingSpec;
import dev.kiln.runtime.train.Optimizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Generated trainers of models with an ONNX RNN layer, which trains unrolled into its steps
 * ({@code RnnUnrolling}, where {@code KilnCompiler.simplifyForTraining} prepares training graphs): each model trains
 * like the reference trainer on the same graph ({@link TrainerModelsTest#agree}: Adam 1e-2, 3 steps, loss 1e-5
 * relative, parameters 1e-4 absolute), with 2 threads to the bit like with one; the prepared graph computes what the
 * RNN op computes (the reference evaluator on the original graph, 1e-6 relative in float32, 1e-12 in float64) and its
 * gradients agree with central differences in double ({@link GradientCheck}, 1e-6 scaled). The parameters keep the
 * ONNX names; inference compiles keep the RNN node.
 */
class RnnTrainerTest {
    private static final TrainingSpec SPEC = TrainingSpec.of(Loss.CROSS_ENTROPY);

    /** 0.3 times a seeded gaussian, of {@code dtype}. */
    private static Tensor g(DType dtype, long seed, int... shape) {
        Random r = new Random(seed);
        double[] v = new double[Tensor.sizeOf(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = 0.3 * r.nextGaussian();
        }
        return Tensor.wrapDoubles(dtype, shape, v);
    }

    /** [N, k] -> Gemm to 10 logits. */
    private static void logits(GraphBuilder b, DType t, Value h, int k) {
        b.output(b.op("Gemm").inputs(h, b.initializer("fcW", g(t, 7, 10, k)), b.initializer("fcB", g(t, 8, 10)))
                .attr("transB", 1L).output());
    }

    /** x [N, 5, 4] -> Transpose to [5, N, 4] -> RNN(hidden 6, Tanh) -> Y_h [1, N, 6] -> Squeeze -> 10 logits. */
    static Graph tanhLastState(DType t) {
        GraphBuilder b = new GraphBuilder("rnn_tanh");
        Value x = b.input("x", t, Shape.of(Dim.sym("N"), Dim.of(5), Dim.of(4)));
        Value seq = b.op("Transpose").inputs(x).attr("perm", new long[] {1, 0, 2}).output();
        List<Value> r = b.op("RNN").name("rnn").inputs(seq, b.initializer("W", g(t, 1, 1, 6, 4)),
                b.initializer("R", g(t, 2, 1, 6, 6)), b.initializer("B", g(t, 3, 1, 12))).attr("hidden_size", 6L)
                .outputCount(2).build();
        Value h = b.op("Squeeze").inputs(r.get(1), b.initializer("ax0", Tensor.ofInt64s(0))).output();
        logits(b, t, h, 6);
        return b.build();
    }

    /**
     * A bidirectional RNN with Relu activations (hidden 6) over [5, N, 4] whose Y [5, 2, N, 6] is made [N, 60]
     * for the logits.
     */
    static Graph bidirectionalReluSequence(DType t) {
        GraphBuilder b = new GraphBuilder("rnn_bidi_relu");
        Value x = b.input("x", t, Shape.of(Dim.sym("N"), Dim.of(5), Dim.of(4)));
        Value seq = b.op("Transpose").inputs(x).attr("perm", new long[] {1, 0, 2}).output();
        List<Value> r = b.op("RNN").name("rnn").inputs(seq, b.initializer("W", g(t, 1, 2, 6, 4)),
                b.initializer("R", g(t, 2, 2, 6, 6)), b.initializer("B", g(t, 3, 2, 12))).attr("hidden_size", 6L)
                .attr("direction", "bidirectional").attr("activations", new Attr.Strs(List.of("Relu", "Relu")))
                .outputCount(1).build();
        Value yt = b.op("Transpose").inputs(r.get(0)).attr("perm", new long[] {2, 0, 1, 3}).output(); // [N, 5, 2, 6]
        Value flat = b.op("Reshape").inputs(yt, b.initializer("shp", Tensor.ofInt64s(0, 60))).output();
        logits(b, t, flat, 60);
        return b.build();
    }

    /**
     * A batch-first (layout 1) reverse RNN, hidden 6, with clip 0.5 (which bites), whose initial_h [N, 1, 6] is
     * computed from the sequence's mean by a trained Gemm and Tanh, and whose Y_h [N, 1, 6] is flattened into the
     * logits; no B.
     */
    static Graph batchFirstWithInitialState(DType t) {
        GraphBuilder b = new GraphBuilder("rnn_bf_h0");
        Value x = b.input("x", t, Shape.of(Dim.sym("N"), Dim.of(5), Dim.of(4)));
        Value mean = b.op("ReduceMean").inputs(x, b.initializer("time", Tensor.ofInt64s(1))).attr("keepdims", 0L)
                .output(); // [N, 4]
        Value s = b.op("Gemm").inputs(mean, b.initializer("sW", g(t, 10, 6, 4)), b.initializer("sB", g(t, 11, 6)))
                .attr("transB", 1L).output();
        Value h0 = b.op("Reshape").inputs(b.op("Tanh").inputs(s).output(), b.initializer("shp", Tensor.ofInt64s(0, 1, 6)))
                .output();
        List<Value> r = b.op("RNN").name("rnn").inputs(x, b.initializer("W", g(t, 1, 1, 6, 4)),
                b.initializer("R", g(t, 2, 1, 6, 6)), Value.ABSENT, Value.ABSENT, h0).attr("hidden_size", 6L)
                .attr("direction", "reverse").attr("layout", 1L).attr("clip", 0.5f).outputCount(2).build();
        logits(b, t, b.op("Flatten").inputs(r.get(1)).attr("axis", 1L).output(), 6);
        return b.build();
    }

    private static TrainerModelsTest.Compiled trainsLikeTheReference(Graph graph, String name, Path dir,
                                                                     List<String> parameters) throws Exception {
        TrainerModelsTest.Compiled one = TrainerModelsTest.compile(graph, name, SPEC, 1);
        assertEquals(parameters, List.copyOf(one.training().parameters().keySet()), name + ": parameters");
        assertTrue(one.training().graph().nodes().stream().noneMatch(n -> n.op().equals("RNN")), name);
        double[] worst = TrainerModelsTest.agree(one, name, Optimizer.adam(1e-2), Optimizer.adam(1e-2), dir);
        System.out.printf("%s: loss %.2e param %.2e%n", name, worst[0], worst[1]);
        TrainerModelsTest.threadsAgreeBitwise(one, TrainerModelsTest.compile(graph, name, SPEC, 2), name);
        // The inference class of the training compile runs the unrolled graph, and gives the model's logits.
        Tensor x = TrainerModelsTest.randomInput(one, 3, 21);
        Tensor expected = ReferenceEvaluator.run(graph, Map.of("x", x)).get(graph.outputs().get(0).name());
        Object net = one.net().getMethod("load").invoke(null);
        float[] actual = (float[]) one.net().getMethod("run", float[].class, int.class).invoke(net, x.toFloatArray(), 3);
        assertTrue(TrainerModelsTest.maxAbsDiff(expected, actual) <= 1e-5, name + ": inference differs by "
                + TrainerModelsTest.maxAbsDiff(expected, actual));
        return one;
    }

    /**
     * The graph training starts from computes the original model's outputs (the reference evaluator running the RNN
     * op), and in double its gradients agree with central differences; the RNN node is gone from it.
     */
    private static void unrolledLikeTheOp(Function<DType, Graph> model) {
        for (DType t : List.of(DType.FLOAT32, DType.FLOAT64)) {
            Graph original = model.apply(t);
            Graph prepared = KilnCompiler.simplifyForTraining(original, OptLevel.O3, PassOptions.quiet());
            assertTrue(prepared.nodes().stream().noneMatch(n -> n.op().equals("RNN")), original.name());
            Random r = new Random(5);
            double[] x = new double[3 * 5 * 4];
            for (int i = 0; i < x.length; i++) {
                x[i] = r.nextGaussian();
            }
            Map<String, Tensor> feeds = Map.of("x", Tensor.wrapDoubles(t, new int[] {3, 5, 4}, x));
            // The RNN's outputs the model reads (graph outputs of a copy of the original) against the prepared graph's
            // values of the same names.
            Node rnn = original.nodes().stream().filter(n -> n.op().equals("RNN")).findFirst().orElseThrow();
            List<Value> outs = rnn.outputs().stream().filter(v -> !v.isAbsent() && original.nodes().stream()
                    .anyMatch(n -> n.inputs().contains(v))).toList();
            Map<String, Tensor> expected = ReferenceEvaluator.run(withOutputs(original, outs), feeds);
            List<Value> same = new ArrayList<>();
            for (Value v : outs) {
                prepared.nodes().stream().flatMap(n -> n.outputs().stream()).filter(o -> o.name().equals(v.name()))
                        .findFirst().ifPresent(same::add);
            }
            assertEquals(outs.size(), same.size(), original.name() + ": the RNN's outputs keep their names");
            Map<String, Tensor> actual = ReferenceEvaluator.run(withOutputs(prepared, same), feeds);
            double tolerance = t == DType.FLOAT32 ? 1e-6 : 1e-12;
            for (Value v : outs) {
                double d = relativeDiff(expected.get(v.name()), actual.get(v.name()));
                assertTrue(d <= tolerance, original.name() + " " + t + ": " + v.name() + " differs by " + d);
            }
            if (t == DType.FLOAT64) {
                Tensor labels = Tensor.wrapLongs(DType.INT64, new int[] {3}, new long[] {1, 7, 4});
                GradientCheck.Report report = GradientCheck.check(prepared, SPEC, feeds, labels);
                assertTrue(report.passed(), original.name() + ": " + report);
                System.out.printf("%s: %s%n", original.name(), report);
            }
        }
    }

    private static Graph withOutputs(Graph g, List<Value> outputs) {
        return new Graph(g.name(), g.inputs(), g.initializers(), g.nodes(), outputs);
    }

    private static double relativeDiff(Tensor a, Tensor b) {
        double[] x = a.toDoubleArray();
        double[] y = b.toDoubleArray();
        assertEquals(x.length, y.length);
        double diff = 0;
        double scale = 1e-30;
        for (int i = 0; i < x.length; i++) {
            diff = Math.max(diff, Math.abs(x[i] - y[i]));
            scale = Math.max(scale, Math.abs(x[i]));
        }
        return diff / scale;
    }

    @Test
    void aTanhRnnTrainsOnItsLastState(@TempDir Path dir) throws Exception {
        unrolledLikeTheOp(RnnTrainerTest::tanhLastState);
        trainsLikeTheReference(tanhLastState(DType.FLOAT32), "rnn_tanh", dir, List.of("W", "R", "B", "fcW", "fcB"));
    }

    @Test
    void aBidirectionalReluRnnTrainsOnItsOutputSequence(@TempDir Path dir) throws Exception {
        unrolledLikeTheOp(RnnTrainerTest::bidirectionalReluSequence);
        trainsLikeTheReference(bidirectionalReluSequence(DType.FLOAT32), "rnn_bidi_relu", dir,
                List.of("W", "R", "B", "fcW", "fcB"));
    }

    @Test
    void aBatchFirstReverseRnnTrainsItsInitialStatePath(@TempDir Path dir) throws Exception {
        unrolledLikeTheOp(RnnTrainerTest::batchFirstWithInitialState);
        trainsLikeTheReference(batchFirstWithInitialState(DType.FLOAT32), "rnn_bf_h0", dir,
                List.of("sW", "sB", "W", "R", "fcW", "fcB"));
    }

    /**
     * ONNX's own RNN cases (defaults, batch-first, with B and initial_h given, a longer sequence): unrolled as
     * training prepares them, the graphs compute the expected outputs the cases ship (within 1e-6 relative).
     * Their W, R and B are graph inputs, which the unrolling reads like initializers.
     */
    @Test
    void theOnnxRnnCasesComputeTheirExpectedOutputsUnrolled() throws Exception {
        Path suite = TrainerReferenceTest.shared().resolve("onnx-tests").resolve("node");
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isDirectory(suite), "no ONNX cases at " + suite);
        for (String name : List.of("test_simple_rnn_defaults", "test_simple_rnn_batchwise",
                "test_simple_rnn_with_initial_bias", "test_rnn_seq_length")) {
            Path dir = suite.resolve(name);
            Graph original = dev.kiln.onnx.OnnxImporter.load(dir.resolve("model.onnx"));
            Graph prepared = KilnCompiler.simplifyForTraining(original, OptLevel.O1, PassOptions.quiet());
            assertTrue(prepared.nodes().stream().noneMatch(n -> n.op().equals("RNN")), name);
            Path data = dir.resolve("test_data_set_0");
            Map<String, Tensor> feeds = new LinkedHashMap<>();
            for (int i = 0; i < original.inputs().size(); i++) {
                feeds.put(original.inputs().get(i).name(),
                        dev.kiln.onnx.TensorProtos.read(data.resolve("input_" + i + ".pb")).tensor());
            }
            Map<String, Tensor> actual = ReferenceEvaluator.run(prepared, feeds);
            for (int i = 0; i < original.outputs().size(); i++) {
                String out = original.outputs().get(i).name();
                Tensor expected = dev.kiln.onnx.TensorProtos.read(data.resolve("output_" + i + ".pb")).tensor();
                double d = relativeDiff(expected, actual.get(out));
                assertTrue(d <= 1e-6, name + ": " + out + " differs by " + d + " (relative)");
            }
        }
    }

    @Test
    void everyLevelTrainsTheUnrolledNode() {
        for (OptLevel level : OptLevel.values()) {
            TrainingGraph training = KilnCompiler.differentiate(bidirectionalReluSequence(DType.FLOAT32), SPEC, level,
                    PassOptions.quiet());
            assertEquals(List.of("W", "R", "B", "fcW", "fcB"), List.copyOf(training.parameters().keySet()),
                    level::toString);
            assertTrue(training.graph().nodes().stream().noneMatch(n -> n.op().equals("RNN")), level::toString);
        }
    }

    @Test
    void inferenceKeepsTheRnnNode() {
        Graph graph = bidirectionalReluSequence(DType.FLOAT32);
        for (OptLevel level : OptLevel.values()) {
            Graph optimized = PassManager.forLevel(level, PassOptions.quiet()).run(graph);
            assertEquals(1, optimized.nodes().stream().filter(n -> n.op().equals("RNN")).count(), level::toString);
        }
    }

    @Test
    void anRnnWithSequenceLensIsRefusedNamingIt() {
        GraphBuilder b = new GraphBuilder("rnn_lens");
        Value x = b.input("x", DType.FLOAT32, Shape.of(Dim.of(5), Dim.sym("N"), Dim.of(4)));
        Value lens = b.input("lens", DType.INT32, Shape.of(Dim.sym("N")));
        List<Value> r = b.op("RNN").name("encoder/rnn").inputs(x, b.initializer("W", g(DType.FLOAT32, 1, 1, 6, 4)),
                b.initializer("R", g(DType.FLOAT32, 2, 1, 6, 6)), Value.ABSENT, lens).attr("hidden_size", 6L)
                .outputCount(2).build();
        logits(b, DType.FLOAT32, b.op("Squeeze").inputs(r.get(1), b.initializer("ax0", Tensor.ofInt64s(0))).output(), 6);
        UnsupportedOpException e = assertThrows(UnsupportedOpException.class,
                () -> KilnCompiler.differentiate(b.build(), SPEC, OptLevel.O3, PassOptions.quiet()));
        assertTrue(e.getMessage().contains("'encoder/rnn'") && e.getMessage().contains("sequence_lens"), e.getMessage());
        // Frozen, it is no obstacle: the head trains over the RNN node, which stays.
        TrainingGraph frozen = KilnCompiler.differentiate(b.build(), SPEC.withFrozen(java.util.Set.of("W", "R")),
                OptLevel.O3, PassOptions.quiet());
        assertEquals(List.of("fcW", "fcB"), List.copyOf(frozen.parameters().keySet()));
        assertTrue(frozen.graph().nodes().stream().anyMatch(n -> n.op().equals("RNN")));
    }
}
