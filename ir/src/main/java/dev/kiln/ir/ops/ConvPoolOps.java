package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Convolutions (Conv, ConvTranspose) and pooling (MaxPool, AveragePool, LpPool, the global pools, MaxUnpool)
 * over N x C x D1 x ... x Dn tensors. Window geometry comes from {@link ConvGeometry}; the reference loops
 * walk the tap tables of {@link WindowTaps} and accumulate in double.
 */
public final class ConvPoolOps {
    private ConvPoolOps() {}

    public static void register(OpTable.Registrar r) {
        r.add(ConvGeometry.declareWindowAttributes(OpDef.builder("Conv").since(11)
                        .doc("N-d convolution (cross-correlation) of X [N,C,D...] with W [M,C/group,k...], plus bias B [M].")
                        .inputs("X", "W", "B?").outputs("Y"), false)
                .attrInt("group", 1, "number of groups input and output channels are split into")
                .shape(ConvPoolOps::convShape)
                .eval(ctx -> List.of(conv(ctx)))
                .grad(NnGradRules::conv)
                .build());

        r.add(ConvGeometry.declareWindowAttributes(OpDef.builder("ConvTranspose").since(11)
                        .doc("N-d transposed convolution of X [N,C,D...] with W [C,M/group,k...], plus bias B [M].")
                        .inputs("X", "W", "B?").outputs("Y"), false)
                .attrInt("group", 1, "number of groups input and output channels are split into")
                .optionalAttr("output_padding", AttrType.INTS, "extra cells at the end of each spatial axis; default 0")
                .optionalAttr("output_shape", AttrType.INTS,
                        "output spatial sizes; when set, pads are derived from it (auto_pad picks the odd cell's side)")
                .shape(ConvPoolOps::convTransposeShape)
                .eval(ctx -> List.of(convTranspose(ctx)))
                .grad(ConvTransposeGrad::rule)
                .build());

        r.add(ConvGeometry.declareWindowAttributes(OpDef.builder("MaxPool").since(12)
                        .doc("Max over sliding windows of X [N,C,D...], padding ignored; optional flat argmax Indices.")
                        .inputs("X").outputs("Y", "Indices?"), true)
                .attrInt("ceil_mode", 0, "1 rounds the output size up instead of down")
                .attrInt("storage_order", 0, "Indices layout: 0 row major, 1 column major (spatial axes reversed)")
                .shape(ctx -> {
                    requireTypes(ctx, true);
                    storageColumnMajor(ctx);
                    Shape y = poolShape(ctx);
                    return List.of(new TensorType(ctx.inputDtype(0), y), new TensorType(DType.INT64, y));
                })
                .eval(ConvPoolOps::maxPool)
                .grad(NnGradRules::maxPool)
                .build());

        r.add(ConvGeometry.declareWindowAttributes(OpDef.builder("AveragePool").since(19)
                        .doc("Mean over sliding windows of X [N,C,D...]; count_include_pad says whether pads count.")
                        .inputs("X").outputs("Y"), true)
                .attrInt("ceil_mode", 0, "1 rounds the output size up instead of down")
                .attrInt("count_include_pad", 0, "1 divides by the window size including padding cells")
                .shape(ConvPoolOps::floatPoolShape)
                .eval(ctx -> List.of(averagePool(ctx)))
                .grad(NnGradRules::averagePool)
                .build());

        r.add(ConvGeometry.declareWindowAttributes(OpDef.builder("LpPool").since(18)
                        .doc("(sum |x|^p)^(1/p) over sliding windows of X [N,C,D...], padding ignored.")
                        .inputs("X").outputs("Y"), true)
                .attrInt("ceil_mode", 0, "1 rounds the output size up instead of down")
                .attrInt("p", 2, "the order of the norm")
                .shape(ConvPoolOps::floatPoolShape)
                .eval(ctx -> List.of(lpPool(ctx)))
                .build());

        r.add(OpDef.builder("GlobalAveragePool").since(1)
                .doc("Mean over all spatial cells of X [N,C,D...], giving [N,C,1...].")
                .inputs("X").outputs("Y")
                .properties(OpProperty.REDUCTION)
                .shape(ConvPoolOps::globalShape)
                .eval(ctx -> List.of(globalPool(ctx, false)))
                .grad(NnGradRules::globalAveragePool)
                .build());

        r.add(OpDef.builder("GlobalMaxPool").since(1)
                .doc("Max over all spatial cells of X [N,C,D...], giving [N,C,1...].")
                .inputs("X").outputs("Y")
                .properties(OpProperty.REDUCTION)
                .shape(ConvPoolOps::globalShape)
                .eval(ctx -> List.of(globalPool(ctx, true)))
                .grad(NnGradRules::globalMaxPool)
                .build());

        r.add(OpDef.builder("MaxUnpool").since(11)
                .doc("Scatters X into zeros at the flat positions I that a MaxPool's Indices gave.")
                .inputs("X", "I", "output_shape?").outputs("output")
                .requiredAttr("kernel_shape", AttrType.INTS, "kernel extent of the MaxPool being inverted")
                .optionalAttr("pads", AttrType.INTS, "pads of the MaxPool being inverted; default 0")
                .optionalAttr("strides", AttrType.INTS, "strides of the MaxPool being inverted; default 1")
                .shape(ConvPoolOps::maxUnpoolShape)
                .eval(ctx -> List.of(maxUnpool(ctx)))
                .build());
    }

    // ---- Conv ----

    private static List<TensorType> convShape(ShapeContext ctx) {
        checkConvOperands(ctx, ctx.inputShape(0), ctx.inputShape(1));
        Dim m = ctx.inputShape(1).dim(0);
        checkBias(ctx, m);
        return List.of(new TensorType(ctx.inputDtype(0), convDims(ctx, 0, 1)));
    }

    /**
     * [N, M, spatial...] of a convolution of input {@code xi} by weights {@code wi} under the node's window
     * attributes and group, after checking their ranks and channel counts (not their element types).
     */
    static Shape convDims(ShapeContext ctx, int xi, int wi) {
        Shape x = ctx.inputShape(xi);
        Shape w = ctx.inputShape(wi);
        if (x.rank() < 3) {
            throw ctx.fail("X must be N x C x D1 x ... (rank >= 3) but has rank " + x.rank());
        }
        if (w.rank() != x.rank()) {
            throw ctx.fail("W must have the rank of X (" + x.rank() + ") but has rank " + w.rank());
        }
        long group = group(ctx);
        Dim c = x.dim(1);
        Dim wc = w.dim(1);
        if (c.isStatic() && wc.isStatic() && c.value() != wc.value() * group) {
            throw ctx.fail("W has " + wc.value() + " input channels per group but X has " + c.value()
                    + " channels (group=" + group + ")");
        }
        Dim m = w.dim(0);
        if (m.isStatic() && m.value() % group != 0) {
            throw ctx.fail("W has " + m.value() + " output channels, not divisible by group=" + group);
        }
        return spatialOutput(ctx, x, w, m, false);
    }

    /** Shape rule of the pools defined on floating types only: the window geometry over X's spatial dims. */
    private static List<TensorType> floatPoolShape(ShapeContext ctx) {
        requireTypes(ctx, false);
        return List.of(new TensorType(ctx.inputDtype(0), poolShape(ctx)));
    }

    private static Tensor conv(EvalContext ctx) {
        Tensor xt = ctx.input(0);
        Tensor y = convolve(ctx, xt, ctx.input(1), ctx.hasInput(2) ? ctx.input(2).doubles() : null);
        return Tensor.wrapDoubles(xt.dtype(), y.shape(), y.doubles()); // y is not kept: its sums are rounded in place
    }

    /**
     * The convolution of floating x by floating w plus {@code bias} (per output channel, or none), under the node's
     * window attributes and group, summed in double: float64.
     */
    static Tensor convolve(EvalContext ctx, Tensor xt, Tensor wt, double[] bias) {
        int[] xs = xt.shape();
        int[] ws = wt.shape();
        int n = xs[0];
        int c = xs[1];
        int m = ws[0];
        int cg = ws[1];
        int group = Math.toIntExact(group(ctx));
        if (c != cg * group || m % group != 0) {
            throw ctx.fail("W has " + cg + " input channels per group and " + m + " output channels but X has " + c
                    + " channels (group=" + group + ")");
        }
        int mg = m / group;
        ConvGeometry g = ConvGeometry.read(ctx, xs.length - 2, kernelShape(ctx, wt.type().shape(), ctx.optInts("kernel_shape")));
        WindowTaps taps = new WindowTaps(g.forwardAxes(ctx, Arrays.copyOfRange(xs, 2, xs.length)));
        int[] table = taps.gather();
        int inSize = taps.inSize();
        int outSize = taps.outSize();
        int kSize = taps.kernelSize();
        double[] x = xt.doubles();
        double[] w = wt.doubles();
        double[] b = bias != null ? bias : new double[m];
        double[] y = new double[n * m * outSize];
        for (int ni = 0; ni < n; ni++) {
            for (int mi = 0; mi < m; mi++) {
                int firstChannel = (mi / mg) * cg;
                int yBase = (ni * m + mi) * outSize;
                for (int o = 0; o < outSize; o++) {
                    double acc = 0;
                    for (int ci = 0; ci < cg; ci++) {
                        int xBase = (ni * c + firstChannel + ci) * inSize;
                        int wBase = (mi * cg + ci) * kSize;
                        for (int k = 0; k < kSize; k++) {
                            int cell = table[o * kSize + k];
                            if (cell >= 0) {
                                acc += x[xBase + cell] * w[wBase + k];
                            }
                        }
                    }
                    y[yBase + o] = acc + b[mi];
                }
            }
        }
        return Tensor.wrapDoubles(DType.FLOAT64, outShape(n, m, taps), y);
    }

    // ---- ConvTranspose ----

    private static List<TensorType> convTransposeShape(ShapeContext ctx) {
        Shape x = ctx.inputShape(0);
        Shape w = ctx.inputShape(1);
        checkConvOperands(ctx, x, w);
        long group = group(ctx);
        Dim c = x.dim(1);
        Dim wc = w.dim(0);
        if (c.isStatic() && wc.isStatic() && c.value() != wc.value()) {
            throw ctx.fail("W has " + wc.value() + " input channels but X has " + c.value() + " channels");
        }
        if (wc.isStatic() && wc.value() % group != 0) {
            throw ctx.fail("X has " + wc.value() + " channels, not divisible by group=" + group);
        }
        Dim m = w.dim(1).times(group);
        return convOutput(ctx, x, w, m, true);
    }

    /** [N, M, spatial...] of a Conv (or ConvTranspose) with M output channels, after checking the bias. */
    private static List<TensorType> convOutput(ShapeContext ctx, Shape x, Shape w, Dim m, boolean transposed) {
        checkBias(ctx, m);
        return List.of(new TensorType(ctx.inputDtype(0), spatialOutput(ctx, x, w, m, transposed)));
    }

    private static Shape spatialOutput(ShapeContext ctx, Shape x, Shape w, Dim m, boolean transposed) {
        ConvGeometry g = ConvGeometry.read(ctx, x.rank() - 2, kernelShape(ctx, w, ctx.optInts("kernel_shape")));
        List<Dim> out = new ArrayList<>(List.of(x.dim(0), m));
        for (int i = 0; i < g.rank(); i++) {
            out.add(g.outDim(ctx, i, x.dim(i + 2), transposed));
        }
        return new Shape(out);
    }

    private static Tensor convTranspose(EvalContext ctx) {
        Tensor xt = ctx.input(0);
        Tensor wt = ctx.input(1);
        int[] xs = xt.shape();
        int[] ws = wt.shape();
        int n = xs[0];
        int c = xs[1];
        int group = Math.toIntExact(group(ctx));
        if (ws[0] != c || c % group != 0) {
            throw ctx.fail("W has " + ws[0] + " input channels but X has " + c + " (group=" + group + ")");
        }
        int cg = c / group;
        int mg = ws[1];
        int m = mg * group;
        ConvGeometry g = ConvGeometry.read(ctx, xs.length - 2, kernelShape(ctx, wt.type().shape(), ctx.optInts("kernel_shape")));
        WindowTaps taps = new WindowTaps(g.transposedAxes(ctx, Arrays.copyOfRange(xs, 2, xs.length)));
        int[] table = taps.scatter();
        int inSize = taps.inSize();
        int outSize = taps.outSize();
        int kSize = taps.kernelSize();
        double[] x = xt.doubles();
        double[] w = wt.doubles();
        double[] y = new double[n * m * outSize];
        for (int ni = 0; ni < n; ni++) {
            for (int ci = 0; ci < c; ci++) {
                int gi = ci / cg;
                int xBase = (ni * c + ci) * inSize;
                for (int mj = 0; mj < mg; mj++) {
                    int wBase = (ci * mg + mj) * kSize;
                    int yBase = (ni * m + gi * mg + mj) * outSize;
                    for (int i = 0; i < inSize; i++) {
                        double xv = x[xBase + i];
                        for (int k = 0; k < kSize; k++) {
                            int cell = table[i * kSize + k];
                            if (cell >= 0) {
                                y[yBase + cell] += xv * w[wBase + k];
                            }
                        }
                    }
                }
            }
        }
        if (ctx.hasInput(2)) {
            double[] b = ctx.input(2).doubles();
            for (int ni = 0; ni < n; ni++) {
                for (int mi = 0; mi < m; mi++) {
                    int yBase = (ni * m + mi) * outSize;
                    for (int o = 0; o < outSize; o++) {
                        y[yBase + o] += b[mi];
                    }
                }
            }
        }
        return Tensor.wrapDoubles(xt.dtype(), outShape(n, m, taps), y);
    }

    static void checkConvOperands(ShapeContext ctx, Shape x, Shape w) {
        Pointwise.requireFloat(ctx, 0);
        if (x.rank() < 3) {
            throw ctx.fail("X must be N x C x D1 x ... (rank >= 3) but has rank " + x.rank());
        }
        if (w.rank() != x.rank()) {
            throw ctx.fail("W must have the rank of X (" + x.rank() + ") but has rank " + w.rank());
        }
        if (ctx.inputDtype(1) != ctx.inputDtype(0)) {
            throw ctx.fail("W must have the element type of X");
        }
    }

    private static void checkBias(ShapeContext ctx, Dim m) {
        if (!ctx.hasInput(2)) {
            return;
        }
        Shape b = ctx.inputShape(2);
        if (ctx.inputDtype(2) != ctx.inputDtype(0)) {
            throw ctx.fail("B must have the element type of X");
        }
        if (b.rank() != 1 || (b.dim(0).isStatic() && m.isStatic() && b.dim(0).value() != m.value())) {
            throw ctx.fail("B must be a vector of the " + m + " output channels but has shape " + b);
        }
    }

    static long group(NodeContext ctx) {
        long group = ctx.attrInt("group");
        if (group < 1) {
            throw ctx.fail("group must be positive but is " + group);
        }
        return group;
    }

    /** The kernel's spatial extent: W's spatial dims, which kernel_shape (when set) must agree with. */
    static long[] kernelShape(NodeContext ctx, Shape w, Optional<long[]> attr) {
        long[] kernel = new long[w.rank() - 2];
        for (int i = 0; i < kernel.length; i++) {
            Dim d = w.dim(i + 2);
            if (d.isStatic()) {
                kernel[i] = d.value();
            } else if (attr.isPresent() && attr.get().length == kernel.length) {
                kernel[i] = attr.get()[i];
            } else {
                throw ctx.fail("W's spatial dims " + w + " must be static (or given by kernel_shape)");
            }
        }
        if (attr.isPresent() && !Arrays.equals(attr.get(), kernel)) {
            throw ctx.fail("kernel_shape " + Arrays.toString(attr.get()) + " does not match W's spatial dims " + w);
        }
        return kernel;
    }

    private static int[] outShape(int n, int c, WindowTaps taps) {
        int[] spatial = taps.outShape();
        int[] shape = new int[spatial.length + 2];
        shape[0] = n;
        shape[1] = c;
        System.arraycopy(spatial, 0, shape, 2, spatial.length);
        return shape;
    }

    // ---- pools ----

    private static void requireTypes(ShapeContext ctx, boolean allowInt8) {
        DType t = ctx.inputDtype(0);
        boolean ok = t.isFloat() || (allowInt8 && (t == DType.INT8 || t == DType.UINT8));
        if (!ok) {
            throw ctx.fail("X must be a floating type" + (allowInt8 ? " or int8/uint8" : "") + " but is " + t);
        }
        if (ctx.inputShape(0).rank() < 3) {
            throw ctx.fail("X must be N x C x D1 x ... (rank >= 3) but has rank " + ctx.inputShape(0).rank());
        }
    }

    private static Shape poolShape(ShapeContext ctx) {
        Shape x = ctx.inputShape(0);
        ConvGeometry g = ConvGeometry.read(ctx, x.rank() - 2, ctx.attrInts("kernel_shape"));
        List<Dim> out = new ArrayList<>(List.of(x.dim(0), x.dim(1)));
        for (int i = 0; i < g.rank(); i++) {
            out.add(g.outDim(ctx, i, x.dim(i + 2), false));
        }
        return new Shape(out);
    }

    private static WindowTaps poolTaps(EvalContext ctx, int[] xs) {
        ConvGeometry g = ConvGeometry.read(ctx, xs.length - 2, ctx.attrInts("kernel_shape"));
        return new WindowTaps(g.forwardAxes(ctx, Arrays.copyOfRange(xs, 2, xs.length)));
    }

    private static List<Tensor> maxPool(EvalContext ctx) {
        Tensor xt = ctx.input(0);
        int[] xs = xt.shape();
        int planes = xs[0] * xs[1];
        WindowTaps taps = poolTaps(ctx, xs);
        int[] table = taps.gather();
        int inSize = taps.inSize();
        int outSize = taps.outSize();
        int kSize = taps.kernelSize();
        int[] columnMajor = columnMajorIndex(taps.inShape());
        boolean columns = storageColumnMajor(ctx);
        double[] y = new double[planes * outSize];
        long[] indices = new long[planes * outSize];
        for (int p = 0; p < planes; p++) {
            for (int o = 0; o < outSize; o++) {
                double best = Double.NEGATIVE_INFINITY;
                int bestCell = -1;
                for (int k = 0; k < kSize; k++) {
                    int cell = table[o * kSize + k];
                    if (cell >= 0) {
                        double v = xt.getDouble(p * inSize + cell);
                        // NaN never wins, as padding never does; the first of equal maxima wins.
                        if (v > best || (bestCell < 0 && !Double.isNaN(v))) {
                            best = v;
                            bestCell = cell;
                        }
                    }
                }
                y[p * outSize + o] = best;
                int cell = Math.max(bestCell, 0);
                indices[p * outSize + o] = (long) p * inSize + (columns ? columnMajor[cell] : cell);
            }
        }
        int[] shape = outShape(xs[0], xs[1], taps);
        Tensor values = xt.dtype().isFloat() ? Tensor.wrapDoubles(xt.dtype(), shape, y)
                : Tensor.fromDoubles(xt.dtype(), shape, y);
        return List.of(values, Tensor.wrapLongs(DType.INT64, shape, indices));
    }

    private static boolean storageColumnMajor(NodeContext ctx) {
        long order = ctx.attrInt("storage_order");
        if (order != 0 && order != 1) {
            throw ctx.fail("storage_order must be 0 (row major) or 1 (column major) but is " + order);
        }
        return order == 1;
    }

    /** For each row-major spatial cell, its index when the spatial axes are laid out column major. */
    private static int[] columnMajorIndex(int[] shape) {
        int size = Tensor.sizeOf(shape);
        int[] out = new int[size];
        int[] coords = new int[shape.length];
        for (int flat = 0; flat < size; flat++) {
            WindowTaps.unflatten(flat, shape, coords);
            int idx = 0;
            for (int d = shape.length - 1; d >= 0; d--) {
                idx = idx * shape[d] + coords[d];
            }
            out[flat] = idx;
        }
        return out;
    }

    private static Tensor averagePool(EvalContext ctx) {
        Tensor xt = ctx.input(0);
        int[] xs = xt.shape();
        int planes = xs[0] * xs[1];
        WindowTaps taps = poolTaps(ctx, xs);
        int[] table = taps.gather();
        int inSize = taps.inSize();
        int outSize = taps.outSize();
        int kSize = taps.kernelSize();
        boolean includePad = ctx.attrInt("count_include_pad") != 0;
        double[] x = xt.doubles();
        double[] y = new double[planes * outSize];
        for (int p = 0; p < planes; p++) {
            for (int o = 0; o < outSize; o++) {
                double sum = 0;
                int count = 0;
                for (int k = 0; k < kSize; k++) {
                    int cell = table[o * kSize + k];
                    if (cell >= 0) {
                        sum += x[p * inSize + cell];
                        count++;
                    } else if (cell == WindowTaps.PAD && includePad) {
                        count++;
                    }
                }
                y[p * outSize + o] = sum / count;
            }
        }
        return Tensor.wrapDoubles(xt.dtype(), outShape(xs[0], xs[1], taps), y);
    }

    private static Tensor lpPool(EvalContext ctx) {
        Tensor xt = ctx.input(0);
        int[] xs = xt.shape();
        int planes = xs[0] * xs[1];
        WindowTaps taps = poolTaps(ctx, xs);
        int[] table = taps.gather();
        int inSize = taps.inSize();
        int outSize = taps.outSize();
        int kSize = taps.kernelSize();
        double p = ctx.attrInt("p");
        double[] x = xt.doubles();
        double[] y = new double[planes * outSize];
        for (int pl = 0; pl < planes; pl++) {
            for (int o = 0; o < outSize; o++) {
                double sum = 0;
                for (int k = 0; k < kSize; k++) {
                    int cell = table[o * kSize + k];
                    if (cell >= 0) {
                        sum += Math.pow(Math.abs(x[pl * inSize + cell]), p);
                    }
                }
                y[pl * outSize + o] = Math.pow(sum, 1 / p);
            }
        }
        return Tensor.wrapDoubles(xt.dtype(), outShape(xs[0], xs[1], taps), y);
    }

    private static List<TensorType> globalShape(ShapeContext ctx) {
        Pointwise.requireFloat(ctx, 0);
        Shape x = ctx.inputShape(0);
        if (x.rank() < 2) {
            throw ctx.fail("X must be N x C x D1 x ... but has rank " + x.rank());
        }
        List<Dim> out = new ArrayList<>(List.of(x.dim(0), x.dim(1)));
        for (int i = 2; i < x.rank(); i++) {
            out.add(Dim.of(1));
        }
        return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)));
    }

    private static Tensor globalPool(EvalContext ctx, boolean max) {
        Tensor xt = ctx.input(0);
        int[] xs = xt.shape();
        int planes = xs[0] * xs[1];
        int cells = xt.size() / Math.max(planes, 1);
        double[] x = xt.doubles();
        double[] y = new double[planes];
        for (int p = 0; p < planes; p++) {
            double acc = max ? Double.NEGATIVE_INFINITY : 0;
            for (int i = 0; i < cells; i++) {
                double v = x[p * cells + i];
                acc = max ? (Double.isNaN(v) || v > acc ? v : acc) : acc + v;
                if (max && Double.isNaN(acc)) {
                    break;
                }
            }
            y[p] = max ? acc : acc / cells;
        }
        int[] shape = new int[xs.length];
        Arrays.fill(shape, 1);
        shape[0] = xs[0];
        shape[1] = xs[1];
        return Tensor.wrapDoubles(xt.dtype(), shape, y);
    }

    // ---- MaxUnpool ----

    private static List<TensorType> maxUnpoolShape(ShapeContext ctx) {
        Pointwise.requireFloat(ctx, 0);
        Shape x = ctx.inputShape(0);
        if (x.rank() < 3) {
            throw ctx.fail("X must be N x C x D1 x ... (rank >= 3) but has rank " + x.rank());
        }
        if (ctx.inputDtype(1) != DType.INT64) {
            throw ctx.fail("I must be int64");
        }
        if (ctx.hasInput(2)) {
            return ctx.dimsValue(2)
                    .map(d -> List.of(new TensorType(ctx.inputDtype(0), new Shape(d))))
                    .orElseGet(() -> List.of(new TensorType(ctx.inputDtype(0), unknownDims(x))));
        }
        long[][] window = unpoolWindow(ctx, x.rank() - 2);
        List<Dim> out = new ArrayList<>(List.of(x.dim(0), x.dim(1)));
        for (int i = 0; i < x.rank() - 2; i++) {
            Dim in = x.dim(i + 2);
            out.add(in.isStatic() ? Dim.of(unpooledSize(in.value(), i, window)) : Dim.unknown());
        }
        return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)));
    }

    private static Shape unknownDims(Shape x) {
        List<Dim> out = new ArrayList<>(List.of(x.dim(0), x.dim(1)));
        for (int i = 2; i < x.rank(); i++) {
            out.add(Dim.unknown());
        }
        return new Shape(out);
    }

    /** kernel, strides, pads (begins then ends) of MaxUnpool, validated. */
    private static long[][] unpoolWindow(NodeContext ctx, int rank) {
        long[] kernel = ctx.attrInts("kernel_shape");
        long[] strides = ctx.optInts("strides").orElseGet(() -> {
            long[] s = new long[rank];
            Arrays.fill(s, 1);
            return s;
        });
        long[] pads = ctx.optInts("pads").orElse(new long[2 * rank]);
        if (kernel.length != rank || strides.length != rank || pads.length != 2 * rank) {
            throw ctx.fail("kernel_shape " + Arrays.toString(kernel) + ", strides " + Arrays.toString(strides)
                    + " and pads " + Arrays.toString(pads) + " do not fit " + rank + " spatial axes");
        }
        return new long[][] {kernel, strides, pads};
    }

    private static long unpooledSize(long in, int i, long[][] window) {
        int rank = window[0].length;
        return (in - 1) * window[1][i] + window[0][i] - window[2][i] - window[2][i + rank];
    }

    /**
     * Scatters X into the unpooled shape the attributes give, where I's flat indices point; a larger
     * output_shape then holds that result in its leading corner, zeros elsewhere (as ONNX's reference does).
     */
    private static Tensor maxUnpool(EvalContext ctx) {
        Tensor xt = ctx.input(0);
        Tensor it = ctx.input(1);
        int[] xs = xt.shape();
        if (!Arrays.equals(xs, it.shape())) {
            throw ctx.fail("I must have the shape of X");
        }
        long[][] window = unpoolWindow(ctx, xs.length - 2);
        int[] unpooled = xs.clone();
        for (int i = 2; i < xs.length; i++) {
            unpooled[i] = Math.toIntExact(unpooledSize(xs[i], i - 2, window));
        }
        double[] u = new double[Tensor.sizeOf(unpooled)];
        double[] x = xt.doubles();
        long[] idx = it.longs();
        for (int j = 0; j < x.length; j++) {
            if (idx[j] < 0 || idx[j] >= u.length) {
                throw ctx.fail("index " + idx[j] + " in I is outside the unpooled " + Arrays.toString(unpooled));
            }
            u[(int) idx[j]] = x[j];
        }
        if (!ctx.hasInput(2)) {
            return Tensor.wrapDoubles(xt.dtype(), unpooled, u);
        }
        int[] shape = ctx.input(2).toIntArray();
        if (shape.length != xs.length) {
            throw ctx.fail("output_shape " + Arrays.toString(shape) + " must have rank " + xs.length);
        }
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] < unpooled[d]) {
                throw ctx.fail("output_shape " + Arrays.toString(shape) + " is smaller than the unpooled "
                        + Arrays.toString(unpooled));
            }
        }
        double[] y = new double[Tensor.sizeOf(shape)];
        int[] coords = new int[shape.length];
        for (int j = 0; j < u.length; j++) {
            WindowTaps.unflatten(j, unpooled, coords);
            int flat = 0;
            for (int d = 0; d < shape.length; d++) {
                flat = flat * shape[d] + coords[d];
            }
            y[flat] = u[j];
        }
        return Tensor.wrapDoubles(xt.dtype(), shape, y);
    }
}
