package dev.kiln.runtime;

import java.util.Arrays;
import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * 3x3 stride-1 convolution by Winograd's F(2x2, 3x3): each 2x2 output tile takes 16 multiplies per input-output
 * channel pair instead of 36, as 16 GEMMs [tiles x C] · [C x M] through the packed GEMM micro-kernel.
 *
 * <p>Per chunk of tiles (from any images of the batch): every image is first copied channels-last into a zero
 * bordered scratch plane, so the input transform {@code V = B^T d B} runs on vectors of channels and writes the
 * 16 matrices V[xi] = [tiles x C] row by row; {@link GemmKernel#tiles} multiplies each by its slice of the packed
 * weights into one [tiles x 16*Mp] matrix; the output transform {@code Y = A^T m A} reads a tile's 16 channel
 * vectors from one row of it, adds the bias, applies the activation and writes the 2x2 pixels of each channel into
 * the NCHW output. Every step is per tile, and the GEMM gives the same bits for a row computed alone or in a
 * block, so results do not depend on the chunking, the batch or the thread count.
 *
 * <p><b>Weights {@code kiln.conv.winograd2.v1}</b> ({@link #packWeights}, at compile time): {@code U = G g G^T}
 * (4x4 per output-input channel pair, computed in double, rounded once) as one {@code kiln.panel16.v1} matrix of
 * k = C rows and n = 16 * Mp columns, Mp = M rounded up to 32 (so a GEMM strip, 8 to 32 floats wide, never spans
 * two frequencies); column {@code xi * Mp + m} holds {@code U[m][c][xi]}, xi = 4 * row + column of U, zero for
 * m ≥ M. {@link #convScalar} is the plain twin.
 */
public final class WinogradConv {
    /** Packed-weight layout name. */
    public static final String LAYOUT = "kiln.conv.winograd2.v1";
    /** Output channels are padded to a multiple of this: the widest GEMM strip (two 512-bit vectors). */
    private static final int M_ALIGN = 32;
    /** Input channels are padded to a multiple of the widest vector, so scratch sizes do not depend on the machine. */
    private static final int C_ALIGN = 16;
    /** Upper bound on the floats of a chunk's V and GEMM output (~512 KB: in L2 with the weights). */
    private static final int CHUNK_FLOATS = 131_072;

    private static final VectorSpecies<Float> S = GemmKernel.SPECIES;
    private static final int VL = S.length();

    private WinogradConv() {}

    /** Whether the kernel computes this shape: 3x3, stride 1, no dilation, one group. */
    public static boolean supports(ConvShape s) {
        return s.kh() == 3 && s.kw() == 3 && s.strideH() == 1 && s.strideW() == 1 && s.dilationH() == 1
                && s.dilationW() == 1 && s.group() == 1;
    }

    /**
     * Whether {@link Conv2d} runs this shape here rather than by its direct or im2col kernel (measured on the
     * cifar_cnn layers, docs/BENCHMARKS.md): a supported shape with at least 16 input and output channels.
     */
    public static boolean selected(ConvShape s) {
        return supports(s) && s.c() >= 16 && s.m() >= 16;
    }

    static int mp(ConvShape s) { return Math.ceilDiv(s.m(), M_ALIGN) * M_ALIGN; }

    static int cp(ConvShape s) { return Math.ceilDiv(s.c(), C_ALIGN) * C_ALIGN; }

    static int tilesH(ConvShape s) { return Math.ceilDiv(s.outH(), 2); }

    static int tilesW(ConvShape s) { return Math.ceilDiv(s.outW(), 2); }

    /**
     * Tile rows computed: with a fused 2x2 / stride-2 max pool, one tile per pooled pixel (a 2x2 tile is exactly a
     * pool window; the last output row of an odd height is read by no window and not computed).
     */
    static int tilesH(ConvShape s, boolean pool) { return pool ? s.outH() / 2 : tilesH(s); }

    static int tilesW(ConvShape s, boolean pool) { return pool ? s.outW() / 2 : tilesW(s); }

    /** Rows and columns of the channels-last scratch image: every tile's 4x4 window lies inside it. */
    private static int bufH(ConvShape s) { return 2 * tilesH(s) + 2; }

    private static int bufW(ConvShape s) { return 2 * tilesW(s) + 2; }

    /** Most tiles in one chunk: a multiple of the GEMM's row tile, at least one row tile. */
    static int chunkTiles(ConvShape s) {
        int t = CHUNK_FLOATS / (16 * (cp(s) + mp(s)));
        return Math.max(GemmKernel.MR, t / GemmKernel.MR * GemmKernel.MR);
    }

    /** Floats of {@link #packWeights}'s result. */
    public static int packedWeightLength(ConvShape s) {
        return PackedMatrix.packedLength(s.c(), 16 * mp(s));
    }

    /** Floats of scratch one thread needs (independent of the batch and the vector width). */
    public static int scratchLength(ConvShape s) {
        return bufH(s) * bufW(s) * cp(s) + chunkTiles(s) * 16 * (cp(s) + mp(s)) + 8 * C_ALIGN + 5 * mp(s);
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
            throw new IllegalArgumentException("conv " + s + ": Winograd F(2x2,3x3) needs 3x3, stride 1, no dilation, group 1");
        }
        if (wOff < 0 || (long) wOff + s.weightLength() > w.length || p.length != packedWeightLength(s)) {
            throw new IllegalArgumentException("conv " + s + ": weights need " + s.weightLength() + " floats from "
                    + wOff + " (array has " + w.length + "), packed " + packedWeightLength(s) + " (got " + p.length + ")");
        }
        Arrays.fill(p, 0f);
        int c = s.c();
        int mp = mp(s);
        for (int m = 0; m < s.m(); m++) {
            for (int ch = 0; ch < c; ch++) {
                int g = wOff + (m * c + ch) * 9;
                for (int xi = 0; xi < 16; xi++) {
                    int col = xi * mp + m;
                    p[(col / PackedMatrix.NR) * PackedMatrix.NR * c + ch * PackedMatrix.NR + col % PackedMatrix.NR] =
                            (float) transformed(w, g, xi >> 2, xi & 3);
                }
            }
        }
    }

    /** Winograd's G for F(2, 3): U = G g G^T. */
    private static final double[][] G = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};

    /**
     * {@code (G g G^T)[i][j]} of the 3x3 kernel at {@code w[o..]}, in double (no arrays: training packs its
     * weights every step and must not allocate).
     */
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
        public String describe() { return "F(2x2,3x3)"; }

        @Override
        public boolean supports(ConvShape s) { return WinogradConv.supports(s); }

        @Override
        public int packedWeightLength(ConvShape s) { return WinogradConv.packedWeightLength(s); }

        @Override
        public int scratchLength(ConvShape s) { return WinogradConv.scratchLength(s); }

        @Override
        public int weightColumns(ConvShape s) { return 16 * mp(s); }

        @Override
        public int tiles(ConvShape s, int batch, boolean maxPool) { return WinogradConv.tiles(s, batch, maxPool); }

        @Override
        public void run(ConvShape s, float[] in, int inOff, PackedMatrix u, float[] bias, float[] out, int outOff,
                        float[] scratch, Epilogue ep, boolean maxPool, int t0, int t1) {
            WinogradConv.run(s, in, inOff, u, bias, out, outOff, scratch, ep, maxPool, t0, t1);
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
     * pool (floor mode), fused: each 2x2 output tile is one pool window, so only the pooled pixels are computed
     * and stored ({@code out} is [batch, M, outH / 2, outW / 2]). Equal, bit for bit, to {@link #conv} followed by
     * the pool.
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

    /** Tiles a call over {@code batch} images computes (with or without the fused pool). */
    static int tiles(ConvShape s, int batch, boolean maxPool) {
        return batch * tilesH(s, maxPool) * tilesW(s, maxPool);
    }

    /** Tiles {@code [t0, t1)} of the batch (numbered image by image, row-major within an image). */
    private static void run(ConvShape s, float[] in, int inOff, PackedMatrix u, float[] bias, float[] out, int outOff,
                            float[] scratch, Epilogue ep, boolean maxPool, int t0, int t1) {
        int tw = tilesW(s, maxPool);
        int perImage = tilesH(s, maxPool) * tw;
        int outSize = WinogradCalls.outSize(s, maxPool);
        int cp = cp(s);
        int mp = mp(s);
        int maxChunk = chunkTiles(s);
        int vOff = bufH(s) * bufW(s) * cp;
        int mOff = vOff + maxChunk * 16 * cp;
        int tmpOff = mOff + maxChunk * 16 * mp;
        int total = t1 - t0;
        if (total <= 0) {
            return;
        }
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
                    channelsLast(s, in, inOff + img * s.inSize(), scratch);
                }
                inputTile(s, scratch, t % perImage, tw, vOff + (t - c0) * cp, rows * cp, cp);
            }
            float[] gemmScratch = GEMM_SCRATCH.get();
            int stripsPerFreq = mp / GemmKernel.STRIP;
            for (int xi = 0; xi < 16; xi++) {
                GemmKernel.tiles(0, rows, scratch, vOff + xi * rows * cp, cp, u, xi * stripsPerFreq,
                        (xi + 1) * stripsPerFreq, null, scratch, mOff, 16 * mp, false, Epilogue.none(), gemmScratch);
            }
            for (int t = c0; t < c1; t++) {
                int img = t / perImage;
                int r0 = mOff + (t - c0) * 16 * mp;
                if (maxPool) {
                    pooledTile(s, scratch, r0, mp, bias, out, outOff + img * outSize, t % perImage, tw, ep, tmpOff);
                } else {
                    outputTile(s, scratch, r0, mp, bias, out, outOff + img * outSize, t % perImage, ep, tmpOff);
                }
            }
        }
    }

    private static final ThreadLocal<float[]> GEMM_SCRATCH = ThreadLocal.withInitial(() -> new float[GemmKernel.SCRATCH]);

    /** Copies one NCHW image into scratch as [bufH][bufW][Cp], zero outside the image and past C. */
    private static void channelsLast(ConvShape s, float[] in, int io, float[] buf) {
        channelsLast(s, in, io, buf, bufH(s), bufW(s), cp(s));
    }

    /**
     * Copies one NCHW image into {@code buf} as [bh][bw][cp] channels-last, shifted by the top and left pads, zero
     * outside the image and past C (shared with {@link WinogradF4Conv}).
     */
    static void channelsLast(ConvShape s, float[] in, int io, float[] buf, int bh, int bw, int cp) {
        int hw = s.h() * s.w();
        int top = s.padTop();
        int left = s.padLeft();
        int rows = Math.min(s.h(), bh - top);
        int cols = Math.min(s.w(), bw - left);
        int row = bw * cp;
        int c = s.c();
        // Zeros only where no input lands: the border rows and columns and the channels past C.
        Arrays.fill(buf, 0, top * row, 0f);
        Arrays.fill(buf, (top + rows) * row, bh * row, 0f);
        for (int y = 0; y < rows; y++) {
            int r = (y + top) * row;
            Arrays.fill(buf, r, r + left * cp, 0f);
            Arrays.fill(buf, r + (left + cols) * cp, r + row, 0f);
            for (int x = 0; x < cols; x++) {
                int b = r + (x + left) * cp;
                int src = io + y * s.w() + x;
                for (int ch = 0; ch < c; ch++) {
                    buf[b + ch] = in[src + ch * hw];
                }
                for (int ch = c; ch < cp; ch++) {
                    buf[b + ch] = 0f;
                }
            }
        }
    }

    /**
     * {@code V = B^T d B} for tile {@code tile} of the image in scratch, on vectors of channels; frequency xi's
     * Cp channels go to {@code buf[v0 + xi * stride ..]}. Row i of {@code B^T d} is one input row plus or minus
     * another (d0 - d2, d1 + d2, d2 - d1, d1 - d3); each is computed by a method of its own that loads its vectors,
     * so no vector crosses a call (a vector that reaches an out-of-line call is boxed).
     */
    private static void inputTile(ConvShape s, float[] buf, int tile, int tw, int v0, int stride, int cp) {
        int bw = bufW(s);
        int row = bw * cp;
        int b0 = ((2 * (tile / tw)) * bw + 2 * (tile % tw)) * cp;
        for (int c = 0; c < cp; c += VL) {
            int b = b0 + c;
            int o = v0 + c;
            inputRow(buf, b, b + 2 * row, false, cp, o, stride);
            inputRow(buf, b + row, b + 2 * row, true, cp, o + 4 * stride, stride);
            inputRow(buf, b + 2 * row, b + row, false, cp, o + 8 * stride, stride);
            inputRow(buf, b + row, b + 3 * row, false, cp, o + 12 * stride, stride);
        }
    }

    /** Row {@code t = d[p] ± d[q]} of {@code B^T d}, then {@code t B}: four frequencies, {@code stride} apart. */
    private static void inputRow(float[] buf, int p, int q, boolean add, int cp, int o, int stride) {
        FloatVector p0 = FloatVector.fromArray(S, buf, p);
        FloatVector p1 = FloatVector.fromArray(S, buf, p + cp);
        FloatVector p2 = FloatVector.fromArray(S, buf, p + 2 * cp);
        FloatVector p3 = FloatVector.fromArray(S, buf, p + 3 * cp);
        FloatVector q0 = FloatVector.fromArray(S, buf, q);
        FloatVector q1 = FloatVector.fromArray(S, buf, q + cp);
        FloatVector q2 = FloatVector.fromArray(S, buf, q + 2 * cp);
        FloatVector q3 = FloatVector.fromArray(S, buf, q + 3 * cp);
        // p + sign q as one fused multiply-add: q * ±1 is exact, so it rounds as p ± q does, and no vector is a
        // merge of two branches (a phi of vectors C2 may leave boxed)
        FloatVector sign = FloatVector.broadcast(S, add ? 1f : -1f);
        FloatVector t0 = q0.fma(sign, p0);
        FloatVector t1 = q1.fma(sign, p1);
        FloatVector t2 = q2.fma(sign, p2);
        FloatVector t3 = q3.fma(sign, p3);
        t0.sub(t2).intoArray(buf, o);
        t1.add(t2).intoArray(buf, o + stride);
        t2.sub(t1).intoArray(buf, o + 2 * stride);
        t1.sub(t3).intoArray(buf, o + 3 * stride);
    }

    /**
     * {@code Y = A^T m A} of one tile on vectors of output channels, read from its GEMM output row at
     * {@code buf[r0..]} (frequency xi's channels at {@code r0 + xi * mp}), then bias, activation and the NCHW
     * stores of the tile's pixels inside the output. The transforms of every block of VL channels go first (pixel
     * p of block m0 at {@code y + 4 m0 + p VL}), the scalar stores after, so no lane is read right after the vector
     * store that wrote it (a narrow load from a wider in-flight store may miss store-to-load forwarding). The
     * transform halves run in methods of their own, so no vector crosses a call.
     */
    private static void outputTile(ConvShape s, float[] buf, int r0, int mp, float[] bias, float[] out, int oo,
                                   int tile, Epilogue ep, int tmp) {
        int outH = s.outH();
        int outW = s.outW();
        int hw = outH * outW;
        int oy = 2 * (tile / tilesW(s));
        int ox = 2 * (tile % tilesW(s));
        boolean down = oy + 1 < outH;
        boolean right = ox + 1 < outW;
        int p = oo + oy * outW + ox;
        boolean relu = ep.kind() == Epilogue.Kind.RELU;
        boolean other = !relu && !ep.isNone();
        int y = tmp + 8 * C_ALIGN;
        for (int m0 = 0; m0 < s.m(); m0 += VL) {
            outputRows(buf, r0 + m0, mp, tmp);
            outputColumns(buf, tmp, bias, m0, s.m(), relu, y + 4 * m0);
        }
        for (int m = 0; m < s.m(); m++) {
            int b = y + 4 * (m - m % VL) + m % VL;
            int q = p + m * hw;
            out[q] = other ? ep.apply(buf[b]) : buf[b];
            if (right) {
                out[q + 1] = other ? ep.apply(buf[b + VL]) : buf[b + VL];
            }
            if (down) {
                out[q + outW] = other ? ep.apply(buf[b + 2 * VL]) : buf[b + 2 * VL];
                if (right) {
                    out[q + outW + 1] = other ? ep.apply(buf[b + 3 * VL]) : buf[b + 3 * VL];
                }
            }
        }
    }

    /**
     * As {@link #outputTile} for a tile that is one window of the fused max pool: the four pixels' maximum, after
     * bias and activation, stored once per channel at the pooled pixel {@code tile} of the [M, outH/2, outW/2]
     * output.
     */
    private static void pooledTile(ConvShape s, float[] buf, int r0, int mp, float[] bias, float[] out, int oo,
                                   int tile, int tw, Epilogue ep, int tmp) {
        int phw = (s.outH() / 2) * tw;
        int p = oo + tile;
        boolean relu = ep.kind() == Epilogue.Kind.RELU;
        boolean other = !relu && !ep.isNone();
        int y = tmp + 8 * C_ALIGN;
        int z = y + 4 * mp;
        for (int m0 = 0; m0 < s.m(); m0 += VL) {
            outputRows(buf, r0 + m0, mp, tmp);
            outputColumns(buf, tmp, bias, m0, s.m(), relu, y + 4 * m0);
            if (!other) {
                maxOfFour(buf, y + 4 * m0, z + m0);
            }
        }
        for (int m = 0; m < s.m(); m++) {
            if (other) {
                int b = y + 4 * (m - m % VL) + m % VL;
                out[p + m * phw] = Math.max(Math.max(ep.apply(buf[b]), ep.apply(buf[b + VL])),
                        Math.max(ep.apply(buf[b + 2 * VL]), ep.apply(buf[b + 3 * VL])));
            } else {
                out[p + m * phw] = buf[z + m];
            }
        }
    }

    /** The lane-wise maximum of the four vectors at {@code buf[y..]}, to {@code buf[dst..]}. */
    private static void maxOfFour(float[] buf, int y, int dst) {
        FloatVector a = FloatVector.fromArray(S, buf, y).max(FloatVector.fromArray(S, buf, y + VL));
        FloatVector b = FloatVector.fromArray(S, buf, y + 2 * VL).max(FloatVector.fromArray(S, buf, y + 3 * VL));
        a.max(b).intoArray(buf, dst);
    }

    /** {@code A^T m}: row 0 (m0 + m1 + m2) to tmp[j], row 1 (m1 - m2 - m3) to tmp[4 + j], j = column, in vectors. */
    private static void outputRows(float[] buf, int r, int mp, int tmp) {
        for (int j = 0; j < 4; j++) {
            FloatVector m1 = FloatVector.fromArray(S, buf, r + (4 + j) * mp);
            FloatVector m2 = FloatVector.fromArray(S, buf, r + (8 + j) * mp);
            FloatVector.fromArray(S, buf, r + j * mp).add(m1).add(m2).intoArray(buf, tmp + j * VL);
            m1.sub(m2).sub(FloatVector.fromArray(S, buf, r + (12 + j) * mp)).intoArray(buf, tmp + (4 + j) * VL);
        }
    }

    /**
     * {@code (A^T m) A} + bias (+ Relu) of the rows in tmp: pixels (0,0), (0,1), (1,0), (1,1) to {@code buf[dst..]},
     * VL apart.
     */
    private static void outputColumns(float[] buf, int tmp, float[] bias, int m0, int m, boolean relu, int dst) {
        FloatVector bv = bias == null ? FloatVector.zero(S) : m0 + VL <= m ? FloatVector.fromArray(S, bias, m0)
                : FloatVector.fromArray(S, bias, m0, S.indexInRange(m0, m));
        for (int i = 0; i < 2; i++) {
            int r = tmp + 4 * i * VL;
            FloatVector c1 = FloatVector.fromArray(S, buf, r + VL);
            FloatVector c2 = FloatVector.fromArray(S, buf, r + 2 * VL);
            FloatVector y0 = FloatVector.fromArray(S, buf, r).add(c1).add(c2).add(bv);
            FloatVector y1 = c1.sub(c2).sub(FloatVector.fromArray(S, buf, r + 3 * VL)).add(bv);
            if (relu) {
                y0 = y0.max(0f);
                y1 = y1.max(0f);
            }
            y0.intoArray(buf, dst + 2 * i * VL);
            y1.intoArray(buf, dst + (2 * i + 1) * VL);
        }
    }

    /**
     * Plain twin: the same algorithm (kernel, input and output transforms, a per-frequency channel reduction) in
     * scalar loops over the ONNX weights [M, C, 3, 3], sums in double.
     */
    public static void convScalar(ConvShape s, int batch, float[] in, int inOff, float[] w, float[] bias,
                                  float[] out, int outOff, Epilogue ep) {
        if (!supports(s)) {
            throw new IllegalArgumentException("conv " + s + ": not a Winograd F(2x2,3x3) shape");
        }
        int c = s.c();
        int m = s.m();
        double[][] u = new double[m * c][16];
        for (int i = 0; i < m * c; i++) {
            for (int xi = 0; xi < 16; xi++) {
                u[i][xi] = transformed(w, i * 9, xi >> 2, xi & 3);
            }
        }
        double[] d = new double[16];
        double[][] v = new double[c][16];
        double[] acc = new double[16];
        for (int n = 0; n < batch; n++) {
            for (int ty = 0; ty < tilesH(s); ty++) {
                for (int tx = 0; tx < tilesW(s); tx++) {
                    for (int ch = 0; ch < c; ch++) {
                        for (int i = 0; i < 4; i++) {
                            for (int j = 0; j < 4; j++) {
                                int y = 2 * ty + i - s.padTop();
                                int x = 2 * tx + j - s.padLeft();
                                d[4 * i + j] = y >= 0 && y < s.h() && x >= 0 && x < s.w()
                                        ? in[inOff + ((n * c + ch) * s.h() + y) * s.w() + x] : 0;
                            }
                        }
                        double[] t = new double[16];
                        for (int j = 0; j < 4; j++) {
                            t[j] = d[j] - d[8 + j];
                            t[4 + j] = d[4 + j] + d[8 + j];
                            t[8 + j] = d[8 + j] - d[4 + j];
                            t[12 + j] = d[4 + j] - d[12 + j];
                        }
                        for (int i = 0; i < 4; i++) {
                            v[ch][4 * i] = t[4 * i] - t[4 * i + 2];
                            v[ch][4 * i + 1] = t[4 * i + 1] + t[4 * i + 2];
                            v[ch][4 * i + 2] = t[4 * i + 2] - t[4 * i + 1];
                            v[ch][4 * i + 3] = t[4 * i + 1] - t[4 * i + 3];
                        }
                    }
                    for (int mo = 0; mo < m; mo++) {
                        Arrays.fill(acc, 0);
                        for (int ch = 0; ch < c; ch++) {
                            for (int xi = 0; xi < 16; xi++) {
                                acc[xi] += u[mo * c + ch][xi] * v[ch][xi];
                            }
                        }
                        double[] r = new double[8];
                        for (int j = 0; j < 4; j++) {
                            r[j] = acc[j] + acc[4 + j] + acc[8 + j];
                            r[4 + j] = acc[4 + j] - acc[8 + j] - acc[12 + j];
                        }
                        for (int i = 0; i < 2; i++) {
                            double[] y = {r[4 * i] + r[4 * i + 1] + r[4 * i + 2], r[4 * i + 1] - r[4 * i + 2] - r[4 * i + 3]};
                            for (int j = 0; j < 2; j++) {
                                int oy = 2 * ty + i;
                                int ox = 2 * tx + j;
                                if (oy < s.outH() && ox < s.outW()) {
                                    double b = bias == null ? 0 : bias[mo];
                                    out[outOff + ((n * m + mo) * s.outH() + oy) * s.outW() + ox] =
                                            ep.apply((float) (y[j] + b));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
