package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The NCHWc conv and max pool against the NCHW scalar kernels through the layout conversions, at this run's
 * vector width (the runtime's tests run at 128, 256 and 512 bits). Float sums of up to 576 terms of magnitude
 * ≤ 1 in another order: tolerance 1e-4 absolute + 1e-5 relative.
 */
class NchwcKernelsTest {
    private final Random rnd = new Random(7);

    private static final int[][] SHAPES = {
        // c, h, w, m, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw
        {32, 15, 15, 64, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1},  // cifar conv2
        {64, 6, 6, 64, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1},    // cifar conv3
        {10, 12, 12, 20, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1},  // mnist conv2: both channel counts padded
        {3, 11, 13, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
        {5, 17, 17, 7, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1},
        {4, 6, 37, 9, 3, 3, 1, 3, 1, 2, 0, 1, 1, 2},
        {2, 9, 9, 4, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2},
        {64, 7, 7, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},    // deep, small image, odd block count at block 16
        {40, 14, 14, 72, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},  // 1x1, both channel counts padded at block 16
        {32, 9, 9, 64, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},    // stride 2, padding
        {24, 2, 2, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},    // a plane of 4 pixels: fewer than a tile
        {16, 3, 5, 40, 7, 7, 1, 1, 3, 3, 3, 3, 1, 1},    // every tile a border tile
        {8, 1, 1, 8, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},      // one pixel
    };

    @Test
    void convMatchesTheNchwKernelThroughTheLayout() {
        int b = Nchwc.block();
        Epilogue[] eps = {Epilogue.relu(), Epilogue.none(), Epilogue.sigmoid()};
        int e = 0;
        try (WorkerPool pool = WorkerPool.of(2)) {
            for (int[] v : SHAPES) {
                ConvShape s = new ConvShape(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11],
                        v[12], v[13], 1);
                for (int batch : new int[] {1, 3}) {
                    Epilogue ep = eps[e++ % eps.length];
                    float[] x = Check.random(rnd, batch * s.inSize());
                    float[] w = Check.random(rnd, s.weightLength());
                    float[] bias = e % 4 == 0 ? null : Check.random(rnd, s.m());
                    float[] want = new float[batch * s.outSize()];
                    Conv2d.convScalar(s, batch, x, 0, w, bias, want, 0, ep);

                    float[] xb = new float[1 + batch * Nchwc.imageLength(s.c(), s.h(), s.w(), b)];
                    Nchwc.toBlocked(batch, s.c(), s.h(), s.w(), b, x, 0, xb, 1);
                    float[] packed = NchwcConv.packWeights(w, s, b);
                    int outLength = batch * Nchwc.imageLength(s.m(), s.outH(), s.outW(), b);
                    float[] yb = new float[2 + outLength];
                    java.util.Arrays.fill(yb, Float.NaN);
                    NchwcConv.conv(s, batch, xb, 1, packed, bias, yb, 2, new float[NchwcConv.scratchLength(s, b)], ep, pool);
                    float[] twin = new float[2 + outLength];
                    java.util.Arrays.fill(twin, Float.NaN);
                    NchwcConv.convScalar(s, b, batch, xb, 1, packed, bias, twin, 2, ep);
                    Check.close("twin " + s, twin, yb, 1e-4, 1e-5);
                    assertPaddingIsZero(yb, 2, batch, s.m(), s.outH() * s.outW(), b);

                    float[] got = new float[want.length];
                    Nchwc.fromBlocked(batch, s.m(), s.outH(), s.outW(), b, yb, 2, got, 0);
                    Check.close(s + " " + ep + " batch " + batch, want, got, 1e-4, 1e-5);
                }
            }
        }
    }

    /** One and two threads give the same bits, and a steady-state call allocates nothing. */
    @Test
    void threadsGiveTheSameBitsAndCallsAllocateNothing() {
        ConvShape s = new ConvShape(64, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
        int b = Nchwc.block();
        int batch = 2;
        float[] xb = new float[batch * Nchwc.imageLength(s.c(), s.h(), s.w(), b)];
        Nchwc.toBlocked(batch, s.c(), s.h(), s.w(), b, Check.random(rnd, batch * s.inSize()), 0, xb, 0);
        float[] packed = NchwcConv.packWeights(Check.random(rnd, s.weightLength()), s, b);
        float[] bias = Check.random(rnd, s.m());
        int outLength = batch * Nchwc.imageLength(s.m(), s.outH(), s.outW(), b);
        for (Epilogue ep : new Epilogue[] {Epilogue.relu(), Epilogue.sigmoid()}) {
            float[] one = new float[outLength];
            float[] two = new float[outLength];
            float[] scratch = new float[NchwcConv.scratchLength(s, b)];
            NchwcConv.conv(s, batch, xb, 0, packed, bias, one, 0, scratch, ep);
            try (WorkerPool pool = WorkerPool.of(2)) {
                NchwcConv.conv(s, batch, xb, 0, packed, bias, two, 0, scratch, ep, pool);
                assertArrayEquals(one, two, ep.toString());
                if (ep.kind() == Epilogue.Kind.RELU && GemmKernel.VL <= jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length()) {
                    long least = Allocations.steadyBytesPerCall(
                            () -> NchwcConv.conv(s, batch, xb, 0, packed, bias, two, 0, scratch, ep, pool));
                    assertEquals(0, least, "bytes allocated per call");
                }
            }
        }
    }

    @Test
    void maxPoolMatchesTheNchwKernelThroughTheLayout() {
        int b = Nchwc.block();
        for (PoolShape p : new PoolShape[] {PoolShape.square(30, 30, 2), PoolShape.square(13, 13, 2),
                PoolShape.of(9, 11, 3, 3, 2, 1, 1, 1, 1, 0, 1, 2, false)}) {
            int c = 11;
            int batch = 2;
            float[] x = Check.random(rnd, batch * c * p.inPlane());
            float[] want = new float[batch * c * p.outPlane()];
            Pooling.maxPoolScalar(p, batch * c, x, 0, want, 0);
            float[] xb = new float[batch * Nchwc.imageLength(c, p.h(), p.w(), b)];
            Nchwc.toBlocked(batch, c, p.h(), p.w(), b, x, 0, xb, 0);
            float[] yb = new float[batch * Nchwc.imageLength(c, p.outH(), p.outW(), b)];
            NchwcPool.maxPool(p, batch, c, xb, 0, yb, 0);
            float[] twin = new float[yb.length];
            NchwcPool.maxPoolScalar(p, b, batch, c, xb, 0, twin, 0);
            assertArrayEquals(twin, yb, p.toString());
            assertPaddingIsZero(yb, 0, batch, c, p.outPlane(), b);
            float[] got = new float[want.length];
            Nchwc.fromBlocked(batch, c, p.outH(), p.outW(), b, yb, 0, got, 0);
            assertArrayEquals(want, got, p.toString());
        }
    }

    @Test
    void averagePoolsMatchTheNchwKernelsThroughTheLayout() {
        int b = Nchwc.block();
        int c = 11;
        int batch = 2;
        for (boolean includePad : new boolean[] {false, true}) {
            for (PoolShape p : new PoolShape[] {PoolShape.square(6, 6, 2),
                    PoolShape.of(9, 11, 3, 3, 2, 1, 1, 1, 1, 0, 1, 2, false)}) {
                float[] x = Check.random(rnd, batch * c * p.inPlane());
                float[] want = new float[batch * c * p.outPlane()];
                Pooling.averagePoolScalar(p, includePad, batch * c, x, 0, want, 0);
                float[] xb = new float[batch * Nchwc.imageLength(c, p.h(), p.w(), b)];
                Nchwc.toBlocked(batch, c, p.h(), p.w(), b, x, 0, xb, 0);
                float[] yb = new float[batch * Nchwc.imageLength(c, p.outH(), p.outW(), b)];
                NchwcPool.averagePool(p, includePad, batch, c, xb, 0, yb, 0);
                float[] twin = new float[yb.length];
                NchwcPool.averagePoolScalar(p, includePad, b, batch, c, xb, 0, twin, 0);
                Check.close("twin " + p, twin, yb, 1e-6, 1e-6);
                assertPaddingIsZero(yb, 0, batch, c, p.outPlane(), b);
                float[] got = new float[want.length];
                Nchwc.fromBlocked(batch, c, p.outH(), p.outW(), b, yb, 0, got, 0);
                Check.close(p + " count_include_pad " + includePad, want, got, 1e-6, 1e-6);
            }
        }
        float[] x = Check.random(rnd, batch * c * 7 * 7);
        float[] want = new float[batch * c];
        Pooling.globalAveragePoolScalar(batch * c, 49, x, 0, want, 0);
        float[] xb = new float[batch * Nchwc.imageLength(c, 7, 7, b)];
        Nchwc.toBlocked(batch, c, 7, 7, b, x, 0, xb, 0);
        float[] yb = new float[batch * Nchwc.imageLength(c, 1, 1, b)];
        NchwcPool.globalAveragePool(batch, c, 49, xb, 0, yb, 0);
        float[] twin = new float[yb.length];
        NchwcPool.globalAveragePoolScalar(b, batch, c, 49, xb, 0, twin, 0);
        Check.close("global twin", twin, yb, 1e-6, 1e-6);
        assertPaddingIsZero(yb, 0, batch, c, 1, b);
        float[] got = new float[want.length];
        Nchwc.fromBlocked(batch, c, 1, 1, b, yb, 0, got, 0);
        Check.close("global", want, got, 1e-6, 1e-6);
    }

    @Test
    void zeroPaddingClearsOnlyThePaddingChannels() {
        int b = 4;
        float[] x = new float[2 * Nchwc.imageLength(6, 2, 3, b)];
        java.util.Arrays.fill(x, 0.5f);
        float[] y = new float[x.length + 1];
        Nchwc.zeroPadding(2, 6, 6, b, x, 0, y, 1);
        assertPaddingIsZero(y, 1, 2, 6, 6, b);
        assertEquals(0.5f, y[1 + (6 + 5) * b + 1]);
        assertEquals(0.5f, y[1 + 2 * 6 * b + 3]);
        Nchwc.zeroPadding(2, 6, 6, b, x, 0, x, 0);
        assertArrayEquals(java.util.Arrays.copyOfRange(y, 1, y.length), x);
    }

    @Test
    void conversionsAreInverse() {
        float[] x = Check.random(rnd, 2 * 5 * 3 * 4);
        float[] xb = new float[2 * Nchwc.imageLength(5, 3, 4, 4)];
        Nchwc.toBlocked(2, 5, 3, 4, 4, x, 0, xb, 0);
        assertEquals(x[1 * 12 + 7], xb[(0 * 12 + 7) * 4 + 1]);
        assertEquals(x[4 * 12 + 2], xb[(1 * 12 + 2) * 4]);
        float[] back = new float[x.length];
        Nchwc.fromBlocked(2, 5, 3, 4, 4, xb, 0, back, 0);
        assertArrayEquals(x, back);
    }

    @Test
    void refusesWeightsOrCodeForAnotherVectorWidth() {
        int other = Nchwc.block() == 8 ? 16 : 8;
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Nchwc.requireBlock(other));
        assertTrue(e.getMessage().contains("blocks of " + other), e.getMessage());
        Nchwc.requireBlock(Nchwc.block());
        ConvShape s = ConvShape.of(3, 6, 6, 3, 3);
        float[] wrong = NchwcConv.packWeights(new float[s.weightLength()], s, other);
        assertThrows(IllegalArgumentException.class, () -> NchwcConv.conv(s, 1, new float[16 * 36 * 2],
                0, wrong, null, new float[16 * 16 * 2], 0, null, Epilogue.none()));
    }

    private static void assertPaddingIsZero(float[] y, int off, int batch, int c, int plane, int b) {
        int cb = Nchwc.blocks(c, b);
        for (int n = 0; n < batch * cb; n++) {
            if ((n % cb) != cb - 1) {
                continue;
            }
            for (int p = 0; p < plane; p++) {
                for (int j = c - (cb - 1) * b; j < b; j++) {
                    assertEquals(0f, y[off + (n * plane + p) * b + j], "padding channel");
                }
            }
        }
    }
}
