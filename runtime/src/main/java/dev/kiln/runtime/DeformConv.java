package dev.kiln.runtime;

import java.util.Arrays;

/**
 * Deformable convolution (ONNX DeformConv) over float32 [N, C, D...] tensors, and its gradients. Each tap of each
 * output cell samples X multilinearly at its grid position moved by an offset (corners outside X read as zero) and
 * scales the sample by an optional mask. Per image and group, the scaled samples are laid out as columns
 * [C/group * taps, cells] and the output is W's rows times those columns, summed in float in tap order.
 */
public final class DeformConv {
    private DeformConv() {}

    /** The geometry of one DeformConv node: sizes and, per tap and per output cell, the sample's grid position. */
    public static final class Shape {
        final int channels;
        final int outChannels;
        final int group;
        final int offsetGroup;
        final int rank;
        final int taps;
        final int inSize;
        final int outSize;
        final int[] in;
        /** [tap][axis]: the tap's kernel coordinate times the dilation. */
        final int[] tapShift;
        /** [cell][axis]: the output cell's coordinate times the stride, minus the begin pad. */
        final int[] cellOrigin;

        /**
         * @param in X's spatial sizes; {@code kernel}, {@code strides}, {@code dilations}, {@code padBegin} and
         *           {@code out} (the output's spatial sizes) have one entry per spatial axis too
         */
        public Shape(int channels, int outChannels, int group, int offsetGroup, int[] in, int[] kernel, int[] strides,
                     int[] dilations, int[] padBegin, int[] out) {
            if (channels % group != 0 || outChannels % group != 0 || channels % offsetGroup != 0) {
                throw new IllegalArgumentException("channels " + channels + " and output channels " + outChannels
                        + " do not fit group " + group + " and offset_group " + offsetGroup);
            }
            this.channels = channels;
            this.outChannels = outChannels;
            this.group = group;
            this.offsetGroup = offsetGroup;
            this.rank = in.length;
            this.in = in.clone();
            this.inSize = Arrays.stream(in).reduce(1, Math::multiplyExact);
            this.taps = Arrays.stream(kernel).reduce(1, Math::multiplyExact);
            this.outSize = Arrays.stream(out).reduce(1, Math::multiplyExact);
            this.tapShift = new int[taps * rank];
            for (int k = 0; k < taps; k++) {
                int rest = k;
                for (int d = rank - 1; d >= 0; d--) {
                    tapShift[k * rank + d] = rest % kernel[d] * dilations[d];
                    rest /= kernel[d];
                }
            }
            this.cellOrigin = new int[outSize * rank];
            for (int o = 0; o < outSize; o++) {
                int rest = o;
                for (int d = rank - 1; d >= 0; d--) {
                    cellOrigin[o * rank + d] = rest % out[d] * strides[d] - padBegin[d];
                    rest /= out[d];
                }
            }
        }

        int channelsPerGroup() { return channels / group; }

        int outChannelsPerGroup() { return outChannels / group; }
    }

    /** Per-instance scratch (one per generated instance, so calls allocate nothing). */
    public static final class Scratch {
        /** [C/group * taps][cells]: mask times sample, of one image and group. */
        final float[] columns;
        /** [C/group * taps][cells]: the loss's gradient with respect to {@link #columns} (backward only). */
        final float[] columnGrads;
        final int[] low;
        final double[] frac;
        final double[] factors;

        public Scratch(Shape s, boolean backward) {
            int size = s.channelsPerGroup() * s.taps * s.outSize;
            columns = new float[size];
            columnGrads = backward ? new float[size] : new float[0];
            low = new int[s.rank];
            frac = new double[s.rank];
            factors = new double[s.rank];
        }
    }

    /**
     * {@code y = DeformConv(x, w, offset, bias, mask)}; {@code bias} and {@code mask} may be null (no bias, mask of
     * ones). Offsets are [N, offset_group * taps * rank, cells], masks [N, offset_group * taps, cells].
     */
    public static void forward(Shape s, int batch, float[] x, int xOff, float[] w, int wOff, float[] offset, int offOff,
                               float[] bias, int biasOff, float[] mask, int maskOff, float[] y, int yOff, Scratch t) {
        int rows = s.channelsPerGroup() * s.taps;
        int cells = s.outSize;
        float[] columns = t.columns;
        for (int n = 0; n < batch; n++) {
            for (int g = 0; g < s.group; g++) {
                sampleColumns(s, t, n, g, x, xOff, offset, offOff, mask, maskOff);
                for (int m = g * s.outChannelsPerGroup(); m < (g + 1) * s.outChannelsPerGroup(); m++) {
                    int yBase = yOff + (n * s.outChannels + m) * cells;
                    Arrays.fill(y, yBase, yBase + cells, bias == null ? 0f : bias[biasOff + m]);
                    int wRow = wOff + m * rows;
                    for (int j = 0; j < rows; j++) {
                        float wv = w[wRow + j];
                        int col = j * cells;
                        for (int o = 0; o < cells; o++) {
                            y[yBase + o] += wv * columns[col + o];
                        }
                    }
                }
            }
        }
    }

    /**
     * The gradients of {@link #forward} for output gradient {@code dy}: dX, dW, dOffset and (when {@code dMask} is not
     * null) dMask, each overwritten. With G the gradient of a column entry (W's column times dY), a sample of value v
     * under mask value m gives dMask G*v, its corners G*m*weight and its offsets G*m*(dv/dposition).
     */
    public static void backward(Shape s, int batch, float[] dy, int dyOff, float[] x, int xOff, float[] w, int wOff,
                                float[] offset, int offOff, float[] mask, int maskOff, float[] dx, int dxOff,
                                float[] dw, int dwOff, float[] dOffset, int dOffOff, float[] dMask, int dMaskOff,
                                Scratch t) {
        int cg = s.channelsPerGroup();
        int mg = s.outChannelsPerGroup();
        int rows = cg * s.taps;
        int cells = s.outSize;
        Arrays.fill(dx, dxOff, dxOff + batch * s.channels * s.inSize, 0f);
        Arrays.fill(dw, dwOff, dwOff + s.outChannels * rows, 0f);
        Arrays.fill(dOffset, dOffOff, dOffOff + batch * s.offsetGroup * s.taps * s.rank * cells, 0f);
        if (dMask != null) {
            Arrays.fill(dMask, dMaskOff, dMaskOff + batch * s.offsetGroup * s.taps * cells, 0f);
        }
        float[] columns = t.columns;
        float[] grads = t.columnGrads;
        int perOffsetGroup = s.channels / s.offsetGroup;
        for (int n = 0; n < batch; n++) {
            for (int g = 0; g < s.group; g++) {
                sampleColumns(s, t, n, g, x, xOff, offset, offOff, mask, maskOff);
                Arrays.fill(grads, 0f);
                for (int m = g * mg; m < (g + 1) * mg; m++) {
                    int dyBase = dyOff + (n * s.outChannels + m) * cells;
                    int wRow = wOff + m * rows;
                    for (int j = 0; j < rows; j++) {
                        int col = j * cells;
                        float wv = w[wRow + j];
                        double dot = 0;
                        for (int o = 0; o < cells; o++) {
                            dot += dy[dyBase + o] * columns[col + o];
                            grads[col + o] += wv * dy[dyBase + o];
                        }
                        dw[dwOff + m * rows + j] += (float) dot;
                    }
                }
                for (int ci = 0; ci < cg; ci++) {
                    int c = g * cg + ci;
                    int og = c / perOffsetGroup;
                    int xBase = xOff + (n * s.channels + c) * s.inSize;
                    int dxBase = dxOff + (n * s.channels + c) * s.inSize;
                    int offBase = (n * s.offsetGroup + og) * s.taps * s.rank;
                    for (int k = 0; k < s.taps; k++) {
                        int maskRow = ((n * s.offsetGroup + og) * s.taps + k) * cells;
                        for (int o = 0; o < cells; o++) {
                            float grad = grads[(ci * s.taps + k) * cells + o];
                            locate(s, t, offset, offOff + offBase * cells, k, o);
                            float scale = mask == null ? 1f : mask[maskOff + maskRow + o];
                            if (dMask != null) {
                                dMask[dMaskOff + maskRow + o] += (float) (grad * value(s, t, x, xBase));
                            }
                            spread(s, t, x, xBase, dx, dxBase, (double) grad * scale, dOffset,
                                    dOffOff + (offBase + k * s.rank) * cells + o, cells);
                        }
                    }
                }
            }
        }
    }

    /** columns[(ci * taps + k) * cells + o] = mask * sample, for the channels ci of group g of image n. */
    private static void sampleColumns(Shape s, Scratch t, int n, int g, float[] x, int xOff, float[] offset,
                                      int offOff, float[] mask, int maskOff) {
        int cg = s.channelsPerGroup();
        int cells = s.outSize;
        int perOffsetGroup = s.channels / s.offsetGroup;
        for (int ci = 0; ci < cg; ci++) {
            int c = g * cg + ci;
            int og = c / perOffsetGroup;
            int xBase = xOff + (n * s.channels + c) * s.inSize;
            int offBase = offOff + (n * s.offsetGroup + og) * s.taps * s.rank * cells;
            for (int k = 0; k < s.taps; k++) {
                int maskRow = maskOff + ((n * s.offsetGroup + og) * s.taps + k) * cells;
                int col = (ci * s.taps + k) * cells;
                for (int o = 0; o < cells; o++) {
                    locate(s, t, offset, offBase, k, o);
                    double v = value(s, t, x, xBase);
                    t.columns[col + o] = (float) (mask == null ? v : mask[maskRow + o] * v);
                }
            }
        }
    }

    /** Sets t.low and t.frac to the point tap k of cell o samples; {@code offBase} is the offset group's first row. */
    private static void locate(Shape s, Scratch t, float[] offset, int offBase, int k, int o) {
        for (int d = 0; d < s.rank; d++) {
            double p = s.cellOrigin[o * s.rank + d] + s.tapShift[k * s.rank + d]
                    + offset[offBase + (k * s.rank + d) * s.outSize + o];
            double floor = Math.floor(p);
            t.frac[d] = p - floor;
            // Far outside, every corner is outside; clamping keeps the int in range without changing that.
            t.low[d] = (int) Math.max(-2, Math.min(floor, s.in[d]));
        }
    }

    /** The multilinear sample at the located point; corners outside X read as zero. */
    private static double value(Shape s, Scratch t, float[] x, int xBase) {
        double v = 0;
        for (int corner = 0; corner < 1 << s.rank; corner++) {
            int cell = 0;
            double weight = 1;
            boolean inside = true;
            for (int d = 0; d < s.rank && inside; d++) {
                int high = corner >> (s.rank - 1 - d) & 1;
                int at = t.low[d] + high;
                inside = at >= 0 && at < s.in[d];
                cell = cell * s.in[d] + at;
                weight *= high == 1 ? t.frac[d] : 1 - t.frac[d];
            }
            if (inside) {
                v += weight * x[xBase + cell];
            }
        }
        return v;
    }

    /**
     * Adds {@code g} times the located sample's corner weights to dx and {@code g} times its slope along each axis
     * to dOffset (at {@code dOffAt + d * stride}).
     */
    private static void spread(Shape s, Scratch t, float[] x, int xBase, float[] dx, int dxBase, double g,
                               float[] dOffset, int dOffAt, int stride) {
        for (int corner = 0; corner < 1 << s.rank; corner++) {
            int cell = 0;
            boolean inside = true;
            for (int d = 0; d < s.rank && inside; d++) {
                int high = corner >> (s.rank - 1 - d) & 1;
                int at = t.low[d] + high;
                inside = at >= 0 && at < s.in[d];
                cell = cell * s.in[d] + at;
                t.factors[d] = high == 1 ? t.frac[d] : 1 - t.frac[d];
            }
            if (!inside) {
                continue;
            }
            double weight = 1;
            for (int d = 0; d < s.rank; d++) {
                weight *= t.factors[d];
            }
            dx[dxBase + cell] += (float) (g * weight);
            double xv = x[xBase + cell];
            for (int d = 0; d < s.rank; d++) {
                double slope = (corner >> (s.rank - 1 - d) & 1) == 1 ? 1 : -1;
                for (int e = 0; e < s.rank; e++) {
                    if (e != d) {
                        slope *= t.factors[e];
                    }
                }
                dOffset[dOffAt + d * stride] += (float) (g * slope * xv);
            }
        }
    }
}
