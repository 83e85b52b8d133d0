package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The direct kernel's fused 2x2 / stride-2 max pool ({@link DirectMaxPool}) against the unfused direct kernel's
 * output pooled by {@link Pooling#maxPoolScalar}: equal bit for bit, on the register path (rows of at least a
 * vector, none or Relu) and the scratch path (narrow planes, other activations), for odd and even sizes, padding,
 * strides along the height, dilation, groups, batches and thread counts.
 */
class DirectMaxPoolTest {
    private final Random rnd = new Random(29);

    private static final ConvShape[] SHAPES = {
        new ConvShape(3, 32, 32, 32, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1),    // cifar_cnn's conv1: 30x30 -> 15x15
        new ConvShape(1, 28, 28, 10, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1),    // mnist_cnn's conv1: 24x24 -> 12x12
        new ConvShape(10, 12, 12, 20, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1),   // mnist_cnn's conv2: 8x8 -> 4x4
        new ConvShape(4, 21, 19, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),     // padded, odd: 21x19 -> 10x9
        new ConvShape(6, 23, 40, 11, 3, 3, 2, 1, 0, 2, 1, 0, 1, 1, 1),    // stride 2 along the height
        new ConvShape(8, 20, 36, 12, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 2),    // dilated, 2 groups
        new ConvShape(16, 18, 18, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 16),  // depthwise
        new ConvShape(6, 7, 9, 6, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 6),       // depthwise 5x7: narrower than a vector
        new ConvShape(2, 3, 40, 6, 2, 2, 1, 1, 0, 0, 0, 0, 1, 1, 1),      // 2x39 -> 1x19
    };

    private static PoolShape pool(ConvShape s) {
        return new PoolShape(s.outH(), s.outW(), 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, s.outH() / 2, s.outW() / 2);
    }

    private static int pooled(ConvShape s) {
        return s.m() * (s.outH() / 2) * (s.outW() / 2);
    }

    @Test
    void fusedPoolEqualsConvThenPool() {
        Epilogue[] eps = {Epilogue.relu(), Epilogue.none(), Epilogue.sigmoid(), Epilogue.leakyRelu(0.1f)};
        int e = 0;
        for (ConvShape s : SHAPES) {
            assertTrue(Conv2d.fusesMaxPool(s), s.toString());
            assertEquals(Conv2d.Algorithm.DIRECT, Conv2d.algorithm(s), s.toString());
            for (int batch : new int[] {1, 3}) {
                float[] in = Check.random(rnd, batch * s.inSize() + 2);
                float[] w = Conv2d.packWeights(Check.random(rnd, s.weightLength()), s);
                float[] bias = e % 3 == 2 ? null : Check.random(rnd, s.m());
                Epilogue ep = eps[e++ % eps.length];
                String what = s + " x" + batch + " " + ep;
                float[] scratch = new float[Conv2d.scratchLength(s)];
                float[] full = new float[batch * s.outSize()];
                Conv2d.conv(s, batch, in, 2, w, bias, full, 0, scratch, ep);
                float[] want = new float[batch * pooled(s) + 2];
                Pooling.maxPoolScalar(pool(s), batch * s.m(), full, 0, want, 1);
                float[] got = new float[want.length];
                Arrays.fill(scratch, Float.NaN);
                Conv2d.convMaxPool(s, batch, in, 2, w, bias, got, 1, scratch, ep);
                assertArrayEquals(want, got, what);
                assertEquals(0f, got[0], "nothing written before the output, " + what);
                assertEquals(0f, got[got.length - 1], "nothing written after the output, " + what);
            }
        }
    }

    @Test
    void fusedPoolIsIdenticalOnAnyPool() {
        // batch 1 splits an image's channel blocks over the threads, batch 5 splits the images
        for (ConvShape s : new ConvShape[] {SHAPES[0], SHAPES[3], SHAPES[7]}) {
            float[] w = Conv2d.packWeights(Check.random(rnd, s.weightLength()), s);
            float[] bias = Check.random(rnd, s.m());
            for (int batch : new int[] {1, 5}) {
                float[] in = Check.random(rnd, batch * s.inSize());
                float[] alone = new float[batch * pooled(s)];
                Conv2d.convMaxPool(s, batch, in, 0, w, bias, alone, 0, new float[Conv2d.scratchLength(s)],
                        Epilogue.relu());
                for (int threads : new int[] {2, 3}) {
                    try (WorkerPool pool = WorkerPool.of(threads)) {
                        float[][] scratch = new float[threads][Conv2d.scratchLength(s)];
                        for (int call = 0; call < 5; call++) {
                            float[] got = new float[alone.length];
                            Conv2d.convMaxPool(s, batch, in, 0, w, bias, got, 0, scratch, Epilogue.relu(), pool);
                            assertArrayEquals(alone, got, s + " x" + batch + " on " + threads + " threads, call " + call);
                        }
                    }
                }
            }
        }
    }

    /**
     * Activations other than Relu run from the scratch rows, where a row's vector part can end in a partial
     * vector: that one too goes through the activation's row form, so no vector is handed to a call that could box.
     */
    @Test
    void fusedPoolWithEveryActivationAllocatesNothing() {
        ConvShape s = SHAPES[3]; // 21x19 conv rows: each ends in a partial vector
        float[] in = Check.random(rnd, s.inSize());
        float[] w = Conv2d.packWeights(Check.random(rnd, s.weightLength()), s);
        float[] bias = Check.random(rnd, s.m());
        float[] scratch = new float[Conv2d.scratchLength(s)];
        float[] out = new float[pooled(s)];
        Epilogue[] eps = {Epilogue.sigmoid(), Epilogue.tanh(), Epilogue.elu(1f), Epilogue.leakyRelu(0.1f)};
        Runnable call = () -> {
            for (Epilogue ep : eps) {
                Conv2d.convMaxPool(s, 1, in, 0, w, bias, out, 0, scratch, ep);
            }
        };
        assertEquals(0, Allocations.steadyBytesPerCall(call), "bytes per call");
    }

    @Test
    void im2colShapesDoNotFuse() {
        ConvShape strided = new ConvShape(3, 32, 32, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1);
        assertEquals(Conv2d.Algorithm.IM2COL, Conv2d.algorithm(strided));
        assertFalse(Conv2d.fusesMaxPool(strided));
    }
}
