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
 *       plane, then blocks of 4 output channels x 3 output vectors (a vector = VL consecutive pixels of one
 *       output row) accumulate in 12 registers over every input channel and kernel tap, each tap one
 *       contiguous load per output vector and one broadcast per output channel.</li>
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
    public static final String DIRECT_LAYOUT = "kiln.conv.direct4.v1";
    /** Packed-weight layout of the im2col kernel: the ONNX weight tensor unchanged. */
    public static final String IM2COL_LAYOUT = "kiln.conv.rowmajor.v1";
    /** Output channels per weight block of the direct layout. */
    public static final int MB = 4;
    /** Widest vector the scratch geometry allows for, so scratch sizes do not depend on the machine. */
    private static final int MAX_VL = 16;

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED.length() <= MAX_VL
            ? FloatVector.SPECIES_PREFERRED : FloatVector.SPECIES_512;
    private static final int VL = S.length();

    private Conv2d() {}

    /**
     * The algorithm for this shape (measured on the model layers, docs/BENCHMARKS.md): the direct kernel where
     * the input has few channels per group (the reduction is short, so im2col would mostly copy) and the width
     * is read with stride 1; im2col + GEMM otherwise.
     */
    public static Algorithm algorithm(ConvShape s) {
        return s.strideW() == 1 && s.cg() <= 4 ? Algorithm.DIRECT : Algorithm.IM2COL;
    }

    /** Packs ONNX weights [M, C/group, kh, kw] for {@link #conv} (run at compile time). */
    public static float[] packWeights(float[] w, ConvShape s) {
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
        int kv = s.kernelVolume();
        int blocks = Math.ceilDiv(s.mg(), MB);
        float[] p = new float[s.group() * blocks * kv * MB];
        for (int g = 0; g < s.group(); g++) {
            for (int b = 0; b < blocks; b++) {
                int base = (g * blocks + b) * kv * MB;
                for (int j = 0; j < MB && b * MB + j < s.mg(); j++) {
                    int row = (g * s.mg() + b * MB + j) * kv;
                    for (int k = 0; k < kv; k++) {
                        p[base + k * MB + j] = w[row + k];
                    }
                }
            }
        }
        return p;
    }

    /** Floats of scratch {@link #conv} needs for this shape (independent of the batch and the vector width). */
    public static int scratchLength(ConvShape s) {
        return scratchLength(s, algorithm(s));
    }

    static int scratchLength(ConvShape s, Algorithm a) {
        if (a == Algorithm.IM2COL) {
            return PackedMatrix.packedLength(s.kernelVolume(), s.outH() * s.outW());
        }
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
        conv(s, algorithm(s), batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep);
    }

    static void conv(ConvShape s, Algorithm a, int batch, float[] in, int inOff, float[] packedWeights, float[] bias,
                     float[] out, int outOff, float[] scratch, Epilogue ep) {
        check(s, a, batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep);
        for (int img = 0; img < batch; img++) {
            int io = inOff + img * s.inSize();
            int oo = outOff + img * s.outSize();
            if (a == Algorithm.DIRECT) {
                pad(s, in, io, scratch);
                directImage(s, packedWeights, bias, out, oo, scratch, ep, 0, directUnits(s));
            } else {
                for (int g = 0; g < s.group(); g++) {
                    im2col(s, in, io, g, scratch, 0, Math.ceilDiv(s.outH() * s.outW(), PackedMatrix.NR));
                    im2colGemm(s, packedWeights, bias, out, oo, g, scratch, ep);
                }
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

    /** Work units of one image: (group, block of MB output channels, output row). */
    static int directUnits(ConvShape s) {
        return s.group() * Math.ceilDiv(s.mg(), MB) * s.outH();
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
     * Computes units {@code [u0, u1)} of one image; a unit is one output row of a block of MB channels, so its
     * tiles (vectors) are that row's {@link #rowVectors}, taken three at a time.
     */
    static void directImage(ConvShape s, float[] w, float[] bias, float[] out, int oo, float[] x, Epilogue ep,
                            int u0, int u1) {
        int blocks = Math.ceilDiv(s.mg(), MB);
        int outH = s.outH();
        int wp = paddedWidth(s);
        int plane = paddedHeight(s) * wp;
        int kv = s.kernelVolume();
        int xb = rowVectors(s);
        for (int u = u0; u < u1; u++) {
            int oy = u % outH;
            int gb = u / outH;
            int g = gb / blocks;
            int b = gb % blocks;
            int m0 = g * s.mg() + b * MB;
            int mCount = Math.min(MB, s.mg() - b * MB);
            int wOff = gb * kv * MB;
            int xOff = g * s.cg() * plane + oy * s.strideH() * wp;
            int t = 0;
            for (; t + 3 <= xb; t += 3) {
                block4x3(s, w, wOff, x, xOff, wp, plane, t * VL, bias, m0, mCount, out, oo, oy, ep);
            }
            for (; t < xb; t++) {
                block4x1(s, w, wOff, x, xOff, wp, plane, t * VL, bias, m0, mCount, out, oo, oy, ep);
            }
        }
    }

    private static void block4x3(ConvShape s, float[] w, int wOff, float[] x, int xOff, int wp, int plane, int x0,
                                 float[] bias, int m0, int mCount, float[] out, int oo, int oy, Epilogue ep) {
        FloatVector a00 = FloatVector.zero(S), a01 = a00, a02 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00;
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
                    int i = rb + kx * dw;
                    FloatVector v0 = FloatVector.fromArray(S, x, i);
                    FloatVector v1 = FloatVector.fromArray(S, x, i + VL);
                    FloatVector v2 = FloatVector.fromArray(S, x, i + 2 * VL);
                    FloatVector w0 = FloatVector.broadcast(S, w[wi]);
                    a00 = v0.fma(w0, a00);
                    a01 = v1.fma(w0, a01);
                    a02 = v2.fma(w0, a02);
                    FloatVector w1 = FloatVector.broadcast(S, w[wi + 1]);
                    a10 = v0.fma(w1, a10);
                    a11 = v1.fma(w1, a11);
                    a12 = v2.fma(w1, a12);
                    FloatVector w2 = FloatVector.broadcast(S, w[wi + 2]);
                    a20 = v0.fma(w2, a20);
                    a21 = v1.fma(w2, a21);
                    a22 = v2.fma(w2, a22);
                    FloatVector w3 = FloatVector.broadcast(S, w[wi + 3]);
                    a30 = v0.fma(w3, a30);
                    a31 = v1.fma(w3, a31);
                    a32 = v2.fma(w3, a32);
                    wi += MB;
                }
            }
        }
        int n = s.outH() * s.outW();
        int row = oo + m0 * n + oy * s.outW() + x0;
        store(a00, a01, a02, s, bias, m0, out, row, x0, ep);
        if (mCount > 1) {
            store(a10, a11, a12, s, bias, m0 + 1, out, row + n, x0, ep);
        }
        if (mCount > 2) {
            store(a20, a21, a22, s, bias, m0 + 2, out, row + 2 * n, x0, ep);
        }
        if (mCount > 3) {
            store(a30, a31, a32, s, bias, m0 + 3, out, row + 3 * n, x0, ep);
        }
    }

    private static void block4x1(ConvShape s, float[] w, int wOff, float[] x, int xOff, int wp, int plane, int x0,
                                 float[] bias, int m0, int mCount, float[] out, int oo, int oy, Epilogue ep) {
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
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
                    wi += MB;
                }
            }
        }
        int n = s.outH() * s.outW();
        int row = oo + m0 * n + oy * s.outW() + x0;
        int outW = s.outW();
        put(a0, bias, m0, out, row, outW - x0, ep);
        if (mCount > 1) {
            put(a1, bias, m0 + 1, out, row + n, outW - x0, ep);
        }
        if (mCount > 2) {
            put(a2, bias, m0 + 2, out, row + 2 * n, outW - x0, ep);
        }
        if (mCount > 3) {
            put(a3, bias, m0 + 3, out, row + 3 * n, outW - x0, ep);
        }
    }

    private static void store(FloatVector v0, FloatVector v1, FloatVector v2, ConvShape s, float[] bias, int m,
                              float[] out, int row, int x0, Epilogue ep) {
        int left = s.outW() - x0;
        put(v0, bias, m, out, row, left, ep);
        put(v1, bias, m, out, row + VL, left - VL, ep);
        put(v2, bias, m, out, row + 2 * VL, left - 2 * VL, ep);
    }

    /** Adds the bias, applies the activation and stores the first {@code lanes} lanes (all when ≥ VL). */
    private static void put(FloatVector v, float[] bias, int m, float[] out, int at, int lanes, Epilogue ep) {
        if (bias != null) {
            v = v.add(bias[m]);
        }
        v = ep.apply(v);
        if (lanes >= VL) {
            v.intoArray(out, at);
        } else {
            v.intoArray(out, at, VectorMask.fromLong(S, (1L << lanes) - 1));
        }
    }

    // ---- im2col + GEMM -------------------------------------------------------------------------------------

    /**
     * Writes the patches of group g of one image for output pixels {@code [16*p0, 16*p1)} straight into the
     * panel layout: panel p, row k = (channel, ky, kx), lane j holds the input that pixel 16p + j reads at tap k.
     */
    static void im2col(ConvShape s, float[] in, int io, int g, float[] col, int p0, int p1) {
        int kv = s.kernelVolume();
        int n = s.outH() * s.outW();
        int outW = s.outW();
        int nr = PackedMatrix.NR;
        int plane = s.h() * s.w();
        for (int p = p0; p < p1; p++) {
            int q0 = p * nr;
            int lanes = Math.min(nr, n - q0);
            int oy0 = q0 / outW;
            int ox0 = q0 - oy0 * outW;
            int k = 0;
            for (int c = 0; c < s.cg(); c++) {
                int cb = io + (g * s.cg() + c) * plane;
                for (int ky = 0; ky < s.kh(); ky++) {
                    for (int kx = 0; kx < s.kw(); kx++, k++) {
                        int dst = p * nr * kv + k * nr;
                        int oy = oy0;
                        int ox = ox0;
                        int iyOff = ky * s.dilationH() - s.padTop();
                        int ixOff = kx * s.dilationW() - s.padLeft();
                        for (int j = 0; j < lanes; j++) {
                            int iy = oy * s.strideH() + iyOff;
                            int ix = ox * s.strideW() + ixOff;
                            col[dst + j] = iy >= 0 && iy < s.h() && ix >= 0 && ix < s.w() ? in[cb + iy * s.w() + ix] : 0f;
                            if (++ox == outW) {
                                ox = 0;
                                oy++;
                            }
                        }
                        for (int j = lanes; j < nr; j++) {
                            col[dst + j] = 0f;
                        }
                    }
                }
            }
        }
    }

    /** One group's GEMM into the NCHW output rows of its channels; the bias is prefilled and accumulated onto. */
    private static void im2colGemm(ConvShape s, float[] w, float[] bias, float[] out, int oo, int g, float[] col,
                                   Epilogue ep) {
        int n = s.outH() * s.outW();
        int kv = s.kernelVolume();
        int c0 = oo + g * s.mg() * n;
        if (bias != null) {
            for (int j = 0; j < s.mg(); j++) {
                java.util.Arrays.fill(out, c0 + j * n, c0 + (j + 1) * n, bias[g * s.mg() + j]);
            }
        }
        Gemm.gemm(s.mg(), w, g * s.mg() * kv, kv, PackedMatrix.wrap(col, kv, n), null, out, c0, n, bias != null, ep);
    }

    private static void check(ConvShape s, Algorithm a, int batch, float[] in, int inOff, float[] w, float[] bias,
                              float[] out, int outOff, float[] scratch, Epilogue ep) {
        Objects.requireNonNull(ep, "ep");
        String what = "conv " + s + " (" + a + ", batch " + batch + ")";
        if (batch < 0) {
            throw new IllegalArgumentException(what + ": negative batch");
        }
        if (a == Algorithm.DIRECT && s.strideW() != 1) {
            throw new IllegalArgumentException(what + ": the direct kernel needs stride 1 along the width");
        }
        int wantW = a == Algorithm.IM2COL ? s.weightLength()
                : s.group() * Math.ceilDiv(s.mg(), MB) * s.kernelVolume() * MB;
        if (w.length != wantW) {
            throw new IllegalArgumentException(what + ": packed weights have " + w.length + " floats, expected " + wantW);
        }
        if (bias != null && bias.length < s.m()) {
            throw new IllegalArgumentException(what + ": bias has " + bias.length + " floats, expected " + s.m());
        }
        int scratchWanted = scratchLength(s, a);
        if (a == Algorithm.IM2COL ? scratch.length != scratchWanted : scratch.length < scratchWanted) {
            throw new IllegalArgumentException(what + ": scratch has " + scratch.length + " floats, expected "
                    + scratchWanted);
        }
        if (inOff < 0 || (long) inOff + (long) batch * s.inSize() > in.length) {
            throw new IllegalArgumentException(what + ": input needs " + (long) batch * s.inSize() + " floats from "
                    + inOff + ", array has " + in.length);
        }
        if (outOff < 0 || (long) outOff + (long) batch * s.outSize() > out.length) {
            throw new IllegalArgumentException(what + ": output needs " + (long) batch * s.outSize() + " floats from "
                    + outOff + ", array has " + out.length);
        }
    }
}
