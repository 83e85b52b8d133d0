package dev.kiln.runtime;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Max, average and global average pooling over NCHWc activations: a window is reduced over whole channel blocks,
 * one vector per tap, so no window needs a horizontal reduction or a shuffle; padding taps are skipped (ONNX
 * semantics). The padding channels stay zero (the max or mean of zeros).
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

    /**
     * AveragePool of {@code batch} NCHWc images of {@code c} channels; {@code countIncludePad} counts padding cells
     * inside the padded input in the divisor (ONNX count_include_pad), as {@link Pooling#averagePool} does.
     */
    public static void averagePool(PoolShape p, boolean countIncludePad, int batch, int c, float[] in, int inOff,
                                   float[] out, int outOff) {
        int b = S.length();
        int planes = batch * Nchwc.blocks(c, b);
        for (int q = 0; q < planes; q++) {
            int src = inOff + q * p.h() * p.w() * b;
            int dst = outOff + q * p.outH() * p.outW() * b;
            for (int oy = 0; oy < p.outH(); oy++) {
                for (int ox = 0; ox < p.outW(); ox++) {
                    FloatVector sum = FloatVector.zero(S);
                    int count = 0;
                    for (int ky = 0; ky < p.kh(); ky++) {
                        int iy = oy * p.strideH() + ky * p.dilationH() - p.padTop();
                        for (int kx = 0; kx < p.kw(); kx++) {
                            int ix = ox * p.strideW() + kx * p.dilationW() - p.padLeft();
                            if (iy >= 0 && iy < p.h() && ix >= 0 && ix < p.w()) {
                                sum = sum.add(FloatVector.fromArray(S, in, src + (iy * p.w() + ix) * b));
                                count++;
                            } else if (countIncludePad && iy >= -p.padTop() && iy < p.h() + p.padBottom()
                                    && ix >= -p.padLeft() && ix < p.w() + p.padRight()) {
                                count++;
                            }
                        }
                    }
                    sum.div((float) count).intoArray(out, dst + (oy * p.outW() + ox) * b);
                }
            }
        }
    }

    /** GlobalAveragePool of {@code batch} NCHWc images of {@code c} channels and {@code size} pixels each. */
    public static void globalAveragePool(int batch, int c, int size, float[] in, int inOff, float[] out, int outOff) {
        int b = S.length();
        int planes = batch * Nchwc.blocks(c, b);
        for (int q = 0; q < planes; q++) {
            int src = inOff + q * size * b;
            FloatVector s0 = FloatVector.zero(S);
            FloatVector s1 = s0;
            int i = 0;
            // Two sums in flight (the add latency, not the loads, bounds one chain); pixels in order per chain.
            for (; i + 1 < size; i += 2) {
                s0 = s0.add(FloatVector.fromArray(S, in, src + i * b));
                s1 = s1.add(FloatVector.fromArray(S, in, src + (i + 1) * b));
            }
            if (i < size) {
                s0 = s0.add(FloatVector.fromArray(S, in, src + i * b));
            }
            s0.add(s1).div((float) size).intoArray(out, outOff + q * b);
        }
    }

    /** The plain-loop twin of {@link #averagePool} for any block: double sums. */
    public static void averagePoolScalar(PoolShape p, boolean countIncludePad, int block, int batch, int c,
                                         float[] in, int inOff, float[] out, int outOff) {
        int planes = batch * Nchwc.blocks(c, block);
        for (int q = 0; q < planes; q++) {
            for (int oy = 0; oy < p.outH(); oy++) {
                for (int ox = 0; ox < p.outW(); ox++) {
                    for (int j = 0; j < block; j++) {
                        double sum = 0;
                        int count = 0;
                        for (int ky = 0; ky < p.kh(); ky++) {
                            for (int kx = 0; kx < p.kw(); kx++) {
                                int iy = oy * p.strideH() + ky * p.dilationH() - p.padTop();
                                int ix = ox * p.strideW() + kx * p.dilationW() - p.padLeft();
                                if (iy >= 0 && iy < p.h() && ix >= 0 && ix < p.w()) {
                                    sum += in[inOff + ((q * p.h() + iy) * p.w() + ix) * block + j];
                                    count++;
                                } else if (countIncludePad && iy >= -p.padTop() && iy < p.h() + p.padBottom()
                                        && ix >= -p.padLeft() && ix < p.w() + p.padRight()) {
                                    count++;
                                }
                            }
                        }
                        out[outOff + ((q * p.outH() + oy) * p.outW() + ox) * block + j] = (float) (sum / count);
                    }
                }
            }
        }
    }

    /** The plain-loop twin of {@link #globalAveragePool} for any block: double sums. */
    public static void globalAveragePoolScalar(int block, int batch, int c, int size, float[] in, int inOff,
                                               float[] out, int outOff) {
        int planes = batch * Nchwc.blocks(c, block);
        for (int q = 0; q < planes; q++) {
            for (int j = 0; j < block; j++) {
                double sum = 0;
                for (int i = 0; i < size; i++) {
                    sum += in[inOff + (q * size + i) * block + j];
                }
                out[outOff + q * block + j] = (float) (sum / size);
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
