package dev.kiln.runtime;

import java.util.Arrays;
import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * 3x3 stride-1 convolution by Winograd's F(4x4, 3x3): each 4x4 output tile takes 36 multiplies per input-output
 * channel pair instead of 144 (F(2x2, 3x3), {@link WinogradConv}, takes 64 for the same 16 pixels), as 36 GEMMs
 * [tiles x C] · [C x M] through the packed GEMM micro-kernel.
 *
 * <p>The pipeline is {@link WinogradConv}'s with 6x6 windows: per chunk of tiles (from any images of the batch)
 * every image is copied channels-last into a zero-bordered scratch plane; the input transform {@code V = B^T d B}
 * runs on vectors of channels as two passes of the same six-point transform (columns into a small per-thread
 * block, then rows into the 36 matrices V[xi] = [tiles x C]); {@link GemmKernel#tiles} multiplies each by its slice
 * of the packed weights into one [tiles x 36*Mp] matrix; the output transform {@code Y = A^T m A}, again two
 * passes, reads a tile's 36 channel vectors from one row of it, adds the bias, applies the activation and writes
 * the tile's pixels inside the output into NCHW. Every step is per tile and the GEMM gives the same bits for a row
 * computed alone or in a block, so results do not depend on the chunking, the batch or the thread count.
 *
 * <p>Interpolation points 0, ±1, ±2 and ∞ (Lavin and Gray's matrices). The transforms multiply by at most 5 on the
 * input side and 8 on the output side, so the float error is larger than F(2x2, 3x3)'s; measured against the
 * double-summed direct twin on inputs and weights in [-1, 1] with up to 64 channels it stays below 1e-4 absolute
 * ({@code WinogradF4ConvTest} states the bound it asserts), and on cifar_cnn within 1e-6 of PyTorch's outputs.
 *
 * <p><b>Weights {@code kiln.conv.winograd4.v1}</b> ({@link #packWeights}, at compile time): {@code U = G g G^T}
 * (6x6 per output-input channel pair, computed in double, rounded once) as one {@code kiln.panel16.v1} matrix of
 * k = C rows and n = 36 * Mp columns, Mp = M rounded up to 32 (so a GEMM strip, 8 to 32 floats wide, never spans
 * two frequencies); column {@code xi * Mp + m} holds {@code U[m][c][xi]}, xi = 6 * row + column of U, zero for
 * m ≥ M. {@link #convScalar} is the plain twin.
 */
public final class WinogradF4Conv {
    /** Packed-weight layout name. */
    public static final String LAYOUT = "kiln.conv.winograd4.v1";
    /** Frequencies per tile: the 6x6 transformed window. */
    private static final int F = 36;
    /** Output channels are padded to a multiple of this: the widest GEMM strip (two 512-bit vectors). */
    private static final int M_ALIGN = 32;
    /** Input channels are padded to a multiple of the widest vector, so scratch sizes do not depend on the machine. */
    private static final int C_ALIGN = 16;
    /** Upper bound on the floats of a chunk's V and GEMM output (~512 KB: in L2 with the weights). */
    private static final int CHUNK_FLOATS = 131_072;

    private static final VectorSpecies<Float> S = GemmKernel.SPECIES;
    private static final int VL = S.length();

    private WinogradF4Conv() {}

    /** Whether the kernel computes this shape: 3x3, stride 1, no dilation, one group. */
    public static boolean supports(ConvShape s) {
        return WinogradConv.supports(s);
    }

    static int mp(ConvShape s) { return Math.ceilDiv(s.m(), M_ALIGN) * M_ALIGN; }

    static int cp(ConvShape s) { return Math.ceilDiv(s.c(), C_ALIGN) * C_ALIGN; }

    static int tilesH(ConvShape s) { return Math.ceilDiv(s.outH(), 4); }

    static int tilesW(ConvShape s) { return Math.ceilDiv(s.outW(), 4); }

    /**
     * Tile rows computed: with a fused 2x2 / stride-2 max pool, enough for the pooled rows (a 4x4 tile is 2x2 pool
     * windows; the last output row of an odd height is read by no window and not computed).
     */
    static int tilesH(ConvShape s, boolean pool) { return pool ? Math.ceilDiv(s.outH() / 2, 2) : tilesH(s); }

    static int tilesW(ConvShape s, boolean pool) { return pool ? Math.ceilDiv(s.outW() / 2, 2) : tilesW(s); }

    /** Rows and columns of the channels-last scratch image: every tile's 6x6 window lies inside it. */
    private static int bufH(ConvShape s) { return 4 * tilesH(s) + 2; }

    private static int bufW(ConvShape s) { return 4 * tilesW(s) + 2; }

    /** Most tiles in one chunk: a multiple of the GEMM's row tile, at least one row tile. */
    static int chunkTiles(ConvShape s) {
        int t = CHUNK_FLOATS / (F * (cp(s) + mp(s)));
        return Math.max(GemmKernel.MR, t / GemmKernel.MR * GemmKernel.MR);
    }

    /** Floats of {@link #packWeights}'s result. */
    public static int packedWeightLength(ConvShape s) {
        return PackedMatrix.packedLength(s.c(), F * mp(s));
    }

    /** Floats of scratch one thread needs (independent of the batch and the vector width). */
    public static int scratchLength(ConvShape s) {
        return bufH(s) * bufW(s) * cp(s) + chunkTiles(s) * F * (cp(s) + mp(s)) + 24 * C_ALIGN + 20 * mp(s);
    }

    /** Packs ONNX weights [M, C, 3, 3] (compile time). */
    public static float[] packWeights(float[] w, ConvShape s) {
        Objects.requireNonNull(w, "w");
        float[] p = new float[packedWeightLength(s)];
        packWeights(w, 0, s, p);
        return p;
    }

    /** Packs ONNX weights [M, C, 3, 3] from {@code w[wOff..]} into {@code p} ({@link #packedWeightLength} floats). */
    public static void packWeights(float[] w, int wOff, ConvShape s, float[] p) {
        Objects.requireNonNull(w, "w");
        if (!supports(s)) {
            throw new IllegalArgumentException("conv " + s + ": Winograd F(4x4,3x3) needs 3x3, stride 1, no dilation, group 1");
        }
        if (wOff < 0 || (long) wOff + s.weightLength() > w.length || p.length != packedWeightLength(s)) {
            throw new IllegalArgumentException("conv " + s + ": weights need " + s.weightLength() + " floats from "
                    + wOff + " (array has " + w.length + "), packed " + packedWeightLength(s) + " (got " + p.length + ")");
        }
        Arrays.fill(p, 0f);
        int c = s.c();
        int mp = mp(s);
        int nr = PackedMatrix.NR;
        for (int m = 0; m < s.m(); m++) {
            for (int ch = 0; ch < c; ch++) {
                int g = wOff + (m * c + ch) * 9;
                for (int xi = 0; xi < F; xi++) {
                    int col = xi * mp + m;
                    p[(col / nr) * nr * c + ch * nr + col % nr] = (float) transformed(w, g, xi / 6, xi % 6);
                }
            }
        }
    }

    /** Winograd's G for F(4, 3): U = G g G^T. */
    private static final double[][] G = {
        {1 / 4.0, 0, 0},
        {-1 / 6.0, -1 / 6.0, -1 / 6.0},
        {-1 / 6.0, 1 / 6.0, -1 / 6.0},
        {1 / 24.0, 1 / 12.0, 1 / 6.0},
        {1 / 24.0, -1 / 12.0, 1 / 6.0},
        {0, 0, 1},
    };

    /** {@code (G g G^T)[i][j]} of the 3x3 kernel at {@code w[o..]}, in double (allocation-free: training packs per step). */
    private static double transformed(float[] w, int o, int i, int j) {
        double sum = 0;
        for (int a = 0; a < 3; a++) {
            for (int b = 0; b < 3; b++) {
                sum += G[i][a] * w[o + 3 * a + b] * G[j][b];
            }
        }
        return sum;
    }

    /** This kernel as {@link WinogradCalls} drives it. */
    static final WinogradCalls.Variant VARIANT = new WinogradCalls.Variant() {
        @Override
        public String describe() { return "F(4x4,3x3)"; }

        @Override
        public boolean supports(ConvShape s) { return WinogradF4Conv.supports(s); }

        @Override
        public int packedWeightLength(ConvShape s) { return WinogradF4Conv.packedWeightLength(s); }

        @Override
        public int scratchLength(ConvShape s) { return WinogradF4Conv.scratchLength(s); }

        @Override
        public int weightColumns(ConvShape s) { return F * mp(s); }

        @Override
        public int tiles(ConvShape s, int batch, boolean maxPool) { return WinogradF4Conv.tiles(s, batch, maxPool); }

        @Override
        public void run(ConvShape s, float[] in, int inOff, PackedMatrix u, float[] bias, float[] out, int outOff,
                        float[] scratch, Epilogue ep, boolean maxPool, int t0, int t1) {
            WinogradF4Conv.run(s, in, inOff, u, bias, out, outOff, scratch, ep, maxPool, t0, t1);
        }
    };

    /**
     * {@code out = ep(conv(in, w) + bias)} for {@code batch} images on the calling thread.
     *
     * @param packedWeights from {@link #packWeights}
     * @param bias M floats, or null
     * @param scratch at least {@link #scratchLength} floats, overwritten
     */
    public static void conv(ConvShape s, int batch, float[] in, int inOff, float[] packedWeights, float[] bias,
                            float[] out, int outOff, float[] scratch, Epilogue ep) {
        WinogradCalls.run(VARIANT, s, batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep, false, 0,
                tiles(s, batch, false));
    }

    /**
     * {@code out = maxPool2x2(ep(conv(in, w) + bias))}: the convolution followed by a 2x2, stride-2, unpadded max
     * pool (floor mode), fused: each 4x4 output tile is four pool windows, reduced in registers before the stores
     * ({@code out} is [batch, M, outH / 2, outW / 2]). Equal, bit for bit, to {@link #conv} followed by the pool.
     */
    public static void convMaxPool(ConvShape s, int batch, float[] in, int inOff, float[] packedWeights, float[] bias,
                                   float[] out, int outOff, float[] scratch, Epilogue ep) {
        WinogradCalls.run(VARIANT, s, batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep, true, 0,
                tiles(s, batch, true));
    }

    /**
     * As {@link #conv(ConvShape, int, float[], int, float[], float[], float[], int, float[], Epilogue)}, the tiles
     * of the batch split evenly over the threads of {@code pool}, each with its own scratch.
     */
    public static void conv(ConvShape s, int batch, float[] in, int inOff, float[] packedWeights, float[] bias,
                            float[] out, int outOff, float[][] scratch, Epilogue ep, WorkerPool pool) {
        WinogradCalls.run(VARIANT, s, batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep, pool, false);
    }

    /**
     * As {@link #convMaxPool(ConvShape, int, float[], int, float[], float[], float[], int, float[], Epilogue)}, the
     * tiles of the batch split evenly over the threads of {@code pool}.
     */
    public static void convMaxPool(ConvShape s, int batch, float[] in, int inOff, float[] packedWeights, float[] bias,
                                   float[] out, int outOff, float[][] scratch, Epilogue ep, WorkerPool pool) {
        WinogradCalls.run(VARIANT, s, batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep, pool, true);
    }

    /**
     * Tiles {@code [t0, t1)} of a batch (numbered image by image, row-major within an image) on the calling thread:
     * the per-range entry point for callers that split the work themselves. Any split gives the same bits.
     */
    public static void convTiles(ConvShape s, int batch, float[] in, int inOff, float[] packedWeights, float[] bias,
                                 float[] out, int outOff, float[] scratch, Epilogue ep, boolean maxPool, int t0, int t1) {
        WinogradCalls.run(VARIANT, s, batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep, maxPool, t0, t1);
    }

    /** Tiles a call over {@code batch} images computes (with or without the fused pool), for {@link #convTiles}. */
    public static int tiles(ConvShape s, int batch, boolean maxPool) {
        return batch * tilesH(s, maxPool) * tilesW(s, maxPool);
    }

    private static final ThreadLocal<float[]> GEMM_SCRATCH = ThreadLocal.withInitial(() -> new float[GemmKernel.SCRATCH]);

    /** Tiles {@code [t0, t1)} of the batch, chunk by chunk. */
    private static void run(ConvShape s, float[] in, int inOff, PackedMatrix u, float[] bias, float[] out, int outOff,
                            float[] scratch, Epilogue ep, boolean maxPool, int t0, int t1) {
        int total = t1 - t0;
        if (total <= 0) {
            return;
        }
        int tw = tilesW(s, maxPool);
        int perImage = tilesH(s, maxPool) * tw;
        int outSize = WinogradCalls.outSize(s, maxPool);
        int cp = cp(s);
        int mp = mp(s);
        int bh = bufH(s);
        int bw = bufW(s);
        int maxChunk = chunkTiles(s);
        int vOff = bh * bw * cp;
        int mOff = vOff + maxChunk * F * cp;
        int tmpOff = mOff + maxChunk * F * mp;
        float[] gemmScratch = GEMM_SCRATCH.get();
        int stripsPerFreq = mp / GemmKernel.STRIP;
        int chunks = Math.ceilDiv(total, maxChunk);
        int image = -1;
        for (int ch = 0; ch < chunks; ch++) {
            int c0 = t0 + (int) ((long) total * ch / chunks);
            int c1 = t0 + (int) ((long) total * (ch + 1) / chunks);
            int rows = c1 - c0;
            for (int t = c0; t < c1; t++) {
                int img = t / perImage;
                if (img != image) {
                    image = img;
                    WinogradConv.channelsLast(s, in, inOff + img * s.inSize(), scratch, bh, bw, cp);
                }
                int tile = t % perImage;
                int b0 = (4 * (tile / tw) * bw + 4 * (tile % tw)) * cp;
                inputTile(scratch, b0, bw * cp, cp, vOff + (t - c0) * cp, rows * cp, tmpOff);
            }
            for (int xi = 0; xi < F; xi++) {
                GemmKernel.tiles(0, rows, scratch, vOff + xi * rows * cp, cp, u, xi * stripsPerFreq,
                        (xi + 1) * stripsPerFreq, null, scratch, mOff, F * mp, false, Epilogue.none(), gemmScratch);
            }
            for (int t = c0; t < c1; t++) {
                int r0 = mOff + (t - c0) * F * mp;
                int oo = outOff + t / perImage * outSize;
                if (maxPool) {
                    pooledTile(s, scratch, r0, mp, bias, out, oo, t % perImage, tw, ep, tmpOff);
                } else {
                    outputTile(s, scratch, r0, mp, bias, out, oo, t % perImage, ep, tmpOff);
                }
            }
        }
    }

    /**
     * {@code V = B^T d B} of the 6x6 window at {@code buf[b0..]} (rows {@code row} floats apart, channels
     * contiguous), on vectors of channels: columns first into the block at {@code tmp}, then rows; frequency xi's
     * Cp channels go to {@code buf[v0 + xi * stride ..]}.
     */
    private static void inputTile(float[] buf, int b0, int row, int cp, int v0, int stride, int tmp) {
        for (int c = 0; c < cp; c += VL) {
            for (int j = 0; j < 6; j++) {
                inputPoints(buf, b0 + j * cp + c, row, buf, tmp + j * VL, 6 * VL);
            }
            for (int i = 0; i < 6; i++) {
                inputPoints(buf, tmp + 6 * i * VL, VL, buf, v0 + 6 * i * stride + c, stride);
            }
        }
    }

    /**
     * The six-point input transform {@code B^T d} of vectors {@code src[p + k * step]}, k = 0..5, into
     * {@code dst[q + k * dstep]}, factored to share the differences; loads, arithmetic and stores in one method so
     * no vector crosses a call (a vector that reaches an out-of-line call is boxed).
     */
    private static void inputPoints(float[] src, int p, int step, float[] dst, int q, int dstep) {
        FloatVector d0 = FloatVector.fromArray(S, src, p);
        FloatVector d1 = FloatVector.fromArray(S, src, p + step);
        FloatVector d2 = FloatVector.fromArray(S, src, p + 2 * step);
        FloatVector d3 = FloatVector.fromArray(S, src, p + 3 * step);
        FloatVector d4 = FloatVector.fromArray(S, src, p + 4 * step);
        FloatVector d5 = FloatVector.fromArray(S, src, p + 5 * step);
        FloatVector k4 = FloatVector.broadcast(S, 4f);
        FloatVector kM4 = FloatVector.broadcast(S, -4f);
        FloatVector a = d2.fma(kM4, d4);            // d4 - 4 d2
        FloatVector b = d1.fma(kM4, d3);            // d3 - 4 d1
        FloatVector e = d4.sub(d2);                 // d4 - d2
        FloatVector f = d3.sub(d1).mul(2f);         // 2 (d3 - d1)
        d0.sub(d2).fma(k4, e).intoArray(dst, q);            // 4 d0 - 5 d2 + d4
        a.add(b).intoArray(dst, q + dstep);                 // -4 d1 - 4 d2 + d3 + d4
        a.sub(b).intoArray(dst, q + 2 * dstep);             // 4 d1 - 4 d2 - d3 + d4
        e.add(f).intoArray(dst, q + 3 * dstep);             // -2 d1 - d2 + 2 d3 + d4
        e.sub(f).intoArray(dst, q + 4 * dstep);             // 2 d1 - d2 - 2 d3 + d4
        d1.sub(d3).fma(k4, d5.sub(d3)).intoArray(dst, q + 5 * dstep); // 4 d1 - 5 d3 + d5
    }

    /**
     * {@code Y = A^T m A} of one tile on vectors of output channels, read from its GEMM output row at
     * {@code buf[r0..]} (frequency xi's channels at {@code r0 + xi * mp}): per block of VL channels, columns into the
     * block at {@code tmp}, then rows with bias and activation (pixel p of block m0 at {@code y + 16 m0 + p VL});
     * then, for every channel, the NCHW stores of the tile's pixels inside the output. The scalar stores come after
     * all the blocks' transforms, so no lane is read right after the vector store that wrote it (a narrow load from
     * a wider in-flight store may miss store-to-load forwarding); full tiles without a scalar epilogue take a path
     * without per-pixel bounds tests.
     */
    private static void outputTile(ConvShape s, float[] buf, int r0, int mp, float[] bias, float[] out, int oo,
                                   int tile, Epilogue ep, int tmp) {
        int outH = s.outH();
        int outW = s.outW();
        int hw = outH * outW;
        int oy = 4 * (tile / tilesW(s));
        int ox = 4 * (tile % tilesW(s));
        int rowsIn = Math.min(4, outH - oy);
        int colsIn = Math.min(4, outW - ox);
        int p = oo + oy * outW + ox;
        boolean relu = ep.kind() == Epilogue.Kind.RELU;
        boolean other = !relu && !ep.isNone();
        int y = tmp + 24 * C_ALIGN;
        for (int m0 = 0; m0 < s.m(); m0 += VL) {
            transformBlock(buf, r0 + m0, mp, tmp, y + 16 * m0, bias, m0, s.m(), relu);
        }
        if (rowsIn == 4 && colsIn == 4 && !other) {
            for (int m = 0; m < s.m(); m++) {
                int b = y + 16 * (m - m % VL) + m % VL;
                int q = p + m * hw;
                for (int i = 0; i < 4; i++, q += outW, b += 4 * VL) {
                    out[q] = buf[b];
                    out[q + 1] = buf[b + VL];
                    out[q + 2] = buf[b + 2 * VL];
                    out[q + 3] = buf[b + 3 * VL];
                }
            }
            return;
        }
        for (int m = 0; m < s.m(); m++) {
            int b = y + 16 * (m - m % VL) + m % VL;
            int q = p + m * hw;
            for (int i = 0; i < rowsIn; i++) {
                for (int j = 0; j < colsIn; j++) {
                    float v = buf[b + (4 * i + j) * VL];
                    out[q + i * outW + j] = other ? ep.apply(v) : v;
                }
            }
        }
    }

    /** The output transform of one block of VL channels into the 16 pixel vectors at {@code buf[y..]}. */
    private static void transformBlock(float[] buf, int r, int mp, int tmp, int y, float[] bias, int m0, int m,
                                       boolean relu) {
        for (int j = 0; j < 6; j++) {
            outputPoints(buf, r + j * mp, 6 * mp, buf, tmp + j * VL, 6 * VL);
        }
        for (int i = 0; i < 4; i++) {
            outputRow(buf, tmp + 6 * i * VL, y + 4 * i * VL, bias, m0, m, relu);
        }
    }

    /**
     * As {@link #outputTile} for a tile whose 16 pixels are four windows of the fused max pool: the windows' maxima,
     * after bias and activation, stored at the (up to 2x2) pooled pixels of the [M, outH/2, outW/2] output.
     */
    private static void pooledTile(ConvShape s, float[] buf, int r0, int mp, float[] bias, float[] out, int oo,
                                   int tile, int tw, Epilogue ep, int tmp) {
        int ph = s.outH() / 2;
        int pw = s.outW() / 2;
        int py = 2 * (tile / tw);
        int px = 2 * (tile % tw);
        boolean down = py + 1 < ph;
        boolean right = px + 1 < pw;
        int p = oo + py * pw + px;
        int phw = ph * pw;
        boolean relu = ep.kind() == Epilogue.Kind.RELU;
        boolean other = !relu && !ep.isNone();
        int y = tmp + 24 * C_ALIGN;
        int z = y + 16 * mp;
        for (int m0 = 0; m0 < s.m(); m0 += VL) {
            transformBlock(buf, r0 + m0, mp, tmp, y + 16 * m0, bias, m0, s.m(), relu);
            if (!other) {
                for (int w = 0; w < 4; w++) {
                    windowMax(buf, y + 16 * m0 + (8 * (w >> 1) + 2 * (w & 1)) * VL, z + 4 * m0 + w * VL);
                }
            }
        }
        if (other) {
            for (int m0 = 0; m0 < s.m(); m0 += VL) {
                for (int w = 0; w < 4; w++) {
                    int a = y + 16 * m0 + (8 * (w >> 1) + 2 * (w & 1)) * VL;
                    for (int l = 0; l < VL; l++) {
                        buf[z + 4 * m0 + w * VL + l] = Math.max(
                                Math.max(ep.apply(buf[a + l]), ep.apply(buf[a + VL + l])),
                                Math.max(ep.apply(buf[a + 4 * VL + l]), ep.apply(buf[a + 5 * VL + l])));
                    }
                }
            }
        }
        for (int m = 0; m < s.m(); m++) {
            int b = z + 4 * (m - m % VL) + m % VL;
            int q = p + m * phw;
            out[q] = buf[b];
            if (right) {
                out[q + 1] = buf[b + VL];
            }
            if (down) {
                out[q + pw] = buf[b + 2 * VL];
                if (right) {
                    out[q + pw + 1] = buf[b + 3 * VL];
                }
            }
        }
    }

    /** The maximum of the 2x2 pixel vectors at {@code buf[a]}, {@code a + VL}, {@code a + 4 VL}, {@code a + 5 VL}. */
    private static void windowMax(float[] buf, int a, int dst) {
        FloatVector top = FloatVector.fromArray(S, buf, a).max(FloatVector.fromArray(S, buf, a + VL));
        FloatVector bottom = FloatVector.fromArray(S, buf, a + 4 * VL).max(FloatVector.fromArray(S, buf, a + 5 * VL));
        top.max(bottom).intoArray(buf, dst);
    }

    /**
     * The six-to-four output transform {@code A^T m} of vectors {@code src[p + k * step]}, k = 0..5, into
     * {@code dst[q + k * dstep]}, k = 0..3.
     */
    private static void outputPoints(float[] src, int p, int step, float[] dst, int q, int dstep) {
        FloatVector m0 = FloatVector.fromArray(S, src, p);
        FloatVector m1 = FloatVector.fromArray(S, src, p + step);
        FloatVector m2 = FloatVector.fromArray(S, src, p + 2 * step);
        FloatVector m3 = FloatVector.fromArray(S, src, p + 3 * step);
        FloatVector m4 = FloatVector.fromArray(S, src, p + 4 * step);
        FloatVector m5 = FloatVector.fromArray(S, src, p + 5 * step);
        FloatVector k2 = FloatVector.broadcast(S, 2f);
        FloatVector k4 = FloatVector.broadcast(S, 4f);
        FloatVector k8 = FloatVector.broadcast(S, 8f);
        FloatVector s12 = m1.add(m2);
        FloatVector d12 = m1.sub(m2);
        FloatVector s34 = m3.add(m4);
        FloatVector d34 = m3.sub(m4);
        m0.add(s12).add(s34).intoArray(dst, q);
        d34.fma(k2, d12).intoArray(dst, q + dstep);
        s34.fma(k4, s12).intoArray(dst, q + 2 * dstep);
        d34.fma(k8, d12).add(m5).intoArray(dst, q + 3 * dstep);
    }

    /** One row of {@code (A^T m) A} from the six vectors at {@code buf[r..]}, plus bias (and Relu), to four pixels at {@code buf[q..]}. */
    private static void outputRow(float[] buf, int r, int q, float[] bias, int m0, int m, boolean relu) {
        FloatVector bv = bias == null ? FloatVector.zero(S) : m0 + VL <= m ? FloatVector.fromArray(S, bias, m0)
                : FloatVector.fromArray(S, bias, m0, S.indexInRange(m0, m));
        FloatVector m1 = FloatVector.fromArray(S, buf, r + VL);
        FloatVector m2 = FloatVector.fromArray(S, buf, r + 2 * VL);
        FloatVector m3 = FloatVector.fromArray(S, buf, r + 3 * VL);
        FloatVector m4 = FloatVector.fromArray(S, buf, r + 4 * VL);
        FloatVector k2 = FloatVector.broadcast(S, 2f);
        FloatVector k4 = FloatVector.broadcast(S, 4f);
        FloatVector k8 = FloatVector.broadcast(S, 8f);
        FloatVector s12 = m1.add(m2);
        FloatVector d12 = m1.sub(m2);
        FloatVector s34 = m3.add(m4);
        FloatVector d34 = m3.sub(m4);
        FloatVector y0 = FloatVector.fromArray(S, buf, r).add(s12).add(s34).add(bv);
        FloatVector y1 = d34.fma(k2, d12).add(bv);
        FloatVector y2 = s34.fma(k4, s12).add(bv);
        FloatVector y3 = d34.fma(k8, d12).add(FloatVector.fromArray(S, buf, r + 5 * VL)).add(bv);
        if (relu) {
            y0 = y0.max(0f);
            y1 = y1.max(0f);
            y2 = y2.max(0f);
            y3 = y3.max(0f);
        }
        y0.intoArray(buf, q);
        y1.intoArray(buf, q + VL);
        y2.intoArray(buf, q + 2 * VL);
        y3.intoArray(buf, q + 3 * VL);
    }

    /**
     * Plain twin: the same algorithm (kernel, input and output transforms, a per-frequency channel reduction) in
     * scalar loops over the ONNX weights [M, C, 3, 3], in double.
     */
    public static void convScalar(ConvShape s, int batch, float[] in, int inOff, float[] w, float[] bias,
                                  float[] out, int outOff, Epilogue ep) {
        if (!supports(s)) {
            throw new IllegalArgumentException("conv " + s + ": not a Winograd F(4x4,3x3) shape");
        }
        int c = s.c();
        int m = s.m();
        double[][] u = new double[m * c][F];
        for (int i = 0; i < m * c; i++) {
            for (int xi = 0; xi < F; xi++) {
                u[i][xi] = transformed(w, i * 9, xi / 6, xi % 6);
            }
        }
        double[][] bt = {
            {4, 0, -5, 0, 1, 0}, {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
            {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1},
        };
        double[][] at = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
        double[][] v = new double[c][F];
        double[] acc = new double[F];
        for (int n = 0; n < batch; n++) {
            for (int ty = 0; ty < tilesH(s); ty++) {
                for (int tx = 0; tx < tilesW(s); tx++) {
                    for (int ch = 0; ch < c; ch++) {
                        for (int i = 0; i < 6; i++) {
                            for (int j = 0; j < 6; j++) {
                                double sum = 0;
                                for (int a = 0; a < 6; a++) {
                                    for (int b = 0; b < 6; b++) {
                                        int y = 4 * ty + a - s.padTop();
                                        int x = 4 * tx + b - s.padLeft();
                                        double d = y >= 0 && y < s.h() && x >= 0 && x < s.w()
                                                ? in[inOff + ((n * c + ch) * s.h() + y) * s.w() + x] : 0;
                                        sum += bt[i][a] * d * bt[j][b];
                                    }
                                }
                                v[ch][6 * i + j] = sum;
                            }
                        }
                    }
                    for (int mo = 0; mo < m; mo++) {
                        Arrays.fill(acc, 0);
                        for (int ch = 0; ch < c; ch++) {
                            for (int xi = 0; xi < F; xi++) {
                                acc[xi] += u[mo * c + ch][xi] * v[ch][xi];
                            }
                        }
                        for (int i = 0; i < 4; i++) {
                            for (int j = 0; j < 4; j++) {
                                int oy = 4 * ty + i;
                                int ox = 4 * tx + j;
                                if (oy >= s.outH() || ox >= s.outW()) {
                                    continue;
                                }
                                double y = bias == null ? 0 : bias[mo];
                                for (int a = 0; a < 6; a++) {
                                    for (int b = 0; b < 6; b++) {
                                        y += at[i][a] * acc[6 * a + b] * at[j][b];
                                    }
                                }
                                out[outOff + ((n * m + mo) * s.outH() + oy) * s.outW() + ox] = ep.apply((float) y);
                            }
                        }
                    }
                }
            }
        }
    }
}
