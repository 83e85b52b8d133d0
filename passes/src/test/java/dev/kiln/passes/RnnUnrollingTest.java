package dev.kiln.passes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attr;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.GraphVerifier;
import dev.kiln.ir.Node;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import dev.kiln.passes.training.Autodiff;
import dev.kiln.passes.training.GradTesting;
import dev.kiln.passes.training.GradientCheck;
import dev.kiln.passes.training.Loss;
import dev.kiln.passes.training.TrainingGraph;
import dev.kiln.passes.training.TrainingSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * RNN nodes written out as their steps ({@link RnnUnrolling}) compute what the RNN op computes (the reference
 * evaluator's RNN on the original graph: within 1e-6 relative in float32, 1e-12 in float64), and their gradients,
 * which the op itself has none of, agree with central finite differences of the original semantics
 * ({@link GradientCheck}: step 1e-6, 1e-6 scaled): every direction, both layouts, with and without B and
 * initial_h, every activation the recurrent spec names with its alpha and beta, clip, Y and Y_h.
 */
class RnnUnrollingTest {
    private static final int T = 4;
    private static final int N = 3;
    private static final int I = 3;
    private static final int H = 5;

    /** One RNN configuration: attributes, whether B and initial_h are given, and the batch dim. */
    private record Config(String name, String direction, long layout, boolean bias, boolean initialH, Dim batch,
                          Consumer<GraphBuilder.NodeSpec> attrs, float clip) {
        Config(String name, String direction, long layout, boolean bias, boolean initialH, Dim batch,
               Consumer<GraphBuilder.NodeSpec> attrs) {
            this(name, direction, layout, bias, initialH, batch, attrs, 0);
        }

        int dirs() { return direction.equals("bidirectional") ? 2 : 1; }

        Config withoutClip() { return new Config(name, direction, layout, bias, initialH, batch, attrs, 0); }
    }

    private static final List<Config> CONFIGS = List.of(
            new Config("forward tanh", "forward", 0, true, false, Dim.sym("N"), s -> { }),
            new Config("reverse sigmoid, initial_h, no B", "reverse", 0, false, true, Dim.of(N),
                    s -> s.attr("activations", new Attr.Strs(List.of("Sigmoid")))),
            new Config("bidirectional relu/leaky relu, clip, layout 1", "bidirectional", 1, true, false, Dim.sym("N"),
                    s -> s.attr("activations", new Attr.Strs(List.of("Relu", "LeakyRelu")))
                            .attr("activation_alpha", new float[] {0.2f}), 0.6f),
            new Config("bidirectional affine/scaled tanh, initial_h, layout 1", "bidirectional", 1, true, true,
                    Dim.of(N), s -> s.attr("activations", new Attr.Strs(List.of("Affine", "ScaledTanh")))
                            .attr("activation_alpha", new float[] {0.5f, 1.5f})
                            .attr("activation_beta", new float[] {0.1f, 0.7f})),
            new Config("bidirectional hard sigmoid/elu, initial_h", "bidirectional", 0, true, true, Dim.of(N),
                    s -> s.attr("activations", new Attr.Strs(List.of("HardSigmoid", "Elu")))
                            .attr("activation_alpha", new float[] {0.3f, 0.8f})
                            .attr("activation_beta", new float[] {0.45f})),
            new Config("forward softsign, layout 1", "forward", 1, true, false, Dim.sym("N"),
                    s -> s.attr("activations", new Attr.Strs(List.of("Softsign")))),
            new Config("reverse softplus, clip", "reverse", 0, true, false, Dim.sym("N"),
                    s -> s.attr("activations", new Attr.Strs(List.of("Softplus"))), 0.8f),
            new Config("forward thresholded relu", "forward", 0, true, false, Dim.sym("N"),
                    s -> s.attr("activations", new Attr.Strs(List.of("ThresholdedRelu")))
                            .attr("activation_alpha", new float[] {0.1f})));

    private static Tensor random(DType dtype, long seed, double scale, int... shape) {
        Random r = new Random(seed);
        double[] v = new double[Tensor.sizeOf(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = scale * r.nextGaussian();
        }
        return Tensor.wrapDoubles(dtype, shape, v);
    }

    /**
     * x -> Mul(learned scale) -> RNN of {@code c} -> (Y, Y_h); the scale puts X's gradient under test too. The RNN
     * is named, its outputs are named "y" and "y_h".
     */
    private static List<Value> rnn(GraphBuilder b, Config c, DType dtype, int seq) {
        Shape xs = c.layout() == 0 ? Shape.of(Dim.of(seq), c.batch(), Dim.of(I)) : Shape.of(c.batch(), Dim.of(seq), Dim.of(I));
        Value x = b.input("x", dtype, xs);
        Value scaled = b.op("Mul").inputs(x, b.initializer("scale", random(dtype, 9, 1, I))).output();
        int d = c.dirs();
        List<Value> in = new ArrayList<>(List.of(scaled, b.initializer("W", random(dtype, 1, 0.5, d, H, I)),
                b.initializer("R", random(dtype, 2, 0.5, d, H, H))));
        in.add(c.bias() ? b.initializer("B", random(dtype, 3, 0.5, d, 2 * H)) : Value.ABSENT);
        if (c.initialH()) {
            in.add(Value.ABSENT);
            in.add(b.initializer("h0", random(dtype, 4, 0.5, c.layout() == 0 ? new int[] {d, N, H} : new int[] {N, d, H})));
        }
        GraphBuilder.NodeSpec s = b.op("RNN").name("rnn").inputs(in).attr("hidden_size", (long) H)
                .attr("direction", c.direction()).attr("layout", c.layout());
        c.attrs().accept(s);
        if (c.clip() != 0) {
            s.attr("clip", c.clip());
        }
        return s.outputNames("y", "y_h").build();
    }

    private static Graph forward(Config c, DType dtype, int seq) {
        GraphBuilder b = new GraphBuilder("rnn");
        rnn(b, c, dtype, seq).forEach(b::output);
        return b.build();
    }

    /**
     * The prediction an MSE loss compares with random targets: Y_h [D, N, H] ([N, D, H]) plus the sum of squares of Y
     * over time (same shape), or either alone.
     */
    private static Graph trained(Config c, boolean y, boolean yh) {
        GraphBuilder b = new GraphBuilder("rnn");
        List<Value> outs = rnn(b, c, DType.FLOAT64, T);
        Value squares = y ? b.op("ReduceSumSquare").inputs(outs.get(0), b.initializer("time",
                Tensor.ofInt64s(c.layout()))).attr("keepdims", 0L).output() : null;
        b.output(!yh ? squares : !y ? outs.get(1) : b.op("Add").inputs(squares, outs.get(1)).output());
        return b.build();
    }

    /** max |a - b| over max(1e-30, max |a|). */
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

    private static void assertSameOutputs(Config c, DType dtype, int seq, double tolerance) {
        Graph original = forward(c, dtype, seq);
        Graph unrolled = new RnnUnrolling().apply(original);
        GraphVerifier.verify(unrolled);
        assertTrue(unrolled.nodes().stream().noneMatch(n -> n.op().equals("RNN")), c.name());
        assertEquals(original.outputs().stream().map(v -> v.name() + v.type()).toList(),
                unrolled.outputs().stream().map(v -> v.name() + v.type()).toList(), c.name());
        Map<String, Tensor> feeds = Map.of("x", random(dtype, 21, 1,
                c.layout() == 0 ? new int[] {seq, N, I} : new int[] {N, seq, I}));
        Map<String, Tensor> expected = ReferenceEvaluator.run(original, feeds);
        Map<String, Tensor> actual = ReferenceEvaluator.run(unrolled, feeds);
        for (String out : List.of("y", "y_h")) {
            assertEquals(expected.get(out).type(), actual.get(out).type(), c.name() + ": " + out);
            double d = relativeDiff(expected.get(out), actual.get(out));
            assertTrue(d <= tolerance, c.name() + " " + dtype + ": " + out + " differs by " + d + " (relative)");
        }
    }

    @Test
    void theStepsComputeWhatTheRnnOpComputes() {
        for (Config c : CONFIGS) {
            assertSameOutputs(c, DType.FLOAT64, T, 1e-12);
            assertSameOutputs(c, DType.FLOAT32, T, 1e-6);
            assertSameOutputs(c, DType.FLOAT64, 1, 1e-12);
            if (c.clip() != 0) {
                // The clip bites: without it the outputs differ.
                Map<String, Tensor> feeds = Map.of("x", random(DType.FLOAT64, 21, 1,
                        c.layout() == 0 ? new int[] {T, N, I} : new int[] {N, T, I}));
                double d = relativeDiff(ReferenceEvaluator.run(forward(c, DType.FLOAT64, T), feeds).get("y"),
                        ReferenceEvaluator.run(forward(c.withoutClip(), DType.FLOAT64, T), feeds).get("y"));
                assertTrue(d > 1e-2, c.name() + ": the clip changes Y by " + d);
            }
        }
    }

    @Test
    void gradientsThroughTheStepsMatchFiniteDifferencesOfTheRnn() {
        for (Config c : CONFIGS) {
            for (boolean[] outs : new boolean[][] {{true, true}, {true, false}, {false, true}}) {
                Graph unrolled = new RnnUnrolling().apply(trained(c, outs[0], outs[1]));
                GradientCheck.Report r = GradTesting.assertGradients(unrolled);
                // Every weight of the node is a parameter under its own name, and nothing the rewrite added is.
                TrainingGraph tg = Autodiff.build(unrolled, TrainingSpec.of(Loss.MSE));
                List<String> expected = new ArrayList<>(List.of("scale", "W", "R"));
                if (c.bias()) {
                    expected.add("B");
                }
                if (c.initialH()) {
                    expected.add("h0");
                }
                assertEquals(expected, List.copyOf(tg.parameters().keySet()), c.name());
                System.out.printf("%s (Y %s, Y_h %s): %s%n", c.name(), outs[0], outs[1], r);
            }
        }
    }

    /**
     * The analytic gradients of the unrolled graph against central differences of the MSE loss computed from the
     * original graph, whose RNN node the reference evaluator runs as the op (h = 1e-6, 1e-6 scaled as in
     * {@link GradientCheck}): a few elements of every parameter.
     */
    @Test
    void gradientsMatchFiniteDifferencesOfTheRnnOpItself() {
        for (Config c : CONFIGS) {
            Graph original = trained(c, true, true);
            Graph unrolled = new RnnUnrolling().apply(original);
            Map<String, Tensor> feeds = GradTesting.feeds(original, 101);
            Tensor out = ReferenceEvaluator.run(original, feeds).get(original.outputs().get(0).name());
            Tensor target = GradTesting.random(202, -1, 1, out.shape());
            TrainingGraph tg = Autodiff.build(unrolled, TrainingSpec.of(Loss.MSE));
            Map<String, Tensor> all = new java.util.LinkedHashMap<>(feeds);
            all.put(TrainingGraph.LABELS, target);
            all.putAll(tg.parameters());
            Map<String, Tensor> analytic = ReferenceEvaluator.run(tg.graph(), all);
            double worst = 0;
            for (Map.Entry<Value, Tensor> p : original.initializers().entrySet()) {
                if (!tg.parameters().containsKey(p.getKey().name())) {
                    continue;
                }
                double[] grad = analytic.get(TrainingGraph.gradName(p.getKey().name())).toDoubleArray();
                int count = p.getValue().toDoubleArray().length;
                for (int i = 0; i < count; i += Math.max(1, count / 12)) {
                    double h = GradientCheck.DEFAULT_STEP;
                    double numeric = (mse(original, p.getKey(), i, h, feeds, target)
                            - mse(original, p.getKey(), i, -h, feeds, target)) / (2 * h);
                    double error = Math.abs(grad[i] - numeric) / Math.max(1, Math.max(Math.abs(grad[i]),
                            Math.abs(numeric)));
                    worst = Math.max(worst, error);
                    assertTrue(error <= GradientCheck.DEFAULT_TOLERANCE, c.name() + ": " + p.getKey().name() + "[" + i
                            + "] analytic " + grad[i] + ", numeric " + numeric);
                }
            }
            System.out.printf("%s against the RNN op: max scaled error %.1e%n", c.name(), worst);
        }
    }

    /** The MSE loss of {@code g} with element i of initializer {@code p} moved by delta. */
    private static double mse(Graph g, Value p, int i, double delta, Map<String, Tensor> feeds, Tensor target) {
        Map<Value, Tensor> inits = new java.util.LinkedHashMap<>(g.initializers());
        double[] moved = inits.get(p).toDoubleArray().clone();
        moved[i] += delta;
        inits.put(p, Tensor.wrapDoubles(DType.FLOAT64, inits.get(p).shape(), moved));
        Graph changed = new Graph(g.name(), g.inputs(), inits, g.nodes(), g.outputs());
        double[] y = ReferenceEvaluator.run(changed, feeds).get(g.outputs().get(0).name()).toDoubleArray();
        double[] t = target.toDoubleArray();
        double sum = 0;
        for (int k = 0; k < y.length; k++) {
            sum += (y[k] - t[k]) * (y[k] - t[k]);
        }
        return sum / y.length;
    }

    @Test
    void onlyTheOutputsReadAreBuilt() {
        Graph g = new RnnUnrolling().apply(trained(CONFIGS.get(0), false, true));
        // Y_h alone: no Concat over the steps; one Unsqueeze writes y_h.
        assertTrue(g.nodes().stream().noneMatch(n -> n.op().equals("Concat")), () -> ops(g));
        assertEquals(1, g.nodes().stream().filter(n -> n.outputs().stream().anyMatch(v -> v.name().equals("y_h")))
                .count());
        // A zero initial state: T - 1 recurrent products.
        assertEquals(T - 1 + 1, g.nodes().stream().filter(n -> n.op().equals("Gemm")).count(), () -> ops(g));
    }

    private static String ops(Graph g) {
        return g.nodes().stream().map(Node::op).toList().toString();
    }

    @Test
    void aNodeWithSequenceLensStaysAndItsGradientIsRefusedNamingIt() {
        GraphBuilder b = new GraphBuilder("lens");
        Value x = b.input("x", DType.FLOAT64, Shape.of(Dim.of(T), Dim.sym("N"), Dim.of(I)));
        Value lens = b.input("lens", DType.INT32, Shape.of(Dim.sym("N")));
        List<Value> outs = b.op("RNN").name("my_rnn").inputs(x, b.initializer("W", random(DType.FLOAT64, 1, 0.5, 1, H, I)),
                b.initializer("R", random(DType.FLOAT64, 2, 0.5, 1, H, H)), Value.ABSENT, lens)
                .attr("hidden_size", (long) H).outputNames("y", "y_h").build();
        b.output(outs.get(1));
        Graph g = b.build();
        assertSame(g, new RnnUnrolling().apply(g));
        UnsupportedOpException e = assertThrows(UnsupportedOpException.class,
                () -> Autodiff.build(g, TrainingSpec.of(Loss.MSE)));
        assertTrue(e.getMessage().contains("'my_rnn'") && e.getMessage().contains("sequence_lens"), e.getMessage());
    }

    @Test
    void aNodeNotUnrolledIsRefusedSayingHowRnnTrains() {
        Graph g = trained(CONFIGS.get(0), true, true);
        UnsupportedOpException e = assertThrows(UnsupportedOpException.class,
                () -> Autodiff.build(g, TrainingSpec.of(Loss.MSE)));
        assertTrue(e.getMessage().contains("'rnn'") && e.getMessage().contains("RnnUnrolling"), e.getMessage());
        assertTrue(g.nodes().stream().anyMatch(n -> n.op().equals("RNN")));
    }

    @Test
    void noPipelineLevelUnrolls() {
        for (OptLevel level : OptLevel.values()) {
            assertTrue(Pipeline.forLevel(level).stream().noneMatch(p -> p instanceof RnnUnrolling), level::toString);
        }
    }
}
