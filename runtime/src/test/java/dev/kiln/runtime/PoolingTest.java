package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PoolingTest {
    private final Random rnd = new Random(11);

    /** Kernel, stride, pads, dilation and ceil_mode mixes, including the models' 2x2/2 and widths that leave tails. */
    private static final int[][] CASES = {
        // h, w, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, ceil
        {24, 24, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0},
        {13, 13, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0},
        {13, 13, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1},
        {8, 8, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0},
        {9, 11, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0},
        {6, 7, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0},
        {3, 18, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0},
        {14, 14, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0},
        {30, 33, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0},
        {30, 37, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0},
        {31, 45, 3, 3, 2, 2, 0, 1, 2, 1, 1, 1, 1},
        {20, 41, 3, 5, 1, 1, 1, 2, 1, 2, 1, 1, 0},
        {9, 40, 2, 3, 1, 1, 0, 0, 0, 0, 2, 2, 0},
        {17, 50, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {7, 35, 2, 2, 1, 2, 1, 0, 0, 1, 1, 1, 1},
        {5, 5, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 0},
        {4, 4, 2, 2, 2, 2, 0, 0, 0, 0, 2, 1, 1},
    };

    @Test
    void maxAndAverageMatchScalarTwins() {
        for (int[] c : CASES) {
            PoolShape s = PoolShape.of(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12] == 1);
            for (int planes : new int[] {1, 3 * 5}) {
                float[] in = Check.random(rnd, planes * s.inPlane() + 3);
                // slack after the output, which no kernel may write (the 2x2 path stores whole vectors)
                float[] want = new float[planes * s.outPlane() + 1 + 20];
                Arrays.fill(want, 42f);
                float[] got = want.clone();
                Pooling.maxPoolScalar(s, planes, in, 3, want, 1);
                Pooling.maxPool(s, planes, in, 3, got, 1);
                assertArrayEquals(want, got, "max " + s);
                for (boolean includePad : new boolean[] {false, true}) {
                    Pooling.averagePoolScalar(s, includePad, planes, in, 3, want, 1);
                    Pooling.averagePool(s, includePad, planes, in, 3, got, 1);
                    Check.close("average includePad=" + includePad + " " + s, want, got, 1e-6, 1e-5);
                }
            }
        }
    }

    @Test
    void workerPoolSplitGivesTheSameBits() {
        // plane counts above the threading threshold, one not a multiple of the 64 work units; offsets in and out
        PoolShape s = PoolShape.square(30, 30, 2);
        for (int planes : new int[] {64 * 32, 2_047}) {
            float[] in = Check.random(rnd, planes * s.inPlane() + 5);
            float[] alone = new float[planes * s.outPlane() + 2];
            Pooling.maxPool(s, planes, in, 5, alone, 2);
            float[] aloneAverage = new float[alone.length];
            Pooling.averagePool(s, true, planes, in, 5, aloneAverage, 2);
            for (int threads : new int[] {2, 3}) {
                try (WorkerPool pool = WorkerPool.of(threads)) {
                    for (int call = 0; call < 10; call++) {
                        float[] pooled = new float[alone.length];
                        Pooling.maxPool(s, planes, in, 5, pooled, 2, pool);
                        assertArrayEquals(alone, pooled, "max, " + planes + " planes, " + threads + " threads");
                        Pooling.averagePool(s, true, planes, in, 5, pooled, 2, pool);
                        assertArrayEquals(aloneAverage, pooled, "average, " + planes + " planes, " + threads + " threads");
                    }
                }
            }
        }
    }

    @Test
    void ceilModeDropsWindowStartingInEndPadding() {
        // ONNX: in 4, k 2, stride 2, pad end 1, ceil -> 3 windows would start at 0, 2, 4; 4 is padding only.
        assertArrayEquals(new int[] {2, 3}, new int[] {
            PoolShape.outSize(4, 2, 2, 0, 1, 1, false), PoolShape.outSize(5, 2, 2, 0, 0, 1, true)});
        assertArrayEquals(new int[] {3}, new int[] {PoolShape.outSize(4, 2, 2, 1, 0, 1, true)});
    }

    @Test
    void scalarTwinsMatchHandComputedCase() {
        // 3x3 plane 1..9, kernel 2, stride 2, pad 1 on every side: windows cover rows/cols {-1,0} and {1,2}.
        float[] in = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        PoolShape s = PoolShape.of(3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, false);
        float[] out = new float[4];
        Pooling.maxPoolScalar(s, 1, in, 0, out, 0);
        assertArrayEquals(new float[] {1, 3, 7, 9}, out);
        Pooling.averagePoolScalar(s, false, 1, in, 0, out, 0);
        assertArrayEquals(new float[] {1, 2.5f, 5.5f, 7}, out);
        Pooling.averagePoolScalar(s, true, 1, in, 0, out, 0);
        assertArrayEquals(new float[] {0.25f, 1.25f, 2.75f, 7}, out);
        PoolShape valid = PoolShape.of(3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 1, 1, false);
        Pooling.averagePoolScalar(valid, false, 1, in, 0, out, 0);
        assertArrayEquals(new float[] {3, 4, 6, 7}, out);
    }

    @Test
    void globalPoolsMatchScalarTwins() {
        for (int size : new int[] {1, 7, 16, 49, 225}) {
            int planes = 5;
            float[] in = Check.random(rnd, planes * size);
            float[] want = new float[planes];
            float[] got = new float[planes];
            Pooling.globalMaxPoolScalar(planes, size, in, 0, want, 0);
            Pooling.globalMaxPool(planes, size, in, 0, got, 0);
            assertArrayEquals(want, got, "global max " + size);
            Pooling.globalAveragePoolScalar(planes, size, in, 0, want, 0);
            Pooling.globalAveragePool(planes, size, in, 0, got, 0);
            Check.close("global average " + size, want, got, 1e-6, 1e-5);
        }
    }
}
