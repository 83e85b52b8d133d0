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
 * The Winograd kernels' fused 2x2 / stride-2 max pool against the same kernel's unfused output pooled by
 * {@link Pooling#maxPoolScalar}: equal bit for bit (the pooled tiles are computed by the same arithmetic), for odd and
 * even output sizes, padding, every epilogue kind, batches, thread counts and (F(4x4)) tile ranges.
 */
class WinogradMaxPoolTest {
    private final Random rnd = new Random(17);

    private static final int[][] SHAPES = {
        // c, h, w, m, pad top, left, bottom, right
        {32, 15, 15, 64, 0, 0, 0, 0},   // cifar conv2: 13x13 -> 6x6
        {64, 6, 6, 64, 0, 0, 0, 0},     // 4x4 -> 2x2
        {3, 32, 32, 32, 0, 0, 0, 0},    // 30x30 -> 15x15
        {5, 7, 9, 7, 1, 1, 1, 1},       // 7x9 -> 3x4
        {17, 10, 11, 33, 1, 0, 0, 1},
        {20, 5, 4, 10, 2, 1, 0, 2},     // 6x5 -> 3x2
        {7, 4, 13, 40, 0, 2, 1, 0},     // 3x15 -> 1x7
        {4, 4, 4, 5, 0, 0, 0, 0},       // 2x2 -> 1x1
    };

    private static ConvShape shape(int[] v) {
        return new ConvShape(v[0], v[1], v[2], v[3], 3, 3, 1, 1, v[4], v[5], v[6], v[7], 1, 1, 1);
    }

    private static PoolShape pool(ConvShape s) {
        return new PoolShape(s.outH(), s.outW(), 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, s.outH() / 2, s.outW() / 2);
    }

    @Test
    void fusedPoolEqualsConvThenPool() {
        Epilogue[] eps = {Epilogue.none(), Epilogue.relu(), Epilogue.sigmoid(), Epilogue.leakyRelu(0.1f)};
        int e = 0;
        for (int[] v : SHAPES) {
            ConvShape s = shape(v);
            int pooled = s.m() * (s.outH() / 2) * (s.outW() / 2);
            for (int batch : new int[] {1, 3}) {
                float[] in = Check.random(rnd, batch * s.inSize() + 2);
                float[] w = Check.random(rnd, s.weightLength());
                float[] bias = e % 3 == 2 ? null : Check.random(rnd, s.m());
                Epilogue ep = eps[e++ % eps.length];
                for (boolean f4 : new boolean[] {false, true}) {
                    String what = (f4 ? "F4 " : "F2 ") + s + " x" + batch + " " + ep;
                    float[] full = new float[batch * s.outSize()];
                    float[] want = new float[batch * pooled + 1];
                    float[] got = new float[want.length];
                    if (f4) {
                        float[] p = WinogradF4Conv.packWeights(w, s);
                        float[] scratch = new float[WinogradF4Conv.scratchLength(s)];
                        WinogradF4Conv.conv(s, batch, in, 2, p, bias, full, 0, scratch, ep);
                        Arrays.fill(scratch, Float.NaN);
                        WinogradF4Conv.convMaxPool(s, batch, in, 2, p, bias, got, 1, scratch, ep);
                    } else {
                        float[] p = WinogradConv.packWeights(w, s);
                        float[] scratch = new float[WinogradConv.scratchLength(s)];
                        WinogradConv.conv(s, batch, in, 2, p, bias, full, 0, scratch, ep);
                        Arrays.fill(scratch, Float.NaN);
                        WinogradConv.convMaxPool(s, batch, in, 2, p, bias, got, 1, scratch, ep);
                    }
                    Pooling.maxPoolScalar(pool(s), batch * s.m(), full, 0, want, 1);
                    assertArrayEquals(want, got, what);
                    assertEquals(0f, got[0], "nothing written before the output, " + what);
                }
            }
        }
    }

    @Test
    void fusedPoolIsIdenticalAcrossThreadsAndRanges() {
        for (int[] v : SHAPES) {
            ConvShape s = shape(v);
            int batch = 5;
            int pooled = s.m() * (s.outH() / 2) * (s.outW() / 2);
            float[] in = Check.random(rnd, batch * s.inSize());
            float[] w = Check.random(rnd, s.weightLength());
            float[] bias = Check.random(rnd, s.m());
            float[] p2 = WinogradConv.packWeights(w, s);
            float[] p4 = WinogradF4Conv.packWeights(w, s);
            float[] one2 = new float[batch * pooled];
            float[] one4 = new float[batch * pooled];
            WinogradConv.convMaxPool(s, batch, in, 0, p2, bias, one2, 0, new float[WinogradConv.scratchLength(s)],
                    Epilogue.relu());
            WinogradF4Conv.convMaxPool(s, batch, in, 0, p4, bias, one4, 0, new float[WinogradF4Conv.scratchLength(s)],
                    Epilogue.relu());
            float[] ranged = new float[one4.length];
            int total = WinogradF4Conv.tiles(s, batch, true);
            float[] scratch1 = new float[WinogradF4Conv.scratchLength(s)];
            for (int t0 = 0; t0 < total; t0 += 3) {
                WinogradF4Conv.convTiles(s, batch, in, 0, p4, bias, ranged, 0, scratch1, Epilogue.relu(), true, t0,
                        Math.min(total, t0 + 3));
            }
            assertArrayEquals(one4, ranged, "F4 tile ranges of 3, " + s);
            for (int threads : new int[] {2, 3}) {
                try (WorkerPool pool = WorkerPool.of(threads)) {
                    float[] got2 = new float[one2.length];
                    WinogradConv.convMaxPool(s, batch, in, 0, p2, bias, got2, 0,
                            new float[threads][WinogradConv.scratchLength(s)], Epilogue.relu(), pool);
                    assertArrayEquals(one2, got2, "F2, " + threads + " threads, " + s);
                    float[] got4 = new float[one4.length];
                    WinogradF4Conv.convMaxPool(s, batch, in, 0, p4, bias, got4, 0,
                            new float[threads][WinogradF4Conv.scratchLength(s)], Epilogue.relu(), pool);
                    assertArrayEquals(one4, got4, "F4, " + threads + " threads, " + s);
                }
            }
        }
    }

    @Test
    void conv2dDispatchesFusedPoolsAndF4Shapes() {
        ConvShape cifar2 = ConvShape.of(32, 15, 15, 64, 3);
        assertTrue(Conv2d.fusesMaxPool(cifar2));
        assertTrue(Conv2d.fusesMaxPool(ConvShape.of(64, 6, 6, 64, 3)));
        assertTrue(Conv2d.fusesMaxPool(ConvShape.of(3, 32, 32, 32, 3)), "direct kernel (DirectMaxPoolTest)");
        assertFalse(Conv2d.fusesMaxPool(ConvShape.of(3, 8, 8, 4, 3)), "im2col + GEMM: no fused pool");
        assertThrows(IllegalArgumentException.class, () -> Conv2d.convMaxPool(ConvShape.of(3, 8, 8, 4, 3), 1,
                new float[192], 0, new float[0], null, new float[36], 0, new float[0], Epilogue.none()));
        float[] w = Check.random(rnd, cifar2.weightLength());
        float[] in = Check.random(rnd, 2 * cifar2.inSize());
        float[] bias = Check.random(rnd, cifar2.m());
        float[] packed = Conv2d.packWeights(w, cifar2);
        assertArrayEquals(WinogradF4Conv.packWeights(w, cifar2), packed);
        float[] again = new float[Conv2d.packedWeightLength(cifar2)];
        Conv2d.packWeights(w, 0, cifar2, again);
        assertArrayEquals(packed, again);
        float[] want = new float[2 * cifar2.outSize()];
        Conv2d.convScalar(cifar2, 2, in, 0, w, bias, want, 0, Epilogue.relu());
        float[] got = new float[want.length];
        float[] scratch = new float[Conv2d.scratchLength(cifar2)];
        Conv2d.conv(cifar2, 2, in, 0, packed, bias, got, 0, scratch, Epilogue.relu());
        Check.close("Conv2d.conv via F(4x4)", want, got, 4e-4, 1e-5);
        float[] pooled = new float[2 * cifar2.outSize() / 4];
        Pooling.maxPoolScalar(pool(cifar2), 2 * cifar2.m(), got, 0, pooled, 0);
        float[] fused = new float[pooled.length];
        Conv2d.convMaxPool(cifar2, 2, in, 0, packed, bias, fused, 0, scratch, Epilogue.relu());
        assertArrayEquals(pooled, fused);
        try (WorkerPool pool = WorkerPool.of(2)) {
            float[] two = new float[pooled.length];
            Conv2d.convMaxPool(cifar2, 2, in, 0, packed, bias, two, 0, new float[2][Conv2d.scratchLength(cifar2)],
                    Epilogue.relu(), pool);
            assertArrayEquals(pooled, two);
        }
    }
}
