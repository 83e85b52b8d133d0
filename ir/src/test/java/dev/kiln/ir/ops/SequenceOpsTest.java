package dev.kiln.ir.ops;

import static dev.kiln.ir.ops.SingleNode.dims;
import static dev.kiln.ir.ops.SingleNode.f32;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ShapeException;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The sequence and optional ops on the cases that are easy to get wrong: negative positions, uneven splits, empties. */
class SequenceOpsTest {
    private static final Tensor A = f32(dims(1), 1);
    private static final Tensor B = f32(dims(2), 2, 2);
    private static final Tensor C = f32(dims(3), 3, 3, 3);

    private static Tensor seq(Tensor... elements) {
        return Tensor.sequence(DType.FLOAT32, List.of(elements));
    }

    private static Tensor pos(long p) {
        return Tensor.scalarLong(DType.INT64, p);
    }

    private static Tensor run1(String op, Attributes attrs, Tensor... inputs) {
        return SingleNode.run(op, attrs, Arrays.asList(inputs), "out").get(0);
    }

    private static int[] sizes(Tensor sequence) {
        return sequence.elements().stream().mapToInt(Tensor::size).toArray();
    }

    @Test
    void negativePositionsCountFromTheBack() {
        Tensor abc = seq(A, B, C);
        assertEquals(C, run1("SequenceAt", Attributes.EMPTY, abc, pos(-1)));
        assertEquals(A, run1("SequenceAt", Attributes.EMPTY, abc, pos(-3)));
        // Insert before position -1 (the last tensor); position n appends.
        assertArrayEquals(new int[] {1, 2, 1, 3}, sizes(run1("SequenceInsert", Attributes.EMPTY, abc, A, pos(-1))));
        assertArrayEquals(new int[] {1, 2, 3, 1}, sizes(run1("SequenceInsert", Attributes.EMPTY, abc, A, pos(3))));
        assertArrayEquals(new int[] {2, 3}, sizes(run1("SequenceErase", Attributes.EMPTY, abc, pos(-3))));
        assertArrayEquals(new int[] {1, 2}, sizes(SingleNode.run("SequenceErase", Attributes.EMPTY,
                Arrays.asList(abc, null), "out").get(0)));
    }

    @Test
    void positionsOutOfRangeAreErrors() {
        Tensor abc = seq(A, B, C);
        assertThrows(ShapeException.class, () -> run1("SequenceAt", Attributes.EMPTY, abc, pos(3)));
        assertThrows(ShapeException.class, () -> run1("SequenceAt", Attributes.EMPTY, abc, pos(-4)));
        assertThrows(ShapeException.class, () -> run1("SequenceInsert", Attributes.EMPTY, abc, A, pos(4)));
        assertThrows(ShapeException.class, () -> run1("SequenceErase", Attributes.EMPTY, seq(), pos(0)));
    }

    @Test
    void scalarSplitLeavesASmallerLastPart() {
        Tensor x = f32(dims(5, 2), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
        Tensor parts = run1("SplitToSequence", Attributes.EMPTY, x, pos(2));
        assertEquals(3, parts.elements().size());
        assertArrayEquals(new int[] {1, 2}, parts.elements().get(2).shape());
        assertArrayEquals(new float[] {8, 9}, parts.elements().get(2).toFloatArray());
        // The parts differ along the axis, so the sequence's type leaves that dim unknown.
        assertTrue(parts.type().shape().dim(0).hasUnknown());
        assertEquals(Dim.of(2), parts.type().shape().dim(1));
        Tensor uneven = run1("SplitToSequence", Attributes.builder().i("axis", -2).build(), x,
                Tensor.ofInt64s(1, 4));
        assertArrayEquals(new int[] {2, 8}, sizes(uneven));
        assertThrows(ShapeException.class, () -> run1("SplitToSequence", Attributes.EMPTY, x, Tensor.ofInt64s(1, 3)));
        assertThrows(ShapeException.class, () -> run1("SplitToSequence", Attributes.EMPTY, x, Tensor.ofInt64s(-1, 6)));
        assertArrayEquals(new int[] {0, 10}, sizes(run1("SplitToSequence", Attributes.EMPTY, x, Tensor.ofInt64s(0, 5))));
        assertThrows(ShapeException.class, () -> run1("SplitToSequence", Attributes.EMPTY, x, pos(0)));
    }

    @Test
    void splitWithoutSizesGivesOnesAndKeepdimsZeroDropsTheAxis() {
        Tensor x = f32(dims(2, 3), 0, 1, 2, 3, 4, 5);
        Tensor rows = run1("SplitToSequence", Attributes.builder().i("axis", 1).i("keepdims", 0).build(), x);
        assertEquals(3, rows.elements().size());
        assertArrayEquals(new int[] {2}, rows.elements().get(1).shape());
        assertArrayEquals(new float[] {1, 4}, rows.elements().get(1).toFloatArray());
        Tensor empty = run1("SplitToSequence", Attributes.EMPTY, f32(dims(0, 3)));
        assertTrue(empty.elements().isEmpty());
    }

    @Test
    void emptySequences() {
        GraphBuilder b = new GraphBuilder("empty");
        Value s = b.op("SequenceEmpty").attr("dtype", (long) DType.INT64.onnxCode()).output();
        assertEquals(TensorType.unrankedSequence(DType.INT64), s.type());
        Value x = b.input("x", DType.INT64, dev.kiln.ir.Shape.of(2, 3));
        // Inserting into the known-empty sequence gives the inserted tensor's type, not an unknown rank.
        Value one = b.op("SequenceInsert").inputs(s, x).output();
        assertEquals(TensorType.sequenceOf(x.type()), one.type());
        assertEquals(pos(0), run1("SequenceLength", Attributes.EMPTY, seq()));
        // A sequence declared of f32[2] tensors, fed empty: nothing to concatenate.
        GraphBuilder g = new GraphBuilder("concat");
        Value in = g.input("s", TensorType.sequenceOf(TensorType.of(DType.FLOAT32, 2)));
        g.output(g.op("ConcatFromSequence").inputs(in).attr("axis", 0L).output());
        dev.kiln.ir.Graph graph = g.build();
        assertThrows(ShapeException.class, () -> dev.kiln.ir.ReferenceEvaluator.run(graph, java.util.Map.of("s", seq())));
    }

    @Test
    void concatFromSequenceStacksAlongANegativeNewAxis() {
        Tensor p = f32(dims(2, 2), 1, 2, 3, 4);
        Tensor q = f32(dims(2, 2), 5, 6, 7, 8);
        // new_axis=1, axis=-1: a new last axis, [2, 2, 2], y[i][j][k] = (p, q)[k][i][j].
        Tensor y = run1("ConcatFromSequence", Attributes.builder().i("axis", -1).i("new_axis", 1).build(), seq(p, q));
        assertArrayEquals(new int[] {2, 2, 2}, y.shape());
        assertArrayEquals(new float[] {1, 5, 2, 6, 3, 7, 4, 8}, y.toFloatArray());
        Tensor joined = run1("ConcatFromSequence", Attributes.builder().i("axis", -1).build(), seq(p, q));
        assertArrayEquals(new int[] {2, 4}, joined.shape());
        assertThrows(ShapeException.class, () -> run1("ConcatFromSequence",
                Attributes.builder().i("axis", 2).build(), seq(p, q)));
        // axis=2 is legal when stacking (rank 2 + the new axis).
        assertArrayEquals(new int[] {2, 2, 2}, run1("ConcatFromSequence",
                Attributes.builder().i("axis", 2).i("new_axis", 1).build(), seq(p, q)).shape());
    }

    @Test
    void optionalsHoldOrLackAValue() {
        Tensor some = Tensor.optionalOf(A);
        Tensor none = Tensor.emptyOptional(TensorType.optionalOf(A.type()));
        assertEquals(Tensor.wrapBools(new int[0], new boolean[] {true}), run1("OptionalHasElement", Attributes.EMPTY,
                some));
        assertEquals(Tensor.wrapBools(new int[0], new boolean[] {false}), run1("OptionalHasElement", Attributes.EMPTY,
                none));
        assertEquals(A, run1("OptionalGetElement", Attributes.EMPTY, some));
        assertEquals(A, run1("OptionalGetElement", Attributes.EMPTY, A));
        assertThrows(ShapeException.class, () -> run1("OptionalGetElement", Attributes.EMPTY, none));
    }

    @Test
    void tensorOpsRefuseSequences() {
        GraphBuilder b = new GraphBuilder("wrong");
        Value s = b.input("s", TensorType.sequenceOf(A.type()));
        List<Value> in = new ArrayList<>(List.of(s, s));
        ShapeException e = assertThrows(ShapeException.class, () -> b.op("Add").inputs(in).output());
        assertTrue(e.getMessage().contains("takes tensors only"), e.getMessage());
    }
}
