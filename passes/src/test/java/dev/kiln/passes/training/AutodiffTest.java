package dev.kiln.passes.training;

import static org.junit.jupiter.api.Assertions.assertEquals;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.GraphException;
import dev.kiln.ir.GraphPrinter;
import dev.kiln.ir.GraphVerifier;
import dev.kiln.ir.InputException;
import dev.kiln.ir.Node;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The training graph's layout and text for small models. */
class AutodiffTest {
    /** x[N,4] -> Gemm(w[3,4], b[3], transB) -> Relu -> Gemm(v[2,3]) -> logits[N,2]. */
    static Graph tinyMlp() {
        GraphBuilder b = new GraphBuilder("tiny");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,4"));
        Value w = b.initializer("w", Tensor.ofFloats(new int[] {3, 4}, 0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f, 0.7f,
                -0.8f, 0.9f, 1.0f, -1.1f, 1.2f));
        Value bias = b.initializer("b", Tensor.ofFloats(new int[] {3}, 0.1f, 0.2f, -0.3f));
        Value v = b.initializer("v", Tensor.ofFloats(new int[] {2, 3}, 1, -1, 0.5f, 0.25f, 2, -0.75f));
        Value h = b.op("Gemm").inputs(x, w, bias).attr("transB", 1).name("fc1").outputNames("h").output();
        Value r = b.op("Relu").inputs(h).outputNames("r").output();
        b.output(b.op("MatMul").inputs(r, b.op("Transpose").inputs(v).outputNames("vt").output())
                .outputNames("logits").output());
        return b.build();
    }

    @Test
    void backwardOfATinyMlpIsGemmsAndAReluGrad() {
        TrainingGraph tg = Autodiff.build(tinyMlp(), TrainingSpec.of(Loss.CROSS_ENTROPY));
        assertEquals("""
                graph tiny_training(%x: f32[N,4], %labels: i64[N], %w: f32[3,4], %b: f32[3], %v: f32[2,3]) -> (%loss: f32[], %grad.w: f32[3,4], %grad.b: f32[3], %grad.v: f32[2,3])
                  init %grad.loss.seed: f32[] = [1.0]
                  init %bw.fc1.const: i64[1] = [0]
                  %h: f32[N,3] = Gemm(%x, %w, %b) {transB=1}  # fc1
                  %r: f32[N,3] = Relu(%h)
                  %vt: f32[3,2] = Transpose(%v)
                  %logits: f32[N,2] = MatMul(%r, %vt)
                  %loss: f32[] = SoftmaxCrossEntropyLoss(%logits, %labels) {reduction="mean"}
                  %bw.loss.softmaxcrossentropylossgrad: f32[N,2] = dev.kiln.SoftmaxCrossEntropyLossGrad(%grad.loss.seed, %logits, %labels) {reduction="mean"}  # loss/grad_input/SoftmaxCrossEntropyLossGrad
                  %bw.logits.gemm: f32[N,3] = Gemm(%bw.loss.softmaxcrossentropylossgrad, %vt) {transB=1}  # logits/grad_input/Gemm
                  %bw.logits.gemm_1: f32[3,2] = Gemm(%r, %bw.loss.softmaxcrossentropylossgrad) {transA=1}  # logits/grad_b/Gemm
                  %grad.v: f32[2,3] = Transpose(%bw.logits.gemm_1) {perm=[1,0]}  # v/grad/Transpose
                  %bw.r.relugrad: f32[N,3] = dev.kiln.ReluGrad(%bw.logits.gemm, %r)  # r/grad_input/ReluGrad
                  %grad.w: f32[3,4] = Gemm(%bw.r.relugrad, %x) {transA=1}  # w/grad/Gemm
                  %grad.b: f32[3] = ReduceSum(%bw.r.relugrad, %bw.fc1.const) {keepdims=0}  # b/grad/ReduceSum
                  return %loss, %grad.w, %grad.b, %grad.v
                """, GraphPrinter.print(tg.graph()));
        // The same model built twice prints the same text (names and order are deterministic).
        assertEquals(GraphPrinter.print(tg.graph()),
                GraphPrinter.print(Autodiff.build(tinyMlp(), TrainingSpec.of(Loss.CROSS_ENTROPY)).graph()));
        assertEquals(List.of("w", "b", "v"), List.copyOf(tg.parameters().keySet()));
        assertEquals(Map.of(), tg.state());
    }

    @Test
    void evalGraphTakesParametersAsInputsAndComputesTheModel() {
        Graph model = tinyMlp();
        TrainingGraph tg = Autodiff.build(model, TrainingSpec.of(Loss.CROSS_ENTROPY));
        assertEquals(List.of("x", "w", "b", "v"), tg.evalGraph().inputs().stream().map(Value::name).toList());
        Tensor x = Tensor.ofFloats(new int[] {2, 4}, 1, 2, 3, 4, -1, 0.5f, 0, 2);
        Map<String, Tensor> feeds = new HashMap<>(tg.parameters());
        feeds.put("x", x);
        assertEquals(ReferenceEvaluator.run(model, Map.of("x", x)).get("logits").toString(),
                ReferenceEvaluator.run(tg.evalGraph(), feeds).get("logits").toString());
    }

    @Test
    void frozenParametersStayConstants() {
        TrainingGraph tg = Autodiff.build(tinyMlp(), TrainingSpec.of(Loss.CROSS_ENTROPY).withFrozen(Set.of("w", "b")));
        assertEquals(List.of("v"), List.copyOf(tg.parameters().keySet()));
        assertEquals(List.of("loss", "grad.v"), tg.graph().outputs().stream().map(Value::name).toList());
        // Nothing flows back into the frozen first layer.
        assertTrue(tg.graph().nodes().stream().noneMatch(n -> n.op().equals("ReluGrad")));
        assertThrows(GraphException.class,
                () -> Autodiff.build(tinyMlp(), TrainingSpec.of(Loss.MSE).withFrozen(Set.of("nope"))));
    }

    @Test
    void anOpWithoutGradientRuleOnTheWayIsNamed() {
        Graph g = GradTesting.graph(b -> b.op("Hardmax").inputs(b.initializer("w", GradTesting.random(1, -1, 1, 3)))
                .outputNames("c").output());
        UnsupportedOpException e = assertThrows(UnsupportedOpException.class,
                () -> Autodiff.build(g, TrainingSpec.of(Loss.MSE)));
        assertTrue(e.getMessage().contains("Hardmax node producing 'c'") && e.getMessage().contains("no gradient rule"),
                e.getMessage());
    }

    @Test
    void shapeOnlyUsesOfAParameterGetNoGradient() {
        // Reshape's target comes from Shape(w): w is trained through Mul only.
        Graph g = GradTesting.graph(b -> {
            Value w = b.initializer("w", GradTesting.random(1, -1, 1, 2, 3));
            Value flat = b.op("Reshape").inputs(w, b.initializer("six", Tensor.ofInt64s(6))).output();
            Value back = b.op("Reshape").inputs(flat, b.op("Shape").inputs(w).output()).output();
            return b.op("Mul").inputs(back, w).output();
        });
        GradTesting.assertGradients(g);
    }

    /** The check fails when a gradient is wrong: here grad.w is doubled behind the checker's back. */
    @Test
    void gradientCheckCatchesAWrongGradient() {
        Graph model = GradTesting.graph(b -> b.op("Mul").inputs(b.initializer("w", GradTesting.random(1, -1, 1, 4)),
                b.initializer("s", GradTesting.random(2, -1, 1, 4))).output());
        TrainingGraph tg = Autodiff.build(model, TrainingSpec.of(Loss.MSE));
        Graph g = tg.graph();
        Value right = g.findValue("grad.w").orElseThrow();
        Value renamed = new Value("grad.w.right", right.type());
        List<Node> nodes = new ArrayList<>();
        for (Node n : g.nodes()) {
            nodes.add(new Node(n.op(), n.domain(), n.name(),
                    n.inputs().stream().map(v -> v == right ? renamed : v).toList(),
                    n.outputs().stream().map(v -> v == right ? renamed : v).toList(), n.attributes()));
        }
        Value wrong = new Value("grad.w", right.type());
        nodes.add(new Node("Add", "", "", List.of(renamed, renamed), List.of(wrong), Attributes.EMPTY));
        List<Value> outputs = g.outputs().stream().map(v -> v == right ? wrong : v).toList();
        Graph tampered = new Graph(g.name(), g.inputs(), g.initializers(), nodes, outputs);
        GraphVerifier.verify(tampered);
        Map<String, Tensor> feeds = Map.of(TrainingGraph.LABELS, GradTesting.random(3, -1, 1, 4));
        TrainingGraph bad = new TrainingGraph(tampered, tg.evalGraph(), tg.parameters(), tg.state(), tg.frozen(), tg.spec());
        assertTrue(GradientCheck.check(tg, feeds, GradientCheck.DEFAULT_STEP, GradientCheck.DEFAULT_TOLERANCE).passed());
        GradientCheck.Report r = GradientCheck.check(bad, feeds, GradientCheck.DEFAULT_STEP,
                GradientCheck.DEFAULT_TOLERANCE);
        assertFalse(r.passed(), r.toString());
        assertTrue(r.worst().startsWith("w["), r.worst());
    }

    @Test
    void parametersSharingOneGradientEachGetTheirOutput() {
        Graph g = GradTesting.graph(b -> b.op("Add").inputs(b.initializer("p", GradTesting.random(1, -1, 1, 2, 3)),
                b.initializer("q", GradTesting.random(2, -1, 1, 2, 3))).output());
        TrainingGraph tg = Autodiff.build(g, TrainingSpec.of(Loss.MSE));
        assertEquals(List.of("loss", "grad.p", "grad.q"), tg.graph().outputs().stream().map(Value::name).toList());
        GradTesting.assertGradients(g);
    }

    @Test
    void trainerStopsOnANonFiniteLossNamingTheStepAndTheFirstBadTensor() {
        Graph g = GradTesting.graph(b -> b.op("Mul").inputs(b.op("Log").inputs(b.input("x", DType.FLOAT64, Shape.of(3)))
                .outputNames("logx").output(), b.initializer("w", GradTesting.random(1, -1, 1, 3))).output());
        ReferenceTrainer trainer = new ReferenceTrainer(Autodiff.build(g, TrainingSpec.of(Loss.MSE)), (s, p, gr) -> { });
        Tensor x = Tensor.ofDoubles(DType.FLOAT64, new int[] {3}, 1, -1, 2);
        InputException e = assertThrows(InputException.class,
                () -> trainer.step(Map.of("x", x), GradTesting.random(2, -1, 1, 3)));
        assertTrue(e.getMessage().startsWith("step 1: the loss is NaN; the first non-finite tensor is 'logx'"),
                e.getMessage());
    }

    @Test
    void labelOutOfRangeIsNamed() {
        TrainingGraph tg = Autodiff.build(tinyMlp(), TrainingSpec.of(Loss.CROSS_ENTROPY));
        ReferenceTrainer trainer = new ReferenceTrainer(tg, (s, p, gr) -> { });
        Tensor x = Tensor.ofFloats(new int[] {1, 4}, 1, 2, 3, 4);
        Exception e = assertThrows(RuntimeException.class,
                () -> trainer.step(Map.of("x", x), Tensor.ofLongs(DType.INT64, new int[] {1}, 2)));
        assertTrue(e.getMessage().contains("value 2 at sample 0 is outside [0, 2)"), e.getMessage());
    }
}
