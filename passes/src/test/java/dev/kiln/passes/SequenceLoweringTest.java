package dev.kiln.passes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.GraphPrinter;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import org.junit.jupiter.api.Test;

/** Sequence lowering and the -O1 passes around it on sequences: what is known at compile time becomes tensor ops. */
class SequenceLoweringTest {
    @Test
    void readsOfAKnownSequenceBecomeTensorOps() {
        GraphBuilder b = new GraphBuilder("seq");
        Value x = b.input("x", DType.FLOAT32, Shape.of(2, 3));
        Value y = b.input("y", DType.FLOAT32, Shape.of(1, 3));
        Value s = b.op("SequenceConstruct").inputs(x, y).outputNames("s").output();
        Value last = b.initializer("last", Tensor.scalarLong(DType.INT64, -1));
        b.output(b.op("SequenceAt").inputs(s, last).outputNames("at").output());
        b.output(b.op("SequenceLength").inputs(s).outputNames("n").output());
        b.output(b.op("ConcatFromSequence").inputs(s).attr("axis", 0L).outputNames("cat").output());
        Graph g = b.build();
        // x and y differ in dim 0: the sequence's and the concatenation's types leave it unknown (fresh symbols).
        String seqDim = g.nodes().get(0).output(0).shape().dim(0).toString();
        String catDim = g.outputs().get(2).shape().dim(0).toString();
        Graph lowered = new DeadCodeElimination().apply(PassTesting.check(new SequenceLowering(), g, """
                graph seq(%x: f32[2,3], %y: f32[1,3]) -> (%at: f32[1,3], %n: i64[], %cat: f32[?,3])
                  init %last: i64[] = [-1]
                  init %n_length: i64[] = [2]
                  %s: seq(f32[S,3]) = SequenceConstruct(%x, %y)
                  %cat: f32[?,3] = Concat(%x, %y) {axis=0}
                  %at: f32[1,3] = Identity(%y)
                  %n: i64[] = Identity(%n_length)
                  return %at, %n, %cat
                """.replace("?", catDim).replace("S,", seqDim + ",")));
        assertEquals(0, lowered.nodes().stream().filter(n -> n.op().startsWith("Sequence")).count(),
                GraphPrinter.print(lowered));
    }

    @Test
    void aSequenceFromTheCallerStays() {
        GraphBuilder b = new GraphBuilder("input");
        Value s = b.input("s", TensorType.sequenceOf(TensorType.of(DType.FLOAT32, 2)));
        Value zero = b.initializer("zero", Tensor.scalarLong(DType.INT64, 0));
        b.output(b.op("SequenceAt").inputs(s, zero).outputNames("first").output());
        Graph g = b.build();
        assertSame(g, new SequenceLowering().apply(g));
        assertSame(g, new ConstantFolding().apply(g));
    }

    @Test
    void constantFoldingNeverMakesASequenceInitializer() {
        GraphBuilder b = new GraphBuilder("empty");
        Value s = b.op("SequenceEmpty").output();
        b.output(b.op("SequenceLength").inputs(s).outputNames("n").output());
        Graph folded = new DeadCodeElimination().apply(new ConstantFolding().apply(b.build()));
        assertEquals("""
                graph empty() -> (%n: i64[])
                  init %n: i64[] = [0]
                  return %n
                """, GraphPrinter.print(folded));
    }

    @Test
    void cseMergesEqualSequencesOnlyAndRandomFeedsCoverSequenceInputs() {
        GraphBuilder b = new GraphBuilder("cse");
        Value x = b.input("x", DType.FLOAT32, Shape.of(2));
        Value y = b.input("y", DType.FLOAT32, Shape.of(2));
        Value given = b.input("given", TensorType.sequenceOf(TensorType.of(DType.FLOAT32, 2)));
        Value xy = b.op("SequenceConstruct").inputs(x, y).outputNames("xy").output();
        Value xy2 = b.op("SequenceConstruct").inputs(x, y).outputNames("xy2").output();
        Value yx = b.op("SequenceConstruct").inputs(y, x).outputNames("yx").output();
        Value zero = b.initializer("zero", Tensor.scalarLong(DType.INT64, 0));
        for (Value s : new Value[] {xy, xy2, yx, given}) {
            b.output(b.op("SequenceAt").inputs(s, zero).outputNames("first_" + s.name()).output());
        }
        Graph g = b.build();
        Graph merged = new CommonSubexpressionElimination().apply(g);
        dev.kiln.ir.GraphVerifier.verify(merged);
        // The two SequenceConstruct(x, y) become one; SequenceConstruct(y, x) is another sequence and stays.
        assertEquals(2, merged.nodes().stream().filter(n -> n.op().equals("SequenceConstruct")).count(),
                GraphPrinter.print(merged));
        PassTesting.assertEquivalent(g, merged);
        PassTesting.assertEquivalent(g, new SequenceLowering().apply(g));
    }

    @Test
    void aSplitByKRunTimeSizesHasKParts() {
        GraphBuilder b = new GraphBuilder("count");
        Value x = b.input("x", DType.FLOAT32, Shape.of(dev.kiln.ir.Dim.sym("n")));
        Value sizes = b.input("sizes", DType.INT64, Shape.of(3));
        Value parts = b.op("SplitToSequence").inputs(x, sizes).output();
        Value more = b.op("SequenceInsert").inputs(parts, x).output();
        b.output(b.op("SequenceLength").inputs(more).outputNames("n_parts").output());
        Graph lowered = new DeadCodeElimination().apply(new SequenceLowering().apply(b.build()));
        assertEquals("""
                graph count(%x: f32[n], %sizes: i64[3]) -> (%n_parts: i64[])
                  init %n_parts_length: i64[] = [4]
                  %n_parts: i64[] = Identity(%n_parts_length)
                  return %n_parts
                """, GraphPrinter.print(lowered));
    }
}
