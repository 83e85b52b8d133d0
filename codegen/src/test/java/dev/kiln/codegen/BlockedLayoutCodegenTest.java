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
import org.junit.jupiter.api.Test;

/** A conv chain rewritten to NCHWc by the blocked-layout pass, generated and run against the evaluator. */
class BlockedLayoutCodegenTest {
    @Test
    void blockedChainMatchesTheEvaluator() throws Exception {
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
        Graph blocked = new DeadCodeElimination().apply(new WeightLayout().apply(new BlockedLayout().apply(g)));
        assertTrue(blocked.nodes().stream().anyMatch(n -> n.op().equals("BlockedConv")), blocked.toString());
        Class<?> cls = GeneratedClassTest.compile(blocked, "Chain");
        for (int batch : new int[] {1, 3}) {
            GeneratedClassTest.assertMatches(g, cls, batch, 40 + batch);
        }
    }
}
