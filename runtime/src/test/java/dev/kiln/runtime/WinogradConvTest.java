package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Winograd F(2x2,3x3) against the seven-loop direct twin. The transforms add up to 16 inputs of magnitude ≤ 1 and
 * the weights' transform scales by up to 2.25, so the float result strays further from the double sum than the
 * direct kernel: tolerance 2e-4 absolute + 1e-5 relative over up to 64 channels (measured max below 3e-5).
 */
class WinogradConvTest {
    private static final double ABS = 2e-4;
    private static final double REL = 1e-5;
    private final Random rnd = new Random(11);

    private static final int[][] SHAPES = {
        // c, h, w, m, pad top, left, bottom, right
        {32, 15, 15, 64, 0, 0, 0, 0},   // cifar conv2
        {64, 6, 6, 64, 0, 0, 0, 0},     // cifar conv3
        {3, 32, 32, 32, 0, 0, 0, 0},    // cifar conv1
        {1, 3, 3, 1, 0, 0, 0, 0},       // one output pixel
        {5, 7, 9, 7, 1, 1, 1, 1},       // odd sizes, padded
        {17, 10, 11, 33, 1, 0, 0, 1},   // channels past a multiple of 16 and 32, asymmetric pads
        {20, 5, 4, 10, 2, 1, 0, 2},
        {16, 8, 8, 16, 1, 1, 1, 1},
        {7, 4, 13, 40, 0, 2, 1, 0},
    };

    private static ConvShape shape(int[] v) {
        return new ConvShape(v[0], v[1], v[2], v[3], 3, 3, 1, 1, v[4], v[5], v[6], v[7], 1, 1, 1);
    }

    @Test
    void vectorKernelAndScalarTwinMatchDirectTwin() {
        Epilogue[] eps = {Epilogue.none(), Epilogue.relu(), Epilogue.sigmoid(), Epilogue.leakyRelu(0.1f)};
        int e = 0;
        double worst = 0;
        for (int[] v : SHAPES) {
            ConvShape s = shape(v);
            for (int batch : new int[] {1, 3, 8}) {
                float[] in = Check.random(rnd, batch * s.inSize() + 2);
                float[] w = Check.random(rnd, s.weightLength());
                float[] bias = e % 3 == 2 ? null : Check.random(rnd, s.m());
                Epilogue ep = eps[e++ % eps.length];
                float[] want = new float[batch * s.outSize() + 1];
                Conv2d.convScalar(s, batch, in, 2, w, bias, want, 1, ep);
                float[] twin = new float[want.length];
                WinogradConv.convScalar(s, batch, in, 2, w, bias, twin, 1, ep);
                Check.close("scalar twin " + s + " x" + batch, want, twin, 1e-5, 1e-6);
                float[] got = new float[want.length];
                float[] scratch = new float[WinogradConv.scratchLength(s)];
                Arrays.fill(scratch, Float.NaN);
                WinogradConv.conv(s, batch, in, 2, WinogradConv.packWeights(w, s), bias, got, 1, scratch, ep);
                Check.close("winograd " + s + " x" + batch + " " + ep, want, got, ABS, REL);
                assertEquals(0f, got[0], "nothing written before the output");
                worst = Math.max(worst, Check.maxAbsDiff(want, got));
            }
        }
        assertTrue(worst < 3e-5, "max |winograd - direct| = " + worst);
    }

    @Test
    void threadsChunksAndBatchGiveIdenticalBits() {
        for (int[] v : SHAPES) {
            ConvShape s = shape(v);
            int batch = 9;
            float[] in = Check.random(rnd, batch * s.inSize());
            float[] packed = WinogradConv.packWeights(Check.random(rnd, s.weightLength()), s);
            float[] bias = Check.random(rnd, s.m());
            float[] one = new float[batch * s.outSize()];
            WinogradConv.conv(s, batch, in, 0, packed, bias, one, 0, new float[WinogradConv.scratchLength(s)],
                    Epilogue.relu());
            for (int img = 0; img < batch; img++) {
                float[] alone = new float[s.outSize()];
                WinogradConv.conv(s, 1, in, img * s.inSize(), packed, bias, alone, 0,
                        new float[WinogradConv.scratchLength(s)], Epilogue.relu());
                assertArrayEquals(Arrays.copyOfRange(one, img * s.outSize(), (img + 1) * s.outSize()), alone,
                        "image " + img + " alone vs in the batch, " + s);
            }
            for (int threads : new int[] {2, 3}) {
                try (WorkerPool pool = WorkerPool.of(threads)) {
                    float[][] scratch = new float[threads][WinogradConv.scratchLength(s)];
                    for (int b : new int[] {1, batch}) {
                        float[] got = new float[b * s.outSize()];
                        WinogradConv.conv(s, b, in, 0, packed, bias, got, 0, scratch, Epilogue.relu(), pool);
                        assertArrayEquals(Arrays.copyOf(one, got.length), got, threads + " threads, batch " + b + ", " + s);
                    }
                }
            }
        }
    }

    @Test
    void conv2dRunsSelectedShapesThroughWinograd() {
        ConvShape cifar3 = ConvShape.of(64, 6, 6, 64, 3);
        assertTrue(WinogradConv.selected(cifar3));
        assertEquals(WinogradConv.LAYOUT, Conv2d.layout(cifar3), "one F(4x4) tile per image: F(2x2)");
        assertEquals(WinogradF4Conv.LAYOUT, Conv2d.layout(ConvShape.of(32, 15, 15, 64, 3)), "16 F(4x4) tiles");
        assertEquals(Conv2d.DIRECT_LAYOUT, Conv2d.layout(ConvShape.of(3, 32, 32, 32, 3)), "3 input channels");
        assertFalse(WinogradConv.selected(new ConvShape(32, 15, 15, 64, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1)));
        float[] w = Check.random(rnd, cifar3.weightLength());
        float[] in = Check.random(rnd, 2 * cifar3.inSize());
        float[] packed = Conv2d.packWeights(w, cifar3);
        assertArrayEquals(WinogradConv.packWeights(w, cifar3), packed);
        float[] again = new float[Conv2d.packedWeightLength(cifar3)];
        Conv2d.packWeights(w, 0, cifar3, again);
        assertArrayEquals(packed, again);
        float[] want = new float[2 * cifar3.outSize()];
        Conv2d.convScalar(cifar3, 2, in, 0, w, null, want, 0, Epilogue.none());
        float[] got = new float[want.length];
        Conv2d.conv(cifar3, 2, in, 0, packed, null, got, 0, new float[Conv2d.scratchLength(cifar3)], Epilogue.none());
        Check.close("Conv2d.conv via winograd", want, got, ABS, REL);
    }

    @Test
    void rejectsUnsupportedShapesAndShortArrays() {
        ConvShape strided = new ConvShape(4, 8, 8, 4, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1);
        assertThrows(IllegalArgumentException.class, () -> WinogradConv.packWeights(new float[144], strided));
        ConvShape s = ConvShape.of(4, 8, 8, 4, 3);
        assertThrows(IllegalArgumentException.class, () -> WinogradConv.conv(s, 1, new float[s.inSize()], 0,
                new float[WinogradConv.packedWeightLength(s)], null, new float[s.outSize()], 0,
                new float[WinogradConv.scratchLength(s) - 1], Epilogue.none()));
    }

    @Test
    void steadyStateCallAllocatesNothing() {
        // An emulated width (512 bits forced on AVX2) boxes its vectors: only the machine's own width is measured.
        org.junit.jupiter.api.Assumptions.assumeTrue(
                GemmKernel.VL <= jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length());
        ConvShape s = ConvShape.of(32, 15, 15, 64, 3);
        float[] in = Check.random(rnd, 4 * s.inSize());
        float[] packed = WinogradConv.packWeights(Check.random(rnd, s.weightLength()), s);
        float[] out = new float[4 * s.outSize()];
        float[] scratch = new float[WinogradConv.scratchLength(s)];
        long per = Allocations.steadyBytesPerCall(
                () -> WinogradConv.conv(s, 4, in, 0, packed, null, out, 0, scratch, Epilogue.relu()));
        assertTrue(per < 64, per + " B per call");
    }
}
