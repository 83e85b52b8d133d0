package dev.kiln.passes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.KilnException;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class FusionTest {
    static Tensor random(long seed, int... shape) {
        Random r = new Random(seed);
        float[] v = new float[Tensor.sizeOf(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextFloat() * 2 - 1;
        }
        return Tensor.ofFloats(shape, v);
    }

    private static Tensor positive(long seed, int n) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = 0.5f + r.nextFloat();
        }
        return Tensor.ofFloats(new int[] {n}, v);
    }

    @Test
    void padConvBatchNormReluBecomeOneFusedConv() {
        GraphBuilder b = new GraphBuilder("cnn");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,2,5,5"));
        Value pads = b.initializer("pads", Tensor.ofInt64s(0, 0, 1, 1, 0, 0, 1, 1));
        Value p = b.op("Pad").inputs(x, pads).outputNames("p").output();
        Value w = b.initializer("w", random(1, 3, 2, 3, 3));
        Value bias = b.initializer("bias", random(2, 3));
        Value c = b.op("Conv").name("conv1").inputs(p, w, bias).outputNames("c").output();
        Value bn = b.op("BatchNormalization").name("bn1").inputs(c, b.initializer("gamma", positive(3, 3)),
                b.initializer("beta", random(4, 3)), b.initializer("mean", random(5, 3)),
                b.initializer("var", positive(6, 3))).outputNames("bn").output();
        b.output(b.op("Relu").inputs(bn).outputNames("y").output());
        Graph g = b.build();
        Graph fused = new DeadCodeElimination().apply(new Fusion().apply(g));
        assertEquals(List.of("%y: f32[N,3,5,5] = dev.kiln.FusedConv(%x, %conv1_weight_bn, %conv1_bias_bn) "
                        + "{activation=\"Relu\", pads=[1,1,1,1]}  # conv1"),
                fused.nodes().stream().map(dev.kiln.ir.GraphPrinter::printNode).toList());
        assertEquals(List.of("conv1_weight_bn", "conv1_bias_bn"),
                fused.initializers().keySet().stream().map(Value::name).toList());
        PassTesting.assertEquivalent(g, fused);
    }

    @Test
    void matMulAddBecomesGemmAndGemmAbsorbsBatchNormAndActivation() {
        GraphBuilder b = new GraphBuilder("mlp");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,4"));
        Value m = b.op("MatMul").name("fc").inputs(x, b.initializer("w", random(7, 4, 3))).outputNames("m").output();
        Value a = b.op("Add").inputs(b.initializer("b", random(8, 3)), m).outputNames("a").output();
        Value bn = b.op("BatchNormalization").inputs(a, b.initializer("gamma", positive(9, 3)),
                b.initializer("beta", random(10, 3)), b.initializer("mean", random(11, 3)),
                b.initializer("var", positive(12, 3))).attr("epsilon", 1e-3f).outputNames("bn").output();
        b.output(b.op("LeakyRelu").inputs(bn).attr("alpha", 0.2f).outputNames("y").output());
        Graph g = b.build();
        Graph fused = new DeadCodeElimination().apply(new Fusion().apply(g));
        List<Node> nodes = fused.nodes();
        assertEquals(1, nodes.size(), dev.kiln.ir.GraphPrinter.print(fused));
        Node n = nodes.get(0);
        assertEquals("dev.kiln.FusedGemm", n.qualifiedOp());
        assertEquals("{activation=\"LeakyRelu\", activation_alpha=0.2, beta=1.0}", n.attributes().toString());
        PassTesting.assertEquivalent(g, fused);
    }

    @Test
    void elementwiseChainsBecomeOneNodeWithInlinedScalars() {
        GraphBuilder b = new GraphBuilder("chain");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,8"));
        Value s = b.input("s", DType.FLOAT32, Shape.parse("8"));
        Value half = b.initializer("half", Tensor.ofFloats(new int[0], 0.5f));
        Value t = b.op("Mul").inputs(x, half).outputNames("t").output();
        Value u = b.op("Add").inputs(t, s).outputNames("u").output();
        Value v = b.op("Tanh").inputs(u).outputNames("v").output();
        Value shared = b.op("Exp").inputs(v).outputNames("e").output();
        Value y1 = b.op("Sigmoid").inputs(shared).outputNames("y1").output();
        Value y2 = b.op("Neg").inputs(shared).outputNames("y2").output();
        b.output(y1).output(y2);
        Graph g = b.build();
        Graph fused = PassTesting.check(new ElementwiseFusion(), g, """
                graph chain(%x: f32[N,8], %s: f32[8]) -> (%y1: f32[N,8], %y2: f32[N,8])
                  init %half: f32[] = [0.5]
                  %e: f32[N,8] = dev.kiln.FusedElementwise(%x, %s) {body=graph(%x: f32[N,8], %s: f32[8]) { init %half = [0.5]; %t = Mul(%x, %half); %u = Add(%t, %s); %v = Tanh(%u); %e = Exp(%v); return %e }}
                  %y1: f32[N,8] = Sigmoid(%e)
                  %y2: f32[N,8] = Neg(%e)
                  return %y1, %y2
                """);
        assertEquals(3, fused.nodes().size());
    }

    @Test
    void verifyNamesThePassAndTheFirstDivergingValue() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,4"));
        Value r = b.op("Relu").inputs(x).outputNames("r").output();
        b.output(b.op("Exp").inputs(r).outputNames("y").output());
        Graph g = b.build();
        Pass broken = new Pass() {
            @Override public String name() { return "broken"; }

            @Override public Graph apply(Graph in) {
                Node relu = in.nodes().get(0);
                Node sig = new Node("Sigmoid", "", "", relu.inputs(), relu.outputs(), relu.attributes());
                return in.withNodes(List.of(sig, in.nodes().get(1)), in.outputs());
            }
        };
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        PassManager pm = new PassManager(List.of(new Simplification(), broken),
                new PassOptions(Set.of("all"), true, true, new PrintStream(log)));
        KilnException e = assertThrows(KilnException.class, () -> pm.run(g));
        assertTrue(e.getMessage().contains("pass 'broken'") && e.getMessage().contains("first diverging value: 'r'"),
                e.getMessage());
        assertTrue(log.toString().contains("pass simplification"), log.toString());
    }

    @Test
    void everyLevelPreservesOutputsOnAConvNet() {
        GraphBuilder b = new GraphBuilder("net");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,1,6,6"));
        Value c = b.op("Conv").inputs(x, b.initializer("w", random(20, 4, 1, 3, 3)), b.initializer("b", random(21, 4)))
                .outputNames("c").output();
        Value mp = b.op("MaxPool").inputs(c).attr("kernel_shape", new long[] {2, 2}).attr("strides", new long[] {2, 2})
                .outputNames("mp").output();
        Value p = b.op("Relu").inputs(mp).outputNames("p").output();
        Value f = b.op("Flatten").inputs(p).outputNames("f").output();
        Value d = b.op("Dropout").inputs(f).outputNames("d").output();
        Value m = b.op("MatMul").inputs(d, b.initializer("w2", random(22, 16, 5))).outputNames("m").output();
        Value a = b.op("Add").inputs(m, b.initializer("b2", random(23, 5))).outputNames("a").output();
        b.output(b.op("LogSoftmax").inputs(a).attr("axis", 1L).outputNames("y").output());
        Graph g = b.build();
        for (OptLevel level : OptLevel.values()) {
            Graph opt = PassManager.forLevel(level, new PassOptions(Set.of(), false, true, System.err)).run(g);
            PassTesting.assertEquivalent(g, opt);
        }
        Graph o3 = PassManager.forLevel(OptLevel.O3, PassOptions.quiet()).run(g);
        // Relu(MaxPool(Conv)) became MaxPool(FusedConv{Relu}); Dropout vanished; MatMul+Add became Gemm; weights packed.
        assertEquals(List.of("PackedConv", "MaxPool", "Flatten", "PackedGemm", "LogSoftmax"),
                o3.nodes().stream().map(Node::op).toList());
    }
}
