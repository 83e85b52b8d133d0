package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Winograd F(4x4,3x3) against the seven-loop direct twin. Its transforms scale inputs by up to 5 (B^T) and sums by
 * up to 8 (A^T) and the weights' by up to 1/4, so the float result strays further from the double sum than F(2x2)
 * does: tolerance 4e-4 absolute + 1e-5 relative on inputs and weights in [-1, 1] over up to 64 channels (outputs of
 * standard deviation ~8 and magnitude up to ~30); the measured worst case (2.0e-4, about 2.5e-5 of the outputs'
 * spread; F(2x2) 3e-5, the direct kernel 1e-5) is asserted below 3e-4.
 */
class WinogradF4ConvTest {
    private static final double ABS = 4e-4;
    private static final double REL = 1e-5;
    private final Random rnd = new Random(13);

    private static final int[][] SHAPES = {
        // c, h, w, m, pad top, left, bottom, right
        {32, 15, 15, 64, 0, 0, 0, 0},   // cifar conv2
        {64, 6, 6, 64, 0, 0, 0, 0},     // cifar conv3: one tile
        {3, 32, 32, 32, 0, 0, 0, 0},    // cifar conv1
        {1, 3, 3, 1, 0, 0, 0, 0},       // one output pixel
        {5, 7, 9, 7, 1, 1, 1, 1},       // odd sizes, padded
        {17, 10, 11, 33, 1, 0, 0, 1},   // channels past a multiple of 16 and 32, asymmetric pads
        {20, 5, 4, 10, 2, 1, 0, 2},
        {16, 8, 8, 16, 1, 1, 1, 1},
        {7, 4, 13, 40, 0, 2, 1, 0},
        {64, 14, 14, 64, 1, 1, 1, 1},   // deep, padded, whole tiles
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
                WinogradF4Conv.convScalar(s, batch, in, 2, w, bias, twin, 1, ep);
                Check.close("scalar twin " + s + " x" + batch, want, twin, 1e-5, 1e-6);
                float[] got = new float[want.length];
                float[] scratch = new float[WinogradF4Conv.scratchLength(s)];
                Arrays.fill(scratch, Float.NaN);
                WinogradF4Conv.conv(s, batch, in, 2, WinogradF4Conv.packWeights(w, s), bias, got, 1, scratch, ep);
                Check.close("winograd F4 " + s + " x" + batch + " " + ep, want, got, ABS, REL);
                assertEquals(0f, got[0], "nothing written before the output");
                worst = Math.max(worst, Check.maxAbsDiff(want, got));
            }
        }
        System.out.println("WinogradF4Conv: max |winograd - direct| = " + worst);
        assertTrue(worst < 3e-4, "max |winograd - direct| = " + worst);
    }

    @Test
    void threadsChunksRangesAndBatchGiveIdenticalBits() {
        for (int[] v : SHAPES) {
            ConvShape s = shape(v);
            int batch = 9;
            float[] in = Check.random(rnd, batch * s.inSize());
            float[] packed = WinogradF4Conv.packWeights(Check.random(rnd, s.weightLength()), s);
            float[] bias = Check.random(rnd, s.m());
            float[] one = new float[batch * s.outSize()];
            WinogradF4Conv.conv(s, batch, in, 0, packed, bias, one, 0, new float[WinogradF4Conv.scratchLength(s)],
                    Epilogue.relu());
            for (int img = 0; img < batch; img++) {
                float[] alone = new float[s.outSize()];
                WinogradF4Conv.conv(s, 1, in, img * s.inSize(), packed, bias, alone, 0,
                        new float[WinogradF4Conv.scratchLength(s)], Epilogue.relu());
                assertArrayEquals(Arrays.copyOfRange(one, img * s.outSize(), (img + 1) * s.outSize()), alone,
                        "image " + img + " alone vs in the batch, " + s);
            }
            float[] ranged = new float[one.length];
            float[] scratch1 = new float[WinogradF4Conv.scratchLength(s)];
            int total = WinogradF4Conv.tiles(s, batch, false);
            for (int t0 = 0; t0 < total; t0 += 5) {
                WinogradF4Conv.convTiles(s, batch, in, 0, packed, bias, ranged, 0, scratch1, Epilogue.relu(), false, t0,
                        Math.min(total, t0 + 5));
            }
            assertArrayEquals(one, ranged, "tile ranges of 5, " + s);
            for (int threads : new int[] {2, 3}) {
                try (WorkerPool pool = WorkerPool.of(threads)) {
                    float[][] scratch = new float[threads][WinogradF4Conv.scratchLength(s)];
                    for (int b : new int[] {1, batch}) {
                        float[] got = new float[b * s.outSize()];
                        WinogradF4Conv.conv(s, b, in, 0, packed, bias, got, 0, scratch, Epilogue.relu(), pool);
                        assertArrayEquals(Arrays.copyOf(one, got.length), got, threads + " threads, batch " + b + ", " + s);
                    }
                }
            }
        }
    }

    @Test
    void rejectsUnsupportedShapesAndShortArrays() {
        ConvShape strided = new ConvShape(4, 8, 8, 4, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1);
        assertThrows(IllegalArgumentException.class, () -> WinogradF4Conv.packWeights(new float[144], strided));
        ConvShape s = ConvShape.of(4, 8, 8, 4, 3);
        assertThrows(IllegalArgumentException.class, () -> WinogradF4Conv.conv(s, 1, new float[s.inSize()], 0,
                new float[WinogradF4Conv.packedWeightLength(s)], null, new float[s.outSize()], 0,
                new float[WinogradF4Conv.scratchLength(s) - 1], Epilogue.none()));
        assertThrows(IllegalArgumentException.class, () -> WinogradF4Conv.convTiles(s, 1, new float[s.inSize()], 0,
                new float[WinogradF4Conv.packedWeightLength(s)], null, new float[s.outSize()], 0,
                new float[WinogradF4Conv.scratchLength(s)], Epilogue.none(), false, 0, WinogradF4Conv.tiles(s, 1, false) + 1));
    }

    @Test
    void steadyStateCallAllocatesNothing() {
        // An emulated width (512 bits forced on AVX2) boxes its vectors: only the machine's own width is measured.
        org.junit.jupiter.api.Assumptions.assumeTrue(
                GemmKernel.VL <= jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length());
        ConvShape s = ConvShape.of(32, 15, 15, 64, 3);
        float[] in = Check.random(rnd, 4 * s.inSize());
        float[] packed = WinogradF4Conv.packWeights(Check.random(rnd, s.weightLength()), s);
        float[] out = new float[4 * s.outSize()];
        float[] scratch = new float[WinogradF4Conv.scratchLength(s)];
        long best = Allocations.steadyBytesPerCall(
                () -> WinogradF4Conv.conv(s, 4, in, 0, packed, null, out, 0, scratch, Epilogue.relu()));
        assertTrue(best < 64, best + " B per call");
    }
}
