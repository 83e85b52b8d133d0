package dev.kiln.codegen;

import static dev.kiln.codegen.RunTimeValuesCodegenTest.assertMatches;
import static dev.kiln.codegen.RunTimeValuesCodegenTest.shape;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attr;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.ControlFlowOps;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Generated If, Loop and Scan (bodies as nested classes) match the reference evaluator, nested bodies included; a
 * Loop running other than its compiled number of iterations fails naming the node.
 */
class ControlFlowCodegenTest {
    private static Tensor bool(boolean v) {
        return Tensor.wrapBools(new int[0], new boolean[] {v});
    }

    /** then: Neg(x) + h, else: Abs(x) - h, with x captured and h an outer value. */
    private static Graph branch(String name, String op, String combine) {
        GraphBuilder b = new GraphBuilder(name);
        Value x = b.input("x", DType.FLOAT32, shape(2, 3));
        Value h = b.input("h", DType.FLOAT32, shape(3));
        Value y = b.op(op).inputs(x).outputNames(name + "_y").output();
        return b.output(b.op(combine).inputs(y, h).outputNames(name + "_out").output()).build();
    }

    @Test
    void ifRunsTheBranchItsConditionPicks() {
        GraphBuilder b = new GraphBuilder("choose");
        Value c = b.input("c", DType.BOOL, Shape.SCALAR);
        Value x = b.input("x", DType.FLOAT32, shape(2, 3));
        Value h = b.op("Sigmoid").inputs(b.input("g", DType.FLOAT32, shape(3))).outputNames("h").output();
        Value y = b.op("If").inputs(c, x, h).attr("then_branch", new Attr.GraphValue(branch("then", "Neg", "Add")))
                .attr("else_branch", new Attr.GraphValue(branch("else", "Abs", "Sub"))).outputNames("y").output();
        Graph g = b.output(y).build();
        for (boolean v : new boolean[] {true, false}) {
            assertMatches(g, Map.of("c", bool(v), "x", GeneratedClassTest.random(3, 2, 3),
                    "g", GeneratedClassTest.random(4, 3)));
        }
    }

    /** body(i, cond, s; w) = (i < 2, Tanh(s * w), s * w): three iterations, however large M. */
    private static Graph loop(long trips, Shape declaredRows) {
        GraphBuilder body = new GraphBuilder("body");
        Value i = body.input("i", DType.INT64, Shape.SCALAR);
        body.input("cond_in", DType.BOOL, Shape.SCALAR);
        Value s = body.input("s", DType.FLOAT32, shape(4));
        Value w = body.input("w", DType.FLOAT32, shape(4));
        Value two = body.initializer("two", Tensor.scalarLong(DType.INT64, 2));
        Value more = body.op("Less").inputs(i, two).outputNames("more").output();
        Value product = body.op("Mul").inputs(s, w).outputNames("product").output();
        Value next = body.op("Tanh").inputs(product).outputNames("next").output();
        Graph bodyGraph = body.output(more).output(next).output(product).build();
        GraphBuilder b = new GraphBuilder("loop");
        Value s0 = b.input("s0", DType.FLOAT32, shape(4));
        Value weights = b.input("w", DType.FLOAT32, shape(4));
        Value m = b.initializer("m", Tensor.scalarLong(DType.INT64, trips));
        b.declareShape("rows", declaredRows);
        var outs = b.op("Loop").inputs(m, Value.ABSENT, s0, weights).attr("body", new Attr.GraphValue(bodyGraph))
                .attr(ControlFlowOps.CAPTURES, 1L).outputNames("s", "rows").build();
        return b.output(outs.get(0)).output(outs.get(1)).build();
    }

    @Test
    void loopCarriesValuesAndStacksItsScanOutputs() {
        Map<String, Tensor> feeds = Map.of("s0", GeneratedClassTest.random(5, 4), "w", GeneratedClassTest.random(6, 4));
        assertMatches(loop(10, shape(3, 4)), feeds);
        assertMatches(loop(2, shape(2, 4)), feeds);
        dev.kiln.ir.KilnException e = assertThrows(dev.kiln.ir.KilnException.class,
                () -> GeneratedExecutor.compile(loop(10, shape(5, 4)), 1).run(feeds));
        assertTrue(e.getMessage().contains("Loop node producing 's': ran 3 iterations, but its scan outputs were "
                + "compiled for 5"), e.getMessage());
    }

    @Test
    void scanSlicesAlongItsAxesInEitherDirectionWithALoopInside() {
        // body(sum, column; bias) = Loop(M=2){ t -> t + bias } applied to sum + column: a body within a body.
        GraphBuilder inner = new GraphBuilder("twice");
        inner.input("k", DType.INT64, Shape.SCALAR);
        Value keep = inner.input("keep", DType.BOOL, Shape.SCALAR);
        Value t = inner.input("t", DType.FLOAT32, shape(2));
        Value bias = inner.input("bias", DType.FLOAT32, shape(2));
        Value keepOut = inner.op("Identity").inputs(keep).outputNames("keep_out").output();
        Graph innerGraph = inner.output(keepOut).output(inner.op("Add").inputs(t, bias).outputNames("t_next").output())
                .build();
        GraphBuilder body = new GraphBuilder("scan_body");
        Value sum = body.input("sum", DType.FLOAT32, shape(2));
        Value column = body.input("column", DType.FLOAT32, shape(2));
        Value outerBias = body.input("outer_bias", DType.FLOAT32, shape(2));
        Value added = body.op("Add").inputs(sum, column).outputNames("added").output();
        Value two = body.initializer("two", Tensor.scalarLong(DType.INT64, 2));
        Value next = body.op("Loop").inputs(two, Value.ABSENT, added, outerBias)
                .attr("body", new Attr.GraphValue(innerGraph)).attr(ControlFlowOps.CAPTURES, 1L)
                .outputNames("next").output();
        Value out = body.op("Relu").inputs(next).outputNames("out").output();
        Graph bodyGraph = body.output(next).output(out).build();
        GraphBuilder b = new GraphBuilder("scan");
        Value s0 = b.input("s0", DType.FLOAT32, shape(2));
        Value x = b.input("x", DType.FLOAT32, shape(2, 3));
        Value bias2 = b.input("bias", DType.FLOAT32, shape(2));
        var outs = b.op("Scan").inputs(s0, x, bias2).attr("body", new Attr.GraphValue(bodyGraph))
                .attr("num_scan_inputs", 1L).attr("scan_input_axes", new long[] {1})
                .attr("scan_input_directions", new long[] {1}).attr("scan_output_axes", new long[] {-1})
                .attr("scan_output_directions", new long[] {1}).attr(ControlFlowOps.CAPTURES, 1L)
                .outputNames("total", "history").build();
        Graph g = b.output(outs.get(0)).output(outs.get(1)).build();
        assertMatches(g, Map.of("s0", GeneratedClassTest.random(7, 2), "x", GeneratedClassTest.random(8, 2, 3),
                "bias", GeneratedClassTest.random(9, 2)));
    }

    @Test
    void aBodyValueOfUnknownShapeIsRefusedNamingTheNode() {
        GraphBuilder body = new GraphBuilder("grow");
        body.input("i", DType.INT64, Shape.SCALAR);
        Value c = body.input("c", DType.BOOL, Shape.SCALAR);
        Value v = body.input("v", DType.FLOAT32, Shape.of(Dim.unknown()));
        Value cOut = body.op("Identity").inputs(c).outputNames("c_out").output();
        Graph bodyGraph = body.output(cOut).output(body.op("Concat").inputs(v, v).attr("axis", 0L)
                .outputNames("twice").output()).build();
        GraphBuilder b = new GraphBuilder("grow");
        Value v0 = b.input("v0", DType.FLOAT32, shape(1));
        Value m = b.initializer("m", Tensor.scalarLong(DType.INT64, 3));
        b.declareShape("v", shape(8));
        Value out = b.op("Loop").inputs(m, Value.ABSENT, v0).attr("body", new Attr.GraphValue(bodyGraph))
                .outputNames("v").output();
        Graph g = b.output(out).build();
        UnsupportedOpException e = assertThrows(UnsupportedOpException.class, () -> GeneratedExecutor.compile(g, 1));
        assertTrue(e.getMessage().startsWith("Loop node producing 'v', body: "), e.getMessage());
    }
}
