package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.GradContext;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Deformable convolution (DeformConv, opsets 19 and 22) and its gradient {@code dev.kiln.DeformConvGrad}. Each kernel
 * tap of each output cell reads X not at its grid position but at that position moved by a learned offset, sampled
 * multilinearly (zero outside X, as GridSample with align_corners=1 and zeros padding), and scaled by an optional
 * mask (modulated deformable convolution, "DCNv2"). Any number of spatial axes; the reference loops accumulate in double.
 */
public final class DeformConvOps {
    private DeformConvOps() {}

    public static final String DEFORM_CONV_GRAD = "DeformConvGrad";

    public static void register(OpTable.Registrar r) {
        r.add(attributes(OpDef.builder("DeformConv").since(22)
                        .doc("Convolution of X [N,C,D...] with W [oc,C/group,k...] whose taps sample X at positions moved "
                                + "by offset [N,offset_group*prod(k)*n,O...] and scaled by mask [N,offset_group*prod(k),O...].")
                        .inputs("X", "W", "offset", "B?", "mask?").outputs("Y"))
                .shape(DeformConvOps::shape)
                .eval(ctx -> List.of(forward(ctx)))
                .grad(DeformConvOps::gradient)
                .build());

        r.add(attributes(OpDef.builder(DEFORM_CONV_GRAD).domain(OpTable.KILN_DOMAIN).since(1)
                        .doc("Gradients of DeformConv(X, W, offset, B, mask) with respect to X, W, offset and mask, from dY "
                                + "(B's is a ReduceSum of dY).")
                        .inputs("dY", "X", "W", "offset", "mask?").outputs("dX", "dW", "dOffset", "dMask?"))
                .shape(DeformConvOps::gradShape)
                .eval(DeformConvOps::backward)
                .build());
    }

    /** The attributes of DeformConv, which its gradient op repeats with the same defaults. */
    private static OpDef.Builder attributes(OpDef.Builder b) {
        return b.optionalAttr("dilations", AttrType.INTS, "gap between kernel taps per spatial axis; default 1")
                .attrInt("group", 1, "number of groups input and output channels are split into")
                .optionalAttr("kernel_shape", AttrType.INTS, "kernel extent per spatial axis; default from W")
                .attrInt("offset_group", 1, "number of groups of input channels that share one set of offsets")
                .optionalAttr("pads", AttrType.INTS, "padding: all begins then all ends; default 0")
                .optionalAttr("strides", AttrType.INTS, "step per spatial axis; default 1");
    }

    // ---- shapes ----

    private static List<TensorType> shape(ShapeContext ctx) {
        Shape x = ctx.inputShape(0);
        Shape w = ctx.inputShape(1);
        ConvPoolOps.checkConvOperands(ctx, x, w);
        Shape y = ConvPoolOps.convDims(ctx, 0, 1);
        checkSamplingInputs(ctx, 2, ctx.hasInput(4) ? 4 : -1, x, w, y);
        if (ctx.hasInput(3)) {
            Shape b = ctx.inputShape(3);
            if (ctx.inputDtype(3) != ctx.inputDtype(0)) {
                throw ctx.fail("B must have the element type of X");
            }
            if (b.rank() != 1 || !b.dim(0).mayEqual(w.dim(0))) {
                throw ctx.fail("B must be a vector of the " + w.dim(0) + " output channels but has shape " + b);
            }
        }
        return List.of(new TensorType(ctx.inputDtype(0), y));
    }

    private static List<TensorType> gradShape(ShapeContext ctx) {
        Shape x = ctx.inputShape(1);
        Shape w = ctx.inputShape(2);
        Shape dy = ctx.inputShape(0);
        if (ctx.inputDtype(0) != ctx.inputDtype(1) || ctx.inputDtype(2) != ctx.inputDtype(1)) {
            throw ctx.fail("dY, X and W must have one element type");
        }
        checkSamplingInputs(ctx, 3, ctx.hasInput(4) ? 4 : -1, x, w, dy);
        List<TensorType> out = new ArrayList<>(List.of(ctx.inputType(1), ctx.inputType(2), ctx.inputType(3)));
        if (ctx.outputCount() > 3) {
            if (!ctx.hasInput(4)) {
                throw ctx.fail("dMask is asked for but there is no mask");
            }
            out.add(ctx.inputType(4));
        }
        return out;
    }

    /**
     * Checks offset (input {@code oi}) and mask (input {@code mi}, or -1) against X, W and the output shape y: their
     * batch, channel counts (offset_group * taps * spatial rank, offset_group * taps) and output spatial sizes.
     */
    private static void checkSamplingInputs(ShapeContext ctx, int oi, int mi, Shape x, Shape w, Shape y) {
        long offsetGroup = offsetGroup(ctx);
        Dim c = x.dim(1);
        if (c.isStatic() && c.value() % offsetGroup != 0) {
            throw ctx.fail("X has " + c.value() + " channels, not divisible by offset_group=" + offsetGroup);
        }
        long[] kernel = ConvPoolOps.kernelShape(ctx, w, ctx.optInts("kernel_shape"));
        long taps = Arrays.stream(kernel).reduce(1, Math::multiplyExact);
        checkPerTap(ctx, oi, "offset", offsetGroup * taps * kernel.length, x, y);
        if (mi >= 0) {
            checkPerTap(ctx, mi, "mask", offsetGroup * taps, x, y);
        }
    }

    private static void checkPerTap(ShapeContext ctx, int i, String what, long channels, Shape x, Shape y) {
        Shape s = ctx.inputShape(i);
        if (ctx.inputDtype(i) != ctx.inputDtype(0)) {
            throw ctx.fail(what + " must have the element type of X");
        }
        boolean ok = s.rank() == x.rank() && s.dim(0).mayEqual(x.dim(0)) && s.dim(1).mayEqual(Dim.of(channels));
        for (int d = 2; ok && d < s.rank(); d++) {
            ok = s.dim(d).mayEqual(y.dim(d));
        }
        if (!ok) {
            throw ctx.fail(what + " must be [" + x.dim(0) + ", " + channels + ", output spatial sizes of " + y
                    + "] but is " + s);
        }
    }

    private static long offsetGroup(NodeContext ctx) {
        long g = ctx.attrInt("offset_group");
        if (g < 1) {
            throw ctx.fail("offset_group must be positive but is " + g);
        }
        return g;
    }

    // ---- reference semantics ----

    /**
     * The resolved geometry of one evaluation: sizes, the taps' kernel coordinates and the output cells' coordinates
     * (row-major), and where each tap of each output cell sits before its offset.
     */
    private record Layout(int batch, int channels, int outChannels, int group, int offsetGroup, int[] in,
                          int[] kernelSizes, int[][] tapCoords, int[][] outCoords, List<ConvGeometry.Axis> axes) {
        int rank() { return in.length; }

        int taps() { return tapCoords.length; }

        int outSize() { return outCoords.length; }

        int inSize() { return Arrays.stream(in).reduce(1, Math::multiplyExact); }

        int channelsPerGroup() { return channels / group; }

        int channelsPerOffsetGroup() { return channels / offsetGroup; }

        /** Where tap k of output cell o samples along axis d before its offset is added. */
        double gridPosition(int o, int k, int d) {
            ConvGeometry.Axis a = axes.get(d);
            return (double) outCoords[o][d] * a.stride() - a.padBegin() + (double) tapCoords[k][d] * a.dilation();
        }

        /** Flat index into offset [N, og*taps*rank, O...] of axis d of tap k of offset group g, cell o. */
        int offsetIndex(int n, int g, int k, int d, int o) {
            return (((n * offsetGroup + g) * taps() + k) * rank() + d) * outSize() + o;
        }

        /** Flat index into mask [N, og*taps, O...] of tap k of offset group g, cell o. */
        int maskIndex(int n, int g, int k, int o) {
            return ((n * offsetGroup + g) * taps() + k) * outSize() + o;
        }
    }

    private static Layout layout(EvalContext ctx, Tensor x, Tensor w, Tensor offset, Tensor mask, int outChannels) {
        int[] xs = x.shape();
        int[] ws = w.shape();
        int rank = xs.length - 2;
        int group = Math.toIntExact(ConvPoolOps.group(ctx));
        int offsetGroup = Math.toIntExact(offsetGroup(ctx));
        if (rank < 1 || ws.length != xs.length || xs[1] != ws[1] * group || outChannels % group != 0
                || xs[1] % offsetGroup != 0) {
            throw ctx.fail("X " + Arrays.toString(xs) + " and W " + Arrays.toString(ws) + " do not fit group=" + group
                    + " and offset_group=" + offsetGroup);
        }
        long[] kernel = ConvPoolOps.kernelShape(ctx, Shape.of(ws), ctx.optInts("kernel_shape"));
        List<ConvGeometry.Axis> axes = ConvGeometry.read(ctx, rank, kernel).forwardAxes(ctx,
                Arrays.copyOfRange(xs, 2, xs.length));
        int[] kernelSizes = new int[rank];
        int[] outSizes = new int[rank];
        for (int d = 0; d < rank; d++) {
            kernelSizes[d] = axes.get(d).kernel();
            outSizes[d] = axes.get(d).out();
        }
        int[][] taps = coordinates(kernelSizes);
        int[][] cells = coordinates(outSizes);
        int[] want = new int[xs.length];
        want[0] = xs[0];
        System.arraycopy(outSizes, 0, want, 2, rank);
        want[1] = offsetGroup * taps.length * rank;
        if (!Arrays.equals(offset.shape(), want)) {
            throw ctx.fail("offset is " + Arrays.toString(offset.shape()) + " but must be " + Arrays.toString(want));
        }
        want[1] = offsetGroup * taps.length;
        if (mask != null && !Arrays.equals(mask.shape(), want)) {
            throw ctx.fail("mask is " + Arrays.toString(mask.shape()) + " but must be " + Arrays.toString(want));
        }
        return new Layout(xs[0], xs[1], outChannels, group, offsetGroup, Arrays.copyOfRange(xs, 2, xs.length),
                kernelSizes, taps, cells, axes);
    }

    /** The coordinates of every cell of a grid of the given sizes, in row-major order. */
    private static int[][] coordinates(int[] sizes) {
        int count = Arrays.stream(sizes).reduce(1, Math::multiplyExact);
        int[][] out = new int[count][sizes.length];
        for (int i = 0; i < count; i++) {
            int rest = i;
            for (int d = sizes.length - 1; d >= 0; d--) {
                out[i][d] = rest % sizes[d];
                rest /= sizes[d];
            }
        }
        return out;
    }

    /**
     * The multilinear sample of a grid at a point: the 2^rank surrounding cells (-1 for one outside the grid, which
     * reads as zero), their weights, and each weight's derivative along each axis.
     */
    static final class Sample {
        final int[] cells;
        final double[] weights;
        final double[][] slopes;

        Sample(double[] point, int[] sizes) {
            int rank = sizes.length;
            int corners = 1 << rank;
            cells = new int[corners];
            weights = new double[corners];
            slopes = new double[corners][rank];
            for (int corner = 0; corner < corners; corner++) {
                int cell = 0;
                boolean inside = true;
                double[] factors = new double[rank];
                for (int d = 0; d < rank; d++) {
                    double low = Math.floor(point[d]);
                    boolean high = (corner >> (rank - 1 - d) & 1) == 1;
                    double frac = point[d] - low;
                    long at = (long) low + (high ? 1 : 0);
                    factors[d] = high ? frac : 1 - frac;
                    inside &= at >= 0 && at < sizes[d];
                    cell = inside ? cell * sizes[d] + (int) at : -1;
                }
                cells[corner] = cell;
                weights[corner] = 1;
                for (int d = 0; d < rank; d++) {
                    weights[corner] *= factors[d];
                    double slope = (corner >> (rank - 1 - d) & 1) == 1 ? 1 : -1;
                    for (int e = 0; e < rank; e++) {
                        slope *= e == d ? 1 : factors[e];
                    }
                    slopes[corner][d] = slope;
                }
            }
        }

        /** The sampled value of x's grid starting at {@code base}. */
        double value(double[] x, int base) {
            double v = 0;
            for (int k = 0; k < cells.length; k++) {
                if (cells[k] >= 0) {
                    v += weights[k] * x[base + cells[k]];
                }
            }
            return v;
        }

        /** The derivative of {@link #value} with respect to the point's coordinate along axis d. */
        double slope(double[] x, int base, int d) {
            double s = 0;
            for (int k = 0; k < cells.length; k++) {
                if (cells[k] >= 0) {
                    s += slopes[k][d] * x[base + cells[k]];
                }
            }
            return s;
        }
    }

    /** Where tap k of output cell o of image n samples input channel c, offsets applied. */
    private static Sample sample(Layout l, double[] offset, int n, int c, int k, int o) {
        int g = c / l.channelsPerOffsetGroup();
        double[] point = new double[l.rank()];
        for (int d = 0; d < point.length; d++) {
            point[d] = l.gridPosition(o, k, d) + offset[l.offsetIndex(n, g, k, d, o)];
        }
        return new Sample(point, l.in());
    }

    private static double maskAt(Layout l, double[] mask, int n, int c, int k, int o) {
        return mask == null ? 1 : mask[l.maskIndex(n, c / l.channelsPerOffsetGroup(), k, o)];
    }

    private static Tensor forward(EvalContext ctx) {
        Tensor xt = ctx.input(0);
        Tensor wt = ctx.input(1);
        Tensor mt = ctx.hasInput(4) ? ctx.input(4) : null;
        Layout l = layout(ctx, xt, wt, ctx.input(2), mt, wt.dim(0));
        double[] x = xt.doubles();
        double[] w = wt.doubles();
        double[] offset = ctx.input(2).doubles();
        double[] mask = mt == null ? null : mt.doubles();
        double[] bias = ctx.hasInput(3) ? ctx.input(3).doubles() : new double[l.outChannels()];
        if (bias.length != l.outChannels()) {
            throw ctx.fail("B has " + bias.length + " values for " + l.outChannels() + " output channels");
        }
        int cg = l.channelsPerGroup();
        int mg = l.outChannels() / l.group();
        int taps = l.taps();
        int outSize = l.outSize();
        int inSize = l.inSize();
        double[] y = new double[l.batch() * l.outChannels() * outSize];
        for (int n = 0; n < l.batch(); n++) {
            for (int m = 0; m < l.outChannels(); m++) {
                int first = m / mg * cg;
                for (int o = 0; o < outSize; o++) {
                    double acc = bias[m];
                    for (int ci = 0; ci < cg; ci++) {
                        int c = first + ci;
                        for (int k = 0; k < taps; k++) {
                            double v = sample(l, offset, n, c, k, o).value(x, (n * l.channels() + c) * inSize);
                            acc += w[(m * cg + ci) * taps + k] * maskAt(l, mask, n, c, k, o) * v;
                        }
                    }
                    y[(n * l.outChannels() + m) * outSize + o] = acc;
                }
            }
        }
        int[] shape = new int[l.rank() + 2];
        shape[0] = l.batch();
        shape[1] = l.outChannels();
        for (int d = 0; d < l.rank(); d++) {
            shape[d + 2] = l.axes().get(d).out();
        }
        return Tensor.wrapDoubles(xt.dtype(), shape, y);
    }

    /**
     * With G = sum over the output channels m of c's group of dY[n,m,o] * W[m,c,k] for each sample (image n, channel
     * c, tap k, cell o) of value v at mask value s: dX gets G*s*weight at each corner, dOffset G*s*dv/dpoint, dMask
     * G*v, and dW[m,c,k] the sum of dY[n,m,o]*s*v.
     */
    private static List<Tensor> backward(EvalContext ctx) {
        Tensor dyt = ctx.input(0);
        Tensor xt = ctx.input(1);
        Tensor wt = ctx.input(2);
        Tensor mt = ctx.hasInput(4) ? ctx.input(4) : null;
        Layout l = layout(ctx, xt, wt, ctx.input(3), mt, wt.dim(0));
        double[] dy = dyt.doubles();
        double[] x = xt.doubles();
        double[] w = wt.doubles();
        double[] offset = ctx.input(3).doubles();
        double[] mask = mt == null ? null : mt.doubles();
        if (dy.length != l.batch() * l.outChannels() * l.outSize()) {
            throw ctx.fail("dY " + Arrays.toString(dyt.shape()) + " does not match the output of this DeformConv");
        }
        int cg = l.channelsPerGroup();
        int mg = l.outChannels() / l.group();
        int taps = l.taps();
        int outSize = l.outSize();
        int inSize = l.inSize();
        double[] dx = new double[x.length];
        double[] dw = new double[w.length];
        double[] dOffset = new double[offset.length];
        double[] dMask = new double[l.batch() * l.offsetGroup() * taps * outSize];
        for (int n = 0; n < l.batch(); n++) {
            for (int c = 0; c < l.channels(); c++) {
                int ci = c % cg;
                int first = c / cg * mg;
                int xBase = (n * l.channels() + c) * inSize;
                int g = c / l.channelsPerOffsetGroup();
                for (int k = 0; k < taps; k++) {
                    for (int o = 0; o < outSize; o++) {
                        Sample s = sample(l, offset, n, c, k, o);
                        double v = s.value(x, xBase);
                        double scale = maskAt(l, mask, n, c, k, o);
                        double grad = 0;
                        for (int m = first; m < first + mg; m++) {
                            double d = dy[(n * l.outChannels() + m) * outSize + o];
                            grad += d * w[(m * cg + ci) * taps + k];
                            dw[(m * cg + ci) * taps + k] += d * scale * v;
                        }
                        dMask[l.maskIndex(n, g, k, o)] += grad * v;
                        for (int corner = 0; corner < s.cells.length; corner++) {
                            if (s.cells[corner] >= 0) {
                                dx[xBase + s.cells[corner]] += grad * scale * s.weights[corner];
                            }
                        }
                        for (int d = 0; d < l.rank(); d++) {
                            dOffset[l.offsetIndex(n, g, k, d, o)] += grad * scale * s.slope(x, xBase, d);
                        }
                    }
                }
            }
        }
        List<Tensor> out = new ArrayList<>(List.of(Tensor.wrapDoubles(xt.dtype(), xt.shape(), dx),
                Tensor.wrapDoubles(wt.dtype(), wt.shape(), dw),
                Tensor.wrapDoubles(ctx.input(3).dtype(), ctx.input(3).shape(), dOffset)));
        if (ctx.outputCount() > 3) {
            out.add(Tensor.wrapDoubles(mt.dtype(), mt.shape(), dMask));
        }
        return out;
    }

    // DeformConv(X, W, offset, B, mask): dX, dW, dOffset, dMask = DeformConvGrad(dY, X, W, offset, mask);
    // dB = ReduceSum(dY, all axes but the channel)
    private static void gradient(GradContext ctx) {
        Value dy = ctx.outputGrad(0);
        if (dy.isAbsent()) {
            return;
        }
        boolean masked = ctx.hasInput(4);
        if (ctx.needsGrad(0) || ctx.needsGrad(1) || ctx.needsGrad(2) || masked && ctx.needsGrad(4)) {
            List<Value> in = new ArrayList<>(List.of(dy, ctx.input(0), ctx.input(1), ctx.input(2)));
            if (masked) {
                in.add(ctx.input(4));
            }
            List<Value> grads = ctx.emitMulti(OpTable.KILN_DOMAIN, DEFORM_CONV_GRAD, ctx.attributes(), masked ? 4 : 3,
                    in.toArray(Value[]::new));
            for (int i = 0; i < 3; i++) {
                ctx.setInputGrad(i, grads.get(i));
            }
            if (masked) {
                ctx.setInputGrad(4, grads.get(3));
            }
        }
        if (ctx.hasInput(3) && ctx.needsGrad(3)) {
            long[] axes = new long[dy.shape().rank() - 1];
            for (int i = 1; i < axes.length; i++) {
                axes[i] = i + 1;
            }
            ctx.setInputGrad(3, ctx.reduceSum(dy, axes, false));
        }
    }
}
