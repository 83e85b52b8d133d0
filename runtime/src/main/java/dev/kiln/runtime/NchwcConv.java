package dev.kiln.runtime;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Direct 2-D convolution (group 1) from NCHWc to NCHWc activations: one float vector holds one block of output
 * channels of one pixel, so each weight vector is reused across a row tile of pixels and each input value is a
 * broadcast; bias and epilogue fused, the output's padding channels written as zeros.
 */
public final class NchwcConv {
    /** Weight layout name, as the IR's dev.kiln.BlockedConv carries it. */
    public static final String LAYOUT = "kiln.conv.nchwc.v1";

    private static final VectorSpecies<Float> S = GemmKernel.SPECIES;
    /** Output pixels per register tile: 4 accumulators + weights + broadcast stay far inside 16 registers. */
    private static final int TILE = 4;
    /** Below this many multiply-adds a call runs on its caller alone (about 20 µs of work). */
    private static final long THREADING_FMAS = 200_000;

    private NchwcConv() {}

    /** Floats of the packed weights for {@code block}. */
    public static int packedLength(ConvShape s, int block) {
        return Nchwc.blocks(s.m(), block) * Nchwc.blocks(s.c(), block) * block * s.kh() * s.kw() * block;
    }

    /**
     * Index of W[o][ci][ky][kx] in layout {@value #LAYOUT}: per output block, per input block, per tap, per input
     * channel of the block, the block's output channels (so the kernel reads its weights strictly in order).
     */
    public static int index(int c, int kh, int kw, int block, int o, int ci, int ky, int kx) {
        int cb = Nchwc.blocks(c, block);
        return ((((o / block) * cb + ci / block) * kh * kw + ky * kw + kx) * block + ci % block) * block + o % block;
    }

    /** Packs ONNX weights [M, C, kh, kw] (group 1) into layout {@value #LAYOUT} for {@code block}; padding is zero. */
    public static float[] packWeights(float[] w, ConvShape s, int block) {
        requireGroupOne(s);
        float[] packed = new float[packedLength(s, block)];
        for (int o = 0; o < s.m(); o++) {
            for (int c = 0; c < s.c(); c++) {
                for (int ky = 0; ky < s.kh(); ky++) {
                    for (int kx = 0; kx < s.kw(); kx++) {
                        packed[index(s.c(), s.kh(), s.kw(), block, o, c, ky, kx)] =
                                w[((o * s.c() + c) * s.kh() + ky) * s.kw() + kx];
                    }
                }
            }
        }
        return packed;
    }

    /**
     * Y = epilogue(conv(X, W) + bias) for {@code batch} NCHWc images; {@code bias} may be null. The weights must
     * be packed for this runtime's block ({@link Nchwc#requireBlock}).
     */
    public static void conv(ConvShape s, int batch, float[] in, int inOff, float[] packed, float[] bias, float[] out,
                            int outOff, Epilogue epilogue) {
        check(s, packed);
        rows(s, in, inOff, packed, bias, out, outOff, epilogue, 0, units(s, batch));
    }

    /** As {@link #conv}, output rows split over the pool's threads when the call is big enough. */
    public static void conv(ConvShape s, int batch, float[] in, int inOff, float[] packed, float[] bias, float[] out,
                            int outOff, Epilogue epilogue, WorkerPool pool) {
        check(s, packed);
        int rows = units(s, batch);
        long fmas = 2L * rows * s.outW() * Nchwc.blocks(s.c(), S.length()) * S.length() * s.kh() * s.kw();
        if (pool.threads() == 1 || fmas < THREADING_FMAS) {
            rows(s, in, inOff, packed, bias, out, outOff, epilogue, 0, rows);
        } else {
            pool.parallelFor(rows, (from, to) -> rows(s, in, inOff, packed, bias, out, outOff, epilogue, from, to));
        }
    }

    private static void check(ConvShape s, float[] packed) {
        requireGroupOne(s);
        if (packed.length != packedLength(s, S.length())) {
            throw new IllegalArgumentException("NCHWc weights of " + packed.length + " floats for " + s + " at block "
                    + S.length() + " (expected " + packedLength(s, S.length()) + "): packed for another vector width?");
        }
    }

    private static void requireGroupOne(ConvShape s) {
        if (s.group() != 1) {
            throw new IllegalArgumentException("NCHWc convolution takes group 1 only: " + s);
        }
    }

    /** Units of work: (image, pair of output blocks, output row). */
    private static int units(ConvShape s, int batch) {
        return batch * Math.ceilDiv(Nchwc.blocks(s.m(), S.length()), 2) * s.outH();
    }

    /**
     * Units [from, to): an output row of two output blocks at a time, so each broadcast input value feeds two
     * weight vectors (8 accumulators: 4 pixels x 2 blocks, with 2 weight vectors and a broadcast, fit AVX2's 16
     * registers); an odd last block, tiles touching padding and row tails go one block and one pixel at a time.
     */
    private static void rows(ConvShape s, float[] in, int inOff, float[] packed, float[] bias, float[] out, int outOff,
                             Epilogue ep, int from, int to) {
        int b = S.length();
        int mb = Nchwc.blocks(s.m(), b);
        int pairs = Math.ceilDiv(mb, 2);
        int cb = Nchwc.blocks(s.c(), b);
        int oh = s.outH();
        int ow = s.outW();
        int taps = s.kh() * s.kw();
        int inImage = cb * b * s.h() * s.w();
        int outImage = mb * b * oh * ow;
        int wBlock = cb * b * taps * b;
        for (int r = from; r < to; r++) {
            int oy = r % oh;
            int ob = 2 * ((r / oh) % pairs);
            int n = r / (oh * pairs);
            int inBase = inOff + n * inImage;
            int outRow = outOff + n * outImage + (ob * oh + oy) * ow * b;
            int wBase = ob * wBlock;
            boolean pair = ob + 1 < mb;
            int ox = 0;
            if (pair) {
                for (; ox + TILE <= ow && interior(s, ox, TILE); ox += TILE) {
                    tile4x2(s, in, inBase, packed, wBase, wBlock, bias, ob * b, out, outRow + ox * b, oh * ow * b, oy,
                            ox, ep);
                }
                // A row's tail as one more tile shifted left to end at the row's end: the overlapped pixels are
                // computed twice, the same way, instead of one pixel (one latency-bound accumulator) at a time.
                if (ox < ow && ow - ox < TILE && ow >= TILE && interior(s, ow - TILE, TILE)) {
                    tile4x2(s, in, inBase, packed, wBase, wBlock, bias, ob * b, out, outRow + (ow - TILE) * b,
                            oh * ow * b, oy, ow - TILE, ep);
                    ox = ow;
                }
            }
            for (int q = ob; q < Math.min(ob + 2, mb); q++) {
                int qRow = outRow + (q - ob) * oh * ow * b;
                int qw = wBase + (q - ob) * wBlock;
                int x = ox;
                for (; x + TILE <= ow; x += TILE) {
                    if (interior(s, x, TILE)) {
                        tile4(s, in, inBase, packed, qw, bias, q * b, out, qRow + x * b, oy, x, ep);
                    } else {
                        for (int t = 0; t < TILE; t++) {
                            pixel(s, in, inBase, packed, qw, bias, q * b, out, qRow + (x + t) * b, oy, x + t, ep);
                        }
                    }
                }
                for (; x < ow; x++) {
                    pixel(s, in, inBase, packed, qw, bias, q * b, out, qRow + x * b, oy, x, ep);
                }
                if (q == mb - 1 && s.m() % b != 0) {
                    for (int p = 0; p < ow; p++) {
                        java.util.Arrays.fill(out, qRow + p * b + s.m() % b, qRow + (p + 1) * b, 0f);
                    }
                }
            }
        }
    }

    private static void tile4x2(ConvShape s, float[] in, int inBase, float[] w, int wBase, int wBlock, float[] bias,
                                int o0, float[] out, int o, int outBlock, int oy, int ox, Epilogue ep) {
        int b = S.length();
        int cb = Nchwc.blocks(s.c(), b);
        int h = s.h();
        int wd = s.w();
        int step = s.strideW() * b;
        FloatVector init0 = initial(s, bias, o0);
        FloatVector init1 = initial(s, bias, o0 + b);
        FloatVector a0 = init0;
        FloatVector a1 = init0;
        FloatVector a2 = init0;
        FloatVector a3 = init0;
        FloatVector c0 = init1;
        FloatVector c1 = init1;
        FloatVector c2 = init1;
        FloatVector c3 = init1;
        for (int c = 0; c < cb; c++) {
            for (int ky = 0; ky < s.kh(); ky++) {
                int iy = oy * s.strideH() + ky * s.dilationH() - s.padTop();
                if (iy < 0 || iy >= h) {
                    continue;
                }
                int wk = wBase + ((c * s.kh() + ky) * s.kw()) * b * b;
                for (int kx = 0; kx < s.kw(); kx++) {
                    int ix = ox * s.strideW() + kx * s.dilationW() - s.padLeft();
                    int x = inBase + ((c * h + iy) * wd + ix) * b;
                    int wt = wk + kx * b * b;
                    for (int j = 0; j < b; j++) {
                        FloatVector w0 = FloatVector.fromArray(S, w, wt + j * b);
                        FloatVector w1 = FloatVector.fromArray(S, w, wt + wBlock + j * b);
                        FloatVector x0 = FloatVector.broadcast(S, in[x + j]);
                        a0 = w0.fma(x0, a0);
                        c0 = w1.fma(x0, c0);
                        FloatVector x1 = FloatVector.broadcast(S, in[x + step + j]);
                        a1 = w0.fma(x1, a1);
                        c1 = w1.fma(x1, c1);
                        FloatVector x2 = FloatVector.broadcast(S, in[x + 2 * step + j]);
                        a2 = w0.fma(x2, a2);
                        c2 = w1.fma(x2, c2);
                        FloatVector x3 = FloatVector.broadcast(S, in[x + 3 * step + j]);
                        a3 = w0.fma(x3, a3);
                        c3 = w1.fma(x3, c3);
                    }
                }
            }
        }
        ep.apply(a0).intoArray(out, o);
        ep.apply(a1).intoArray(out, o + b);
        ep.apply(a2).intoArray(out, o + 2 * b);
        ep.apply(a3).intoArray(out, o + 3 * b);
        ep.apply(c0).intoArray(out, o + outBlock);
        ep.apply(c1).intoArray(out, o + outBlock + b);
        ep.apply(c2).intoArray(out, o + outBlock + 2 * b);
        ep.apply(c3).intoArray(out, o + outBlock + 3 * b);
    }

    /**
     * The accumulators' start: the bias of output channels o0.. (zero past m). Built inside each tile method, not
     * passed in: C2 intrinsifies vector operations only on values of a known exact vector class, and a FloatVector
     * parameter is not one (measured: passing it made the kernel 30x slower).
     */
    private static FloatVector initial(ConvShape s, float[] bias, int o0) {
        return bias == null ? FloatVector.zero(S) : FloatVector.fromArray(S, bias, o0, S.indexInRange(o0, s.m()));
    }

    /** True when every tap of the {@code count} pixels from ox lies inside the row (no left/right padding). */
    private static boolean interior(ConvShape s, int ox, int count) {
        int first = ox * s.strideW() - s.padLeft();
        int last = (ox + count - 1) * s.strideW() + (s.kw() - 1) * s.dilationW() - s.padLeft();
        return first >= 0 && last < s.w();
    }

    private static void tile4(ConvShape s, float[] in, int inBase, float[] w, int wBase, float[] bias, int o0, float[] out,
                              int o, int oy, int ox, Epilogue ep) {
        int b = S.length();
        int cb = Nchwc.blocks(s.c(), b);
        int h = s.h();
        int wd = s.w();
        int step = s.strideW() * b;
        FloatVector init = initial(s, bias, o0);
        FloatVector a0 = init;
        FloatVector a1 = init;
        FloatVector a2 = init;
        FloatVector a3 = init;
        for (int c = 0; c < cb; c++) {
            for (int ky = 0; ky < s.kh(); ky++) {
                int iy = oy * s.strideH() + ky * s.dilationH() - s.padTop();
                if (iy < 0 || iy >= h) {
                    continue;
                }
                int wk = wBase + ((c * s.kh() + ky) * s.kw()) * b * b;
                for (int kx = 0; kx < s.kw(); kx++) {
                    int ix = ox * s.strideW() + kx * s.dilationW() - s.padLeft();
                    int x = inBase + ((c * h + iy) * wd + ix) * b;
                    int wt = wk + kx * b * b;
                    for (int j = 0; j < b; j++) {
                        FloatVector wv = FloatVector.fromArray(S, w, wt + j * b);
                        a0 = wv.fma(FloatVector.broadcast(S, in[x + j]), a0);
                        a1 = wv.fma(FloatVector.broadcast(S, in[x + step + j]), a1);
                        a2 = wv.fma(FloatVector.broadcast(S, in[x + 2 * step + j]), a2);
                        a3 = wv.fma(FloatVector.broadcast(S, in[x + 3 * step + j]), a3);
                    }
                }
            }
        }
        ep.apply(a0).intoArray(out, o);
        ep.apply(a1).intoArray(out, o + b);
        ep.apply(a2).intoArray(out, o + 2 * b);
        ep.apply(a3).intoArray(out, o + 3 * b);
    }

    private static void pixel(ConvShape s, float[] in, int inBase, float[] w, int wBase, float[] bias, int o0, float[] out,
                              int o, int oy, int ox, Epilogue ep) {
        int b = S.length();
        int cb = Nchwc.blocks(s.c(), b);
        FloatVector acc = initial(s, bias, o0);
        for (int c = 0; c < cb; c++) {
            for (int ky = 0; ky < s.kh(); ky++) {
                int iy = oy * s.strideH() + ky * s.dilationH() - s.padTop();
                if (iy < 0 || iy >= s.h()) {
                    continue;
                }
                for (int kx = 0; kx < s.kw(); kx++) {
                    int ix = ox * s.strideW() + kx * s.dilationW() - s.padLeft();
                    if (ix < 0 || ix >= s.w()) {
                        continue;
                    }
                    int x = inBase + ((c * s.h() + iy) * s.w() + ix) * b;
                    int wt = wBase + ((c * s.kh() + ky) * s.kw() + kx) * b * b;
                    for (int j = 0; j < b; j++) {
                        acc = FloatVector.fromArray(S, w, wt + j * b).fma(FloatVector.broadcast(S, in[x + j]), acc);
                    }
                }
            }
        }
        ep.apply(acc).intoArray(out, o);
    }

    /** The plain-loop twin of {@link #conv} for any block: NCHWc in and out, weights packed for {@code block}. */
    public static void convScalar(ConvShape s, int block, int batch, float[] in, int inOff, float[] packed,
                                  float[] bias, float[] out, int outOff, Epilogue ep) {
        requireGroupOne(s);
        int mb = Nchwc.blocks(s.m(), block);
        int cb = Nchwc.blocks(s.c(), block);
        int oh = s.outH();
        int ow = s.outW();
        for (int n = 0; n < batch; n++) {
            int inBase = inOff + n * cb * block * s.h() * s.w();
            int outBase = outOff + n * mb * block * oh * ow;
            for (int o = 0; o < mb * block; o++) {
                for (int oy = 0; oy < oh; oy++) {
                    for (int ox = 0; ox < ow; ox++) {
                        float acc = bias != null && o < s.m() ? bias[o] : 0f;
                        for (int c = 0; c < s.c(); c++) {
                            for (int ky = 0; ky < s.kh(); ky++) {
                                for (int kx = 0; kx < s.kw(); kx++) {
                                    int iy = oy * s.strideH() + ky * s.dilationH() - s.padTop();
                                    int ix = ox * s.strideW() + kx * s.dilationW() - s.padLeft();
                                    if (iy >= 0 && iy < s.h() && ix >= 0 && ix < s.w()) {
                                        acc += in[inBase + (((c / block) * s.h() + iy) * s.w() + ix) * block + c % block]
                                                * packed[index(s.c(), s.kh(), s.kw(), block, o, c, ky, kx)];
                                    }
                                }
                            }
                        }
                        out[outBase + (((o / block) * oh + oy) * ow + ox) * block + o % block] =
                                o < s.m() ? ep.apply(acc) : 0f;
                    }
                }
            }
        }
    }
}
