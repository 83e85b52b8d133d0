package dev.kiln.passes;

import dev.kiln.runtime.Conv2d;
import dev.kiln.runtime.ConvShape;
import dev.kiln.runtime.Nchwc;
import dev.kiln.runtime.WinogradConv;

/**
 * Estimated single-thread time, in microseconds per image, of a convolution in each kernel family the runtime has
 * (NCHW direct5, im2col + GEMM, Winograd F(2x2,3x3), NCHWc) and of the NCHW/NCHWc conversions, for the
 * blocked-layout pass's choice per convolution chain. Each estimate counts the vector multiply-adds the kernel
 * really issues for the shape (its tile waste and padding channels included) at a rate measured per family with
 * {@code runtime/src/test/java/dev/kiln/runtime/NchwcBench.java} on this project's AVX2 machines; docs/KERNELS.md
 * ("Blocked activations", cost model) lists the shapes and figures. The rates are ratios between families, so
 * they transfer to machines of another speed; re-measure them when a kernel changes.
 */
final class LayoutCostModel {
    /** NCHWc: block-wide multiply-adds per µs (4.3-4.6 measured on deep layers, 3.2-3.7 on narrow ones). */
    static final double NCHWC_VECTOR_FMAS_PER_US = 4300;
    /** NCHW direct5 with rows of at least a vector: vector multiply-adds per µs (3.8-4.9 measured). */
    static final double DIRECT_VECTOR_FMAS_PER_US = 4400;
    /** NCHW direct5 on planes narrower than a vector (its masked 5 x 1 block): vector multiply-adds per µs (610-1600). */
    static final double DIRECT_NARROW_VECTOR_FMAS_PER_US = 700;
    /** im2col + GEMM: scalar multiply-adds per µs (22-30 measured), and µs per float of the patch matrix written. */
    static final double IM2COL_FMAS_PER_US = 24000;
    static final double IM2COL_COPY_US_PER_FLOAT = 0.0005;
    /** Winograd F(2x2,3x3): scalar multiply-adds of its 16 GEMMs per µs, and µs per transformed value. */
    static final double WINOGRAD_FMAS_PER_US = 30000;
    static final double WINOGRAD_TRANSFORM_US_PER_VALUE = 0.0004;
    /** One NCHW <-> NCHWc conversion: µs per float of the NCHWc tensor (0.7-0.8 ns measured). */
    static final double CONVERSION_US_PER_FLOAT = 0.00075;
    /** A streaming pass over memory (padding copy, re-zeroing padding channels, padded elementwise work). */
    static final double STREAM_US_PER_FLOAT = 0.0003;
    /** Fixed cost of a kernel call (argument checks, tiling set-up). */
    static final double CALL_US = 1.0;

    private LayoutCostModel() {}

    /** The NCHWc kernel ({@code NchwcConv}) at block {@code b}: 6-pixel tiles x block pairs, padded channels. */
    static double nchwc(ConvShape s, int b) {
        long pixels = (long) Math.ceilDiv(s.outH() * s.outW(), 6) * 6;
        double vectorFmas = (double) Nchwc.blocks(s.m(), b) * Nchwc.blocks(s.c(), b) * b * s.kh() * s.kw() * pixels;
        boolean padded = s.padTop() + s.padLeft() + s.padBottom() + s.padRight() > 0;
        double copy = padded ? (double) Nchwc.blocks(s.c(), b) * b * (s.h() + s.padTop() + s.padBottom())
                * (s.w() + s.padLeft() + s.padRight()) : 0;
        double out = (double) Nchwc.blocks(s.m(), b) * b * s.outH() * s.outW();
        return CALL_US + vectorFmas / NCHWC_VECTOR_FMAS_PER_US + (copy + out) * STREAM_US_PER_FLOAT;
    }

    /** Layout name of the Winograd F(4x4,3x3) kernel (another branch's; priced here by its tile geometry). */
    static final String WINOGRAD4_LAYOUT = "kiln.conv.winograd4.v1";

    /**
     * The NCHW kernel the runtime runs for this shape, told by the weight layout it packs for ({@link Conv2d#layout}),
     * with vectors of {@code vl} floats; a layout this model does not know is priced as the cheapest it does.
     */
    static double nchw(ConvShape s, int vl) {
        String layout = Conv2d.layout(s);
        if (layout.equals(WinogradConv.LAYOUT)) {
            return winograd(s, 2);
        } else if (layout.equals(WINOGRAD4_LAYOUT)) {
            return winograd(s, 4);
        } else if (layout.equals(Conv2d.DIRECT_LAYOUT)) {
            return direct(s, vl);
        } else if (layout.equals(Conv2d.IM2COL_LAYOUT)) {
            return im2col(s);
        }
        double best = Math.min(im2col(s), s.strideW() == 1 ? direct(s, vl) : Double.MAX_VALUE);
        return s.kh() == 3 && s.kw() == 3 ? Math.min(best, winograd(s, 4)) : best;
    }

    /** direct5: blocks of 5 output channels; each row in vector tiles (the last shifted), or masked when narrower. */
    static double direct(ConvShape s, int vl) {
        double channels = Math.ceilDiv(s.mg(), 5) * 5.0 * s.group();
        double taps = (double) s.cg() * s.kh() * s.kw();
        if (s.outW() < vl) {
            return CALL_US + channels * taps * s.outH() / DIRECT_NARROW_VECTOR_FMAS_PER_US;
        }
        double vectors = (double) s.outH() * Math.ceilDiv(s.outW(), vl);
        return CALL_US + channels * taps * vectors / DIRECT_VECTOR_FMAS_PER_US
                + (double) s.c() * s.h() * s.w() * STREAM_US_PER_FLOAT;
    }

    /** im2col + GEMM: the patch matrix written, then the GEMM. */
    static double im2col(ConvShape s) {
        double patches = (double) s.cg() * s.kh() * s.kw() * s.outH() * s.outW() * s.group();
        return CALL_US + patches * IM2COL_COPY_US_PER_FLOAT + patches * s.mg() / IM2COL_FMAS_PER_US;
    }

    /**
     * Winograd F(t x t, 3x3): (t+2)^2 GEMMs over t x t tiles with channels padded to 16 (in) and 32 (out), +
     * transforms (measured for t = 2; t = 4 assumes the same rates per multiply-add and per transformed value).
     */
    static double winograd(ConvShape s, int t) {
        double tiles = (double) Math.ceilDiv(s.outH(), t) * Math.ceilDiv(s.outW(), t);
        double f = (t + 2) * (t + 2);
        double cp = Math.ceilDiv(s.c(), 16) * 16.0;
        double mp = Math.ceilDiv(s.m(), 32) * 32.0;
        return CALL_US + f * tiles * cp * mp / WINOGRAD_FMAS_PER_US
                + f * tiles * (cp + mp) * WINOGRAD_TRANSFORM_US_PER_VALUE;
    }

    /** One conversion of a [C, H, W] image between NCHW and NCHWc. */
    static double conversion(long c, long h, long w, int b) {
        return CALL_US + (double) Nchwc.blocks(Math.toIntExact(c), b) * b * h * w * CONVERSION_US_PER_FLOAT;
    }

    /** A streaming pass over {@code floats} floats. */
    static double stream(double floats) {
        return floats * STREAM_US_PER_FLOAT;
    }
}
