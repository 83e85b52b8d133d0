package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Both convolution algorithms against the seven-loop twin. Float accumulation over up to 576 terms of
 * magnitude ≤ 1 against a double sum: tolerance 1e-4 absolute + 1e-5 relative.
 */
class Conv2dTest {
    private static final double ABS = 1e-4;
    private static final double REL = 1e-5;
    private final Random rnd = new Random(3);

    private static final int[][] SHAPES = {
        // c, h, w, m, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, group
        {1, 28, 28, 10, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1},   // mnist conv1
        {10, 12, 12, 20, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1},  // mnist conv2
        {3, 32, 32, 32, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1},   // cifar conv1
        {32, 15, 15, 64, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1},  // cifar conv2
        {64, 6, 6, 64, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1},    // cifar conv3
        {3, 11, 13, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
        {4, 9, 19, 6, 3, 2, 2, 1, 0, 1, 2, 0, 1, 2, 2},
        {6, 10, 10, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 6},    // depthwise
        {2, 7, 30, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},
        {5, 17, 17, 7, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1, 1},
        {2, 9, 9, 4, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 2},
        {3, 8, 40, 9, 2, 4, 3, 1, 1, 0, 0, 3, 2, 1, 3},
        {4, 6, 37, 5, 3, 3, 1, 3, 1, 2, 0, 1, 1, 2, 1},
        {4, 12, 20, 6, 3, 3, 2, 1, 0, 0, 0, 0, 2, 2, 2},    // read in place: unpadded, dilated, grouped
    };

    private static ConvShape shape(int[] v) {
        return new ConvShape(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14]);
    }

    @Test
    void bothAlgorithmsMatchScalarTwin() {
        Epilogue[] eps = {Epilogue.none(), Epilogue.relu(), Epilogue.sigmoid()};
        int e = 0;
        for (int[] v : SHAPES) {
            ConvShape s = shape(v);
            for (int batch : new int[] {1, 3}) {
                float[] in = Check.random(rnd, batch * s.inSize() + 2);
                float[] w = Check.random(rnd, s.weightLength());
                float[] bias = e % 4 == 3 ? null : Check.random(rnd, s.m());
                Epilogue ep = eps[e++ % eps.length];
                float[] want = new float[batch * s.outSize() + 1];
                Conv2d.convScalar(s, batch, in, 2, w, bias, want, 1, ep);
                for (Conv2d.Algorithm a : Conv2d.Algorithm.values()) {
                    if (a == Conv2d.Algorithm.DIRECT && s.strideW() != 1) {
                        continue;
                    }
                    float[] got = new float[want.length];
                    float[] scratch = new float[Conv2d.scratchLength(s, a)];
                    java.util.Arrays.fill(scratch, Float.NaN);
                    Conv2d.conv(s, a, batch, in, 2, Conv2d.packWeights(w, s, a), bias, got, 1, scratch, ep);
                    Check.close(a + " " + s + " batch " + batch + " " + ep, want, got, ABS, REL);
                }
            }
        }
    }

    @Test
    void publicEntryUsesTheAlgorithmItPackedFor() {
        for (int[] v : SHAPES) {
            ConvShape s = shape(v);
            float[] in = Check.random(rnd, 2 * s.inSize());
            float[] w = Check.random(rnd, s.weightLength());
            float[] bias = Check.random(rnd, s.m());
            float[] want = new float[2 * s.outSize()];
            float[] got = new float[2 * s.outSize()];
            Conv2d.convScalar(s, 2, in, 0, w, bias, want, 0, Epilogue.relu());
            Conv2d.conv(s, 2, in, 0, Conv2d.packWeights(w, s), bias, got, 0, new float[Conv2d.scratchLength(s)],
                    Epilogue.relu());
            Check.close(Conv2d.algorithm(s) + " " + s, want, got, ABS, REL);
        }
    }

    @Test
    void workerPoolGivesTheSameBitsForBatchAndSingleImage() {
        try (WorkerPool pool = WorkerPool.of(2)) {
            for (int[] v : new int[][] {SHAPES[2], SHAPES[3], SHAPES[7]}) {
                ConvShape s = shape(v);
                for (Conv2d.Algorithm a : Conv2d.Algorithm.values()) {
                    for (int batch : new int[] {1, 3}) {
                        float[] in = Check.random(rnd, batch * s.inSize());
                        float[] w = Conv2d.packWeights(Check.random(rnd, s.weightLength()), s, a);
                        float[] bias = Check.random(rnd, s.m());
                        float[] alone = new float[batch * s.outSize()];
                        float[] pooled = new float[batch * s.outSize()];
                        Conv2d.conv(s, a, batch, in, 0, w, bias, alone, 0, new float[Conv2d.scratchLength(s, a)],
                                Epilogue.relu());
                        float[][] scratch = {new float[Conv2d.scratchLength(s, a)], new float[Conv2d.scratchLength(s, a)]};
                        Conv2d.conv(s, a, batch, in, 0, w, bias, pooled, 0, scratch, Epilogue.relu(), pool);
                        assertArrayEquals(alone, pooled, a + " " + s + " batch " + batch);
                    }
                }
            }
        }
    }

    @Test
    void modelLayersGiveTheSameBitsOnAnyPoolWhateverTheRunsClaimed() {
        // Batches above the threading threshold, repeated: the runs claimed differ from call to call.
        for (int[] v : new int[][] {SHAPES[0], SHAPES[1], SHAPES[2], SHAPES[3], SHAPES[4], SHAPES[5]}) {
            ConvShape s = shape(v);
            int batch = 9;
            float[] in = Check.random(rnd, batch * s.inSize() + 3);
            float[] w = Check.random(rnd, s.weightLength());
            float[] packed = Conv2d.packWeights(w, s);
            float[] bias = Check.random(rnd, s.m());
            float[] alone = new float[batch * s.outSize() + 1];
            Conv2d.conv(s, batch, in, 3, packed, bias, alone, 1, new float[Conv2d.scratchLength(s)], Epilogue.relu());
            for (int threads : new int[] {2, 3}) {
                try (WorkerPool pool = WorkerPool.of(threads)) {
                    float[][] scratch = new float[threads][Conv2d.scratchLength(s)];
                    for (int b : new int[] {1, batch}) {
                        float[] want = java.util.Arrays.copyOf(alone, b * s.outSize() + 1);
                        if (b == 1) {
                            Conv2d.conv(s, 1, in, 3, packed, bias, want, 1, new float[Conv2d.scratchLength(s)],
                                    Epilogue.relu());
                        }
                        for (int call = 0; call < 20; call++) {
                            float[] got = new float[b * s.outSize() + 1];
                            Conv2d.conv(s, b, in, 3, packed, bias, got, 1, scratch, Epilogue.relu(), pool);
                            assertArrayEquals(want, got, s + " batch " + b + " on " + threads + " threads, call " + call);
                        }
                    }
                }
            }
        }
    }

    @Test
    void fusedConvMaxPoolGivesTheSameBitsOnAnyPool() {
        // cifar_cnn's conv2 (F(4x4)) and conv3 (F(2x2)) with the pool fused, split by images
        for (int[] v : new int[][] {SHAPES[3], SHAPES[4]}) {
            ConvShape s = shape(v);
            int batch = 9;
            int pooled = s.m() * (s.outH() / 2) * (s.outW() / 2);
            float[] in = Check.random(rnd, batch * s.inSize() + 3);
            float[] packed = Conv2d.packWeights(Check.random(rnd, s.weightLength()), s);
            float[] bias = Check.random(rnd, s.m());
            float[] alone = new float[batch * pooled + 1];
            Conv2d.convMaxPool(s, batch, in, 3, packed, bias, alone, 1, new float[Conv2d.scratchLength(s)],
                    Epilogue.relu());
            for (int threads : new int[] {2, 3}) {
                try (WorkerPool pool = WorkerPool.of(threads)) {
                    float[][] scratch = new float[threads][Conv2d.scratchLength(s)];
                    for (int call = 0; call < 10; call++) {
                        float[] got = new float[alone.length];
                        Conv2d.convMaxPool(s, batch, in, 3, packed, bias, got, 1, scratch, Epilogue.relu(), pool);
                        assertArrayEquals(alone, got, s + " on " + threads + " threads, call " + call);
                    }
                }
            }
        }
    }

    @Test
    void threadedConvAndPoolCallsAllocateNothing() {
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getProperty("kiln.runtime.vectorBits") == null,
                "allocation is measured at the machine's own vector width only");
        ConvShape s = shape(SHAPES[1]);
        PoolShape p = PoolShape.square(8, 8, 2);
        int batch = 16;
        float[] in = Check.random(rnd, batch * s.inSize());
        float[] packed = Conv2d.packWeights(Check.random(rnd, s.weightLength()), s);
        float[] bias = Check.random(rnd, s.m());
        float[] out = new float[batch * s.outSize()];
        float[] pooled = new float[batch * s.m() * p.outPlane()];
        float[] big = Check.random(rnd, 1600 * p.inPlane());
        float[] bigPooled = new float[1600 * p.outPlane()];
        try (WorkerPool pool = WorkerPool.of(2)) {
            float[][] scratch = new float[2][Conv2d.scratchLength(s)];
            Runnable call = () -> {
                Conv2d.conv(s, batch, in, 0, packed, bias, out, 0, scratch, Epilogue.relu(), pool);
                Conv2d.conv(s, 1, in, 0, packed, bias, out, 0, scratch, Epilogue.relu(), pool);
                Pooling.maxPool(p, batch * s.m(), out, 0, pooled, 0, pool);
                Pooling.maxPool(p, 1600, big, 0, bigPooled, 0, pool);
            };
            long least = Allocations.steadyBytesPerCall(call);
            assertEquals(0, least, "bytes per threaded call");
        }
    }

    @Test
    void scalarTwinMatchesHandComputedCases() {
        float[] x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        float[] w = {1, 2, 3, 4};
        float[] out = new float[4];
        Conv2d.convScalar(ConvShape.of(1, 3, 3, 1, 2), 1, x, 0, w, new float[] {1}, out, 0, Epilogue.none());
        assertArrayEquals(new float[] {38, 48, 68, 78}, out);

        // pads 1, stride 2, kernel of ones: windows over rows/cols {-1,0} and {1,2}
        ConvShape padded = new ConvShape(1, 3, 3, 1, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1);
        Conv2d.convScalar(padded, 1, x, 0, new float[] {1, 1, 1, 1}, null, out, 0, Epilogue.none());
        assertArrayEquals(new float[] {1, 5, 11, 28}, out);

        // dilation 2: the kernel touches the four corners
        float[] one = new float[1];
        ConvShape dilated = new ConvShape(1, 3, 3, 1, 2, 2, 1, 1, 0, 0, 0, 0, 2, 2, 1);
        Conv2d.convScalar(dilated, 1, x, 0, w, null, one, 0, Epilogue.none());
        assertEquals(1 + 2 * 3 + 3 * 7 + 4 * 9, one[0]);

        // two groups of one channel, 1x1 kernels: each output channel sees only its own input channel
        ConvShape grouped = new ConvShape(2, 1, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2);
        float[] two = new float[4];
        Conv2d.convScalar(grouped, 1, new float[] {1, 2, 3, 4}, 0, new float[] {10, -1}, null, two, 0, Epilogue.relu());
        assertArrayEquals(new float[] {10, 20, 0, 0}, two);
    }

    @Test
    void rejectsWrongSizesNamingTheShape() {
        ConvShape s = ConvShape.of(3, 8, 8, 4, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Conv2d.packWeights(new float[10], s));
        assertEquals(true, e.getMessage().contains("[3x8x8 -> 4"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new ConvShape(3, 8, 8, 4, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 2));
        // a threaded call split by images checks the whole batch on the caller, direct and Winograd alike
        try (WorkerPool pool = WorkerPool.of(2)) {
            for (int[] v : new int[][] {SHAPES[1], SHAPES[3]}) {
                ConvShape t = shape(v);
                float[] packed = new float[Conv2d.packedWeightLength(t)];
                float[][] scratch = new float[2][Conv2d.scratchLength(t)];
                IllegalArgumentException short_ = assertThrows(IllegalArgumentException.class,
                        () -> Conv2d.conv(t, 8, new float[7 * t.inSize()], 0, packed, null, new float[8 * t.outSize()],
                                0, scratch, Epilogue.relu(), pool));
                assertEquals(true, short_.getMessage().contains("batch 8") && short_.getMessage().contains("input"),
                        short_.getMessage());
            }
        }
    }
}
