package dev.kiln.passes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attr;
import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.GraphPrinter;
import dev.kiln.ir.GraphVerifier;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.ControlFlowOps;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The passes see a control-flow node as one node whose operands are all its uses (bodies are closed): a value only a
 * branch reads stays live, CSE and folding stay within a scope, and {@link SubgraphOptimization} inlines a constant If,
 * sinks constant captures and optimizes bodies.
 */
class ControlFlowPassesTest {
    private static final Shape FOUR = Shape.of(4);

    /** A branch taking (h, x) that returns op(h) or op(x). */
    private static Graph branch(String name, String op, boolean readsH) {
        GraphBuilder b = new GraphBuilder(name);
        Value h = b.input("h", DType.FLOAT32, FOUR);
        Value x = b.input("x", DType.FLOAT32, FOUR);
        return b.output(b.op(op).inputs(readsH ? h : x).outputNames(name + "_out").output()).build();
    }

    /** y = If(c, h = Relu(x), x){then: Neg(h), else: Abs(x)}: h is read only by the then-branch. */
    private static Graph withIf(Value[] cond, GraphBuilder b) {
        Value x = b.input("x", DType.FLOAT32, FOUR);
        Value h = b.op("Relu").inputs(x).outputNames("h").output();
        Value y = b.op("If").inputs(cond[0], h, x).attr("then_branch", new Attr.GraphValue(branch("then", "Neg", true)))
                .attr("else_branch", new Attr.GraphValue(branch("else", "Abs", false))).outputNames("y").output();
        return b.output(y).build();
    }

    private static Graph runtimeIf() {
        GraphBuilder b = new GraphBuilder("g");
        return withIf(new Value[] {b.input("c", DType.BOOL, Shape.SCALAR)}, b);
    }

    @Test
    void aValueReadOnlyInsideABranchIsLive() {
        Graph g = runtimeIf();
        Graph after = new DeadCodeElimination().apply(g);
        assertSame(g, after, "Relu's output is an operand of the If: nothing is dead");
        assertTrue(GraphPrinter.print(after).contains("%h: f32[4] = Relu(%x)"));
    }

    @Test
    void anIfWithAConstantConditionIsInlined() {
        GraphBuilder b = new GraphBuilder("g");
        Graph g = withIf(new Value[] {b.initializer("c", Tensor.wrapBools(new int[0], new boolean[] {true}))}, b);
        Graph after = PassTesting.check(new SubgraphOptimization(OptLevel.O1), g, """
                graph g(%x: f32[4]) -> (%y: f32[4])
                  init %c: bool[] = [true]
                  %h: f32[4] = Relu(%x)
                  %y: f32[4] = Neg(%h)
                  return %y
                """);
        assertEquals(List.of("Relu", "Neg"), after.nodes().stream().map(Node::op).toList());
    }

    @Test
    void constantCapturesMoveIntoTheBodyAndUnreadOnesLeave() {
        // then: Neg(h) with h a constant; else: Abs(x). After the pass h is the then-branch's initializer and no
        // operand any more; x stays (else reads it).
        GraphBuilder b = new GraphBuilder("g");
        Value c = b.input("c", DType.BOOL, Shape.SCALAR);
        Value x = b.input("x", DType.FLOAT32, FOUR);
        Value h = b.initializer("h", Tensor.ofFloats(new int[] {4}, 1, -2, 3, -4));
        Value y = b.op("If").inputs(c, h, x).attr("then_branch", new Attr.GraphValue(branch("then", "Neg", true)))
                .attr("else_branch", new Attr.GraphValue(branch("else", "Abs", false))).outputNames("y").output();
        Graph g = b.output(y).build();
        Graph after = new SubgraphOptimization(OptLevel.O1).apply(g);
        GraphVerifier.verify(after);
        PassTesting.assertEquivalent(g, after);
        Node n = after.nodes().get(0);
        assertEquals(List.of("c", "x"), n.inputs().stream().map(Value::name).toList());
        Graph then = ((Attr.GraphValue) n.attributes().get("then_branch").orElseThrow()).value();
        assertEquals(List.of("x"), then.inputs().stream().map(Value::name).toList());
        // Constant folding inside the branch (O1's pipeline) turned Neg(h) into a constant.
        assertTrue(then.nodes().isEmpty() || then.nodes().stream().allMatch(x2 -> x2.op().equals("Identity")),
                GraphPrinter.print(then));
    }

    @Test
    void cseKeepsControlFlowNodesWithDifferentBodiesApart() {
        GraphBuilder b = new GraphBuilder("g");
        Value c = b.input("c", DType.BOOL, Shape.SCALAR);
        Value x = b.input("x", DType.FLOAT32, FOUR);
        Value y1 = b.op("If").inputs(c, x, x).attr("then_branch", new Attr.GraphValue(branch("t1", "Neg", true)))
                .attr("else_branch", new Attr.GraphValue(branch("e1", "Abs", true))).outputNames("y1").output();
        Value y2 = b.op("If").inputs(c, x, x).attr("then_branch", new Attr.GraphValue(branch("t2", "Abs", true)))
                .attr("else_branch", new Attr.GraphValue(branch("e2", "Neg", true))).outputNames("y2").output();
        Graph g = b.output(y1).output(y2).build();
        assertSame(g, new CommonSubexpressionElimination().apply(g), "same operands, different bodies: not merged");
    }

    @Test
    void aLoopOfConstantsFoldsUnlessItsBodyIsTrainingAware() {
        for (boolean random : new boolean[] {false, true}) {
            GraphBuilder body = new GraphBuilder("body");
            body.input("i", DType.INT64, Shape.SCALAR);
            Value cond = body.input("cond", DType.BOOL, Shape.SCALAR);
            Value s = body.input("s", DType.FLOAT32, FOUR);
            Value step = random ? body.op("Dropout").inputs(s).outputNames("r").output()
                    : body.initializer("one", Tensor.ofFloats(new int[] {4}, 1, 1, 1, 1));
            Value next = body.op("Add").inputs(s, step).outputNames("next").output();
            Value keep = body.op("Identity").inputs(cond).outputNames("keep").output();
            Graph bodyGraph = body.output(keep).output(next).build();
            GraphBuilder b = new GraphBuilder("g");
            Value m = b.initializer("m", Tensor.scalarLong(DType.INT64, 3));
            Value s0 = b.initializer("s0", Tensor.ofFloats(new int[] {4}, 0, 1, 2, 3));
            Value s3 = b.op("Loop").inputs(m, Value.ABSENT, s0).attr("body", new Attr.GraphValue(bodyGraph))
                    .outputNames("s3").output();
            Graph g = b.output(s3).build();
            Graph after = new ConstantFolding().apply(g);
            if (random) {
                assertSame(g, after, "a body with a training-aware op (Dropout may draw a mask) is never folded");
            } else {
                assertEquals(Tensor.ofFloats(new int[] {4}, 3, 4, 5, 6), after.initializers().get(after.outputs().get(0)));
            }
        }
    }

    @Test
    void everyLevelKeepsALoopWithCapturesEquivalent() {
        GraphBuilder body = new GraphBuilder("body");
        body.input("i", DType.INT64, Shape.SCALAR);
        Value cond = body.input("cond", DType.BOOL, Shape.SCALAR);
        Value s = body.input("s", DType.FLOAT32, Shape.of(2, 4));
        Value w = body.input("w", DType.FLOAT32, Shape.of(4, 4));
        Value mm = body.op("MatMul").inputs(s, w).outputNames("mm").output();
        Value act = body.op("Tanh").inputs(mm).outputNames("act").output();
        Value keep = body.op("Identity").inputs(cond).outputNames("keep").output();
        Value row = body.op("Identity").inputs(act).outputNames("row").output();
        Graph bodyGraph = body.output(keep).output(act).output(row).build();
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.of(2, 4));
        Value weights = b.input("w", DType.FLOAT32, Shape.of(4, 4));
        Value m = b.initializer("m", Tensor.scalarLong(DType.INT64, 3));
        var outs = b.op("Loop").inputs(m, Value.ABSENT, x, weights).attr("body", new Attr.GraphValue(bodyGraph))
                .attr(ControlFlowOps.CAPTURES, 1L).outputNames("last", "rows").build();
        Graph g = b.output(outs.get(0)).output(outs.get(1)).build();
        assertEquals(Shape.of(3, 2, 4), outs.get(1).shape());
        for (OptLevel level : OptLevel.values()) {
            Graph after = PassManager.forLevel(level, PassOptions.quiet()).run(g);
            PassTesting.assertEquivalent(g, after);
        }
    }
}
