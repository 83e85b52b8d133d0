package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The direct kernel's fused 2x2 / stride-2 max pool against the unfused kernel's output pooled by
 * {@link Pooling#maxPoolScalar}: equal bit for bit with Relu and without an activation (the maximum commutes with
 * the bias and Relu exactly), within 1e-6 with other activations (applied per pooled value instead of per pixel,
 * where the unfused kernel may use the vector or the scalar form of the function).
 */
class DirectMaxPoolTest {
    private final Random rnd = new Random(19);

    private static final ConvShape[] SHAPES = {
        ConvShape.of(3, 32, 32, 32, 3),                                         // cifar conv1: 30x30 -> 15x15
        new ConvShape(3, 34, 35, 7, 3, 3, 1, 1, 1, 0, 0, 1, 1, 1, 1),           // padded, odd width 33 -> 16
        new ConvShape(4, 20, 40, 6, 5, 3, 1, 1, 2, 1, 2, 1, 1, 2, 2),           // groups, dilation, 5x3 kernel
        new ConvShape(2, 41, 18, 11, 3, 3, 2, 1, 0, 0, 0, 0, 1, 1, 1),          // stride 2 along the height
        ConvShape.of(1, 28, 28, 10, 5),                                         // mnist conv1: 24x24 -> 12x12
    };

    @Test
    void fusedPoolEqualsConvThenPool() {
        Epilogue[] eps = {Epilogue.relu(), Epilogue.none(), Epilogue.sigmoid(), Epilogue.leakyRelu(0.1f)};
        int e = 0;
        for (ConvShape s : SHAPES) {
            assertTrue(Conv2d.fusesMaxPool(s), s.toString());
            assertEquals(Conv2d.Algorithm.DIRECT, Conv2d.algorithm(s));
            PoolShape ps = new PoolShape(s.outH(), s.outW(), 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, s.outH() / 2, s.outW() / 2);
            int pooled = s.m() * (s.outH() / 2) * (s.outW() / 2);
            for (int batch : new int[] {1, 3}) {
                float[] in = Check.random(rnd, batch * s.inSize() + 2);
                float[] w = Check.random(rnd, s.weightLength());
                float[] bias = e % 3 == 1 ? null : Check.random(rnd, s.m());
                Epilogue ep = eps[e++ % eps.length];
                float[] packed = Conv2d.packWeights(w, s);
                float[] scratch = new float[Conv2d.scratchLength(s)];
                float[] full = new float[batch * s.outSize()];
                Conv2d.conv(s, batch, in, 2, packed, bias, full, 0, scratch, ep);
                float[] want = new float[batch * pooled + 1];
                Pooling.maxPoolScalar(ps, batch * s.m(), full, 0, want, 1);
                float[] got = new float[want.length];
                Arrays.fill(scratch, Float.NaN);
                Conv2d.convMaxPool(s, batch, in, 2, packed, bias, got, 1, scratch, ep);
                String what = s + " x" + batch + " " + ep;
                if (ep.isNone() || ep.kind() == Epilogue.Kind.RELU) {
                    assertArrayEquals(want, got, what);
                } else {
                    Check.close(what, want, got, 1e-6, 0);
                }
                assertEquals(0f, got[0], "nothing written before the output, " + what);
                try (WorkerPool pool = WorkerPool.of(2)) {
                    float[] two = new float[want.length];
                    Conv2d.convMaxPool(s, batch, in, 2, packed, bias, two, 1,
                            new float[2][Conv2d.scratchLength(s)], ep, pool);
                    assertArrayEquals(got, two, "2 threads, " + what);
                }
            }
        }
    }

    @Test
    void narrowOrStridedShapesAreNotFused() {
        assertFalse(Conv2d.fusesMaxPool(ConvShape.of(1, 14, 14, 4, 3)), "12 wide: under the widest vector");
        assertFalse(Conv2d.fusesMaxPool(new ConvShape(3, 40, 40, 8, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1)), "im2col");
    }

    @Test
    void steadyStateCallAllocatesNothing() {
        org.junit.jupiter.api.Assumptions.assumeTrue(
                GemmKernel.VL <= jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length());
        ConvShape s = ConvShape.of(3, 32, 32, 32, 3);
        float[] in = Check.random(rnd, 2 * s.inSize());
        float[] packed = Conv2d.packWeights(Check.random(rnd, s.weightLength()), s);
        float[] bias = Check.random(rnd, s.m());
        float[] out = new float[2 * s.outSize() / 4];
        float[] scratch = new float[Conv2d.scratchLength(s)];
        var bean = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        for (int i = 0; i < 3000; i++) {
            Conv2d.convMaxPool(s, 2, in, 0, packed, bias, out, 0, scratch, Epilogue.relu());
        }
        long best = Long.MAX_VALUE;
        for (int round = 0; round < 20 && best >= 64; round++) {
            long before = bean.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 200; i++) {
                Conv2d.convMaxPool(s, 2, in, 0, packed, bias, out, 0, scratch, Epilogue.relu());
            }
            best = Math.min(best, (bean.getCurrentThreadAllocatedBytes() - before) / 200);
        }
        assertTrue(best < 64, best + " B per call");
    }
}
