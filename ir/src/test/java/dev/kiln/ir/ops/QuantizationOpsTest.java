package dev.kiln.ir.ops;

import static dev.kiln.ir.ops.OpHarness.f32;
import static dev.kiln.ir.ops.OpHarness.infer;
import static dev.kiln.ir.ops.OpHarness.run;
import static dev.kiln.ir.ops.OpHarness.run1;
import static dev.kiln.ir.ops.OpHarness.shape;
import static dev.kiln.ir.ops.OpHarness.type;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.KilnException;
import dev.kiln.ir.ShapeException;
import dev.kiln.ir.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

class QuantizationOpsTest {
    private static final Attributes NONE = Attributes.EMPTY;

    private static Tensor ints(DType t, int[] shape, long... v) {
        return Tensor.ofLongs(t, shape, v);
    }

    @Test
    void quantizeRoundsHalfToEvenAddsTheZeroPointAndSaturates() {
        Tensor x = f32(shape(6), 0.5, 1.5, 2.5, -1, 1000, -1000);
        Tensor y = run1("QuantizeLinear", NONE, x, f32(shape(), 1), ints(DType.INT8, shape(), 3));
        assertEquals(DType.INT8, y.dtype());
        assertArrayEquals(new long[] {3, 5, 5, 2, 127, -128}, y.longs());
        Tensor u = run1("QuantizeLinear", NONE, x, f32(shape(), 1));
        assertEquals(DType.UINT8, u.dtype(), "uint8 without a zero point");
        assertArrayEquals(new long[] {0, 2, 2, 0, 255, 0}, u.longs());
    }

    @Test
    void perAxisAndBlockedScalesPickTheirElements() {
        Tensor x = f32(shape(2, 4), 1, 2, 3, 4, 5, 6, 7, 8);
        Tensor perRow = run1("QuantizeLinear", Attributes.builder().i("axis", 0).build(), x, f32(shape(2), 1, 2),
                ints(DType.UINT8, shape(2), 0, 10));
        assertArrayEquals(new long[] {1, 2, 3, 4, 12, 13, 14, 14}, perRow.longs());
        Tensor blocked = run1("QuantizeLinear", Attributes.builder().i("axis", 1).i("block_size", 3).build(), x,
                f32(shape(2, 2), 1, 4, 1, 8));
        assertArrayEquals(new long[] {1, 2, 3, 1, 5, 6, 7, 1}, blocked.longs());
        Tensor back = run1("DequantizeLinear", Attributes.builder().i("axis", 0).build(),
                ints(DType.INT16, shape(2, 2), 1, 2, 3, 4), f32(shape(2), 0.5, 2), ints(DType.INT16, shape(2), 1, 0));
        assertArrayEquals(new double[] {0, 0.5, 6, 8}, back.doubles());
    }

    @Test
    void quantizesToSubByteIntegersAndFloat8() {
        Tensor x = f32(shape(6), 0.5, 1.5, 2.5, -1, 1000, -1000);
        Tensor i4 = run1("QuantizeLinear", NONE, x, f32(shape(), 1), ints(DType.INT4, shape(1), 1));
        assertEquals(DType.INT4, i4.dtype());
        assertArrayEquals(new long[] {1, 3, 3, 0, 7, -8}, i4.longs()); // saturated, never wrapped
        Tensor u2 = run1("QuantizeLinear", Attributes.builder().i("output_dtype", DType.UINT2.onnxCode()).build(), x,
                f32(shape(), 1));
        assertArrayEquals(new long[] {0, 2, 2, 0, 3, 0}, u2.longs());
        Tensor e4m3 = Tensor.ofDoubles(DType.FLOAT8E4M3FN, new int[0], 0);
        Tensor f8 = run1("QuantizeLinear", NONE, x, f32(shape(), 2), e4m3);
        assertArrayEquals(new double[] {0.25, 0.75, 1.25, -0.5, 448, -448}, f8.doubles());
        Tensor wrapped = run1("QuantizeLinear", Attributes.builder().i("saturate", 0).build(), x, f32(shape(), 2), e4m3);
        assertArrayEquals(new double[] {0.25, 0.75, 1.25, -0.5, Double.NaN, Double.NaN}, wrapped.doubles());
        Tensor e2m1 = run1("QuantizeLinear", NONE, x, f32(shape(), 1), Tensor.ofDoubles(DType.FLOAT4E2M1, new int[0], 0));
        assertArrayEquals(new double[] {0.5, 1.5, 2, -1, 6, -6}, e2m1.doubles()); // float4 always saturates
    }

    @Test
    void dequantizesSubByteIntegersAndFloat8InDouble() {
        Tensor i4 = run1("DequantizeLinear", NONE, ints(DType.INT4, shape(3), -8, 0, 7), f32(shape(), 0.5),
                ints(DType.INT4, shape(), -1));
        assertArrayEquals(new double[] {-3.5, 0.5, 4}, i4.doubles());
        // 57344 - 2^-16 needs more bits than a float has: the difference is taken in double.
        Tensor f8 = run1("DequantizeLinear", NONE, Tensor.ofDoubles(DType.FLOAT8E5M2, shape(2), 57344, -2),
                Tensor.ofDoubles(DType.FLOAT64, shape(), 1), Tensor.ofDoubles(DType.FLOAT8E5M2, shape(), 0x1p-16));
        assertArrayEquals(new double[] {57344 - 0x1p-16, -2 - 0x1p-16}, f8.doubles());
        ShapeException e8m0 = assertThrows(ShapeException.class, () -> infer("DequantizeLinear", NONE, 1,
                type("i4[4]"), type("f8e8m0[]")));
        assertTrue(e8m0.getMessage().contains("must be float32, float16, bfloat16 or float64"), e8m0.getMessage());
    }

    @Test
    void badGranularityAndTypesAreNamed() {
        ShapeException wide = assertThrows(ShapeException.class, () -> infer("QuantizeLinear",
                Attributes.builder().i("output_dtype", DType.INT8.onnxCode()).build(), 1, type("f32[2,4]"),
                type("f32[]"), type("u8[]")));
        assertTrue(wide.getMessage().contains("output_dtype int8 differs from y_zero_point's type uint8"), wide.getMessage());
        ShapeException block = assertThrows(ShapeException.class,
                () -> infer("QuantizeLinear", NONE, 1, type("f32[2,4]"), type("f32[2,2]")));
        assertTrue(block.getMessage().contains("needs a positive block_size"), block.getMessage());
        KilnException axis = assertThrows(KilnException.class, () -> run1("DequantizeLinear", NONE,
                ints(DType.UINT8, shape(2, 4), 1, 2, 3, 4, 5, 6, 7, 8), f32(shape(3), 1, 1, 1)));
        assertTrue(axis.getMessage().contains("a per-axis scale needs 4 elements"), axis.getMessage());
    }

    @Test
    void dynamicQuantizationCoversZeroAndHandlesAllZeros() {
        List<Tensor> out = run("DynamicQuantizeLinear", NONE, 3, f32(shape(3), -1, 0, 2));
        float scale = 3f / 255f;
        assertEquals(scale, (float) out.get(1).getDouble(0));
        long zero = Math.round(1 / scale);
        assertEquals(zero, out.get(2).longs()[0]);
        assertArrayEquals(new long[] {0, zero, 255}, out.get(0).longs());
        List<Tensor> zeros = run("DynamicQuantizeLinear", NONE, 3, f32(shape(2), 0, 0));
        assertArrayEquals(new long[] {0, 0}, zeros.get(0).longs());
        assertEquals(0, zeros.get(1).getDouble(0));
        assertEquals(0, zeros.get(2).longs()[0]);
    }

    @Test
    void matMulIntegerShiftsByPerRowAndPerColumnZeroPoints() {
        Tensor a = ints(DType.UINT8, shape(2, 2), 10, 11, 12, 13);
        Tensor b = ints(DType.INT8, shape(2, 2), 1, -2, 3, 4);
        Tensor y = run1("MatMulInteger", NONE, a, b, ints(DType.UINT8, shape(2), 10, 12), ints(DType.INT8, shape(2), 1, 0));
        // (A - [10; 12]) = [[0, 1], [0, 1]]; (B - [1, 0]) = [[0, -2], [2, 4]].
        assertEquals(DType.INT32, y.dtype());
        assertArrayEquals(new long[] {2, 4, 2, 4}, y.longs());
    }

    @Test
    void qLinearMatMulRequantizesPerRowAndSaturates() {
        Tensor a = ints(DType.UINT8, shape(2, 2), 12, 14, 110, 10);
        Tensor b = ints(DType.UINT8, shape(2, 1), 3, 5);
        // (A - 10) (B - 1) = [[2*2 + 4*4], [100*2 + 0]] = [[20], [200]]; per-row scales 0.5 and 1, b_scale 1, y_scale 2.
        Tensor y = run1("QLinearMatMul", NONE, a, f32(shape(2), 0.5, 1), ints(DType.UINT8, shape(), 10), b,
                f32(shape(), 1), ints(DType.UINT8, shape(), 1), f32(shape(), 2), ints(DType.UINT8, shape(), 100));
        // 20 * 0.25 + 100 = 105; 200 * 0.5 + 100 = 200.
        assertArrayEquals(new long[] {105, 200}, y.longs());
        Tensor high = run1("QLinearMatMul", NONE, a, f32(shape(), 1), ints(DType.UINT8, shape(), 10), b,
                f32(shape(), 1), ints(DType.UINT8, shape(), 1), f32(shape(), 0.5), ints(DType.UINT8, shape(), 100));
        assertArrayEquals(new long[] {140, 255}, high.longs(), "saturates at 255");
    }

    @Test
    void integerConvolutionsShiftPadWithZeroAndRequantizePerChannel() {
        // x 1x1x2x2 = [[3, 4], [5, 6]] minus 2; two 1x1x1x1 kernels [1] and [5] minus per-channel zero points 0 and 3.
        Tensor x = ints(DType.UINT8, shape(1, 1, 2, 2), 3, 4, 5, 6);
        Tensor w = ints(DType.UINT8, shape(2, 1, 1, 1), 1, 5);
        Attributes pad = Attributes.builder().ints("pads", 0, 0, 0, 1).build();
        Tensor y = run1("ConvInteger", pad, x, w, ints(DType.UINT8, shape(), 2), ints(DType.UINT8, shape(2), 0, 3));
        assertEquals(DType.INT32, y.dtype());
        // Each output row gains a padded column, which contributes 0.
        assertArrayEquals(new long[] {1, 2, 0, 3, 4, 0, 2, 4, 0, 6, 8, 0}, y.longs());
        Tensor q = run1("QLinearConv", NONE, x, f32(shape(), 0.5), ints(DType.UINT8, shape(), 2), w,
                f32(shape(2), 1, 2), ints(DType.UINT8, shape(2), 0, 3), f32(shape(), 1), ints(DType.UINT8, shape(), 10),
                ints(DType.INT32, shape(2), 1, -1));
        // Channel 0: (x - 2 + 1) * 0.5 = 1, 1.5 -> 2 (half to even), 2, 2.5 -> 2; channel 1: (2 (x - 2) - 1) * 1.
        assertArrayEquals(new long[] {11, 12, 12, 12, 11, 13, 15, 17}, q.longs());
    }
}
