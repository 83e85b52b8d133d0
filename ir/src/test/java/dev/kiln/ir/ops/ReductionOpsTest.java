package dev.kiln.ir.ops;

import static dev.kiln.ir.ops.OpCheck.f32;
import static dev.kiln.ir.ops.OpCheck.i64;
import static dev.kiln.ir.ops.OpCheck.ints;
import static dev.kiln.ir.ops.OpCheck.run;
import static dev.kiln.ir.ops.OpCheck.runConst;
import static dev.kiln.ir.ops.OpCheck.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeException;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ReductionOpsTest {
    private static final Tensor X = f32(shape(2, 3), 1, 2, 3, 4, 5, 6);
    private static final Attributes DROP = Attributes.builder().i("keepdims", 0).build();

    @Test
    void reduceOverOneAxisKeepingOrDroppingIt() {
        Tensor kept = runConst("ReduceSum", Attributes.EMPTY, X, i64(1));
        assertArrayEquals(new int[] {2, 1}, kept.shape());
        assertArrayEquals(new float[] {6, 15}, kept.toFloatArray());
        Tensor dropped = runConst("ReduceSum", DROP, X, i64(1));
        assertArrayEquals(new int[] {2}, dropped.shape());
        assertArrayEquals(new float[] {5, 7, 9}, runConst("ReduceSum", DROP, X, i64(-2)).toFloatArray());
        assertArrayEquals(new float[] {2, 5}, runConst("ReduceMean", DROP, X, i64(1)).toFloatArray());
        assertArrayEquals(new float[] {6, 120}, runConst("ReduceProd", DROP, X, i64(1)).toFloatArray());
    }

    @Test
    void noAxesReducesEverythingUnlessNoop() {
        Tensor all = run("ReduceMean", X);
        assertArrayEquals(new int[] {1, 1}, all.shape());
        assertArrayEquals(new float[] {3.5f}, all.toFloatArray());
        Tensor scalar = run("ReduceMax", DROP, X);
        assertArrayEquals(new int[] {}, scalar.shape());
        assertArrayEquals(new float[] {6}, scalar.toFloatArray());
        Attributes noop = Attributes.builder().i("noop_with_empty_axes", 1).build();
        assertEquals(X, runConst("ReduceSum", noop, X, Tensor.ofInt64s()));
        assertEquals(X, run("ReduceSum", noop, X));
        // An empty axes tensor without noop still reduces everything.
        assertArrayEquals(new float[] {21}, runConst("ReduceSum", DROP, X, Tensor.ofInt64s()).toFloatArray());
    }

    @Test
    void emptySetsReduceToTheIdentity() {
        Tensor empty = Tensor.zeros(DType.FLOAT32, new int[] {2, 0, 3});
        Tensor axis1 = i64(1);
        assertArrayEquals(new float[] {0, 0, 0, 0, 0, 0}, runConst("ReduceSum", Attributes.EMPTY, empty, axis1).toFloatArray());
        assertArrayEquals(new float[] {1, 1, 1, 1, 1, 1}, runConst("ReduceProd", DROP, empty, axis1).toFloatArray());
        float ninf = Float.NEGATIVE_INFINITY;
        float pinf = Float.POSITIVE_INFINITY;
        assertArrayEquals(new float[] {ninf, ninf, ninf, ninf, ninf, ninf}, runConst("ReduceMax", DROP, empty, axis1).toFloatArray());
        assertArrayEquals(new float[] {pinf, pinf, pinf, pinf, pinf, pinf}, runConst("ReduceMin", DROP, empty, axis1).toFloatArray());
        assertEquals(ninf, runConst("ReduceLogSum", DROP, empty, axis1).toFloatArray()[0]);
        assertEquals(ninf, runConst("ReduceLogSumExp", DROP, empty, axis1).toFloatArray()[0]);
        assertEquals(0f, runConst("ReduceL2", DROP, empty, axis1).toFloatArray()[0]);
        assertTrue(Float.isNaN(runConst("ReduceMean", DROP, empty, axis1).toFloatArray()[0]));
        Tensor emptyInts = Tensor.zeros(DType.INT32, new int[] {1, 0});
        assertArrayEquals(new long[] {Integer.MIN_VALUE}, runConst("ReduceMax", DROP, emptyInts, axis1).longs());
        assertArrayEquals(new long[] {Integer.MAX_VALUE}, runConst("ReduceMin", DROP, emptyInts, axis1).longs());
    }

    @Test
    void normsAndLogReductions() {
        assertArrayEquals(new float[] {5}, run("ReduceL2", DROP, f32(3, -4)).toFloatArray());
        assertArrayEquals(new float[] {7}, run("ReduceL1", DROP, f32(3, -4)).toFloatArray());
        assertArrayEquals(new float[] {25}, run("ReduceSumSquare", DROP, f32(3, -4)).toFloatArray());
        assertArrayEquals(new long[] {5}, run("ReduceL2", DROP, i64(3, -4)).longs());
        assertArrayEquals(new float[] {(float) Math.log(6)}, run("ReduceLogSum", DROP, f32(1, 2, 3)).toFloatArray());
        // log(e^1000 + e^1000) = 1000 + ln 2, without overflow.
        assertArrayEquals(new double[] {1000 + Math.log(2)},
                run("ReduceLogSumExp", DROP, Tensor.ofDoubles(DType.FLOAT64, new int[] {2}, 1000, 1000)).doubles(), 1e-12);
    }

    @Test
    void maxAndMinOfBoolsAreAnyAndAll() {
        Tensor b = Tensor.wrapBools(new int[] {2, 2}, new boolean[] {true, false, false, false});
        assertArrayEquals(new boolean[] {true, false}, runConst("ReduceMax", DROP, b, i64(1)).bools());
        assertArrayEquals(new boolean[] {false, false}, runConst("ReduceMin", DROP, b, i64(1)).bools());
        assertThrows(ShapeException.class, () -> runConst("ReduceSum", DROP, b, i64(1)));
    }

    @Test
    void badAxesFailNamingTheNode() {
        ShapeException twice = assertThrows(ShapeException.class, () -> runConst("ReduceSum", DROP, X, i64(1, -1)));
        assertTrue(twice.getMessage().contains("twice") && twice.getMessage().contains("ReduceSum"), twice.getMessage());
        assertThrows(ShapeException.class, () -> runConst("ReduceSum", DROP, X, i64(2)));
    }

    @Test
    void nonConstantAxesKeepTheRankOnlyWithKeepdims() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,3"));
        Value axes = b.input("axes", DType.INT64, Shape.of(1));
        Value y = b.op("ReduceSum").inputs(x, axes).output();
        assertEquals(2, y.type().rank());
        b.output(y);
        Tensor out = ReferenceEvaluator.run(b.build(), Map.of("x", X, "axes", i64(0))).get(y.name());
        assertArrayEquals(new float[] {5, 7, 9}, out.toFloatArray());
        // Without keepdims the rank still follows from the number of axes (they may not repeat).
        GraphBuilder b2 = new GraphBuilder("g");
        Value x2 = b2.input("x", DType.FLOAT32, Shape.parse("N,3"));
        Value axes2 = b2.input("axes", DType.INT64, Shape.of(1));
        Value y2 = b2.op("ReduceSum").inputs(x2, axes2).attr("keepdims", 0L).output();
        assertEquals(1, y2.type().rank());
        b2.output(y2);
        Tensor out2 = ReferenceEvaluator.run(b2.build(), Map.of("x", X, "axes", i64(1))).get(y2.name());
        assertArrayEquals(new float[] {6, 15}, out2.toFloatArray());
        GraphBuilder b3 = new GraphBuilder("g");
        Value x3 = b3.input("x", DType.FLOAT32, Shape.parse("N,3"));
        Value axes3 = b3.input("axes", DType.INT64, Shape.parse("K"));
        assertThrows(UnsupportedOpException.class, () -> b3.op("ReduceSum").inputs(x3, axes3).attr("keepdims", 0L).output());
    }

    @Test
    void argMaxAndArgMinPickFirstOrLastExtreme() {
        Tensor x = f32(shape(2, 3), 1, 3, 3, 2, 2, 1);
        Attributes axis1 = Attributes.builder().i("axis", 1).build();
        Tensor first = run("ArgMax", axis1, x);
        assertEquals(DType.INT64, first.dtype());
        assertArrayEquals(new int[] {2, 1}, first.shape());
        assertArrayEquals(new long[] {1, 0}, first.longs());
        Attributes last = Attributes.builder().i("axis", -1).i("select_last_index", 1).i("keepdims", 0).build();
        Tensor lastIdx = run("ArgMax", last, x);
        assertArrayEquals(new int[] {2}, lastIdx.shape());
        assertArrayEquals(new long[] {2, 1}, lastIdx.longs());
        assertArrayEquals(new long[] {0, 1, 1}, run("ArgMin", DROP, x).longs());
        assertArrayEquals(new long[] {1}, run("ArgMax", DROP, f32(1, Float.NaN, 5)).longs());
        assertArrayEquals(new long[] {0}, run("ArgMax", DROP, ints(DType.UINT64, -1L, 5)).longs());
    }
}
