package dev.kiln.ir.ops;

import static dev.kiln.ir.ops.OpHarness.assertTensor;
import static dev.kiln.ir.ops.OpHarness.f32;
import static dev.kiln.ir.ops.OpHarness.infer;
import static dev.kiln.ir.ops.OpHarness.iota;
import static dev.kiln.ir.ops.OpHarness.run;
import static dev.kiln.ir.ops.OpHarness.run1;
import static dev.kiln.ir.ops.OpHarness.shape;
import static dev.kiln.ir.ops.OpHarness.type;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.ShapeException;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Conv, ConvTranspose and the pools on small inputs whose results were worked out by hand. */
class ConvPoolOpsTest {
    private static final double EXACT = 0;

    private static Tensor ones(int... shape) {
        double[] v = new double[Tensor.sizeOf(shape)];
        java.util.Arrays.fill(v, 1);
        return f32(shape, v);
    }

    @Test
    void convWithPaddingStrideAndBias() {
        // 4x4 iota, 2x2 box filter, stride 2, one cell of padding all round: windows cover padded rows/cols 0-1, 2-3, 4-5.
        Attributes a = Attributes.builder().ints("pads", 1, 1, 1, 1).ints("strides", 2, 2).build();
        Tensor y = run1("Conv", a, iota(1, 1, 4, 4), ones(1, 1, 2, 2), f32(shape(1), 1));
        assertTensor(shape(1, 1, 3, 3), new double[] {1, 4, 4, 13, 31, 19, 13, 28, 16}, y, EXACT);
    }

    @Test
    void convWithDilation() {
        // taps at (i,j), (i,j+2), (i+2,j), (i+2,j+2) of a 5x5 iota: 20i + 4j + 24.
        Attributes a = Attributes.builder().ints("dilations", 2, 2).build();
        Tensor y = run1("Conv", a, iota(1, 1, 5, 5), ones(1, 1, 2, 2));
        assertTensor(shape(1, 1, 3, 3), new double[] {24, 28, 32, 44, 48, 52, 64, 68, 72}, y, EXACT);
    }

    @Test
    void groupedConvUsesEachGroupsOwnChannels() {
        Tensor x = f32(shape(1, 2, 1, 3), 1, 2, 3, 10, 20, 30);
        Tensor w = f32(shape(2, 1, 1, 2), 1, -1, 2, 1);
        Tensor y = run1("Conv", Attributes.builder().i("group", 2).build(), x, w);
        assertTensor(shape(1, 2, 1, 2), new double[] {-1, -1, 40, 70}, y, EXACT);
    }

    @Test
    void convSameUpperAndLowerPutTheOddPadCellOnOppositeSides() {
        Tensor x = f32(shape(1, 1, 4), 1, 2, 3, 4);
        Tensor w = ones(1, 1, 2);
        assertTensor(shape(1, 1, 4), new double[] {3, 5, 7, 4},
                run1("Conv", Attributes.builder().s("auto_pad", "SAME_UPPER").build(), x, w), EXACT);
        assertTensor(shape(1, 1, 4), new double[] {1, 3, 5, 7},
                run1("Conv", Attributes.builder().s("auto_pad", "SAME_LOWER").build(), x, w), EXACT);
        // 3-D convolution with a 1x1x1 kernel is a per-cell scale.
        Tensor y3 = run1("Conv", Attributes.EMPTY, iota(1, 1, 2, 2, 2), f32(shape(1, 1, 1, 1, 1), 3));
        assertTensor(shape(1, 1, 2, 2, 2), new double[] {0, 3, 6, 9, 12, 15, 18, 21}, y3, EXACT);
    }

    @Test
    void convShapeKeepsTheBatchSymbolic() {
        List<TensorType> t = infer("Conv", Attributes.EMPTY, 1, type("f32[N,1,28,28]"), type("f32[10,1,5,5]"));
        assertEquals("f32[N,10,24,24]", t.get(0).toString());
        List<TensorType> same = infer("Conv", Attributes.builder().s("auto_pad", "SAME_UPPER").build(), 1,
                type("f32[N,3,H,W]"), type("f32[8,3,3,3]"));
        assertEquals("f32[N,8,H,W]", same.get(0).toString());
        List<TensorType> strided = infer("Conv", Attributes.builder().ints("strides", 2, 2).build(), 1,
                type("f32[N,3,H,32]"), type("f32[8,3,3,3]"));
        assertTrue(strided.get(0).shape().dim(2).hasUnknown(), strided.toString());
        assertEquals(15, strided.get(0).shape().dim(3).value());
    }

    @Test
    void convRejectsMismatchedChannelsNamingBoth() {
        ShapeException e = assertThrows(ShapeException.class,
                () -> infer("Conv", Attributes.EMPTY, 1, type("f32[N,1,28,28]"), type("f32[10,3,5,5]")));
        assertTrue(e.getMessage().contains("W has 3 input channels per group but X has 1 channels (group=1)"),
                e.getMessage());
        assertTrue(e.getMessage().contains("f32[N,1,28,28]"), e.getMessage());
        ShapeException k = assertThrows(ShapeException.class, () -> infer("Conv",
                Attributes.builder().ints("kernel_shape", 3, 3).build(), 1, type("f32[N,1,28,28]"), type("f32[10,1,5,5]")));
        assertTrue(k.getMessage().contains("kernel_shape [3, 3] does not match"), k.getMessage());
    }

    @Test
    void convTransposeStridePadsOutputPaddingAndOutputShape() {
        Tensor x = f32(shape(1, 1, 3), 1, 2, 3);
        Tensor w = ones(1, 1, 3);
        Attributes s2 = Attributes.builder().ints("strides", 2).build();
        assertTensor(shape(1, 1, 7), new double[] {1, 1, 3, 2, 5, 3, 3}, run1("ConvTranspose", s2, x, w), EXACT);
        assertTensor(shape(1, 1, 5), new double[] {1, 3, 2, 5, 3},
                run1("ConvTranspose", Attributes.builder().ints("strides", 2).ints("pads", 1, 1).build(), x, w), EXACT);
        assertTensor(shape(1, 1, 8), new double[] {1, 1, 3, 2, 5, 3, 3, 0},
                run1("ConvTranspose", Attributes.builder().ints("strides", 2).ints("output_padding", 1).build(), x, w),
                EXACT);
        // output_shape 6 crops one cell: at the begin by default, at the end with SAME_UPPER.
        assertTensor(shape(1, 1, 6), new double[] {1, 3, 2, 5, 3, 3},
                run1("ConvTranspose", Attributes.builder().ints("strides", 2).ints("output_shape", 6).build(), x, w),
                EXACT);
        assertTensor(shape(1, 1, 6), new double[] {1, 1, 3, 2, 5, 3}, run1("ConvTranspose",
                Attributes.builder().ints("strides", 2).ints("output_shape", 6).s("auto_pad", "SAME_UPPER").build(),
                x, w), EXACT);
        // output_shape 8 is one past the full result: the extra cell is zero padding at the end.
        assertTensor(shape(1, 1, 8), new double[] {1, 1, 3, 2, 5, 3, 3, 0},
                run1("ConvTranspose", Attributes.builder().ints("strides", 2).ints("output_shape", 8).build(), x, w),
                EXACT);
    }

    @Test
    void groupedConvTransposeWithBias() {
        Tensor x = f32(shape(1, 2, 2), 1, 2, 3, 4);
        Tensor w = f32(shape(2, 1, 2), 1, 1, 1, -1);
        Tensor y = run1("ConvTranspose", Attributes.builder().i("group", 2).build(), x, w, f32(shape(2), 10, 0));
        assertTensor(shape(1, 2, 3), new double[] {11, 13, 12, 3, 1, -4}, y, EXACT);
        List<TensorType> t = infer("ConvTranspose", Attributes.builder().ints("strides", 2, 2).build(), 1,
                type("f32[N,4,7,7]"), type("f32[4,8,3,3]"));
        assertEquals("f32[N,8,15,15]", t.get(0).toString());
    }

    @Test
    void maxPoolCeilModeAndIndicesInBothStorageOrders() {
        Attributes floor = Attributes.builder().ints("kernel_shape", 3, 3).ints("strides", 2, 2).build();
        assertTensor(shape(1, 1, 1, 1), new double[] {10}, run1("MaxPool", floor, iota(1, 1, 4, 4)), EXACT);
        Attributes ceil = Attributes.builder().ints("kernel_shape", 3, 3).ints("strides", 2, 2).i("ceil_mode", 1).build();
        List<Tensor> rows = run("MaxPool", ceil, 2, iota(1, 1, 4, 4));
        assertTensor(shape(1, 1, 2, 2), new double[] {10, 11, 14, 15}, rows.get(0), EXACT);
        assertArrayEquals(new long[] {10, 11, 14, 15}, rows.get(1).longs());
        Attributes columns = Attributes.builder().ints("kernel_shape", 3, 3).ints("strides", 2, 2).i("ceil_mode", 1)
                .i("storage_order", 1).build();
        assertArrayEquals(new long[] {10, 14, 11, 15}, run("MaxPool", columns, 2, iota(1, 1, 4, 4)).get(1).longs());
        // Indices count the batch and channel planes before the window's own.
        assertArrayEquals(new long[] {10, 26}, run("MaxPool", floor, 2, iota(1, 2, 4, 4)).get(1).longs());
    }

    @Test
    void ceilModeDropsAWindowThatWouldStartInTheEndPadding() {
        Attributes a = Attributes.builder().ints("kernel_shape", 2).ints("strides", 2).ints("pads", 0, 1)
                .i("ceil_mode", 1).build();
        assertTensor(shape(1, 1, 2), new double[] {2, 4}, run1("MaxPool", a, f32(shape(1, 1, 4), 1, 2, 3, 4)), EXACT);
    }

    @Test
    void maxPoolWithDilationAndPaddingIgnoresPads() {
        Attributes a = Attributes.builder().ints("kernel_shape", 2).ints("dilations", 2).ints("pads", 1, 1).build();
        // padded [p,-1,-5,-3,-4,p]: windows (0,2) (1,3) (2,4) (3,5).
        assertTensor(shape(1, 1, 4), new double[] {-5, -1, -4, -3},
                run1("MaxPool", a, f32(shape(1, 1, 4), -1, -5, -3, -4)), EXACT);
    }

    @Test
    void averagePoolCountIncludePad() {
        Tensor x = f32(shape(1, 1, 3), 1, 2, 3);
        Attributes a = Attributes.builder().ints("kernel_shape", 2).ints("pads", 1, 1).build();
        assertTensor(shape(1, 1, 4), new double[] {1, 1.5, 2.5, 3}, run1("AveragePool", a, x), EXACT);
        Attributes inc = Attributes.builder().ints("kernel_shape", 2).ints("pads", 1, 1).i("count_include_pad", 1).build();
        assertTensor(shape(1, 1, 4), new double[] {0.5, 1.5, 2.5, 1.5}, run1("AveragePool", inc, x), EXACT);
    }

    @Test
    void averagePoolCeilModeWindowPastTheInputCountsOnlyRealCells() {
        Attributes a = Attributes.builder().ints("kernel_shape", 2).ints("strides", 2).i("ceil_mode", 1)
                .i("count_include_pad", 1).build();
        assertTensor(shape(1, 1, 3), new double[] {1.5, 3.5, 5},
                run1("AveragePool", a, f32(shape(1, 1, 5), 1, 2, 3, 4, 5)), EXACT);
    }

    @Test
    void poolShapesWithSymbolicBatch() {
        Attributes a = Attributes.builder().ints("kernel_shape", 2, 2).ints("strides", 2, 2).build();
        List<TensorType> t = infer("MaxPool", a, 2, type("f32[N,20,24,24]"));
        assertEquals("f32[N,20,12,12]", t.get(0).toString());
        assertEquals("i64[N,20,12,12]", t.get(1).toString());
        assertEquals("f32[N,20,1,1]", infer("GlobalAveragePool", Attributes.EMPTY, 1, type("f32[N,20,H,W]")).get(0).toString());
        ShapeException e = assertThrows(ShapeException.class, () -> infer("MaxPool",
                Attributes.builder().ints("kernel_shape", 5, 5).build(), 1, type("f32[N,1,3,3]")));
        assertTrue(e.getMessage().contains("smaller than the dilated kernel"), e.getMessage());
    }

    @Test
    void lpPoolAndGlobalPools() {
        Attributes a = Attributes.builder().ints("kernel_shape", 2).build();
        assertTensor(shape(1, 1, 2), new double[] {5, 4}, run1("LpPool", a, f32(shape(1, 1, 3), 3, 4, 0)), 1e-6);
        Tensor x = f32(shape(1, 2, 2, 2), 1, 2, 3, 4, -1, -2, -3, -8);
        assertTensor(shape(1, 2, 1, 1), new double[] {2.5, -3.5}, run1("GlobalAveragePool", Attributes.EMPTY, x), EXACT);
        assertTensor(shape(1, 2, 1, 1), new double[] {4, -1}, run1("GlobalMaxPool", Attributes.EMPTY, x), EXACT);
    }

    @Test
    void maxUnpoolScattersToTheIndices() {
        Tensor x = f32(shape(1, 1, 2, 2), 5, 6, 7, 8);
        Tensor i = Tensor.ofLongs(dev.kiln.ir.DType.INT64, shape(1, 1, 2, 2), 5, 7, 13, 15);
        Attributes a = Attributes.builder().ints("kernel_shape", 2, 2).ints("strides", 2, 2).build();
        double[] expected = new double[16];
        expected[5] = 5;
        expected[7] = 6;
        expected[13] = 7;
        expected[15] = 8;
        assertTensor(shape(1, 1, 4, 4), expected, run1("MaxUnpool", a, x, i), EXACT);
        // A larger output_shape keeps the 4x4 result in its leading corner.
        double[] wide = new double[25];
        wide[6] = 5;
        wide[8] = 6;
        wide[16] = 7;
        wide[18] = 8;
        assertTensor(shape(1, 1, 5, 5), wide, run1("MaxUnpool", a, x, i, Tensor.ofInt64s(1, 1, 5, 5)), EXACT);
    }
}
