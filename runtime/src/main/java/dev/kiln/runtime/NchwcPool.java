package dev.kiln.runtime;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Max pooling over NCHWc activations: a window's max is taken over whole channel blocks, one vector per tap,
 * so no window needs a horizontal reduction or a shuffle; padding taps are skipped (ONNX MaxPool semantics).
 */
public final class NchwcPool {
    private static final VectorSpecies<Float> S = GemmKernel.SPECIES;

    private NchwcPool() {}

    /** MaxPool of {@code batch} NCHWc images of {@code c} channels (padding channels stay zero). */
    public static void maxPool(PoolShape p, int batch, int c, float[] in, int inOff, float[] out, int outOff) {
        int b = S.length();
        int planes = batch * Nchwc.blocks(c, b);
        for (int q = 0; q < planes; q++) {
            int src = inOff + q * p.h() * p.w() * b;
            int dst = outOff + q * p.outH() * p.outW() * b;
            for (int oy = 0; oy < p.outH(); oy++) {
                for (int ox = 0; ox < p.outW(); ox++) {
                    FloatVector m = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
                    for (int ky = 0; ky < p.kh(); ky++) {
                        int iy = oy * p.strideH() + ky * p.dilationH() - p.padTop();
                        if (iy < 0 || iy >= p.h()) {
                            continue;
                        }
                        for (int kx = 0; kx < p.kw(); kx++) {
                            int ix = ox * p.strideW() + kx * p.dilationW() - p.padLeft();
                            if (ix >= 0 && ix < p.w()) {
                                m = m.max(FloatVector.fromArray(S, in, src + (iy * p.w() + ix) * b));
                            }
                        }
                    }
                    m.intoArray(out, dst + (oy * p.outW() + ox) * b);
                }
            }
        }
    }

    /** The plain-loop twin of {@link #maxPool} for any block. */
    public static void maxPoolScalar(PoolShape p, int block, int batch, int c, float[] in, int inOff, float[] out,
                                     int outOff) {
        int planes = batch * Nchwc.blocks(c, block);
        for (int q = 0; q < planes; q++) {
            for (int oy = 0; oy < p.outH(); oy++) {
                for (int ox = 0; ox < p.outW(); ox++) {
                    for (int j = 0; j < block; j++) {
                        float m = Float.NEGATIVE_INFINITY;
                        for (int ky = 0; ky < p.kh(); ky++) {
                            for (int kx = 0; kx < p.kw(); kx++) {
                                int iy = oy * p.strideH() + ky * p.dilationH() - p.padTop();
                                int ix = ox * p.strideW() + kx * p.dilationW() - p.padLeft();
                                if (iy >= 0 && iy < p.h() && ix >= 0 && ix < p.w()) {
                                    m = Math.max(m, in[inOff + ((q * p.h() + iy) * p.w() + ix) * block + j]);
                                }
                            }
                        }
                        out[outOff + ((q * p.outH() + oy) * p.outW() + ox) * block + j] = m;
                    }
                }
            }
        }
    }
}
