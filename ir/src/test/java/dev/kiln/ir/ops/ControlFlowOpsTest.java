package dev.kiln.ir.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attr;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.GraphException;
import dev.kiln.ir.GraphPrinter;
import dev.kiln.ir.GraphVerifier;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** If, Loop and Scan: reference semantics per the ONNX spec, and types inferred through their bodies. */
class ControlFlowOpsTest {
    private static final Shape SCALAR = Shape.SCALAR;

    /** body(i, cond, s; x) = (i < 2, s + x, s + x): stops after the iteration with i = 2. */
    private static Graph accumulateWhileBelowTwo() {
        GraphBuilder b = new GraphBuilder("accumulate");
        Value i = b.input("i", DType.INT64, SCALAR);
        b.input("cond_in", DType.BOOL, SCALAR);
        Value s = b.input("s", DType.FLOAT32, SCALAR);
        Value x = b.input("x", DType.FLOAT32, SCALAR);
        Value two = b.initializer("two", Tensor.scalarLong(DType.INT64, 2));
        Value more = b.op("Less").inputs(i, two).outputNames("more").output();
        Value next = b.op("Add").inputs(s, x).outputNames("next").output();
        Value row = b.op("Identity").inputs(next).outputNames("row").output();
        return b.output(more).output(next).output(row).build();
    }

    private static Graph loop(Tensor m, boolean withCond) {
        GraphBuilder b = new GraphBuilder("loop");
        Value x = b.input("x", DType.FLOAT32, SCALAR);
        Value s0 = b.input("s0", DType.FLOAT32, SCALAR);
        Value trips = m == null ? Value.ABSENT : b.initializer("m", m);
        Value cond = withCond ? b.input("c", DType.BOOL, SCALAR) : Value.ABSENT;
        var outs = b.op("Loop").inputs(trips, cond, s0, x).attr("body", new Attr.GraphValue(accumulateWhileBelowTwo()))
                .attr(ControlFlowOps.CAPTURES, 1L).outputNames("s", "rows").build();
        return b.output(outs.get(0)).output(outs.get(1)).build();
    }

    @Test
    void loopStopsWhenTheBodyReturnsFalseAndStacksItsScanOutputs() {
        Graph g = loop(Tensor.ofInt64s(10).reshape(new int[0]), false);
        assertTrue(g.outputs().get(1).shape().dim(0).hasUnknown(), "the trip count depends on cond");
        Map<String, Tensor> out = ReferenceEvaluator.run(g, Map.of("x", Tensor.scalarFloat(1.5f),
                "s0", Tensor.scalarFloat(0)));
        assertEquals(Tensor.scalarFloat(4.5f), out.get("s"));
        assertEquals(Tensor.ofFloats(new int[] {3}, 1.5f, 3f, 4.5f), out.get("rows"));
    }

    @Test
    void loopWithoutTripCountRunsWhileCondHolds() {
        Graph g = loop(null, true);
        Map<String, Tensor> out = ReferenceEvaluator.run(g, Map.of("x", Tensor.scalarFloat(1), "s0",
                Tensor.scalarFloat(0), "c", Tensor.wrapBools(new int[0], new boolean[] {true})));
        assertEquals(Tensor.scalarFloat(3), out.get("s"));
        Map<String, Tensor> none = ReferenceEvaluator.run(g, Map.of("x", Tensor.scalarFloat(1), "s0",
                Tensor.scalarFloat(7), "c", Tensor.wrapBools(new int[0], new boolean[] {false})));
        assertEquals(Tensor.scalarFloat(7), none.get("s"), "a false cond runs no iteration");
        assertArrayEquals(new int[] {0}, none.get("rows").shape(), "no iteration, no scan rows");
    }

    @Test
    void zeroTripsGiveTheInitialValuesAndEmptyScans() {
        Graph g = loop(Tensor.scalarLong(DType.INT64, 0), false);
        assertEquals(Shape.of(0), g.outputs().get(1).shape(), "M = 0 and no early exit: zero rows, statically");
        Map<String, Tensor> out = ReferenceEvaluator.run(g, Map.of("x", Tensor.scalarFloat(1), "s0",
                Tensor.scalarFloat(2)));
        assertEquals(Tensor.scalarFloat(2), out.get("s"));
        assertEquals(0, out.get("rows").size());
    }

    @Test
    void aCarriedValueMayChangeShapeBetweenIterations() {
        GraphBuilder body = new GraphBuilder("double");
        body.input("i", DType.INT64, SCALAR);
        Value c = body.input("c", DType.BOOL, SCALAR);
        Value v = body.input("v", DType.FLOAT32, Shape.of(Dim.unknown()));
        Value cOut = body.op("Identity").inputs(c).outputNames("c_out").output();
        Value twice = body.op("Concat").inputs(v, v).attr("axis", 0L).outputNames("twice").output();
        Graph bodyGraph = body.output(cOut).output(twice).build();
        GraphBuilder b = new GraphBuilder("grow");
        Value v0 = b.input("v0", DType.FLOAT32, Shape.of(1));
        Value m = b.initializer("m", Tensor.scalarLong(DType.INT64, 3));
        Value out = b.op("Loop").inputs(m, Value.ABSENT, v0).attr("body", new Attr.GraphValue(bodyGraph))
                .outputNames("v").output();
        Graph g = b.output(out).build();
        assertTrue(out.shape().dim(0).hasUnknown(), "[1] joined with [2] is unknown: " + out.type());
        Tensor v8 = ReferenceEvaluator.run(g, Map.of("v0", Tensor.ofFloats(new int[] {1}, 5f))).get("v");
        assertArrayEquals(new int[] {8}, v8.shape());
    }

    @Test
    void ifBranchesMayGiveDifferentShapes() {
        GraphBuilder then = new GraphBuilder("then");
        Value tx = then.input("x", DType.FLOAT32, Shape.of(2));
        Graph thenGraph = then.output(then.op("Neg").inputs(tx).outputNames("t").output()).build();
        GraphBuilder otherwise = new GraphBuilder("else");
        Value ex = otherwise.input("x", DType.FLOAT32, Shape.of(2));
        Graph elseGraph = otherwise.output(otherwise.op("Concat").inputs(ex, ex).attr("axis", 0L).outputNames("e")
                .output()).build();
        GraphBuilder b = new GraphBuilder("branch");
        Value c = b.input("c", DType.BOOL, SCALAR);
        Value x = b.input("x", DType.FLOAT32, Shape.of(2));
        Value y = b.op("If").inputs(c, x).attr("then_branch", new Attr.GraphValue(thenGraph))
                .attr("else_branch", new Attr.GraphValue(elseGraph)).outputNames("y").output();
        Graph g = b.output(y).build();
        assertTrue(y.shape().dim(0).hasUnknown(), "[2] or [4]: " + y.type());
        Tensor xs = Tensor.ofFloats(new int[] {2}, 1, 2);
        assertEquals(Tensor.ofFloats(new int[] {2}, -1, -2), ReferenceEvaluator.run(g, Map.of("c",
                Tensor.wrapBools(new int[0], new boolean[] {true}), "x", xs)).get("y"));
        assertEquals(Tensor.ofFloats(new int[] {4}, 1, 2, 1, 2), ReferenceEvaluator.run(g, Map.of("c",
                Tensor.wrapBools(new int[0], new boolean[] {false}), "x", xs)).get("y"));
        assertTrue(GraphPrinter.print(g).contains("    then_branch: graph then(%x: f32[2]) -> (%t: f32[2])"),
                GraphPrinter.print(g));
    }

    @Test
    void aKnownConditionTypesOnlyTheBranchTaken() {
        // The else branch reshapes [3] to [2]: invalid for this operand, legal because it never runs.
        GraphBuilder then = new GraphBuilder("then");
        Value tx = then.input("x", DType.FLOAT32, Shape.of(Dim.unknown()));
        Graph thenGraph = then.output(then.op("Neg").inputs(tx).outputNames("t").output()).build();
        GraphBuilder otherwise = new GraphBuilder("else");
        Value ex = otherwise.input("x", DType.FLOAT32, Shape.of(Dim.unknown()));
        Value two = otherwise.initializer("two", Tensor.ofInt64s(2));
        Graph elseGraph = otherwise.output(otherwise.op("Reshape").inputs(ex, two).outputNames("e").output()).build();
        GraphBuilder b = new GraphBuilder("known");
        Value c = b.initializer("c", Tensor.wrapBools(new int[0], new boolean[] {true}));
        Value x = b.input("x", DType.FLOAT32, Shape.of(3));
        Value y = b.op("If").inputs(c, x).attr("then_branch", new Attr.GraphValue(thenGraph))
                .attr("else_branch", new Attr.GraphValue(elseGraph)).outputNames("y").output();
        assertEquals(Shape.of(3), y.shape());
    }

    @Test
    void scanReadsAndWritesAlongItsAxesInEitherDirection() {
        GraphBuilder body = new GraphBuilder("running_sum");
        Value sum = body.input("sum", DType.FLOAT32, Shape.of(2));
        Value row = body.input("row", DType.FLOAT32, Shape.of(2));
        Value next = body.op("Add").inputs(sum, row).outputNames("next").output();
        Value out = body.op("Identity").inputs(next).outputNames("out").output();
        Graph bodyGraph = body.output(next).output(out).build();
        GraphBuilder b = new GraphBuilder("scan");
        Value s0 = b.input("s0", DType.FLOAT32, Shape.of(2));
        Value x = b.input("x", DType.FLOAT32, Shape.of(2, 3));
        var outs = b.op("Scan").inputs(s0, x).attr("body", new Attr.GraphValue(bodyGraph))
                .attr("num_scan_inputs", 1L).attr("scan_input_axes", new long[] {1})
                .attr("scan_input_directions", new long[] {1}).attr("scan_output_axes", new long[] {-1})
                .attr("scan_output_directions", new long[] {1}).outputNames("total", "sums").build();
        Graph g = b.output(outs.get(0)).output(outs.get(1)).build();
        assertEquals(Shape.of(2, 3), outs.get(1).shape());
        // Columns in reverse: c2, c2 + c1, c2 + c1 + c0; prepended along the last axis.
        Map<String, Tensor> r = ReferenceEvaluator.run(g, Map.of("s0", Tensor.ofFloats(new int[] {2}, 0, 0),
                "x", Tensor.ofFloats(new int[] {2, 3}, 1, 2, 3, 10, 20, 30)));
        assertEquals(Tensor.ofFloats(new int[] {2}, 6, 60), r.get("total"));
        assertEquals(Tensor.ofFloats(new int[] {2, 3}, 6, 5, 3, 60, 50, 30), r.get("sums"));
    }

    @Test
    void bodiesAreVerifiedAsGraphsOfTheirOwn() {
        GraphBuilder body = new GraphBuilder("bad");
        Value v = body.input("v", DType.FLOAT32, Shape.of(2));
        Graph good = body.output(body.op("Neg").inputs(v).outputNames("n").output()).build();
        // The body's output refers to a value the body never defines (an outer value not captured).
        Value outer = new Value("outer", v.type());
        Graph open = new Graph("open", good.inputs(), good.initializers(), good.nodes(), java.util.List.of(outer));
        GraphBuilder b = new GraphBuilder("g");
        Value c = b.input("c", DType.BOOL, SCALAR);
        Value x = b.input("x", DType.FLOAT32, Shape.of(2));
        Value y = b.op("If").inputs(c, x).attr("then_branch", new Attr.GraphValue(good))
                .attr("else_branch", new Attr.GraphValue(good)).outputNames("y").output();
        Graph g = b.output(y).build();
        Graph broken = new Graph("g", g.inputs(), g.initializers(), java.util.List.of(g.nodes().get(0).withInputs(
                g.nodes().get(0).inputs())), g.outputs());
        GraphVerifier.verify(broken);
        dev.kiln.ir.Node n = g.nodes().get(0);
        Graph withOpen = new Graph("g", g.inputs(), g.initializers(), java.util.List.of(new dev.kiln.ir.Node(n.op(),
                n.domain(), n.name(), n.inputs(), n.outputs(), n.attributes().with("else_branch",
                new Attr.GraphValue(open)))), g.outputs());
        GraphException e = assertThrows(GraphException.class, () -> GraphVerifier.verify(withOpen));
        assertTrue(e.getMessage().contains("else_branch") && e.getMessage().contains("'outer' is never defined"),
                e.getMessage());
        assertFalse(dev.kiln.ir.Subgraphs.nondeterministic(dev.kiln.ir.OpTable.get().find("", "If").orElseThrow(),
                n.attributes()));
    }
}
