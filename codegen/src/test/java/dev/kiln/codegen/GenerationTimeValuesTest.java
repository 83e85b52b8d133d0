package dev.kiln.codegen;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Shape nodes read only as a Reshape target need no code; the class still matches the evaluator. */
class GenerationTimeValuesTest {
    @Test
    void shapeFeedingOnlyAReshapeTargetIsSkippedAndTheModelRuns() throws Exception {
        GraphBuilder b = new GraphBuilder("reshape_like");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,12"));
        Value like = b.op("Reshape").inputs(x, b.initializer("s", dev.kiln.ir.Tensor.ofInt64s(-1, 3, 4)))
                .outputNames("like").output();
        Value clipped = b.op("Clip").inputs(x).outputNames("clipped").output();
        Value shape = b.op("Shape").inputs(like).outputNames("shape").output();
        Value y = b.op("Reshape").inputs(clipped, shape).outputNames("r").output();
        b.output(b.op("Neg").inputs(y).outputNames("y").output());
        Graph g = b.build();
        List<Node> skipped = List.copyOf(GenerationTimeValues.of(g).nodes());
        assertEquals(1, skipped.size());
        assertEquals("Shape", skipped.get(0).op());
        Class<?> cls = GeneratedClassTest.compile(g, "ReshapeLike");
        GeneratedClassTest.assertMatches(g, cls, 3, 1);
    }
}
