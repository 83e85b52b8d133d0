package dev.kiln.codegen;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;
import dev.kiln.passes.BlockedLayout;
import dev.kiln.passes.DeadCodeElimination;
import dev.kiln.passes.OptLevel;
import dev.kiln.passes.PassManager;
import dev.kiln.passes.PassOptions;
import dev.kiln.passes.WeightLayout;
import dev.kiln.codegen.CodeGenerator;
import dev.kiln.codegen.CodegenOptions;
import org.junit.jupiter.api.Test;

/** Conv chains rewritten to NCHWc by the blocked-layout pass, generated and run against the evaluator. */
class BlockedLayoutCodegenTest {
    /** Small odd-shaped layers, blocked whatever the cost model says, so every blocked kernel path runs. */
    @Test
    void forcedBlockedChainMatchesTheEvaluator() throws Exception {
        GraphBuilder b = new GraphBuilder("chain");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,3,14,15"));
        Value c1 = b.op("Conv").inputs(x, b.initializer("w1", GeneratedClassTest.random(1, 8, 3, 3, 3)))
                .outputNames("c1").output();
        Value r1 = b.op("Relu").inputs(c1).outputNames("r1").output();
        Value c2 = b.op("Conv").inputs(r1, b.initializer("w2", GeneratedClassTest.random(2, 16, 8, 3, 3)),
                        b.initializer("b2", GeneratedClassTest.random(3, 16)))
                .attr("pads", new long[] {1, 1, 1, 1}).attr("strides", new long[] {2, 2}).outputNames("c2").output();
        Value r2 = b.op("Relu").inputs(c2).outputNames("r2").output();
        Value p2 = b.op("MaxPool").inputs(r2).attr("kernel_shape", new long[] {2, 2}).attr("strides", new long[] {2, 2})
                .outputNames("p2").output();
        Value c3 = b.op("Conv").inputs(p2, b.initializer("w3", GeneratedClassTest.random(4, 14, 16, 2, 2)),
                        b.initializer("b3", GeneratedClassTest.random(5, 14)))
                .attr("strides", new long[] {1, 2}).outputNames("c3").output();
        Value r3 = b.op("Relu").inputs(c3).outputNames("r3").output();
        b.output(b.op("Flatten").inputs(r3).attr("axis", 1L).outputNames("y").output());
        Graph g = PassManager.forLevel(OptLevel.O2, PassOptions.quiet()).run(b.build());
        Graph blocked = new DeadCodeElimination().apply(new WeightLayout().apply(
                BlockedLayout.forced(dev.kiln.runtime.Nchwc.block()).apply(g)));
        assertTrue(blocked.nodes().stream().anyMatch(n -> n.op().equals("BlockedConv")), blocked.toString());
        Class<?> cls = GeneratedClassTest.compile(blocked, "Chain");
        for (int batch : new int[] {1, 3}) {
            GeneratedClassTest.assertMatches(g, cls, batch, 40 + batch);
        }
    }

    /**
     * A ResNet-like 7x7 stage (1x1 bottleneck convolutions 128 -> 60 -> 128 with a stride-2 3x3 entry, a Sigmoid
     * on a partial block, a per-channel Add, the residual Add, Relu, AveragePool and GlobalAveragePool) through the
     * whole -O3 pipeline, where the cost model blocks it; generated with 1 and 2 threads (same bits) and compared
     * with the evaluator.
     */
    @Test
    void resnetStageAtO3IsBlockedAndMatchesTheEvaluator() throws Exception {
        Graph g = resnetStage();
        Graph o3 = GeneratedClassTest.optimized(g);
        assertTrue(o3.nodes().stream().filter(n -> n.op().equals("BlockedConv")).count() == 3, o3.toString());
        assertTrue(o3.nodes().stream().filter(n -> n.op().equals("FromBlocked")).count() == 1, o3.toString());
        Class<?> one = GeneratedClassTest.compile(o3, "Stage");
        Class<?> two = dev.kiln.codegen.InProcessCompiler.load(CodeGenerator.generate(o3,
                new CodegenOptions("com.acme", "Stage2", 2, "test")));
        for (int batch : new int[] {1, 2}) {
            GeneratedClassTest.assertMatches(g, one, batch, 60 + batch);
            int[] shape = g.inputs().get(0).shape().evaluate(java.util.Map.of("N", (long) batch));
            float[] x = GeneratedClassTest.random(70 + batch, shape).toFloatArray();
            float[] a = run(one, x, batch);
            float[] b2 = run(two, x, batch);
            org.junit.jupiter.api.Assertions.assertArrayEquals(a, b2, "threads 1 and 2 at batch " + batch);
        }
    }

    private static float[] run(Class<?> cls, float[] x, int batch) throws Exception {
        Object model = cls.getMethod("load").invoke(null);
        return (float[]) cls.getMethod("run", float[].class, int.class).invoke(model, x, batch);
    }

    /** The stage: [N,64,14,14] -> 3x3/2 conv to 128 x 7x7 -> bottleneck with residual -> pools -> [N,128]. */
    static Graph resnetStage() {
        GraphBuilder b = new GraphBuilder("stage");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,64,14,14"));
        Value d = b.op("Conv").name("down").inputs(x, b.initializer("wd", GeneratedClassTest.random(1, 128, 64, 3, 3)),
                        b.initializer("bd", GeneratedClassTest.random(2, 128)))
                .attr("pads", new long[] {1, 1, 1, 1}).attr("strides", new long[] {2, 2}).outputNames("d").output();
        Value dr = b.op("Relu").inputs(d).outputNames("dr").output();
        Value c1 = b.op("Conv").name("reduce").inputs(dr, b.initializer("w1", GeneratedClassTest.random(3, 60, 128, 1, 1)),
                b.initializer("b1", GeneratedClassTest.random(4, 60))).outputNames("c1").output();
        Value s1 = b.op("Sigmoid").inputs(c1).outputNames("s1").output();
        Value a1 = b.op("Add").inputs(s1, b.initializer("k", GeneratedClassTest.random(5, 60, 1, 1))).outputNames("a1")
                .output();
        Value c2 = b.op("Conv").name("expand").inputs(a1, b.initializer("w2", GeneratedClassTest.random(6, 128, 60, 1, 1)))
                .outputNames("c2").output();
        Value r = b.op("Add").inputs(c2, dr).outputNames("r").output();
        Value y = b.op("Relu").inputs(r).outputNames("y").output();
        Value ap = b.op("AveragePool").inputs(y).attr("kernel_shape", new long[] {3, 3})
                .attr("pads", new long[] {1, 1, 1, 1}).outputNames("ap").output();
        Value p = b.op("GlobalAveragePool").inputs(ap).outputNames("p").output();
        b.output(b.op("Flatten").inputs(p).outputNames("f").output());
        return b.build();
    }
}
