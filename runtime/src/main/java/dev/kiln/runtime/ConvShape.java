package dev.kiln.runtime;

/**
 * Batch-independent geometry of a 2-D NCHW convolution: C input channels of H x W, M output channels, a kh x kw
 * kernel with strides, begin/end pads and dilations, split into {@code group} groups; the output size is derived.
 */
public record ConvShape(int c, int h, int w, int m, int kh, int kw, int strideH, int strideW,
                        int padTop, int padLeft, int padBottom, int padRight,
                        int dilationH, int dilationW, int group) {

    public ConvShape {
        if (c <= 0 || h <= 0 || w <= 0 || m <= 0 || kh <= 0 || kw <= 0 || strideH <= 0 || strideW <= 0
                || dilationH <= 0 || dilationW <= 0 || group <= 0
                || padTop < 0 || padLeft < 0 || padBottom < 0 || padRight < 0) {
            throw new IllegalArgumentException("invalid convolution geometry " + describe(c, h, w, m, kh, kw,
                    strideH, strideW, padTop, padLeft, padBottom, padRight, dilationH, dilationW, group));
        }
        if (c % group != 0 || m % group != 0) {
            throw new IllegalArgumentException("convolution " + describe(c, h, w, m, kh, kw, strideH, strideW,
                    padTop, padLeft, padBottom, padRight, dilationH, dilationW, group)
                    + ": channels in and out must be multiples of the group count");
        }
        if (h + padTop + padBottom < (kh - 1) * dilationH + 1 || w + padLeft + padRight < (kw - 1) * dilationW + 1) {
            throw new IllegalArgumentException("convolution " + describe(c, h, w, m, kh, kw, strideH, strideW,
                    padTop, padLeft, padBottom, padRight, dilationH, dilationW, group)
                    + ": the dilated kernel is larger than the padded input");
        }
    }

    /** Unpadded, undilated, ungrouped k x k convolution with stride 1, as {@code nn.Conv2d(c, m, k)}. */
    public static ConvShape of(int c, int h, int w, int m, int k) {
        return new ConvShape(c, h, w, m, k, k, 1, 1, 0, 0, 0, 0, 1, 1, 1);
    }

    public int outH() { return (h + padTop + padBottom - (kh - 1) * dilationH - 1) / strideH + 1; }

    public int outW() { return (w + padLeft + padRight - (kw - 1) * dilationW - 1) / strideW + 1; }

    /** Input channels per group. */
    public int cg() { return c / group; }

    /** Output channels per group. */
    public int mg() { return m / group; }

    /** Length of one output channel's filter: the reduction depth cg * kh * kw. */
    public int kernelVolume() { return cg() * kh * kw; }

    /** Floats of one input image. */
    public int inSize() { return c * h * w; }

    /** Floats of one output image. */
    public int outSize() { return m * outH() * outW(); }

    /** Floats of the ONNX weight tensor [M, C/group, kh, kw]. */
    public int weightLength() { return m * kernelVolume(); }

    /** Multiply-adds of one image times two. */
    public long flops() { return 2L * outSize() * kernelVolume(); }

    @Override
    public String toString() {
        return describe(c, h, w, m, kh, kw, strideH, strideW, padTop, padLeft, padBottom, padRight, dilationH, dilationW,
                group);
    }

    private static String describe(int c, int h, int w, int m, int kh, int kw, int sh, int sw, int pt, int pl, int pb,
                                   int pr, int dh, int dw, int g) {
        return "[" + c + "x" + h + "x" + w + " -> " + m + ", kernel " + kh + "x" + kw + ", strides " + sh + "," + sw
                + ", pads " + pt + "," + pl + "," + pb + "," + pr + ", dilations " + dh + "," + dw + ", group " + g + "]";
    }
}
