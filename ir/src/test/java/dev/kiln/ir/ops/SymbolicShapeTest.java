package dev.kiln.ir.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeException;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Shape-tensor chains keep the batch dim symbolic through Shape, Gather, Unsqueeze, Concat, Slice, Reshape. */
class SymbolicShapeTest {

    /** x.view(x.size(0), 320) as exporters write it: Shape -> Gather -> Unsqueeze -> Concat -> Reshape. */
    @Test
    void reshapeTargetBuiltFromShapeKeepsBatch() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,20,4,4"));
        Value shape = b.op("Shape").inputs(x).output();
        Value zero = b.initializer("zero", Tensor.scalarLong(DType.INT64, 0));
        Value n = b.op("Gather").inputs(shape, zero).output();
        Value axes = b.initializer("axes", Tensor.ofInt64s(0));
        Value n1 = b.op("Unsqueeze").inputs(n, axes).output();
        Value cols = b.initializer("cols", Tensor.ofInt64s(320));
        Value target = b.op("Concat").inputs(n1, cols).attr("axis", 0L).output();
        Value y = b.op("Reshape").inputs(x, target).output();
        b.output(y);
        assertEquals("i64[4]", shape.type().toString());
        assertEquals("i64[]", n.type().toString());
        assertEquals("i64[2]", target.type().toString());
        assertEquals("f32[N,320]", y.type().toString());

        Graph g = b.build();
        Tensor in = OpRunner.iota(2, 20, 4, 4);
        Tensor out = ReferenceEvaluator.run(g, Map.of("x", in)).get(y.name());
        assertArrayEquals(new int[] {2, 320}, out.shape());
        assertEquals(321f, out.toFloatArray()[321]);
    }

    /** x.view(x.size(0), -1): the -1 travels through Concat and Reshape infers 320 = N*20*4*4 / N. */
    @Test
    void minusOneInTrackedTargetIsInferred() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,20,4,4"));
        Value n = b.op("Shape").inputs(x).attr("end", 1L).output();
        Value minus1 = b.initializer("m1", Tensor.ofInt64s(-1));
        Value target = b.op("Concat").inputs(n, minus1).attr("axis", 0L).output();
        Value y = b.op("Reshape").inputs(x, target).output();
        assertEquals("f32[N,320]", y.type().toString());
    }

    @Test
    void constantReshapeTargetWithMinusOne() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,20,4,4"));
        Value target = b.initializer("t", Tensor.ofInt64s(-1, 320));
        assertEquals("f32[N,320]", b.op("Reshape").inputs(x, target).output().type().toString());
        Value copy = b.initializer("c", Tensor.ofInt64s(0, -1));
        assertEquals("f32[N,320]", b.op("Reshape").inputs(x, copy).output().type().toString());
    }

    /** The initial LSTM/GRU state: ConstantOfShape(Concat(1, Unsqueeze(Gather(Shape(x), 0)), 128)). */
    @Test
    void constantOfShapeReadsTrackedDims() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,7,3"));
        Value shape = b.op("Shape").inputs(x).output();
        Value n = b.op("Gather").inputs(shape, b.initializer("zero", Tensor.scalarLong(DType.INT64, 0))).output();
        Value n1 = b.op("Unsqueeze").inputs(n, b.initializer("axes", Tensor.ofInt64s(0))).output();
        Value target = b.op("Concat").inputs(b.initializer("one", Tensor.ofInt64s(1)), n1,
                b.initializer("hidden", Tensor.ofInt64s(128))).attr("axis", 0L).output();
        Value h0 = b.op("ConstantOfShape").inputs(target).output();
        b.output(h0);
        assertEquals("f32[1,N,128]", h0.type().toString());

        Tensor out = ReferenceEvaluator.run(b.build(), Map.of("x", OpRunner.iota(3, 7, 3))).get(h0.name());
        assertArrayEquals(new int[] {1, 3, 128}, out.shape());
        assertEquals(0.0, out.toDoubleArray()[200]);
    }

    @Test
    void sliceAndSqueezeOfShapeStaySymbolic() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,T,16"));
        Value shape = b.op("Shape").inputs(x).output();
        Value firstTwo = b.op("Slice").inputs(shape, b.initializer("s", Tensor.ofInt64s(0)),
                b.initializer("e", Tensor.ofInt64s(2))).output();
        Value target = b.op("Concat").inputs(firstTwo, b.initializer("k", Tensor.ofInt64s(4, 4))).attr("axis", 0L).output();
        assertEquals("f32[N,T,4,4]", b.op("Reshape").inputs(x, target).output().type().toString());
        Value expanded = b.op("Expand").inputs(b.initializer("row", Tensor.ofFloats(new int[] {16}, new float[16])),
                shape).output();
        assertEquals("f32[N,T,16]", expanded.type().toString());
    }

    @Test
    void unknownTargetGivesUnknownDimsOfTheRightRank() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,6"));
        Value t = b.input("t", DType.INT64, Shape.of(3));
        Value y = b.op("Reshape").inputs(x, t).output();
        assertEquals(3, y.type().rank());
        assertTrue(y.shape().dims().stream().allMatch(d -> d.hasUnknown()));
        Value c = b.op("ConstantOfShape").inputs(t).output();
        assertEquals(3, c.type().rank());
    }

    @Test
    void reshapeRejectsIncompatibleStaticSizes() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.of(2, 3));
        Value t = b.initializer("t", Tensor.ofInt64s(4, -1));
        ShapeException e = assertThrows(ShapeException.class, () -> b.op("Reshape").name("r").inputs(x, t).output());
        assertTrue(e.getMessage().contains("node 'r' (Reshape)") && e.getMessage().contains("f32[2,3]"), e.getMessage());
    }

    @Test
    void concatOfSymbolicDimsAddsLikeTerms() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,3"));
        Value y = b.input("y", DType.FLOAT32, Shape.parse("M,3"));
        assertEquals("f32[2*N,3]", b.op("Concat").inputs(x, x).attr("axis", 0L).output().type().toString());
        assertEquals("f32[N,6]", b.op("Concat").inputs(x, x).attr("axis", 1L).output().type().toString());
        Value mixed = b.op("Concat").inputs(x, y).attr("axis", 0L).output();
        assertTrue(mixed.shape().dim(0).hasUnknown());
    }

    @Test
    void rangeOverATrackedLengthHasThatLength() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,T"));
        Value t = b.op("Gather").inputs(b.op("Shape").inputs(x).output(),
                b.initializer("one", Tensor.scalarLong(DType.INT64, 1))).output();
        Value r = b.op("Range").inputs(b.initializer("zero", Tensor.scalarLong(DType.INT64, 0)), t,
                b.initializer("step", Tensor.scalarLong(DType.INT64, 1))).output();
        assertEquals("i64[T]", r.type().toString());
    }
}
