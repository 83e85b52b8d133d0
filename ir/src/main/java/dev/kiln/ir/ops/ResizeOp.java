package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.OpDef;
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
 * Resize (opset 19): nearest, linear and cubic resampling, separable over the axes.
 *
 * <p>Each output coordinate maps to a real input coordinate by the coordinate transformation mode; the
 * interpolation then weighs a window of input elements around it. Windows reaching past the edges read the
 * edge element (or, with exclude_outside, drop those taps and renormalize), and tf_crop_and_resize gives the
 * extrapolation value to coordinates outside the input. The weights of all axes multiply (the interpolation
 * is separable), which equals resizing one axis after another because every kernel's weights sum to one.
 */
public final class ResizeOp {
    private ResizeOp() {}

    /**
     * The interpolation of one axis, as code generation precomputes it: for output coordinate o, the input
     * indices {@code index[o]} (edge-clamped) weighed by {@code weight[o]}, or {@code outside[o]} when
     * tf_crop_and_resize gives it the extrapolation value.
     */
    public record AxisTaps(int[][] index, double[][] weight, boolean[] outside) {}

    /**
     * Per axis of an input of shape {@code in}, the taps of every output coordinate, for a context whose inputs
     * 1..3 (roi, scales, sizes) are the node's constants; the taps the reference evaluation multiplies.
     */
    public static AxisTaps[] axisTaps(EvalContext ctx, int[] in) {
        checkAttributes(ctx);
        Plan p = plan(ctx, in, given(ctx, 1), given(ctx, 2), given(ctx, 3));
        AxisTaps[] out = new AxisTaps[in.length];
        for (int a = 0; a < in.length; a++) {
            int n = p.outShape()[a];
            AxisTaps t = new AxisTaps(new int[n][], new double[n][], new boolean[n]);
            for (int o = 0; o < n; o++) {
                Taps k = taps(ctx, o, in[a], n, p.scales()[a], p.roiStart()[a], p.roiEnd()[a]);
                t.index()[o] = k.index();
                t.weight()[o] = k.weight();
                t.outside()[o] = k.outside();
            }
            out[a] = t;
        }
        return out;
    }

    private static final List<String> MODES = List.of("nearest", "linear", "cubic");
    private static final List<String> TRANSFORMS = List.of("half_pixel", "half_pixel_symmetric",
            "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize");
    private static final List<String> NEAREST_MODES = List.of("round_prefer_floor", "round_prefer_ceil", "floor", "ceil");
    private static final List<String> POLICIES = List.of("stretch", "not_larger", "not_smaller");

    static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("Resize").since(19)
                .doc("Resamples the input to new sizes (given, or input dims times scales) by nearest, linear or "
                        + "cubic interpolation.")
                .inputs("X", "roi?", "scales?", "sizes?").outputs("Y")
                .nonDifferentiable("roi", "scales")
                .attrInt("antialias", 0, "1: linear and cubic widen their kernel by 1/scale when downscaling")
                .optionalAttr("axes", AttrType.INTS, "the axes roi, scales and sizes refer to (default all)")
                .attrString("coordinate_transformation_mode", "half_pixel",
                        "how an output coordinate maps to an input one: " + String.join(", ", TRANSFORMS))
                .attrFloat("cubic_coeff_a", -0.75f, "the 'a' of the cubic kernel")
                .attrInt("exclude_outside", 0, "1: taps outside the input get weight 0 and the rest renormalize")
                .attrFloat("extrapolation_value", 0f, "value of points outside the input in tf_crop_and_resize")
                .attrString("keep_aspect_ratio_policy", "stretch", "with sizes: stretch, not_larger or not_smaller")
                .attrString("mode", "nearest", "nearest, linear or cubic")
                .attrString("nearest_mode", "round_prefer_floor", "rounding of nearest: " + String.join(", ", NEAREST_MODES))
                .shape(ResizeOp::resizeType)
                .eval(ResizeOp::resize)
                .grad(MovementGrads::resize)
                .build());
    }

    private static String choice(NodeContext ctx, String attr, List<String> allowed) {
        String v = ctx.attrString(attr);
        if (!allowed.contains(v)) {
            throw ctx.fail(attr + " must be one of " + allowed + ", not '" + v + "'");
        }
        return v;
    }

    private static int[] axes(NodeContext ctx, int rank) {
        if (!ctx.isSet("axes")) {
            int[] all = new int[rank];
            for (int i = 0; i < rank; i++) {
                all[i] = i;
            }
            return all;
        }
        return Indexing.axes(ctx, ctx.attrInts("axes"), rank);
    }

    /** An optional float input, absent when omitted or empty (exporters write empty tensors for "not given"). */
    private static boolean given(ShapeContext ctx, int i) {
        return ctx.hasInput(i) && !(ctx.inputShape(i).rank() == 1 && ctx.inputShape(i).dim(0).isStatic()
                && ctx.inputShape(i).dim(0).value() == 0);
    }

    private static Optional<Tensor> given(EvalContext ctx, int i) {
        return ctx.hasInput(i) && ctx.input(i).size() > 0 ? Optional.of(ctx.input(i)) : Optional.empty();
    }

    private static void checkAttributes(NodeContext ctx) {
        choice(ctx, "mode", MODES);
        choice(ctx, "coordinate_transformation_mode", TRANSFORMS);
        choice(ctx, "nearest_mode", NEAREST_MODES);
        choice(ctx, "keep_aspect_ratio_policy", POLICIES);
    }

    // ---- output size and per-axis scale ----

    /** Output sizes and the scale each axis's coordinate transform uses. */
    private record Plan(int[] outShape, double[] scales, double[] roiStart, double[] roiEnd) {}

    private static Plan plan(NodeContext ctx, int[] in, Optional<Tensor> roi, Optional<Tensor> scales,
                             Optional<Tensor> sizes) {
        int rank = in.length;
        int[] axes = axes(ctx, rank);
        boolean crop = ctx.attrString("coordinate_transformation_mode").equals("tf_crop_and_resize");
        double[] roiStart = new double[rank];
        double[] roiEnd = new double[rank];
        Arrays.fill(roiEnd, 1);
        if (crop) {
            double[] r = roi.orElseThrow(() -> ctx.fail("tf_crop_and_resize needs roi")).toDoubleArray();
            if (r.length != 2 * axes.length) {
                throw ctx.fail("roi needs " + 2 * axes.length + " values, not " + r.length);
            }
            for (int i = 0; i < axes.length; i++) {
                roiStart[axes[i]] = r[i];
                roiEnd[axes[i]] = r[i + axes.length];
            }
        }
        int[] out = in.clone();
        double[] scale = new double[rank];
        Arrays.fill(scale, 1);
        if (scales.isPresent() == sizes.isPresent()) {
            throw ctx.fail("exactly one of scales and sizes must be given");
        }
        if (scales.isPresent()) {
            double[] s = scales.get().toDoubleArray();
            if (s.length != axes.length) {
                throw ctx.fail("scales needs " + axes.length + " values, not " + s.length);
            }
            for (int i = 0; i < axes.length; i++) {
                int a = axes[i];
                if (!(s[i] > 0)) {
                    throw ctx.fail("scales must be positive, not " + s[i]);
                }
                scale[a] = s[i];
                out[a] = (int) Math.floor(in[a] * (roiEnd[a] - roiStart[a]) * s[i]);
            }
            return new Plan(out, scale, roiStart, roiEnd);
        }
        long[] sz = sizes.get().toLongArray();
        if (sz.length != axes.length) {
            throw ctx.fail("sizes needs " + axes.length + " values, not " + sz.length);
        }
        String policy = ctx.attrString("keep_aspect_ratio_policy");
        if (policy.equals("stretch")) {
            for (int i = 0; i < axes.length; i++) {
                out[axes[i]] = Math.toIntExact(sz[i]);
                scale[axes[i]] = (double) sz[i] / in[axes[i]];
            }
            return new Plan(out, scale, roiStart, roiEnd);
        }
        // One scale for all the axes, the largest that fits (not_larger) or the smallest that covers (not_smaller).
        double common = policy.equals("not_larger") ? Double.POSITIVE_INFINITY : 0;
        for (int i = 0; i < axes.length; i++) {
            double s = (double) sz[i] / in[axes[i]];
            common = policy.equals("not_larger") ? Math.min(common, s) : Math.max(common, s);
        }
        for (int a : axes) {
            scale[a] = common;
            out[a] = (int) Math.rint(common * in[a]);
        }
        return new Plan(out, scale, roiStart, roiEnd);
    }

    private static List<TensorType> resizeType(ShapeContext ctx) {
        checkAttributes(ctx);
        Shape in = ctx.inputShape(0);
        if (!ctx.inputDtype(0).isNumeric()) {
            throw ctx.fail("Resize needs a numeric input");
        }
        int[] axes = axes(ctx, in.rank());
        boolean hasScales = given(ctx, 2);
        boolean hasSizes = given(ctx, 3);
        if (hasScales == hasSizes) {
            throw ctx.fail("exactly one of scales and sizes must be given");
        }
        boolean known = in.isStatic() && (!hasScales || ctx.constant(2).isPresent())
                && (!hasSizes || ctx.constant(3).isPresent())
                && (!ctx.attrString("coordinate_transformation_mode").equals("tf_crop_and_resize")
                || ctx.constant(1).isPresent());
        if (known) {
            Plan p = plan(ctx, in.toIntArray(), ctx.constant(1), hasScales ? ctx.constant(2) : Optional.empty(),
                    hasSizes ? ctx.constant(3) : Optional.empty());
            return List.of(new TensorType(ctx.inputDtype(0), Shape.of(p.outShape())));
        }
        List<Dim> out = new ArrayList<>(in.dims());
        Optional<Tensor> sizes = hasSizes ? ctx.constant(3) : Optional.empty();
        Optional<Tensor> scales = hasScales ? ctx.constant(2) : Optional.empty();
        boolean crop = ctx.attrString("coordinate_transformation_mode").equals("tf_crop_and_resize");
        boolean resizedStatic = Arrays.stream(axes).allMatch(a -> in.dim(a).isStatic());
        if ((scales.isPresent() || sizes.isPresent() && resizedStatic) && (!crop || ctx.constant(1).isPresent())) {
            // A symbolic dim (the batch) elsewhere does not stop the static ones from being sized: with scales each
            // axis is sized alone, with sizes the axes sized together are all static. A symbolic axis scaled by 1
            // keeps its dim; scaled otherwise it has no monomial size.
            int[] probe = new int[in.rank()];
            for (int a = 0; a < probe.length; a++) {
                probe[a] = in.dim(a).isStatic() ? Math.toIntExact(in.dim(a).value()) : 1;
            }
            Plan p = plan(ctx, probe, ctx.constant(1), scales, sizes);
            for (int i = 0; i < axes.length; i++) {
                Dim d = in.dim(axes[i]);
                out.set(axes[i], d.isStatic() ? Dim.of(p.outShape()[axes[i]])
                        : !crop && scales.get().getDouble(i) == 1 ? d : Dim.unknown());
            }
            return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)));
        }
        boolean stretch = ctx.attrString("keep_aspect_ratio_policy").equals("stretch");
        for (int i = 0; i < axes.length; i++) {
            Dim d = Dim.unknown();
            if (sizes.isPresent() && stretch && sizes.get().size() == axes.length) {
                d = Dim.of(sizes.get().getLong(i));
            } else if (scales.isPresent() && scales.get().size() == axes.length && scales.get().getDouble(i) == 1
                    && !ctx.attrString("coordinate_transformation_mode").equals("tf_crop_and_resize")) {
                d = in.dim(axes[i]);
            }
            out.set(axes[i], d);
        }
        return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)));
    }

    // ---- interpolation ----

    /** The taps of one output coordinate along one axis: input indices (edge-clamped) and weights. */
    private record Taps(int[] index, double[] weight, boolean outside) {}

    private static List<Tensor> resize(EvalContext ctx) {
        checkAttributes(ctx);
        Tensor x = ctx.input(0);
        int[] in = x.shape();
        Plan p = plan(ctx, in, given(ctx, 1), given(ctx, 2), given(ctx, 3));
        int[] out = p.outShape();
        int rank = in.length;
        Taps[][] taps = new Taps[rank][];
        for (int a = 0; a < rank; a++) {
            taps[a] = new Taps[out[a]];
            for (int o = 0; o < out[a]; o++) {
                taps[a][o] = taps(ctx, o, in[a], out[a], p.scales()[a], p.roiStart()[a], p.roiEnd()[a]);
            }
        }
        double extrapolation = ctx.attrFloat("extrapolation_value");
        int[] strides = Indexing.strides(in);
        int[] idx = new int[rank];
        double[] values = new double[Tensor.sizeOf(out)];
        for (int f = 0; f < values.length; f++) {
            Indexing.unravel(f, out, idx);
            Taps[] per = new Taps[rank];
            boolean outside = false;
            for (int a = 0; a < rank; a++) {
                per[a] = taps[a][idx[a]];
                outside |= per[a].outside();
            }
            values[f] = outside ? extrapolation : weightedSum(x, per, strides, 0, 0);
        }
        return List.of(Tensor.fromDoubles(x.dtype(), out, values));
    }

    /** Sum over the taps of axes a.. of weight products times the input element. */
    private static double weightedSum(Tensor x, Taps[] per, int[] strides, int a, int offset) {
        if (a == per.length) {
            return x.getDouble(offset);
        }
        double sum = 0;
        Taps t = per[a];
        for (int k = 0; k < t.index().length; k++) {
            if (t.weight()[k] != 0) {
                sum += t.weight()[k] * weightedSum(x, per, strides, a + 1, offset + t.index()[k] * strides[a]);
            }
        }
        return sum;
    }

    /** The input coordinate that output coordinate o maps to (NaN marks "outside" for tf_crop_and_resize). */
    private static double sourceCoordinate(NodeContext ctx, int o, int inLen, int outLen, double scale,
                                           double roiStart, double roiEnd) {
        // The transforms use the real-valued output length scale * inLen, as the ONNX reference does.
        double outWidth = scale * inLen;
        return switch (ctx.attrString("coordinate_transformation_mode")) {
            case "half_pixel" -> (o + 0.5) / scale - 0.5;
            case "half_pixel_symmetric" -> {
                double adjustment = outLen / outWidth;
                double offset = inLen / 2.0 * (1 - adjustment);
                yield offset + (o + 0.5) / scale - 0.5;
            }
            case "pytorch_half_pixel" -> outWidth == 1 ? 0 : (o + 0.5) / scale - 0.5;
            case "align_corners" -> outWidth == 1 ? 0 : o * (inLen - 1) / (outWidth - 1);
            case "asymmetric" -> o / scale;
            default -> {
                double c = outWidth == 1 ? (roiEnd - roiStart) * (inLen - 1) / 2
                        : o * (roiEnd - roiStart) * (inLen - 1) / (outWidth - 1);
                c += roiStart * (inLen - 1);
                yield c < 0 || c > inLen - 1 ? Double.NaN : c;
            }
        };
    }

    private static Taps taps(NodeContext ctx, int o, int inLen, int outLen, double scale, double roiStart,
                             double roiEnd) {
        double c = sourceCoordinate(ctx, o, inLen, outLen, scale, roiStart, roiEnd);
        if (Double.isNaN(c)) {
            return new Taps(new int[0], new double[0], true);
        }
        // The left neighbour and the fraction past it, in (0, 1]: an exact integer counts as 1 past c - 1.
        double floor = Math.floor(c);
        long base = c == floor ? (long) floor - 1 : (long) floor;
        double ratio = c - base;
        String mode = ctx.attrString("mode");
        double[] w;
        int first;
        if (mode.equals("nearest")) {
            first = 0;
            w = nearestWeights(ctx, ratio);
        } else {
            double s = ctx.attrInt("antialias") != 0 ? Math.min(scale, 1) : 1;
            if (mode.equals("linear")) {
                first = (int) Math.floor(-1 / s) + 1;
                w = new double[2 - 2 * first];
                for (int k = 0; k < w.length; k++) {
                    w[k] = Math.max(0, 1 - Math.abs((first + k - ratio) * s));
                }
            } else {
                double a = ctx.attrFloat("cubic_coeff_a");
                first = (int) Math.floor(-2 / s) + 1;
                w = new double[2 - 2 * first];
                for (int k = 0; k < w.length; k++) {
                    w[k] = cubic(Math.abs((first + k - ratio) * s), a);
                }
            }
            normalize(w);
        }
        // The window is kept within the edge padding of n/2 elements on each side, as numpy's edge pad would.
        int n = w.length;
        long pad = (n + 1) / 2;
        long start = Math.max(-pad, Math.min(inLen + pad - n, base + first));
        int[] index = new int[n];
        boolean exclude = ctx.attrInt("exclude_outside") != 0;
        for (int k = 0; k < n; k++) {
            long i = start + k;
            if (exclude && (i < 0 || i >= inLen)) {
                w[k] = 0;
            }
            index[k] = (int) Math.max(0, Math.min(inLen - 1, i));
        }
        if (exclude) {
            normalize(w);
        }
        return new Taps(index, w, false);
    }

    /** Weights of the left and right neighbour for nearest interpolation at fraction ratio in (0, 1]. */
    private static double[] nearestWeights(NodeContext ctx, double ratio) {
        if (ratio == 1) {
            return new double[] {0, 1};
        }
        boolean right = switch (ctx.attrString("nearest_mode")) {
            case "round_prefer_floor" -> ratio > 0.5;
            case "round_prefer_ceil" -> ratio >= 0.5;
            case "floor" -> false;
            default -> true;
        };
        return right ? new double[] {0, 1} : new double[] {1, 0};
    }

    /** Keys' cubic convolution kernel with parameter a at distance x >= 0. */
    private static double cubic(double x, double a) {
        if (x <= 1) {
            return ((a + 2) * x - (a + 3)) * x * x + 1;
        }
        if (x < 2) {
            return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
        }
        return 0;
    }

    private static void normalize(double[] w) {
        double sum = 0;
        for (double v : w) {
            sum += v;
        }
        if (sum != 0) {
            for (int k = 0; k < w.length; k++) {
                w[k] /= sum;
            }
        }
    }
}
