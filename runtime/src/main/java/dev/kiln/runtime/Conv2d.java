package dev.kiln.runtime;

import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * 2-D convolution of NCHW float32 images (ONNX Conv: strides, begin/end pads, dilations, groups) with bias and
 * activation fused, by one of two algorithms chosen from the shape alone (see {@link #algorithm}):
 *
 * <ul>
 *   <li>{@link Algorithm#DIRECT} (stride 1 along the width): the image is copied into a zero-padded scratch
 *       plane, then blocks of 4 output channels x 3 tiles (a tile = VL consecutive pixels of one output row)
 *       accumulate in 12 registers over every input channel and kernel tap, each tap one contiguous load per
 *       tile and one broadcast per output channel.</li>
 *   <li>{@link Algorithm#IM2COL}: per image and group, the patches are written straight into the
 *       {@code kiln.panel16.v1} layout (B = [cg*kh*kw, outH*outW]) and {@link Gemm} multiplies the weights
 *       (A = [M/group, cg*kh*kw], row-major) by them into the NCHW output rows, bias prefilled, activation in
 *       the GEMM epilogue.</li>
 * </ul>
 *
 * Weight layouts (docs/KERNELS.md, "Conv") depend on the algorithm, never on the vector width; {@link #packWeights}
 * writes the one {@link #conv} reads. {@link #convScalar} is the plain seven-loop twin for tests.
 */
public final class Conv2d {
    /** Algorithm of a convolution; a pure function of its {@link ConvShape}, so compile and run time agree. */
    public enum Algorithm { DIRECT, IM2COL }

    /** Packed-weight layout of the direct kernel. */
    public static final String DIRECT_LAYOUT = "kiln.conv.direct5.v1";
    /** Packed-weight layout of the im2col kernel: the ONNX weight tensor unchanged. */
    public static final String IM2COL_LAYOUT = "kiln.conv.rowmajor.v1";
    /** Output channels per weight block of the direct layout. */
    public static final int MB = 5;
    /** Below this many FLOPs (~20 µs) a call stays on the calling thread. */
    private static final double PARALLEL_MIN_FLOPS = 1_000_000;
    /** Widest vector the scratch geometry allows for, so scratch sizes do not depend on the machine. */
    private static final int MAX_VL = 16;

    /** The GEMM's species ({@link VectorWidth}). */
    private static final VectorSpecies<Float> S = GemmKernel.SPECIES;
    private static final int VL = S.length();
    /** Tiles per full block of MB channels: 4 where C2 has 32 vector registers ({@link VectorWidth#WIDE_REGISTERS}). */
    static final int BLOCK_TILES = VectorWidth.WIDE_REGISTERS ? 4 : 2;

    private Conv2d() {}

    /**
     * The algorithm for this shape (measured on the model layers, docs/BENCHMARKS.md and docs/KERNELS.md): the
     * direct kernel where the width is read with stride 1 and either the output rows are at least 8 pixels wide (a
     * full AVX2 vector: the direct kernel then wastes at most the overlap of a row's last vector, and it beat
     * im2col + GEMM 1.3x on cifar_cnn's conv2, 13 wide with 288 taps) or the convolution is grouped with fewer than
     * 8 output channels per group (depthwise: im2col's GEMM would have a single row, 4-9x slower on 4-14 wide
     * planes); im2col + GEMM otherwise. Narrow planes go to im2col however short the reduction: the direct kernel's
     * row vectors are then mostly tail (1x1 128 -> 512 on 7x7 ran 818 µs direct, 134 µs by im2col; 3x3 16 -> 16 on
     * 4x4 4.8 against 3.0 µs).
     */
    public static Algorithm algorithm(ConvShape s) {
        boolean depthwiseLike = s.group() > 1 && s.m() / s.group() < 8;
        return s.strideW() == 1 && (s.outW() >= 8 || depthwiseLike) ? Algorithm.DIRECT : Algorithm.IM2COL;
    }

    /**
     * The packed-weight layout {@link #conv} reads for this shape: {@link WinogradF4Conv#LAYOUT} where
     * {@link #winogradF4} takes the shape, else {@link WinogradConv#LAYOUT} where {@link WinogradConv#selected}
     * does, else that of {@link #algorithm}.
     */
    public static String layout(ConvShape s) {
        return winogradF4(s) ? WinogradF4Conv.LAYOUT : WinogradConv.selected(s) ? WinogradConv.LAYOUT
                : algorithm(s) == Algorithm.DIRECT ? DIRECT_LAYOUT : IM2COL_LAYOUT;
    }

    /**
     * Whether a shape {@link WinogradConv#selected} takes runs by F(4x4, 3x3) instead of F(2x2, 3x3): where it needs
     * fewer multiplies (its 4x4 tiles waste more of a ragged edge) and an image spans at least 4 of its tiles. F(4x4)'s
     * transformed weights are 36/9 of the kernel's, against 16/9 for F(2x2); with fewer tiles per image a batch-1
     * call streams them for too little work: cifar_cnn's conv3 (4x4 output, one tile) ran 14 µs by F(2x2) and 22 µs
     * by F(4x4) at batch 1, while conv2 (13x13, 16 tiles) ran 82 -> 79 µs, and 60 -> 42 µs with the max pool fused
     * (docs/BENCHMARKS.md).
     */
    static boolean winogradF4(ConvShape s) {
        if (!WinogradConv.selected(s)) {
            return false;
        }
        long tiles4 = (long) WinogradF4Conv.tilesH(s) * WinogradF4Conv.tilesW(s);
        long tiles2 = (long) WinogradConv.tilesH(s) * WinogradConv.tilesW(s);
        return tiles4 >= 4 && tiles4 * 36 < tiles2 * 16;
    }

    /**
     * Whether {@link #convMaxPool} fuses a following 2x2, stride-2, unpadded, floor-mode max pool into this shape's
     * kernel: the Winograd kernels, whose 2x2 (4x4) output tiles are one (four) pool windows, and the direct kernel
     * ({@link DirectMaxPool}), which pools its row pairs in registers; only pooled pixels are stored, and output rows
     * and columns no window reads are not computed. im2col + GEMM writes whole rows and does not fuse.
     */
    public static boolean fusesMaxPool(ConvShape s) {
        boolean kernel = WinogradConv.selected(s) || algorithm(s) == Algorithm.DIRECT;
        return kernel && s.outH() >= 2 && s.outW() >= 2;
    }

    /**
     * {@code out = maxPool2x2(ep(conv(in, w) + bias))} for a shape {@link #fusesMaxPool} takes: {@code out} is
     * [batch, M, outH / 2, outW / 2]; equal bit for bit to {@link #conv} followed by the pool.
     */
    public static void convMaxPool(ConvShape s, int batch, float[] in, int inOff, float[] packedWeights, float[] bias,
                                   float[] out, int outOff, float[] scratch, Epilogue ep) {
        requireFusedPool(s);
        if (winogradF4(s)) {
            WinogradF4Conv.convMaxPool(s, batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep);
        } else if (WinogradConv.selected(s)) {
            WinogradConv.convMaxPool(s, batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep);
        } else {
            check(s, Algorithm.DIRECT, true, batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep);
            for (int img = 0; img < batch; img++) {
                directPooled(s, in, inOff + img * s.inSize(), packedWeights, bias, out, outOff + img * pooledSize(s),
                        scratch, ep, 0, directUnits(s));
            }
        }
    }

    /**
     * As {@link #convMaxPool(ConvShape, int, float[], int, float[], float[], float[], int, float[], Epilogue)}, split
     * over the threads of {@code pool} as {@link #conv(ConvShape, int, float[], int, float[], float[], float[], int,
     * float[][], Epilogue, WorkerPool)} splits: a batch by images in balanced shares, a single image inside the kernel.
     */
    public static void convMaxPool(ConvShape s, int batch, float[] in, int inOff, float[] packedWeights, float[] bias,
                                   float[] out, int outOff, float[][] scratch, Epilogue ep, WorkerPool pool) {
        requireFusedPool(s);
        if (splitsBatch(s, batch, pool)) {
            checkSpans(s, batch, in, inOff, out, outOff, pooledSize(s));
            convImages(s, null, true, batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep, pool);
            return;
        }
        if (winogradF4(s)) {
            WinogradF4Conv.convMaxPool(s, batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep, pool);
        } else if (WinogradConv.selected(s)) {
            WinogradConv.convMaxPool(s, batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep, pool);
        } else if (pool.threads() == 1 || (double) s.flops() * batch < PARALLEL_MIN_FLOPS) {
            convMaxPool(s, batch, in, inOff, packedWeights, bias, out, outOff, scratch[0], ep);
        } else {
            // One image (splitsBatch took the rest): its blocks of output channels over the threads, as conv does.
            for (int t = 0; t < pool.threads(); t++) {
                check(s, Algorithm.DIRECT, true, batch, in, inOff, packedWeights, bias, out, outOff, scratch[t], ep);
            }
            if (!readsInPlace(s)) {
                pad(s, in, inOff, scratch[0]);
            }
            ConvTask task = CONV_TASKS.get();
            task.set(s, Algorithm.DIRECT, false, true, 0, 0, in, inOff, packedWeights, bias, out, outOff, scratch, ep);
            try {
                pool.parallelForBalanced(directUnits(s), task);
            } finally {
                task.clear();
            }
        }
    }

    /** Floats of one image's output of {@link #convMaxPool}: [M, outH / 2, outW / 2]. */
    private static int pooledSize(ConvShape s) {
        return s.m() * (s.outH() / 2) * (s.outW() / 2);
    }

    private static void requireFusedPool(ConvShape s) {
        if (!fusesMaxPool(s)) {
            throw new IllegalArgumentException("conv " + s + ": no kernel fuses a max pool into this shape");
        }
    }

    /** Packs ONNX weights [M, C/group, kh, kw] for {@link #conv} (run at compile time). */
    public static float[] packWeights(float[] w, ConvShape s) {
        if (winogradF4(s)) {
            return WinogradF4Conv.packWeights(w, s);
        }
        if (WinogradConv.selected(s)) {
            return WinogradConv.packWeights(w, s);
        }
        return packWeights(w, s, algorithm(s));
    }

    static float[] packWeights(float[] w, ConvShape s, Algorithm a) {
        Objects.requireNonNull(w, "w");
        if (w.length != s.weightLength()) {
            throw new IllegalArgumentException("conv " + s + ": weights have " + w.length + " floats, expected "
                    + s.weightLength() + " = [" + s.m() + ", " + s.cg() + ", " + s.kh() + ", " + s.kw() + "]");
        }
        if (a == Algorithm.IM2COL) {
            return w.clone();
        }
        float[] p = new float[s.group() * Math.ceilDiv(s.mg(), MB) * s.kernelVolume() * MB];
        packDirect(w, 0, s, p);
        return p;
    }

    /** Floats of {@link #packWeights}'s result for this shape. */
    public static int packedWeightLength(ConvShape s) {
        if (winogradF4(s)) {
            return WinogradF4Conv.packedWeightLength(s);
        }
        if (WinogradConv.selected(s)) {
            return WinogradConv.packedWeightLength(s);
        }
        return algorithm(s) == Algorithm.IM2COL ? s.weightLength()
                : s.group() * Math.ceilDiv(s.mg(), MB) * s.kernelVolume() * MB;
    }

    /**
     * Packs ONNX weights [M, C/group, kh, kw] from {@code w[wOff..]} into {@code p} (exactly
     * {@link #packedWeightLength} floats) without allocating: for training, where the weights change every step.
     */
    public static void packWeights(float[] w, int wOff, ConvShape s, float[] p) {
        if (winogradF4(s)) {
            WinogradF4Conv.packWeights(w, wOff, s, p);
            return;
        }
        if (WinogradConv.selected(s)) {
            WinogradConv.packWeights(w, wOff, s, p);
            return;
        }
        Objects.requireNonNull(w, "w");
        if (wOff < 0 || (long) wOff + s.weightLength() > w.length || p.length != packedWeightLength(s)) {
            throw new IllegalArgumentException("conv " + s + ": weights need " + s.weightLength() + " floats from "
                    + wOff + " (array has " + w.length + "), packed " + packedWeightLength(s) + " (got " + p.length + ")");
        }
        if (algorithm(s) == Algorithm.IM2COL) {
            System.arraycopy(w, wOff, p, 0, s.weightLength());
        } else {
            packDirect(w, wOff, s, p);
        }
    }

    private static void packDirect(float[] w, int wOff, ConvShape s, float[] p) {
        int kv = s.kernelVolume();
        int blocks = Math.ceilDiv(s.mg(), MB);
        for (int g = 0; g < s.group(); g++) {
            for (int b = 0; b < blocks; b++) {
                int base = (g * blocks + b) * kv * MB;
                for (int j = 0; j < MB && b * MB + j < s.mg(); j++) {
                    int row = wOff + (g * s.mg() + b * MB + j) * kv;
                    for (int k = 0; k < kv; k++) {
                        p[base + k * MB + j] = w[row + k];
                    }
                }
            }
        }
    }

    /** Floats of scratch {@link #conv} needs for this shape (independent of the batch and the vector width). */
    public static int scratchLength(ConvShape s) {
        if (winogradF4(s)) {
            return WinogradF4Conv.scratchLength(s);
        }
        if (WinogradConv.selected(s)) {
            return WinogradConv.scratchLength(s);
        }
        return scratchLength(s, algorithm(s));
    }

    static int scratchLength(ConvShape s, Algorithm a) {
        if (a == Algorithm.IM2COL) {
            return PackedMatrix.packedLength(s.kernelVolume(), s.outH() * s.outW());
        }
        return paddedLength(s) + (fusesMaxPool(s) ? DirectMaxPool.rowsLength(s) : 0);
    }

    /** Floats of the direct kernel's zero-padded copy of one image, at the start of its scratch. */
    private static int paddedLength(ConvShape s) {
        return s.c() * paddedHeight(s) * paddedWidth(s);
    }

    /**
     * {@code out = ep(conv(in, w) + bias)} for {@code batch} images.
     *
     * @param in images [batch, C, H, W] from {@code inOff}
     * @param packedWeights from {@link #packWeights}
     * @param bias M floats, or null
     * @param out [batch, M, outH, outW] from {@code outOff}
     * @param scratch exactly {@link #scratchLength} floats, overwritten
     */
    public static void conv(ConvShape s, int batch, float[] in, int inOff, float[] packedWeights, float[] bias,
                            float[] out, int outOff, float[] scratch, Epilogue ep) {
        if (winogradF4(s)) {
            WinogradF4Conv.conv(s, batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep);
            return;
        }
        if (WinogradConv.selected(s)) {
            WinogradConv.conv(s, batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep);
            return;
        }
        conv(s, algorithm(s), batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep);
    }

    static void conv(ConvShape s, Algorithm a, int batch, float[] in, int inOff, float[] packedWeights, float[] bias,
                     float[] out, int outOff, float[] scratch, Epilogue ep) {
        check(s, a, batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep);
        for (int img = 0; img < batch; img++) {
            int io = inOff + img * s.inSize();
            int oo = outOff + img * s.outSize();
            if (a == Algorithm.DIRECT) {
                direct(s, in, io, packedWeights, bias, out, oo, scratch, ep, 0, directUnits(s));
            } else {
                for (int g = 0; g < s.group(); g++) {
                    im2col(s, in, io, g, scratch);
                    im2colGemm(s, packedWeights, bias, out, oo, g, scratch, ep, null);
                }
            }
        }
    }

    /**
     * As {@link #conv(ConvShape, int, float[], int, float[], float[], float[], int, float[], Epilogue)}, split over
     * the threads of {@code pool}, each working in its own scratch. A batch is split by images whatever the
     * kernel (Winograd included), each thread starting on an even share of the images and taking single images
     * from another's share once done with its own ({@link WorkerPool#parallelForBalanced}): both threads finish
     * together even when one starts late, and a thread keeps its images from layer to layer; each run is the
     * single-thread kernel over its images. A single image is split by blocks of output channels (direct),
     * inside the GEMM (im2col) or by the Winograd kernel's tiles. Work below ~20 µs stays on the caller. Every
     * output is computed by the same code in the same order whoever runs it (an image gives the same bits alone
     * or in a batch), so results do not depend on the pool.
     *
     * @param scratch one array of exactly {@link #scratchLength} floats per thread of the pool
     */
    public static void conv(ConvShape s, int batch, float[] in, int inOff, float[] packedWeights, float[] bias,
                            float[] out, int outOff, float[][] scratch, Epilogue ep, WorkerPool pool) {
        if (splitsBatch(s, batch, pool)) {
            // Checked here so a bad argument fails on the caller with the whole batch named, not in a run.
            if (!WinogradConv.selected(s)) {
                for (int t = 0; t < pool.threads() && t < scratch.length; t++) {
                    check(s, algorithm(s), batch, in, inOff, packedWeights, bias, out, outOff, scratch[t], ep);
                }
            } else {
                checkSpans(s, batch, in, inOff, out, outOff, s.outSize());
            }
            convImages(s, null, false, batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep, pool);
            return;
        }
        if (winogradF4(s)) {
            WinogradF4Conv.conv(s, batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep, pool);
            return;
        }
        if (WinogradConv.selected(s)) {
            if (batch * WinogradConv.tilesH(s) * WinogradConv.tilesW(s) < pool.threads() * GemmKernel.MR) {
                // Less than a GEMM row tile of tiles per thread: each thread would stream all the weights for a
                // part-filled row tile, about as long as one thread doing all of them (cifar_cnn's conv3, batch 1).
                WinogradConv.conv(s, batch, in, inOff, packedWeights, bias, out, outOff, scratch[0], ep);
            } else {
                WinogradConv.conv(s, batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep, pool);
            }
            return;
        }
        conv(s, algorithm(s), batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep, pool);
    }

    static void conv(ConvShape s, Algorithm a, int batch, float[] in, int inOff, float[] w, float[] bias,
                     float[] out, int outOff, float[][] scratch, Epilogue ep, WorkerPool pool) {
        Objects.requireNonNull(pool, "pool");
        if (scratch.length < pool.threads()) {
            throw new IllegalArgumentException("conv " + s + ": " + scratch.length + " scratch arrays for "
                    + pool.threads() + " threads");
        }
        for (int t = 0; t < pool.threads(); t++) {
            check(s, a, batch, in, inOff, w, bias, out, outOff, scratch[t], ep);
        }
        if (splitsBatch(s, batch, pool)) {
            convImages(s, a, false, batch, in, inOff, w, bias, out, outOff, scratch, ep, pool);
        } else if (pool.threads() == 1 || (double) s.flops() * batch < PARALLEL_MIN_FLOPS) {
            conv(s, a, batch, in, inOff, w, bias, out, outOff, scratch[0], ep);
        } else if (a == Algorithm.DIRECT) {
            if (!readsInPlace(s)) {
                pad(s, in, inOff, scratch[0]);
            }
            ConvTask task = CONV_TASKS.get();
            task.set(s, a, false, false, 0, 0, in, inOff, w, bias, out, outOff, scratch, ep);
            try {
                pool.parallelForBalanced(directUnits(s), task);
            } finally {
                task.clear();
            }
        } else {
            for (int g = 0; g < s.group(); g++) {
                im2col(s, in, inOff, g, scratch[0]);
                im2colGemm(s, w, bias, out, outOff, g, scratch[0], ep, pool);
            }
        }
    }

    /** Whether a call splits its batch by images: several images, several threads, more than ~20 µs of work. */
    private static boolean splitsBatch(ConvShape s, int batch, WorkerPool pool) {
        return batch > 1 && pool.threads() > 1 && (double) s.flops() * batch >= PARALLEL_MIN_FLOPS;
    }

    /**
     * The batch split by images over {@code pool}: each run of images is the single-thread kernel of algorithm
     * {@code a}, or with {@code a == null} of the shape ({@link #conv(ConvShape, int, float[], int, float[],
     * float[], float[], int, float[], Epilogue)}: Winograd where selected; with {@code maxPool}, {@link
     * #convMaxPool}), in the running thread's scratch. A
     * Winograd work unit is enough whole images for 4 GEMM row tiles of tiles (cifar_cnn's conv3 has 4 tiles an
     * image: single images would make 4-row GEMMs).
     */
    private static void convImages(ConvShape s, Algorithm a, boolean maxPool, int batch, float[] in, int inOff, float[] w,
                                   float[] bias, float[] out, int outOff, float[][] scratch, Epilogue ep,
                                   WorkerPool pool) {
        if (scratch.length < pool.threads()) {
            throw new IllegalArgumentException("conv " + s + ": " + scratch.length + " scratch arrays for "
                    + pool.threads() + " threads");
        }
        int perUnit = a == null && WinogradConv.selected(s)
                ? Math.ceilDiv(4 * GemmKernel.MR, WinogradConv.tilesH(s) * WinogradConv.tilesW(s)) : 1;
        ConvTask task = CONV_TASKS.get();
        task.set(s, a, true, maxPool, batch, perUnit, in, inOff, w, bias, out, outOff, scratch, ep);
        try {
            pool.parallelForBalanced(Math.ceilDiv(batch, perUnit), task);
        } finally {
            task.clear();
        }
    }

    private static final ThreadLocal<ConvTask> CONV_TASKS = ThreadLocal.withInitial(ConvTask::new);

    /**
     * The arguments of one threaded convolution, reused per calling thread (a capturing lambda per call
     * allocated 40 B each time). By images, an index is a unit of {@code perUnit} images (the last maybe fewer),
     * computed by the single-thread kernel in the running thread's scratch; otherwise an index is a
     * direct-kernel unit of the single image, already padded into scratch[0] (read only).
     */
    private static final class ConvTask implements ThreadRangeBody {
        private ConvShape s;
        /** The kernel, or null for the one the shape selects. */
        private Algorithm a;
        private boolean byImages;
        /** Through {@link #convMaxPool}: by images, an image's output is {@link #pooledSize} floats. */
        private boolean maxPool;
        private int batch;
        private int perUnit;
        private float[] in;
        private int inOff;
        private float[] w;
        private float[] bias;
        private float[] out;
        private int outOff;
        private float[][] scratch;
        private Epilogue ep;

        void set(ConvShape s, Algorithm a, boolean byImages, boolean maxPool, int batch, int perUnit, float[] in,
                 int inOff, float[] w, float[] bias, float[] out, int outOff, float[][] scratch, Epilogue ep) {
            this.s = s;
            this.a = a;
            this.byImages = byImages;
            this.maxPool = maxPool;
            this.batch = batch;
            this.perUnit = perUnit;
            this.in = in;
            this.inOff = inOff;
            this.w = w;
            this.bias = bias;
            this.out = out;
            this.outOff = outOff;
            this.scratch = scratch;
            this.ep = ep;
        }

        /** Drops the references so a finished call does not keep the caller's arrays alive. */
        void clear() {
            in = null;
            w = null;
            bias = null;
            out = null;
            scratch = null;
        }

        @Override
        public void run(int thread, int from, int to) {
            if (byImages) {
                int i0 = from * perUnit;
                int n = Math.min(batch, to * perUnit) - i0;
                int io = inOff + i0 * s.inSize();
                int oo = outOff + i0 * (maxPool ? pooledSize(s) : s.outSize());
                if (maxPool) {
                    convMaxPool(s, n, in, io, w, bias, out, oo, scratch[thread], ep);
                } else if (a == null) {
                    conv(s, n, in, io, w, bias, out, oo, scratch[thread], ep);
                } else {
                    conv(s, a, n, in, io, w, bias, out, oo, scratch[thread], ep);
                }
            } else if (maxPool) {
                float[] x = readsInPlace(s) ? in : scratch[0];
                int xOff = readsInPlace(s) ? inOff : 0;
                int wp = readsInPlace(s) ? s.w() : paddedWidth(s);
                int plane = readsInPlace(s) ? s.h() * s.w() : paddedHeight(s) * paddedWidth(s);
                DirectMaxPool.image(s, w, bias, out, outOff, x, xOff, wp, plane, ep, from, to, scratch[thread],
                        paddedLength(s));
            } else if (readsInPlace(s)) {
                directImage(s, w, bias, out, outOff, in, inOff, s.w(), s.h() * s.w(), ep, from, to);
            } else {
                directImage(s, w, bias, out, outOff, scratch[0], 0, paddedWidth(s),
                        paddedHeight(s) * paddedWidth(s), ep, from, to);
            }
        }
    }

    /**
     * Plain twin: the seven ONNX loops (image, output channel, output row and column, input channel of the
     * group, kernel row and column), summed in double, then bias and the activation.
     *
     * @param w ONNX weights [M, C/group, kh, kw] (not packed)
     */
    public static void convScalar(ConvShape s, int batch, float[] in, int inOff, float[] w, float[] bias,
                                  float[] out, int outOff, Epilogue ep) {
        int outH = s.outH();
        int outW = s.outW();
        for (int n = 0; n < batch; n++) {
            for (int m = 0; m < s.m(); m++) {
                int g = m / s.mg();
                for (int oy = 0; oy < outH; oy++) {
                    for (int ox = 0; ox < outW; ox++) {
                        double sum = bias == null ? 0 : bias[m];
                        for (int c = 0; c < s.cg(); c++) {
                            int ch = g * s.cg() + c;
                            for (int ky = 0; ky < s.kh(); ky++) {
                                int iy = oy * s.strideH() - s.padTop() + ky * s.dilationH();
                                for (int kx = 0; kx < s.kw(); kx++) {
                                    int ix = ox * s.strideW() - s.padLeft() + kx * s.dilationW();
                                    if (iy >= 0 && iy < s.h() && ix >= 0 && ix < s.w()) {
                                        sum += (double) in[inOff + ((n * s.c() + ch) * s.h() + iy) * s.w() + ix]
                                                * w[((m * s.cg() + c) * s.kh() + ky) * s.kw() + kx];
                                    }
                                }
                            }
                        }
                        out[outOff + ((n * s.m() + m) * outH + oy) * outW + ox] = ep.apply((float) sum);
                    }
                }
            }
        }
    }

    // ---- direct kernel -------------------------------------------------------------------------------------

    /** Width of a padded scratch row: every tap of the last, possibly partial, vector of a row stays inside it. */
    static int paddedWidth(ConvShape s) {
        return Math.ceilDiv(s.outW(), MAX_VL) * MAX_VL + (s.kw() - 1) * s.dilationW();
    }

    /** Rows of a padded scratch plane: the last row any output row reads, plus one. */
    static int paddedHeight(ConvShape s) {
        return (s.outH() - 1) * s.strideH() + (s.kh() - 1) * s.dilationH() + 1;
    }

    /** Vectors per output row. */
    private static int rowVectors(ConvShape s) {
        return Math.ceilDiv(s.outW(), VL);
    }

    /** Work units of one image: (group, block of MB output channels). */
    static int directUnits(ConvShape s) {
        return s.group() * Math.ceilDiv(s.mg(), MB);
    }

    /**
     * Whether the direct kernel reads the image where it is instead of a padded copy: without padding, with
     * rows at least a vector wide (a row's last vector is shifted to end at the row's end), no tap of any tile
     * leaves its input row or plane. The copy was 5-10 % of the models' direct layers.
     */
    private static boolean readsInPlace(ConvShape s) {
        return s.padTop() == 0 && s.padLeft() == 0 && s.padBottom() == 0 && s.padRight() == 0 && s.outW() >= VL;
    }

    /** Units {@code [u0, u1)} of the image at {@code io}, from the image itself or from its padded copy. */
    private static void direct(ConvShape s, float[] in, int io, float[] w, float[] bias, float[] out, int oo,
                               float[] scratch, Epilogue ep, int u0, int u1) {
        if (readsInPlace(s)) {
            directImage(s, w, bias, out, oo, in, io, s.w(), s.h() * s.w(), ep, u0, u1);
        } else {
            pad(s, in, io, scratch);
            directImage(s, w, bias, out, oo, scratch, 0, paddedWidth(s), paddedHeight(s) * paddedWidth(s), ep, u0, u1);
        }
    }

    /** As {@link #direct}, pooled ({@link DirectMaxPool}): units {@code [u0, u1)} into the pooled planes at {@code oo}. */
    private static void directPooled(ConvShape s, float[] in, int io, float[] w, float[] bias, float[] out, int oo,
                                     float[] scratch, Epilogue ep, int u0, int u1) {
        if (readsInPlace(s)) {
            DirectMaxPool.image(s, w, bias, out, oo, in, io, s.w(), s.h() * s.w(), ep, u0, u1, scratch,
                    paddedLength(s));
        } else {
            pad(s, in, io, scratch);
            DirectMaxPool.image(s, w, bias, out, oo, scratch, 0, paddedWidth(s), paddedHeight(s) * paddedWidth(s), ep,
                    u0, u1, scratch, paddedLength(s));
        }
    }

    /**
     * Output rows {@code y0} and {@code y0 + 1}, the first reading its window from {@code x[top..]}, for the
     * {@code mCount} output channels from {@code m0} whose packed weights start at {@code wOff}: with bias and
     * activation, into {@code rows[r..]} as [mCount][2][outW]. The same blocks and FMA chains as {@link
     * #directImage}, for {@link DirectMaxPool}'s narrow planes; {@code offs} is the caller's {@link #tapOffsets}.
     */
    static void directRows(ConvShape s, int[] offs, float[] w, int wOff, float[] x, int top, int y0, int wp, int plane,
                           float[] bias, int m0, int mCount, Epilogue ep, float[] rows, int r) {
        int outW = s.outW();
        int rowStep = s.strideH() * wp;
        int n = 2 * outW;
        boolean relu = ep.kind() == Epilogue.Kind.RELU;
        if (outW < VL) {
            for (int y = 0; y < 2; y++) {
                block5x1(s, w, wOff, x, top + y * rowStep, wp, plane, 0, bias, m0, mCount, rows, r + y * outW, n, relu);
            }
        } else {
            int xb = rowVectors(s);
            fullBlocks(offs, s.kernelVolume(), w, wOff, x, top, rowStep, xb, 2 * xb, outW, bias, m0, mCount, rows, r,
                    n, relu);
        }
        if (!ep.isNone() && !relu) {
            int bound = S.loopBound(s.outH() * outW);
            for (int j = 0; j < mCount; j++) {
                for (int y = 0; y < 2; y++) {
                    activateRow(rows, r + j * n + y * outW, (y0 + y) * outW, outW, bound, ep);
                }
            }
        }
    }

    /**
     * Applies the activation to the {@code len} floats at {@code at}, plane pixels {@code [q, q + len)}, each by the
     * path {@link #activate} takes for it over the whole plane (vector below {@code bound}, scalar from there), so
     * a row activated alone gets the same bits as in its plane.
     */
    private static void activateRow(float[] buf, int at, int q, int len, int bound, Epilogue ep) {
        int vector = Math.max(0, Math.min(len, bound - q));
        int j = vector / VL * VL;
        ep.applyVectors(buf, at, j / VL);
        if (j < vector) {
            // A partial vector: the whole vector activated in place by the row form (the rows' scratch has a vector
            // to spare past the last row, DirectMaxPool.rowsLength), then the lanes past the row's vector part put
            // back. Epilogue.apply(FloatVector) would hand the vector to VectorMath's functions, which box where C2
            // does not inline them.
            FloatVector before = FloatVector.fromArray(S, buf, at + j);
            ep.applyVectors(buf, at + j, 1);
            FloatVector.fromArray(S, buf, at + j).blend(before, S.indexInRange(j, vector).not()).intoArray(buf, at + j);
        }
        for (j = vector; j < len; j++) {
            buf[at + j] = ep.apply(buf[at + j]);
        }
    }

    /** Copies one image into the zero-padded planes of scratch. */
    private static void pad(ConvShape s, float[] in, int io, float[] x) {
        int wp = paddedWidth(s);
        int hp = paddedHeight(s);
        java.util.Arrays.fill(x, 0, s.c() * hp * wp, 0f);
        int rows = Math.min(s.h(), hp - s.padTop());
        for (int c = 0; c < s.c(); c++) {
            for (int y = 0; y < rows; y++) {
                System.arraycopy(in, io + (c * s.h() + y) * s.w(), x, (c * hp + y + s.padTop()) * wp + s.padLeft(),
                        s.w());
            }
        }
    }

    /**
     * Computes units {@code [u0, u1)} of one image read from {@code x} (planes of {@code plane} floats, rows of
     * {@code wp}, from {@code xOff}: the image itself or its padded copy). A unit is a block of MB output channels;
     * its output planes are cut into tiles of VL consecutive pixels of one row (a row's last tile is shifted left
     * to end at the row's end, overlapping its neighbour, so every store is a full vector), and the tiles are
     * taken two at a time whichever rows they lie in, so narrow outputs (8 pixels wide) still fill the block.
     * Planes narrower than a vector use a masked one-vector block. Relu runs in registers; other activations run
     * over the unit's planes afterwards, once per pixel, while they are in cache (applying them in the register
     * block would pass vectors to a method too large to inline, and a vector that leaves compiled code is boxed).
     */
    static void directImage(ConvShape s, float[] w, float[] bias, float[] out, int oo, float[] x, int xOff, int wp,
                            int plane, Epilogue ep, int u0, int u1) {
        int blocks = Math.ceilDiv(s.mg(), MB);
        int outH = s.outH();
        int outW = s.outW();
        int n = outH * outW;
        int kv = s.kernelVolume();
        int xb = rowVectors(s);
        int tiles = outH * xb;
        int rowStep = s.strideH() * wp;
        int[] offs = tapOffsets(s, wp, plane);
        boolean relu = ep.kind() == Epilogue.Kind.RELU;
        for (int u = u0; u < u1; u++) {
            int g = u / blocks;
            int b = u % blocks;
            int m0 = g * s.mg() + b * MB;
            int mCount = Math.min(MB, s.mg() - b * MB);
            int wOff = u * kv * MB;
            int gOff = xOff + g * s.cg() * plane;
            int base = oo + m0 * n;
            if (outW < VL) {
                for (int oy = 0; oy < outH; oy++) {
                    block5x1(s, w, wOff, x, gOff + oy * rowStep, wp, plane, 0, bias, m0, mCount, out,
                            base + oy * outW, n, relu);
                }
            } else if (mCount <= 2) {
                for (int t = 0; t < tiles; t += 4) {
                    int t1 = Math.min(t + 1, tiles - 1);
                    int t2 = Math.min(t + 2, tiles - 1);
                    int t3 = Math.min(t + 3, tiles - 1);
                    int i0 = gOff + t / xb * rowStep + tileX(t, xb, outW);
                    int i1 = gOff + t1 / xb * rowStep + tileX(t1, xb, outW);
                    int i2 = gOff + t2 / xb * rowStep + tileX(t2, xb, outW);
                    int i3 = gOff + t3 / xb * rowStep + tileX(t3, xb, outW);
                    block2x4(offs, kv, w, wOff, x, i0, i1, i2, i3, bias, m0, mCount, out,
                            base + t / xb * outW + tileX(t, xb, outW), base + t1 / xb * outW + tileX(t1, xb, outW),
                            base + t2 / xb * outW + tileX(t2, xb, outW), base + t3 / xb * outW + tileX(t3, xb, outW),
                            n, relu);
                }
            } else {
                fullBlocks(offs, kv, w, wOff, x, gOff, rowStep, xb, tiles, outW, bias, m0, mCount, out, base, n, relu);
            }
            if (!ep.isNone() && !relu) {
                for (int j = 0; j < mCount; j++) {
                    activate(out, base + j * n, n, ep);
                }
            }
        }
    }

    /**
     * Tiles {@code [0, tiles)} ({@code xb} per row) of a block of up to MB channels: four at a time where there are
     * registers for it ({@link #BLOCK_TILES}), the rest two at a time, a last odd one twice (same values, stored
     * twice).
     */
    private static void fullBlocks(int[] offs, int kv, float[] w, int wOff, float[] x, int xOff, int rowStep, int xb,
                                   int tiles, int outW, float[] bias, int m0, int mCount, float[] out, int base, int n,
                                   boolean relu) {
        int t = 0;
        if (BLOCK_TILES == 4 && mCount > 2) {
            for (; t + 3 < tiles; t += 4) {
                block5x4(offs, kv, w, wOff, x, xOff + tileIn(t, xb, outW, rowStep),
                        xOff + tileIn(t + 1, xb, outW, rowStep), xOff + tileIn(t + 2, xb, outW, rowStep),
                        xOff + tileIn(t + 3, xb, outW, rowStep), bias, m0, mCount, out,
                        base + tileOut(t, xb, outW), base + tileOut(t + 1, xb, outW), base + tileOut(t + 2, xb, outW),
                        base + tileOut(t + 3, xb, outW), n, relu);
            }
        }
        for (; t < tiles; t += 2) {
            int t1 = Math.min(t + 1, tiles - 1);
            block5x2(offs, kv, w, wOff, x, xOff + tileIn(t, xb, outW, rowStep), xOff + tileIn(t1, xb, outW, rowStep),
                    bias, m0, mCount, out, base + tileOut(t, xb, outW), base + tileOut(t1, xb, outW), n, relu);
        }
    }

    /** Offset of tile t's first window in its input rows ({@code rowStep} apart). */
    private static int tileIn(int t, int xb, int outW, int rowStep) {
        return t / xb * rowStep + tileX(t, xb, outW);
    }

    /** Offset of tile t's first pixel in its output plane. */
    private static int tileOut(int t, int xb, int outW) {
        return t / xb * outW + tileX(t, xb, outW);
    }

    /** First column of tile t of its row: VL per tile, the row's last tile ending at the row's end. */
    private static int tileX(int t, int xb, int outW) {
        return Math.min((t % xb) * VL, outW - VL);
    }

    /** Per-thread table of tap offsets, grown on demand so steady-state calls allocate nothing. */
    private static final ThreadLocal<int[][]> TAPS = ThreadLocal.withInitial(() -> new int[1][0]);

    /**
     * Offset of each tap (channel of the group, ky, kx) from a window's first input in the padded scratch, so the
     * main block runs one flat loop over the taps instead of three nested short ones (kw is 3 or 5 in the models;
     * measured 10-30% faster on them, within the noise of the shared machine).
     */
    static int[] tapOffsets(ConvShape s, int wp, int plane) {
        int[][] holder = TAPS.get();
        if (holder[0].length < s.kernelVolume()) {
            holder[0] = new int[s.kernelVolume()];
        }
        int[] offs = holder[0];
        int k = 0;
        for (int c = 0; c < s.cg(); c++) {
            for (int ky = 0; ky < s.kh(); ky++) {
                for (int kx = 0; kx < s.kw(); kx++) {
                    offs[k++] = c * plane + ky * s.dilationH() * wp + kx * s.dilationW();
                }
            }
        }
        return offs;
    }

    /**
     * Two full-vector tiles (input offsets i0, i1; output offsets o0, o1) for MB = 5 output channels: 10
     * accumulators + 2 input vectors leave 4 of AVX2's 16 vector registers for the weight broadcasts, which C2
     * hoists three at a time. A 4 x 3 block (12 + 3 + 1) and a 6 x 2 block (12 + 2 + 3) both made C2 spill an
     * accumulator to the stack inside the tap loop, a store-to-load round trip per tap in an FMA chain: the 5 x 2
     * block runs 1.5-2.2x faster on the models' layers (docs/BENCHMARKS.md). Relu is applied in registers;
     * other activations run afterwards over the planes.
     */
    static void block5x2(int[] offs, int taps, float[] w, int wOff, float[] x, int i0, int i1,
                                 float[] bias, int m0, int mCount, float[] out, int o0, int o1, int n, boolean relu) {
        FloatVector a00 = FloatVector.zero(S), a01 = a00;
        FloatVector a10 = a00, a11 = a00;
        FloatVector a20 = a00, a21 = a00;
        FloatVector a30 = a00, a31 = a00;
        FloatVector a40 = a00, a41 = a00;
        int wi = wOff;
        for (int k = 0; k < taps; k++) {
            int off = offs[k];
            FloatVector v0 = FloatVector.fromArray(S, x, i0 + off);
            FloatVector v1 = FloatVector.fromArray(S, x, i1 + off);
            FloatVector wv = FloatVector.broadcast(S, w[wi]);
            a00 = v0.fma(wv, a00);
            a01 = v1.fma(wv, a01);
            wv = FloatVector.broadcast(S, w[wi + 1]);
            a10 = v0.fma(wv, a10);
            a11 = v1.fma(wv, a11);
            wv = FloatVector.broadcast(S, w[wi + 2]);
            a20 = v0.fma(wv, a20);
            a21 = v1.fma(wv, a21);
            wv = FloatVector.broadcast(S, w[wi + 3]);
            a30 = v0.fma(wv, a30);
            a31 = v1.fma(wv, a31);
            wv = FloatVector.broadcast(S, w[wi + 4]);
            a40 = v0.fma(wv, a40);
            a41 = v1.fma(wv, a41);
            wi += MB;
        }
        float floor = relu ? 0f : Float.NEGATIVE_INFINITY; // max(x, -inf) = x for every x, NaN included
        // Written out per channel: a helper taking the vectors was left out of line by C2, which boxed them.
        float b0 = bias == null ? 0f : bias[m0];
        a00.add(b0).max(floor).intoArray(out, o0);
        a01.add(b0).max(floor).intoArray(out, o1);
        if (mCount > 1) {
            float b1 = bias == null ? 0f : bias[m0 + 1];
            a10.add(b1).max(floor).intoArray(out, o0 + n);
            a11.add(b1).max(floor).intoArray(out, o1 + n);
        }
        if (mCount > 2) {
            float b2 = bias == null ? 0f : bias[m0 + 2];
            a20.add(b2).max(floor).intoArray(out, o0 + 2 * n);
            a21.add(b2).max(floor).intoArray(out, o1 + 2 * n);
        }
        if (mCount > 3) {
            float b3 = bias == null ? 0f : bias[m0 + 3];
            a30.add(b3).max(floor).intoArray(out, o0 + 3 * n);
            a31.add(b3).max(floor).intoArray(out, o1 + 3 * n);
        }
        if (mCount > 4) {
            float b4 = bias == null ? 0f : bias[m0 + 4];
            a40.add(b4).max(floor).intoArray(out, o0 + 4 * n);
            a41.add(b4).max(floor).intoArray(out, o1 + 4 * n);
        }
    }

    /**
     * Four full-vector tiles for MB = 5 output channels where C2 has 32 vector registers: 20 accumulators + 4
     * inputs + 1 broadcast. Each broadcast weight feeds four FMAs instead of {@link #block5x2}'s two. Each output is
     * the same FMA chain over the taps as in {@link #block5x2}, so the same bits.
     */
    static void block5x4(int[] offs, int taps, float[] w, int wOff, float[] x, int i0, int i1, int i2, int i3,
                         float[] bias, int m0, int mCount, float[] out, int o0, int o1, int o2, int o3, int n,
                         boolean relu) {
        FloatVector a00 = FloatVector.zero(S), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        FloatVector a40 = a00, a41 = a00, a42 = a00, a43 = a00;
        int wi = wOff;
        for (int k = 0; k < taps; k++) {
            int off = offs[k];
            FloatVector v0 = FloatVector.fromArray(S, x, i0 + off);
            FloatVector v1 = FloatVector.fromArray(S, x, i1 + off);
            FloatVector v2 = FloatVector.fromArray(S, x, i2 + off);
            FloatVector v3 = FloatVector.fromArray(S, x, i3 + off);
            FloatVector wv = FloatVector.broadcast(S, w[wi]);
            a00 = v0.fma(wv, a00);
            a01 = v1.fma(wv, a01);
            a02 = v2.fma(wv, a02);
            a03 = v3.fma(wv, a03);
            wv = FloatVector.broadcast(S, w[wi + 1]);
            a10 = v0.fma(wv, a10);
            a11 = v1.fma(wv, a11);
            a12 = v2.fma(wv, a12);
            a13 = v3.fma(wv, a13);
            wv = FloatVector.broadcast(S, w[wi + 2]);
            a20 = v0.fma(wv, a20);
            a21 = v1.fma(wv, a21);
            a22 = v2.fma(wv, a22);
            a23 = v3.fma(wv, a23);
            wv = FloatVector.broadcast(S, w[wi + 3]);
            a30 = v0.fma(wv, a30);
            a31 = v1.fma(wv, a31);
            a32 = v2.fma(wv, a32);
            a33 = v3.fma(wv, a33);
            wv = FloatVector.broadcast(S, w[wi + 4]);
            a40 = v0.fma(wv, a40);
            a41 = v1.fma(wv, a41);
            a42 = v2.fma(wv, a42);
            a43 = v3.fma(wv, a43);
            wi += MB;
        }
        float floor = relu ? 0f : Float.NEGATIVE_INFINITY;
        // Written out per channel, as in block5x2: a helper taking the vectors would box them.
        float b0 = bias == null ? 0f : bias[m0];
        a00.add(b0).max(floor).intoArray(out, o0);
        a01.add(b0).max(floor).intoArray(out, o1);
        a02.add(b0).max(floor).intoArray(out, o2);
        a03.add(b0).max(floor).intoArray(out, o3);
        if (mCount > 1) {
            float b1 = bias == null ? 0f : bias[m0 + 1];
            a10.add(b1).max(floor).intoArray(out, o0 + n);
            a11.add(b1).max(floor).intoArray(out, o1 + n);
            a12.add(b1).max(floor).intoArray(out, o2 + n);
            a13.add(b1).max(floor).intoArray(out, o3 + n);
        }
        if (mCount > 2) {
            float b2 = bias == null ? 0f : bias[m0 + 2];
            a20.add(b2).max(floor).intoArray(out, o0 + 2 * n);
            a21.add(b2).max(floor).intoArray(out, o1 + 2 * n);
            a22.add(b2).max(floor).intoArray(out, o2 + 2 * n);
            a23.add(b2).max(floor).intoArray(out, o3 + 2 * n);
        }
        if (mCount > 3) {
            float b3 = bias == null ? 0f : bias[m0 + 3];
            a30.add(b3).max(floor).intoArray(out, o0 + 3 * n);
            a31.add(b3).max(floor).intoArray(out, o1 + 3 * n);
            a32.add(b3).max(floor).intoArray(out, o2 + 3 * n);
            a33.add(b3).max(floor).intoArray(out, o3 + 3 * n);
        }
        if (mCount > 4) {
            float b4 = bias == null ? 0f : bias[m0 + 4];
            a40.add(b4).max(floor).intoArray(out, o0 + 4 * n);
            a41.add(b4).max(floor).intoArray(out, o1 + 4 * n);
            a42.add(b4).max(floor).intoArray(out, o2 + 4 * n);
            a43.add(b4).max(floor).intoArray(out, o3 + 4 * n);
        }
    }

    /**
     * Four full-vector tiles for the one or two output channels of a last block (M not a multiple of MB), where
     * {@link #block5x2} would pay for five channels' FMAs (cifar_cnn's conv1: 32 = 6 x 5 + 2, a seventh of its
     * time): 8 accumulators + 4 inputs + 1 broadcast. Each output is the same FMA chain over the taps as in
     * {@link #block5x2}, so the same bits.
     */
    static void block2x4(int[] offs, int taps, float[] w, int wOff, float[] x, int i0, int i1, int i2, int i3,
                         float[] bias, int m0, int mCount, float[] out, int o0, int o1, int o2, int o3, int n,
                         boolean relu) {
        FloatVector a00 = FloatVector.zero(S), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        int wi = wOff;
        for (int k = 0; k < taps; k++) {
            int off = offs[k];
            FloatVector v0 = FloatVector.fromArray(S, x, i0 + off);
            FloatVector v1 = FloatVector.fromArray(S, x, i1 + off);
            FloatVector v2 = FloatVector.fromArray(S, x, i2 + off);
            FloatVector v3 = FloatVector.fromArray(S, x, i3 + off);
            FloatVector wv = FloatVector.broadcast(S, w[wi]);
            a00 = v0.fma(wv, a00);
            a01 = v1.fma(wv, a01);
            a02 = v2.fma(wv, a02);
            a03 = v3.fma(wv, a03);
            wv = FloatVector.broadcast(S, w[wi + 1]);
            a10 = v0.fma(wv, a10);
            a11 = v1.fma(wv, a11);
            a12 = v2.fma(wv, a12);
            a13 = v3.fma(wv, a13);
            wi += MB;
        }
        float floor = relu ? 0f : Float.NEGATIVE_INFINITY;
        float b0 = bias == null ? 0f : bias[m0];
        a00.add(b0).max(floor).intoArray(out, o0);
        a01.add(b0).max(floor).intoArray(out, o1);
        a02.add(b0).max(floor).intoArray(out, o2);
        a03.add(b0).max(floor).intoArray(out, o3);
        if (mCount > 1) {
            float b1 = bias == null ? 0f : bias[m0 + 1];
            a10.add(b1).max(floor).intoArray(out, o0 + n);
            a11.add(b1).max(floor).intoArray(out, o1 + n);
            a12.add(b1).max(floor).intoArray(out, o2 + n);
            a13.add(b1).max(floor).intoArray(out, o3 + n);
        }
    }

    /** One vector, masked to the row (planes narrower than a vector), of one output row for MB = 5 output channels. */
    private static void block5x1(ConvShape s, float[] w, int wOff, float[] x, int xOff, int wp, int plane, int x0,
                                 float[] bias, int m0, int mCount, float[] out, int row, int n, boolean relu) {
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0, a4 = a0;
        int kh = s.kh();
        int kw = s.kw();
        int rowStep = s.dilationH() * wp;
        int dw = s.dilationW();
        int wi = wOff;
        for (int c = 0; c < s.cg(); c++) {
            int cb = xOff + c * plane + x0;
            for (int ky = 0; ky < kh; ky++) {
                int rb = cb + ky * rowStep;
                for (int kx = 0; kx < kw; kx++) {
                    FloatVector v = FloatVector.fromArray(S, x, rb + kx * dw);
                    a0 = v.fma(FloatVector.broadcast(S, w[wi]), a0);
                    a1 = v.fma(FloatVector.broadcast(S, w[wi + 1]), a1);
                    a2 = v.fma(FloatVector.broadcast(S, w[wi + 2]), a2);
                    a3 = v.fma(FloatVector.broadcast(S, w[wi + 3]), a3);
                    a4 = v.fma(FloatVector.broadcast(S, w[wi + 4]), a4);
                    wi += MB;
                }
            }
        }
        int at = row + x0;
        VectorMask<Float> lanes = S.indexInRange(x0, s.outW());
        float floor = relu ? 0f : Float.NEGATIVE_INFINITY;
        a0.add(bias == null ? 0f : bias[m0]).max(floor).intoArray(out, at, lanes);
        if (mCount > 1) {
            a1.add(bias == null ? 0f : bias[m0 + 1]).max(floor).intoArray(out, at + n, lanes);
        }
        if (mCount > 2) {
            a2.add(bias == null ? 0f : bias[m0 + 2]).max(floor).intoArray(out, at + 2 * n, lanes);
        }
        if (mCount > 3) {
            a3.add(bias == null ? 0f : bias[m0 + 3]).max(floor).intoArray(out, at + 3 * n, lanes);
        }
        if (mCount > 4) {
            a4.add(bias == null ? 0f : bias[m0 + 4]).max(floor).intoArray(out, at + 4 * n, lanes);
        }
    }

    /** Applies the activation in place to {@code len} floats from {@code at}. */
    static void activate(float[] out, int at, int len, Epilogue ep) {
        int j = S.loopBound(len);
        ep.applyVectors(out, at, j / VL);
        for (; j < len; j++) {
            out[at + j] = ep.apply(out[at + j]);
        }
    }

    // ---- im2col + GEMM -------------------------------------------------------------------------------------

    /**
     * Writes the patches of group g of one image straight into the panel layout: row k = (channel, ky, kx) of
     * B holds, for pixel q, the input that q reads at tap k, at {@code (q / 16) * 16 * K + k * 16 + q % 16}. Per
     * tap and output row the pixels reading inside the input form one run [lo, hi) found arithmetically, so the
     * copy loops carry no bounds tests.
     */
    static void im2col(ConvShape s, float[] in, int io, int g, float[] col) {
        if (s.padTop() == 0 && s.padLeft() == 0 && s.padBottom() == 0 && s.padRight() == 0) {
            im2colUnpadded(s, in, io, g, col);
            return;
        }
        int kv = s.kernelVolume();
        int outW = s.outW();
        int sw = s.strideW();
        int plane = s.h() * s.w();
        int k = 0;
        for (int c = 0; c < s.cg(); c++) {
            int cb = io + (g * s.cg() + c) * plane;
            for (int ky = 0; ky < s.kh(); ky++) {
                for (int kx = 0; kx < s.kw(); kx++, k++) {
                    int ix0 = kx * s.dilationW() - s.padLeft();
                    // ox reads column ox*sw + ix0, inside [0, w) for ox in [lo, hi)
                    int lo = Math.min(outW, Math.max(0, Math.ceilDiv(-ix0, sw)));
                    int hi = Math.max(lo, Math.min(outW, Math.ceilDiv(s.w() - ix0, sw)));
                    for (int oy = 0; oy < s.outH(); oy++) {
                        int iy = oy * s.strideH() + ky * s.dilationH() - s.padTop();
                        int q = oy * outW;
                        if (iy < 0 || iy >= s.h()) {
                            zeros(col, kv, k, q, outW);
                            continue;
                        }
                        zeros(col, kv, k, q, lo);
                        copy(col, kv, k, q + lo, in, cb + iy * s.w() + lo * sw + ix0, sw, hi - lo);
                        zeros(col, kv, k, q + hi, outW - hi);
                    }
                }
            }
        }
        int n = s.outH() * outW;
        int tail = Math.ceilDiv(n, PackedMatrix.NR) * PackedMatrix.NR - n;
        for (k = 0; k < kv && tail > 0; k++) {
            zeros(col, kv, k, n, tail);
        }
    }

    /** Per-thread input offsets of one panel's pixels, for {@link #im2colUnpadded}. */
    private static final ThreadLocal<int[]> PIXELS = ThreadLocal.withInitial(() -> new int[PackedMatrix.NR]);

    /**
     * im2col without padding: every tap of every window is inside the input, and the input offset of pixel q at
     * tap k splits into a tap part (channel, ky, kx) plus a pixel part (oy, ox), so each panel row is 16 loads
     * through two small offset tables, written in order (2-5x faster than the run-by-run copy on the models).
     */
    private static void im2colUnpadded(ConvShape s, float[] in, int io, int g, float[] col) {
        int kv = s.kernelVolume();
        int n = s.outH() * s.outW();
        int nr = PackedMatrix.NR;
        int[] taps = tapOffsets(s, s.w(), s.h() * s.w());
        int[] pix = PIXELS.get();
        int gb = io + g * s.cg() * s.h() * s.w();
        int oy = 0;
        int ox = 0;
        for (int p = 0, dst = 0; p * nr < n; p++) {
            int lanes = Math.min(nr, n - p * nr);
            for (int j = 0; j < lanes; j++) {
                pix[j] = gb + oy * s.strideH() * s.w() + ox * s.strideW();
                if (++ox == s.outW()) {
                    ox = 0;
                    oy++;
                }
            }
            if (lanes == nr) {
                for (int k = 0; k < kv; k++, dst += nr) {
                    int t = taps[k];
                    for (int j = 0; j < nr; j++) {
                        col[dst + j] = in[t + pix[j]];
                    }
                }
            } else {
                for (int k = 0; k < kv; k++, dst += nr) {
                    int t = taps[k];
                    for (int j = 0; j < lanes; j++) {
                        col[dst + j] = in[t + pix[j]];
                    }
                    for (int j = lanes; j < nr; j++) {
                        col[dst + j] = 0f;
                    }
                }
            }
        }
    }

    /** Zeros pixels [q, q + count) of row k, panel by panel. */
    private static void zeros(float[] col, int kv, int k, int q, int count) {
        int nr = PackedMatrix.NR;
        while (count > 0) {
            int lane = q % nr;
            int run = Math.min(nr - lane, count);
            int dst = (q / nr) * nr * kv + k * nr + lane;
            for (int j = 0; j < run; j++) {
                col[dst + j] = 0f;
            }
            q += run;
            count -= run;
        }
    }

    /** Copies {@code count} inputs from {@code src} (stride sw) to pixels [q, q + count) of row k, panel by panel. */
    private static void copy(float[] col, int kv, int k, int q, float[] in, int src, int sw, int count) {
        int nr = PackedMatrix.NR;
        while (count > 0) {
            int lane = q % nr;
            int run = Math.min(nr - lane, count);
            int dst = (q / nr) * nr * kv + k * nr + lane;
            for (int j = 0; j < run; j++) {
                col[dst + j] = in[src + j * sw];
            }
            src += run * sw;
            q += run;
            count -= run;
        }
    }

    /**
     * Per-thread wrappers of the last few scratch arrays used as im2col panels, so steady-state calls allocate
     * nothing even when a model alternates between im2col layers (cifar_cnn's conv2 and conv3 re-wrapped each
     * other's panels: 48 B per call with one entry).
     */
    private static final ThreadLocal<PackedMatrix[]> PANELS = ThreadLocal.withInitial(() -> new PackedMatrix[4]);

    private static PackedMatrix panels(float[] col, int k, int n) {
        PackedMatrix[] recent = PANELS.get();
        for (PackedMatrix b : recent) {
            if (b != null && b.data() == col && b.k() == k && b.n() == n) {
                return b;
            }
        }
        System.arraycopy(recent, 0, recent, 1, recent.length - 1);
        recent[0] = PackedMatrix.view(col, k, n);
        return recent[0];
    }

    /** One group's GEMM into the NCHW output rows of its channels; the bias is prefilled and accumulated onto. */
    private static void im2colGemm(ConvShape s, float[] w, float[] bias, float[] out, int oo, int g, float[] col,
                                   Epilogue ep, WorkerPool pool) {
        int n = s.outH() * s.outW();
        int kv = s.kernelVolume();
        int c0 = oo + g * s.mg() * n;
        if (bias != null) {
            for (int j = 0; j < s.mg(); j++) {
                java.util.Arrays.fill(out, c0 + j * n, c0 + (j + 1) * n, bias[g * s.mg() + j]);
            }
        }
        PackedMatrix b = panels(col, kv, n);
        if (pool == null) {
            Gemm.gemm(s.mg(), w, g * s.mg() * kv, kv, b, null, out, c0, n, bias != null, ep);
        } else {
            Gemm.gemm(pool, s.mg(), w, g * s.mg() * kv, kv, b, null, out, c0, n, bias != null, ep);
        }
    }

    /** The call named in an error message; built only on failure, as check runs on every call. */
    private static String what(ConvShape s, Algorithm a, int batch) {
        return "conv " + s + " (" + a + ", batch " + batch + ")";
    }

    /** The input and output ranges of a call (the kernel checks the rest of its arguments). */
    private static void checkSpans(ConvShape s, int batch, float[] in, int inOff, float[] out, int outOff,
                                   int outPerImage) {
        if (inOff < 0 || (long) inOff + (long) batch * s.inSize() > in.length) {
            throw new IllegalArgumentException("conv " + s + " (batch " + batch + "): input needs "
                    + (long) batch * s.inSize() + " floats from " + inOff + ", array has " + in.length);
        }
        if (outOff < 0 || (long) outOff + (long) batch * outPerImage > out.length) {
            throw new IllegalArgumentException("conv " + s + " (batch " + batch + "): output needs "
                    + (long) batch * outPerImage + " floats from " + outOff + ", array has " + out.length);
        }
    }

    private static void check(ConvShape s, Algorithm a, int batch, float[] in, int inOff, float[] w, float[] bias,
                              float[] out, int outOff, float[] scratch, Epilogue ep) {
        check(s, a, false, batch, in, inOff, w, bias, out, outOff, scratch, ep);
    }

    /** The arguments of a call, its output pooled ([M, outH / 2, outW / 2] per image) with {@code maxPool}. */
    private static void check(ConvShape s, Algorithm a, boolean maxPool, int batch, float[] in, int inOff, float[] w,
                              float[] bias, float[] out, int outOff, float[] scratch, Epilogue ep) {
        Objects.requireNonNull(ep, "ep");
        if (batch < 0) {
            throw new IllegalArgumentException(what(s, a, batch) + ": negative batch");
        }
        if (a == Algorithm.DIRECT && s.strideW() != 1) {
            throw new IllegalArgumentException(what(s, a, batch) + ": the direct kernel needs stride 1 along the width");
        }
        int wantW = a == Algorithm.IM2COL ? s.weightLength()
                : s.group() * Math.ceilDiv(s.mg(), MB) * s.kernelVolume() * MB;
        if (w.length != wantW) {
            throw new IllegalArgumentException(what(s, a, batch) + ": packed weights have " + w.length + " floats, expected " + wantW);
        }
        if (bias != null && bias.length < s.m()) {
            throw new IllegalArgumentException(what(s, a, batch) + ": bias has " + bias.length + " floats, expected " + s.m());
        }
        int scratchWanted = scratchLength(s, a);
        if (a == Algorithm.IM2COL ? scratch.length != scratchWanted : scratch.length < scratchWanted) {
            throw new IllegalArgumentException(what(s, a, batch) + ": scratch has " + scratch.length + " floats, expected "
                    + scratchWanted);
        }
        if (inOff < 0 || (long) inOff + (long) batch * s.inSize() > in.length) {
            throw new IllegalArgumentException(what(s, a, batch) + ": input needs " + (long) batch * s.inSize() + " floats from "
                    + inOff + ", array has " + in.length);
        }
        long outFloats = (long) batch * (maxPool ? pooledSize(s) : s.outSize());
        if (outOff < 0 || outOff + outFloats > out.length) {
            throw new IllegalArgumentException(what(s, a, batch) + ": output needs " + outFloats + " floats from "
                    + outOff + ", array has " + out.length);
        }
    }
}
