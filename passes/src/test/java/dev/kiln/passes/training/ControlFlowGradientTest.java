package dev.kiln.passes.training;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attr;
import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.ControlFlowOps;
import org.junit.jupiter.api.Test;

/** Autodiff does not differentiate through control flow, and says so naming the node. */
class ControlFlowGradientTest {
    @Test
    void aParameterReachingTheLossThroughALoopIsRefused() {
        GraphBuilder body = new GraphBuilder("body");
        body.input("i", DType.INT64, Shape.SCALAR);
        Value cond = body.input("cond", DType.BOOL, Shape.SCALAR);
        Value s = body.input("s", DType.FLOAT32, Shape.parse("N,4"));
        Value w = body.input("w", DType.FLOAT32, Shape.of(4, 4));
        Value next = body.op("MatMul").inputs(s, w).outputNames("next").output();
        Value keep = body.op("Identity").inputs(cond).outputNames("keep").output();
        Graph bodyGraph = body.output(keep).output(next).build();
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,4"));
        Value weight = b.initializer("weight", Tensor.ofFloats(new int[] {4, 4}, new float[16]));
        Value m = b.initializer("m", Tensor.scalarLong(DType.INT64, 2));
        Value y = b.op("Loop").name("unrolled").inputs(m, Value.ABSENT, x, weight)
                .attr("body", new Attr.GraphValue(bodyGraph)).attr(ControlFlowOps.CAPTURES, 1L).outputNames("y")
                .output();
        Graph g = b.output(y).build();
        UnsupportedOpException e = assertThrows(UnsupportedOpException.class,
                () -> Autodiff.build(g, TrainingSpec.of(Loss.MSE)));
        assertTrue(e.getMessage().startsWith("no gradient through node 'unrolled' (Loop)"), e.getMessage());
    }
}
