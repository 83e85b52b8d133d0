package dev.kiln.runtime;

import java.util.concurrent.ConcurrentHashMap;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Direct 2-D convolution (group 1) from NCHWc to NCHWc activations: one float vector holds one block of output
 * channels of one pixel, so each weight vector is reused across a tile of 6 pixels and each input value is a
 * broadcast feeding 2 output blocks; bias and epilogue fused, the output's padding channels written as zeros.
 * A padded convolution first copies each image into a zero-bordered scratch image, so every tile, at the border
 * too, runs the same loop without a bounds test.
 */
public final class NchwcConv {
    /** Weight layout name, as the IR's dev.kiln.BlockedConv carries it. */
    public static final String LAYOUT = "kiln.conv.nchwc.v1";

    private static final VectorSpecies<Float> S = GemmKernel.SPECIES;
    /** Output pixels per register tile (of 2 output blocks: 12 accumulators). */
    static final int TILE = 6;
    /** Below this many vector multiply-adds a call runs on its caller alone (about 20 µs of work). */
    private static final long THREADING_FMAS = 80_000;
    /** Input offsets of every tap (input block, ky, kx), per shape (at most a few KB each). */
    private static final ConcurrentHashMap<ConvShape, int[]> OFFSETS = new ConcurrentHashMap<>();

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
     * Floats of scratch {@link #conv} needs: one zero-bordered image when the convolution is padded, else none
     * (the kernel then reads its input in place). Independent of the batch.
     */
    public static int scratchLength(ConvShape s, int block) {
        return padded(s) ? Nchwc.blocks(s.c(), block) * block * paddedH(s) * paddedW(s) : 0;
    }

    private static boolean padded(ConvShape s) {
        return s.padTop() + s.padLeft() + s.padBottom() + s.padRight() > 0;
    }

    private static int paddedH(ConvShape s) {
        return s.h() + s.padTop() + s.padBottom();
    }

    private static int paddedW(ConvShape s) {
        return s.w() + s.padLeft() + s.padRight();
    }

    /**
     * Y = epilogue(conv(X, W) + bias) for {@code batch} NCHWc images; {@code bias} may be null, and so may
     * {@code scratch} when {@link #scratchLength} is 0. The weights must be packed for this runtime's block
     * ({@link Nchwc#requireBlock}).
     */
    public static void conv(ConvShape s, int batch, float[] in, int inOff, float[] packed, float[] bias, float[] out,
                            int outOff, float[] scratch, Epilogue epilogue) {
        check(s, packed, scratch);
        int[] offs = offsets(s);
        if (!padded(s)) {
            run(s, offs, in, inOff, s.w(), s.h() * s.w(), packed, bias, out, outOff, epilogue, 0, units(s, batch));
            return;
        }
        int perImage = units(s, 1);
        for (int n = 0; n < batch; n++) {
            pad(s, in, inOff + n * inImage(s), scratch);
            run(s, offs, scratch, 0, paddedW(s), 0, packed, bias, out, outOff + n * outImage(s), epilogue, 0,
                    perImage);
        }
    }

    /**
     * As {@link #conv}, the (image, pair of output blocks, pixel tile) units split over the pool's threads when the
     * call is big enough (a padded convolution pads and splits one image at a time). Each output pixel is computed
     * and written by one unit, the same way whatever the split, so the result does not depend on the thread count.
     */
    public static void conv(ConvShape s, int batch, float[] in, int inOff, float[] packed, float[] bias, float[] out,
                            int outOff, float[] scratch, Epilogue epilogue, WorkerPool pool) {
        check(s, packed, scratch);
        if (pool.threads() == 1 || multiplyAdds(s, batch) < THREADING_FMAS) {
            conv(s, batch, in, inOff, packed, bias, out, outOff, scratch, epilogue);
            return;
        }
        int[] offs = offsets(s);
        ConvTask task = TASKS.get();
        try {
            if (!padded(s)) {
                task.set(s, offs, in, inOff, s.w(), packed, bias, out, outOff, epilogue);
                pool.parallelFor(units(s, batch), task);
                return;
            }
            for (int n = 0; n < batch; n++) {
                pad(s, in, inOff + n * inImage(s), scratch);
                task.set(s, offs, scratch, 0, paddedW(s), packed, bias, out, outOff + n * outImage(s), epilogue);
                pool.parallelFor(units(s, 1), task);
            }
        } finally {
            task.clear();
        }
    }

    /** Vector multiply-adds of a call (each one {@code block} lanes wide), padding channels included. */
    public static long multiplyAdds(ConvShape s, int batch) {
        int b = S.length();
        return (long) batch * Nchwc.blocks(s.m(), b) * Nchwc.blocks(s.c(), b) * b * s.kh() * s.kw() * s.outH()
                * s.outW();
    }

    private static void check(ConvShape s, float[] packed, float[] scratch) {
        requireGroupOne(s);
        if (packed.length != packedLength(s, S.length())) {
            throw new IllegalArgumentException("NCHWc weights of " + packed.length + " floats for " + s + " at block "
                    + S.length() + " (expected " + packedLength(s, S.length()) + "): packed for another vector width?");
        }
        int need = scratchLength(s, S.length());
        if (need > 0 && (scratch == null || scratch.length < need)) {
            throw new IllegalArgumentException("NCHWc conv " + s + " needs " + need + " floats of scratch, got "
                    + (scratch == null ? "none" : scratch.length));
        }
    }

    private static void requireGroupOne(ConvShape s) {
        if (s.group() != 1) {
            throw new IllegalArgumentException("NCHWc convolution takes group 1 only: " + s);
        }
    }

    private static int inImage(ConvShape s) {
        return Nchwc.imageLength(s.c(), s.h(), s.w(), S.length());
    }

    private static int outImage(ConvShape s) {
        return Nchwc.imageLength(s.m(), s.outH(), s.outW(), S.length());
    }

    /** Copies one NCHWc image into the middle of the zero-bordered scratch image (the border is rewritten too). */
    private static void pad(ConvShape s, float[] in, int inOff, float[] scratch) {
        int b = S.length();
        int cb = Nchwc.blocks(s.c(), b);
        int hp = paddedH(s);
        int wp = paddedW(s);
        int row = s.w() * b;
        for (int c = 0; c < cb; c++) {
            int dst = c * hp * wp * b;
            java.util.Arrays.fill(scratch, dst, dst + s.padTop() * wp * b, 0f);
            for (int y = 0; y < s.h(); y++) {
                int d = dst + ((s.padTop() + y) * wp) * b;
                java.util.Arrays.fill(scratch, d, d + s.padLeft() * b, 0f);
                System.arraycopy(in, inOff + (c * s.h() + y) * row, scratch, d + s.padLeft() * b, row);
                java.util.Arrays.fill(scratch, d + s.padLeft() * b + row, d + wp * b, 0f);
            }
            java.util.Arrays.fill(scratch, dst + (s.padTop() + s.h()) * wp * b, dst + hp * wp * b, 0f);
        }
    }

    /**
     * Offsets, from a pixel's first tap, of the first input value each tap (input block, ky, kx) reads, in the image
     * the kernel reads (the padded scratch when padded). Channel j of the block is at offset + j, and the weights
     * are read in step order at {@code step * block}, so the reduction is one loop over taps around a loop of constant
     * length over the block's channels, whose indices are affine (C2 hoists their bounds tests; a flat loop over a
     * per-step offset table measured 3-13 % slower).
     */
    private static int[] offsets(ConvShape s) {
        int[] offs = OFFSETS.get(s);
        if (offs == null) {
            int b = S.length();
            int cb = Nchwc.blocks(s.c(), b);
            int h = padded(s) ? paddedH(s) : s.h();
            int w = padded(s) ? paddedW(s) : s.w();
            offs = new int[cb * s.kh() * s.kw()];
            int k = 0;
            for (int c = 0; c < cb; c++) {
                for (int ky = 0; ky < s.kh(); ky++) {
                    for (int kx = 0; kx < s.kw(); kx++) {
                        offs[k++] = ((c * h + ky * s.dilationH()) * w + kx * s.dilationW()) * b;
                    }
                }
            }
            OFFSETS.putIfAbsent(s, offs);
        }
        return offs;
    }

    /** Tiles of {@value #TILE} output pixels per output plane (the plane's pixels in row-major order). */
    private static int tiles(ConvShape s) {
        return Math.ceilDiv(s.outH() * s.outW(), TILE);
    }

    /** Units of work: (image, pair of output blocks, pixel tile), the tile varying fastest (weights stay cached). */
    private static int units(ConvShape s, int batch) {
        return batch * Math.ceilDiv(Nchwc.blocks(s.m(), S.length()), 2) * tiles(s);
    }

    /**
     * Units [from, to) over images of {@code inImage} floats read with rows of {@code wd} pixels (0 for the one
     * padded image). A tile is {@value #TILE} consecutive pixels of the flattened output plane, so it may span rows
     * and a narrow plane wastes nothing; the plane's last tile is shifted back to end at the plane's end (it
     * recomputes pixels of its neighbour but stores only its own), and a plane of fewer pixels than a tile repeats
     * its last pixel.
     */
    private static void run(ConvShape s, int[] offs, float[] in, int inOff, int wd, int inPlane, float[] packed,
                            float[] bias, float[] out, int outOff, Epilogue ep, int from, int to) {
        int b = S.length();
        int mb = Nchwc.blocks(s.m(), b);
        int pairs = Math.ceilDiv(mb, 2);
        int cb = Nchwc.blocks(s.c(), b);
        int plane = s.outH() * s.outW();
        int tiles = tiles(s);
        int inImage = cb * b * inPlane;
        int outBlock = plane * b;
        int outImage = mb * outBlock;
        int wBlock = offs.length * b * b;
        boolean relu = ep.kind() == Epilogue.Kind.RELU;
        boolean finish = !relu && !ep.isNone();
        for (int u = from; u < to; u++) {
            int t = u % tiles;
            int ob = 2 * ((u / tiles) % pairs);
            int n = u / (tiles * pairs);
            int p0 = Math.max(0, Math.min(t * TILE, plane - TILE));
            int first = t * TILE - p0;
            int count = Math.min(TILE, plane - p0);
            int inBase = inOff + n * inImage;
            int outBase = outOff + n * outImage + ob * outBlock;
            int blocks = Math.min(2, mb - ob);
            int last = plane - 1;
            int i0 = inBase + origin(s, p0, wd);
            int i1 = inBase + origin(s, Math.min(p0 + 1, last), wd);
            int i2 = inBase + origin(s, Math.min(p0 + 2, last), wd);
            int i3 = inBase + origin(s, Math.min(p0 + 3, last), wd);
            int i4 = inBase + origin(s, Math.min(p0 + 4, last), wd);
            int i5 = inBase + origin(s, Math.min(p0 + 5, last), wd);
            if (blocks == 2) {
                tile2(offs, in, i0, i1, i2, i3, i4, i5, packed, ob * wBlock, wBlock, bias, ob * b, s.m(), out,
                        outBase + p0 * b, outBlock, first, count, relu);
            } else {
                tile1(offs, in, i0, i1, i2, i3, i4, i5, packed, ob * wBlock, bias, ob * b, s.m(), out,
                        outBase + p0 * b, first, count, relu);
            }
            if (finish) {
                finish(s, ep, out, outBase, outBlock, ob, blocks, p0 + first, p0 + count);
            }
        }
    }

    /** Offset of output pixel p's first tap in an image read with rows of {@code wd} pixels (padding included). */
    private static int origin(ConvShape s, int p, int wd) {
        return ((p / s.outW()) * s.strideH() * wd + (p % s.outW()) * s.strideW()) * S.length();
    }

    /** Applies a non-Relu epilogue to pixels [from, to) of the tile's blocks, then re-zeroes padding channels. */
    private static void finish(ConvShape s, Epilogue ep, float[] out, int outBase, int outBlock, int ob, int blocks,
                               int from, int to) {
        int b = S.length();
        for (int q = 0; q < blocks; q++) {
            int base = outBase + q * outBlock;
            ep.applyVectors(out, base + from * b, to - from);
            int real = s.m() - (ob + q) * b;
            if (real < b) {
                for (int p = from; p < to; p++) {
                    java.util.Arrays.fill(out, base + p * b + real, base + (p + 1) * b, 0f);
                }
            }
        }
    }

    /**
     * The register tile: {@value #TILE} pixels (first taps at i0..i5) x 2 output blocks = 12 accumulators, + 2
     * weight vectors + 1 broadcast within AVX2's 16 registers, over the reduction as taps x channels of a block:
     * per step two weight vectors (read in order) and one broadcast input value per pixel feeding both. Stores only the tile's
     * own pixels [first, count) at o (block o0) and o + outBlock (block o0 + block).
     */
    private static void tile2(int[] offs, float[] in, int i0, int i1, int i2, int i3, int i4, int i5, float[] w,
                              int wBase, int wBlock, float[] bias, int o0, int m, float[] out, int o, int outBlock,
                              int first, int count, boolean relu) {
        int b = S.length();
        FloatVector init0 = initial(bias, o0, m);
        FloatVector init1 = initial(bias, o0 + b, m);
        FloatVector a0 = init0, a1 = init0, a2 = init0, a3 = init0, a4 = init0, a5 = init0;
        FloatVector c0 = init1, c1 = init1, c2 = init1, c3 = init1, c4 = init1, c5 = init1;
        int wi = wBase;
        for (int tap = 0; tap < offs.length; tap++) {
            int off = offs[tap];
            for (int j = 0; j < b; j++) {
                FloatVector w0 = FloatVector.fromArray(S, w, wi);
                FloatVector w1 = FloatVector.fromArray(S, w, wi + wBlock);
                wi += b;
                FloatVector v = FloatVector.broadcast(S, in[i0 + off + j]);
                a0 = w0.fma(v, a0);
                c0 = w1.fma(v, c0);
                v = FloatVector.broadcast(S, in[i1 + off + j]);
                a1 = w0.fma(v, a1);
                c1 = w1.fma(v, c1);
                v = FloatVector.broadcast(S, in[i2 + off + j]);
                a2 = w0.fma(v, a2);
                c2 = w1.fma(v, c2);
                v = FloatVector.broadcast(S, in[i3 + off + j]);
                a3 = w0.fma(v, a3);
                c3 = w1.fma(v, c3);
                v = FloatVector.broadcast(S, in[i4 + off + j]);
                a4 = w0.fma(v, a4);
                c4 = w1.fma(v, c4);
                v = FloatVector.broadcast(S, in[i5 + off + j]);
                a5 = w0.fma(v, a5);
                c5 = w1.fma(v, c5);
            }
        }
        float floor = relu ? 0f : Float.NEGATIVE_INFINITY; // max(x, -inf) = x for every x, NaN included
        int o1 = o + outBlock;
        // Written out per pixel: a helper taking the vectors was left out of line by C2, which boxed them.
        if (first <= 0) {
            a0.max(floor).intoArray(out, o);
            c0.max(floor).intoArray(out, o1);
        }
        if (first <= 1 && count > 1) {
            a1.max(floor).intoArray(out, o + b);
            c1.max(floor).intoArray(out, o1 + b);
        }
        if (first <= 2 && count > 2) {
            a2.max(floor).intoArray(out, o + 2 * b);
            c2.max(floor).intoArray(out, o1 + 2 * b);
        }
        if (first <= 3 && count > 3) {
            a3.max(floor).intoArray(out, o + 3 * b);
            c3.max(floor).intoArray(out, o1 + 3 * b);
        }
        if (first <= 4 && count > 4) {
            a4.max(floor).intoArray(out, o + 4 * b);
            c4.max(floor).intoArray(out, o1 + 4 * b);
        }
        if (count > 5) {
            a5.max(floor).intoArray(out, o + 5 * b);
            c5.max(floor).intoArray(out, o1 + 5 * b);
        }
    }

    /** {@link #tile2} for a single (odd last) output block: {@value #TILE} pixels x 1 block. */
    private static void tile1(int[] offs, float[] in, int i0, int i1, int i2, int i3, int i4, int i5, float[] w,
                              int wBase, float[] bias, int o0, int m, float[] out, int o, int first, int count,
                              boolean relu) {
        int b = S.length();
        FloatVector init = initial(bias, o0, m);
        FloatVector a0 = init, a1 = init, a2 = init, a3 = init, a4 = init, a5 = init;
        int wi = wBase;
        for (int tap = 0; tap < offs.length; tap++) {
            int off = offs[tap];
            for (int j = 0; j < b; j++) {
                FloatVector w0 = FloatVector.fromArray(S, w, wi);
                wi += b;
                a0 = w0.fma(FloatVector.broadcast(S, in[i0 + off + j]), a0);
                a1 = w0.fma(FloatVector.broadcast(S, in[i1 + off + j]), a1);
                a2 = w0.fma(FloatVector.broadcast(S, in[i2 + off + j]), a2);
                a3 = w0.fma(FloatVector.broadcast(S, in[i3 + off + j]), a3);
                a4 = w0.fma(FloatVector.broadcast(S, in[i4 + off + j]), a4);
                a5 = w0.fma(FloatVector.broadcast(S, in[i5 + off + j]), a5);
            }
        }
        float floor = relu ? 0f : Float.NEGATIVE_INFINITY;
        if (first <= 0) {
            a0.max(floor).intoArray(out, o);
        }
        if (first <= 1 && count > 1) {
            a1.max(floor).intoArray(out, o + b);
        }
        if (first <= 2 && count > 2) {
            a2.max(floor).intoArray(out, o + 2 * b);
        }
        if (first <= 3 && count > 3) {
            a3.max(floor).intoArray(out, o + 3 * b);
        }
        if (first <= 4 && count > 4) {
            a4.max(floor).intoArray(out, o + 4 * b);
        }
        if (count > 5) {
            a5.max(floor).intoArray(out, o + 5 * b);
        }
    }

    /**
     * The accumulators' start: the bias of output channels o0.. (zero past m). Built inside each tile method, not
     * passed in: C2 intrinsifies vector operations only on values of a known exact vector class, and a FloatVector
     * parameter is not one (measured: passing it made the kernel 30x slower).
     */
    private static FloatVector initial(float[] bias, int o0, int m) {
        return bias == null ? FloatVector.zero(S) : FloatVector.fromArray(S, bias, o0, S.indexInRange(o0, m));
    }

    private static final ThreadLocal<ConvTask> TASKS = ThreadLocal.withInitial(ConvTask::new);

    /** The arguments of one threaded call, reused per calling thread (a capturing lambda would allocate per call). */
    private static final class ConvTask implements IntRangeBody {
        private ConvShape s;
        private int[] offs;
        private float[] in;
        private int inOff;
        private int wd;
        private float[] w;
        private float[] bias;
        private float[] out;
        private int outOff;
        private Epilogue ep;

        void set(ConvShape s, int[] offs, float[] in, int inOff, int wd, float[] w, float[] bias, float[] out,
                 int outOff, Epilogue ep) {
            this.s = s;
            this.offs = offs;
            this.in = in;
            this.inOff = inOff;
            this.wd = wd;
            this.w = w;
            this.bias = bias;
            this.out = out;
            this.outOff = outOff;
            this.ep = ep;
        }

        /** Drops the references so a finished call does not keep the caller's arrays alive. */
        void clear() {
            in = null;
            w = null;
            bias = null;
            out = null;
        }

        @Override
        public void run(int from, int to) {
            int inPlane = padded(s) ? 0 : s.h() * s.w(); // a padded call runs one image at a time
            NchwcConv.run(s, offs, in, inOff, wd, inPlane, w, bias, out, outOff, ep, from, to);
        }
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
