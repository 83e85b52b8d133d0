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

import dev.kiln.ir.DType;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeException;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.List;
import org.junit.jupiter.api.Test;

class SliceOpsTest {
    @Test
    void concatAlongInnerAxisOfAnyDtype() {
        Tensor a = Tensor.ofLongs(DType.INT32, new int[] {2, 1}, 1, 2);
        Tensor b = Tensor.ofLongs(DType.INT32, new int[] {2, 2}, 3, 4, 5, 6);
        assertEquals(Tensor.ofLongs(DType.INT32, new int[] {2, 3}, 1, 3, 4, 2, 5, 6),
                run("Concat", attrs().i("axis", -1).build(), a, b));
        Tensor s = Tensor.wrapStrings(new int[] {1}, new String[] {"x"});
        assertEquals(Tensor.wrapStrings(new int[] {2}, new String[] {"x", "x"}), run("Concat", attrs().i("axis", 0).build(), s, s));
    }

    @Test
    void splitBySizesAndIntoCeilParts() {
        List<Tensor> parts = OpRunner.run("Split", none(), 2, iota(5), longs(2, 3));
        assertEquals(floats(shape(2), 0, 1), parts.get(0));
        assertEquals(floats(shape(3), 2, 3, 4), parts.get(1));
        // 8 columns in 3 parts: ceil(8/3) = 3, so 3, 3, 2.
        List<Tensor> uneven = OpRunner.run("Split", attrs().i("axis", 1).i("num_outputs", 3).build(), 3, iota(2, 8));
        assertEquals(floats(shape(2, 3), 0, 1, 2, 8, 9, 10), uneven.get(0));
        assertEquals(floats(shape(2, 2), 6, 7, 14, 15), uneven.get(2));
        assertThrows(ShapeException.class, () -> OpRunner.run("Split", none(), 2, iota(5), longs(2, 2)));
    }

    @Test
    void sliceWithNegativeStepsAndClamping() {
        Tensor x = iota(10);
        assertEquals(floats(shape(3), 8, 6, 4), run("Slice", none(), x, longs(-2), longs(2), longs(0), longs(-2)));
        assertEquals(floats(shape(2), 8, 9), run("Slice", none(), x, longs(8), longs(Long.MAX_VALUE)));
        assertEquals(floats(shape(10), 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                run("Slice", none(), x, longs(-1), longs(Long.MIN_VALUE), null, longs(-1)));
        assertEquals(floats(shape(0)), run("Slice", none(), x, longs(20), longs(30)));
        // Rows 0..1, columns 3 and 1 of a [3,4] matrix (axes given out of order, negative).
        Tensor m = iota(3, 4);
        assertEquals(floats(shape(2, 2), 3, 1, 7, 5),
                run("Slice", none(), m, longs(3, 0), longs(0, 2), longs(-1, 0), longs(-2, 1)));
    }

    @Test
    void sliceOfSymbolicDimKeepsWholeRanges() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,10"));
        Value y = b.op("Slice").inputs(x, b.initializer("s", longs(0, 2)), b.initializer("e", longs(Long.MAX_VALUE, 5)))
                .output();
        assertEquals("f32[N,3]", y.type().toString());
    }

    @Test
    void padInEveryMode() {
        Tensor x = floats(shape(3, 2), 1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f);
        Tensor pads = longs(0, 2, 0, 0);
        assertEquals(floats(shape(3, 4), 0, 0, 1.0f, 1.2f, 0, 0, 2.3f, 3.4f, 0, 0, 4.5f, 5.7f), run("Pad", none(), x, pads));
        assertEquals(floats(shape(3, 4), 1.0f, 1.2f, 1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f, 4.5f, 5.7f),
                run("Pad", attrs().s("mode", "reflect").build(), x, pads));
        assertEquals(floats(shape(3, 4), 1.0f, 1.0f, 1.0f, 1.2f, 2.3f, 2.3f, 2.3f, 3.4f, 4.5f, 4.5f, 4.5f, 5.7f),
                run("Pad", attrs().s("mode", "edge").build(), x, pads));
        // wrap along axis 0 by one on each side: rows 2,0,1,2,0.
        Tensor wrapped = run("Pad", attrs().s("mode", "wrap").build(), x, longs(1, 0, 1, 0));
        assertEquals(floats(shape(5, 2), 4.5f, 5.7f, 1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f, 1.0f, 1.2f), wrapped);
        // constant 9 on axis -1 only; a negative pad crops the first row.
        assertEquals(floats(shape(2, 3), 2.3f, 3.4f, 9, 4.5f, 5.7f, 9),
                run("Pad", none(), x, longs(-1, 0, 0, 1), Tensor.scalarFloat(9), null));
        assertEquals(floats(shape(3, 3), 9, 1.0f, 1.2f, 9, 2.3f, 3.4f, 9, 4.5f, 5.7f),
                run("Pad", none(), x, longs(1, 0), Tensor.scalarFloat(9), longs(-1)));
        // reflect by more than the dim: [1,2,3] reflected by 4 -> 3 2 | 1 2 3 | 2 1 2 3 (period 4).
        assertEquals(floats(shape(9), 2, 3, 2, 1, 2, 3, 2, 1, 2),
                run("Pad", attrs().s("mode", "reflect").build(), floats(shape(3), 1, 2, 3), longs(3, 3)));
    }

    @Test
    void depthToSpaceBothModesAndSpaceToDepthInverse() {
        Tensor x = iota(1, 8, 2, 3);
        Tensor dcr = run("DepthToSpace", attrs().i("blocksize", 2).build(), x);
        assertArrayEquals(new int[] {1, 2, 4, 6}, dcr.shape());
        // DCR: out[0][c][2h+i][2w+j] = x[0][(2i+j)*2 + c][h][w]; out[0][1][1][2] is i=1,j=0,h=0,w=1 -> channel 5: 5*6+1.
        assertEquals(31f, dcr.toFloatArray()[(1 * 4 + 1) * 6 + 2]);
        Tensor crd = run("DepthToSpace", attrs().i("blocksize", 2).s("mode", "CRD").build(), x);
        // CRD: channel c*4 + 2i + j; the same position is channel 1*4 + 2 = 6: 6*6+1.
        assertEquals(37f, crd.toFloatArray()[(1 * 4 + 1) * 6 + 2]);
        assertEquals(x, run("SpaceToDepth", attrs().i("blocksize", 2).build(), dcr));
    }

    @Test
    void triluKeepsTrianglesWithOffset() {
        Tensor x = iota(3, 3);
        assertEquals(floats(shape(3, 3), 0, 1, 2, 0, 4, 5, 0, 0, 8), run("Trilu", none(), x));
        assertEquals(floats(shape(3, 3), 0, 0, 0, 3, 0, 0, 6, 7, 0), run("Trilu", attrs().i("upper", 0).build(), x, scalar(-1)));
    }

    @Test
    void reverseSequencePerBatchLength() {
        // time-major [4 time, 2 batch]: batch 0 reverses 3 steps, batch 1 reverses 1.
        Tensor x = iota(4, 2);
        assertEquals(floats(shape(4, 2), 4, 1, 2, 3, 0, 5, 6, 7), run("ReverseSequence", none(), x, longs(3, 1)));
    }

    @Test
    void compressAlongAxisAndFlattened() {
        Tensor x = iota(3, 2);
        Tensor cond = Tensor.wrapBools(new int[] {2}, new boolean[] {false, true});
        assertEquals(floats(shape(3, 1), 1, 3, 5), run("Compress", attrs().i("axis", 1).build(), x, cond));
        Tensor cond3 = Tensor.wrapBools(new int[] {3}, new boolean[] {true, false, true});
        assertEquals(floats(shape(2), 0, 2), run("Compress", none(), x, cond3));
    }
}
