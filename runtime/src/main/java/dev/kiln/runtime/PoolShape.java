package dev.kiln.runtime;

/**
 * Geometry of a 2-D pooling window over one H x W plane: kernel, strides, pads (begin and end), dilations and
 * the output size, which the caller computes (ONNX ceil_mode lives there, see {@link #outSize}).
 */
public record PoolShape(int h, int w, int kh, int kw, int strideH, int strideW,
                        int padTop, int padLeft, int padBottom, int padRight,
                        int dilationH, int dilationW, int outH, int outW) {

    public PoolShape {
        if (h <= 0 || w <= 0 || kh <= 0 || kw <= 0 || strideH <= 0 || strideW <= 0 || dilationH <= 0 || dilationW <= 0
                || padTop < 0 || padLeft < 0 || padBottom < 0 || padRight < 0 || outH <= 0 || outW <= 0) {
            throw new IllegalArgumentException("invalid pooling geometry " + describe(h, w, kh, kw, strideH, strideW,
                    padTop, padLeft, padBottom, padRight, dilationH, dilationW, outH, outW));
        }
    }

    /** Undilated, unpadded window of k x k with stride k: the usual {@code MaxPool(2)}. */
    public static PoolShape square(int h, int w, int k) {
        return of(h, w, k, k, k, k, 0, 0, 0, 0, 1, 1, false);
    }

    /** Derives the output size the ONNX way (floor, or ceil when {@code ceilMode}). */
    public static PoolShape of(int h, int w, int kh, int kw, int strideH, int strideW,
                               int padTop, int padLeft, int padBottom, int padRight,
                               int dilationH, int dilationW, boolean ceilMode) {
        return new PoolShape(h, w, kh, kw, strideH, strideW, padTop, padLeft, padBottom, padRight, dilationH, dilationW,
                outSize(h, kh, strideH, padTop, padBottom, dilationH, ceilMode),
                outSize(w, kw, strideW, padLeft, padRight, dilationW, ceilMode));
    }

    /**
     * ONNX output length of one pooled axis; in ceil mode a last window that would start in the end padding is
     * dropped (as ONNX's reference and PyTorch do).
     */
    public static int outSize(int in, int k, int stride, int padBegin, int padEnd, int dilation, boolean ceilMode) {
        int span = in + padBegin + padEnd - (k - 1) * dilation - 1;
        int out = (ceilMode ? Math.ceilDiv(span, stride) : Math.floorDiv(span, stride)) + 1;
        if (ceilMode && out > 0 && (out - 1) * stride >= in + padBegin) {
            out--;
        }
        return out;
    }

    public int inPlane() { return h * w; }

    public int outPlane() { return outH * outW; }

    @Override
    public String toString() {
        return describe(h, w, kh, kw, strideH, strideW, padTop, padLeft, padBottom, padRight, dilationH, dilationW, outH, outW);
    }

    private static String describe(int h, int w, int kh, int kw, int sh, int sw, int pt, int pl, int pb, int pr,
                                   int dh, int dw, int oh, int ow) {
        return "[in " + h + "x" + w + ", kernel " + kh + "x" + kw + ", strides " + sh + "," + sw + ", pads " + pt + ","
                + pl + "," + pb + "," + pr + ", dilations " + dh + "," + dw + ", out " + oh + "x" + ow + "]";
    }
}
