package dev.kiln.ir.ops;

import static dev.kiln.ir.ops.OpRunner.attrs;
import static dev.kiln.ir.ops.OpRunner.floats;
import static dev.kiln.ir.ops.OpRunner.iota;
import static dev.kiln.ir.ops.OpRunner.longs;
import static dev.kiln.ir.ops.OpRunner.none;
import static dev.kiln.ir.ops.OpRunner.run;
import static dev.kiln.ir.ops.OpRunner.scalar;
import static dev.kiln.ir.ops.OpRunner.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attr;
import dev.kiln.ir.DType;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeException;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ShapeOpsTest {
    @Test
    void constantFromEachAttributeKind() {
        assertEquals(Tensor.scalarFloat(1.5f), run("Constant", attrs().f("value_float", 1.5f).build()));
        assertEquals(Tensor.ofInt64s(3, -4), run("Constant", attrs().ints("value_ints", 3, -4).build()));
        assertEquals(Tensor.wrapStrings(new int[] {2}, new String[] {"a", "b"}),
                run("Constant", attrs().set("value_strings", new Attr.Strs(List.of("a", "b"))).build()));
        Tensor t = floats(shape(2), 1f, 2f);
        assertEquals(t, run("Constant", attrs().tensor("value", t).build()));
        GraphBuilder b = new GraphBuilder("g");
        assertThrows(ShapeException.class, () -> b.op("Constant").attr("value_int", 1L).attr("value_float", 1f).output());
    }

    @Test
    void identityKeepsStrings() {
        Tensor s = Tensor.wrapStrings(new int[] {1}, new String[] {"x"});
        assertEquals(s, run("Identity", none(), s));
    }

    @Test
    void reshapeCopiesZeroAndInfersMinusOne() {
        Tensor y = run("Reshape", none(), iota(2, 3, 4), longs(0, -1));
        assertArrayEquals(new int[] {2, 12}, y.shape());
        assertEquals(iota(2, 3, 4).reshape(new int[] {2, 12}), y);
        Tensor empty = Tensor.zeros(DType.FLOAT32, new int[] {0, 3});
        assertArrayEquals(new int[] {3, 0}, run("Reshape", attrs().i("allowzero", 1).build(), empty, longs(3, 0)).shape());
        assertThrows(ShapeException.class, () -> run("Reshape", none(), iota(2, 3), longs(-1, -1)));
    }

    @Test
    void flattenAtEachAxis() {
        assertArrayEquals(new int[] {1, 24}, run("Flatten", attrs().i("axis", 0).build(), iota(2, 3, 4)).shape());
        assertArrayEquals(new int[] {6, 4}, run("Flatten", attrs().i("axis", -1).build(), iota(2, 3, 4)).shape());
        assertArrayEquals(new int[] {24, 1}, run("Flatten", attrs().i("axis", 3).build(), iota(2, 3, 4)).shape());
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,3,4"));
        assertEquals("f32[N,12]", b.op("Flatten").inputs(x).output().type().toString());
    }

    @Test
    void transposeDefaultReversesAndPermMoves() {
        // [[0,1,2],[3,4,5]] transposed is [[0,3],[1,4],[2,5]].
        assertArrayEquals(new float[] {0, 3, 1, 4, 2, 5}, run("Transpose", none(), iota(2, 3)).toFloatArray());
        Tensor y = run("Transpose", attrs().ints("perm", 1, 2, 0).build(), iota(2, 3, 4));
        assertArrayEquals(new int[] {3, 4, 2}, y.shape());
        // y[i][j][k] = x[k][i][j] = 12k + 4i + j; y[1][2][1] = 12 + 4 + 2 = 18.
        assertEquals(18f, y.toFloatArray()[(1 * 4 + 2) * 2 + 1]);
    }

    @Test
    void squeezeAndUnsqueeze() {
        assertArrayEquals(new int[] {3}, run("Squeeze", none(), iota(1, 3, 1)).shape());
        assertArrayEquals(new int[] {3, 1}, run("Squeeze", none(), iota(1, 3, 1), longs(0)).shape());
        assertThrows(ShapeException.class, () -> run("Squeeze", none(), iota(1, 3, 1), longs(1)));
        assertArrayEquals(new int[] {1, 3, 1, 4},
                run("Unsqueeze", none(), iota(3, 4), longs(2, 0)).shape());
        assertArrayEquals(new int[] {3, 4, 1}, run("Unsqueeze", none(), iota(3, 4), longs(-1)).shape());
    }

    @Test
    void shapeWithStartAndEndClamped() {
        Tensor x = iota(2, 3, 4);
        assertEquals(longs(2, 3, 4), run("Shape", none(), x));
        assertEquals(longs(3), run("Shape", attrs().i("start", 1).i("end", -1).build(), x));
        assertEquals(longs(2, 3, 4), run("Shape", attrs().i("start", -10).i("end", 10).build(), x));
        assertEquals(longs(), run("Shape", attrs().i("start", 2).i("end", 1).build(), x));
        assertEquals(scalar(24), run("Size", none(), x));
    }

    @Test
    void constantOfShapeDefaultsToFloatZero() {
        assertEquals(Tensor.zeros(DType.FLOAT32, new int[] {2, 3}), run("ConstantOfShape", none(), longs(2, 3)));
        Tensor seven = Tensor.ofLongs(DType.INT32, new int[] {1}, 7);
        assertEquals(Tensor.ofLongs(DType.INT32, new int[] {2}, 7, 7),
                run("ConstantOfShape", attrs().tensor("value", seven).build(), longs(2)));
        assertEquals(Tensor.zeros(DType.FLOAT32, new int[0]), run("ConstantOfShape", none(), longs()));
    }

    @Test
    void expandBroadcastsBothWays() {
        // [3,1] expanded with [2,1,6] gives [2,3,6] (the 1 in the target keeps the input's 3).
        Tensor y = run("Expand", none(), floats(shape(3, 1), 1, 2, 3), longs(2, 1, 6));
        assertArrayEquals(new int[] {2, 3, 6}, y.shape());
        assertEquals(2f, y.toFloatArray()[6]);
        assertEquals(3f, y.toFloatArray()[18 + 17]);
    }

    @Test
    void tileRepeatsEachAxis() {
        // [[0,1],[2,3]] tiled (2,1) -> rows 0,1,0,1.
        assertArrayEquals(new float[] {0, 1, 2, 3, 0, 1, 2, 3}, run("Tile", none(), iota(2, 2), longs(2, 1)).toFloatArray());
        assertArrayEquals(new float[] {0, 1, 0, 1, 2, 3, 2, 3}, run("Tile", none(), iota(2, 2), longs(1, 2)).toFloatArray());
    }

    @Test
    void rangeCountsCeilAndKeepsIntegersExact() {
        assertEquals(Tensor.ofLongs(DType.INT32, new int[] {3}, 10, 7, 4),
                run("Range", none(), Tensor.scalarLong(DType.INT32, 10), Tensor.scalarLong(DType.INT32, 1),
                        Tensor.scalarLong(DType.INT32, -3)));
        assertEquals(floats(shape(3), 1f, 1.5f, 2f),
                run("Range", none(), Tensor.scalarFloat(1), Tensor.scalarFloat(2.2f), Tensor.scalarFloat(0.5f)));
        assertEquals(longs(), run("Range", none(), scalar(5), scalar(1), scalar(1)));
    }

    @Test
    void eyeLikeOffDiagonalAndDtype() {
        Tensor y = run("EyeLike", attrs().i("k", 1).i("dtype", DType.INT64.onnxCode()).build(), iota(3, 4));
        assertEquals(Tensor.ofLongs(DType.INT64, new int[] {3, 4}, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1), y);
    }

    @Test
    void dropoutIsIdentityInInferenceAndScalesInTraining() {
        Tensor x = iota(4, 5);
        List<Tensor> inf = OpRunner.run("Dropout", none(), 2, x);
        assertEquals(x, inf.get(0));
        for (boolean m : inf.get(1).bools()) {
            assertTrue(m);
        }
        GraphBuilder b = new GraphBuilder("g");
        Value in = b.input("x", DType.FLOAT32, Shape.of(4, 5));
        Value ratio = b.initializer("r", Tensor.scalarFloat(0.5f));
        Value train = b.initializer("t", Tensor.wrapBools(new int[0], new boolean[] {true}));
        List<Value> outs = b.op("Dropout").inputs(in, ratio, train).outputCount(2).build();
        outs.forEach(b::output);
        Map<String, Tensor> r = dev.kiln.ir.ReferenceEvaluator.run(b.build(), Map.of("x", x));
        float[] y = r.get(outs.get(0).name()).toFloatArray();
        boolean[] mask = r.get(outs.get(1).name()).bools();
        int kept = 0;
        for (int i = 0; i < y.length; i++) {
            assertEquals(mask[i] ? 2f * i : 0f, y[i], 0f);
            kept += mask[i] ? 1 : 0;
        }
        assertTrue(kept > 0 && kept < 20, "a 0.5 dropout of 20 elements kept " + kept);
        assertTrue(OpTable.get().find("", "Dropout").orElseThrow().has(OpProperty.TRAINING_AWARE));
    }
}
