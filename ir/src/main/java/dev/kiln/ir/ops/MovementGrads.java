package dev.kiln.ir.ops;

import dev.kiln.ir.Attr;
import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.GradContext;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Gradient rules of ops that copy, repeat or resample elements: Expand, Tile, constant-mode Pad and Resize. Each
 * gradient is the adjoint of the forward's linear map: repeated elements sum their gradients, dropped ones and
 * padding get none, and a resampled axis takes the transpose of its interpolation matrix.
 */
final class MovementGrads {
    private MovementGrads() {}

    /** Y = Expand(X, shape) broadcasts X: dX = sum_to(g, X). */
    static void expand(GradContext ctx) {
        if (ctx.needsGrad(0)) {
            ctx.setInputGrad(0, ctx.sumToShape(ctx.outputGrad(0), ctx.input(0)));
        }
    }

    /**
     * Y = Tile(X, repeats): along axis k output index r * d_k + i reads X's index i, so g reshaped to
     * [repeats_0, d_0, repeats_1, d_1, ...] and summed over the repeat axes (0, 2, 4, ...) is dX. Needs constant
     * repeats and at most one symbolic dim of X (it becomes the reshape's -1).
     */
    static void tile(GradContext ctx) {
        if (!ctx.needsGrad(0)) {
            return;
        }
        Value x = ctx.input(0);
        long[] reps = ctx.constantValue(ctx.input(1)).map(Tensor::toLongArray)
                .orElseThrow(() -> ctx.unsupported("the gradient of Tile with non-constant repeats"));
        Shape s = x.shape();
        int r = s.rank();
        long[] interleaved = new long[2 * r];
        long[] repeatAxes = new long[r];
        boolean symbolic = false;
        for (int k = 0; k < r; k++) {
            Dim d = s.dim(k);
            interleaved[2 * k] = reps[k];
            if (d.isStatic()) {
                interleaved[2 * k + 1] = d.value();
            } else if (!symbolic) {
                symbolic = true;
                interleaved[2 * k + 1] = -1;
            } else {
                throw ctx.unsupported("the gradient of Tile on " + x.type() + ", with more than one symbolic dim");
            }
            repeatAxes[k] = 2 * k;
        }
        if (r == 0) {
            ctx.setInputGrad(0, ctx.outputGrad(0));
            return;
        }
        Value split = ctx.emit("Reshape", ctx.outputGrad(0), ctx.constant(Tensor.ofInt64s(interleaved)));
        ctx.setInputGrad(0, ctx.reduceSum(split, repeatAxes, false));
    }

    /**
     * Y = Pad(X, pads, value, axes) in constant mode: dX = Pad(g, -pads, axes), which crops what was padded and
     * zero-fills what negative pads cropped. The constant value is declared non-differentiable.
     */
    static void pad(GradContext ctx) {
        if (!ctx.needsGrad(0)) {
            return;
        }
        String mode = ctx.attrString("mode");
        if (!mode.equals("constant")) {
            throw ctx.unsupported("the gradient of Pad in " + mode + " mode (constant mode only)");
        }
        Value pads = ctx.input(1);
        Value negated = ctx.constantValue(pads).map(t -> {
            long[] p = t.toLongArray();
            long[] n = new long[p.length];
            for (int i = 0; i < p.length; i++) {
                n[i] = -p[i];
            }
            return ctx.constant(Tensor.wrapLongs(DType.INT64, t.shape(), n));
        }).orElseGet(() -> ctx.emit("Neg", pads));
        Value axes = ctx.hasInput(3) ? ctx.input(3) : Value.ABSENT;
        Attributes constant = Attributes.builder().s("mode", "constant").build();
        Value dx = axes.isAbsent()
                ? ctx.emit("Pad", constant, ctx.outputGrad(0), negated)
                : ctx.emit("Pad", constant, ctx.outputGrad(0), negated, Value.ABSENT, axes);
        ctx.setInputGrad(0, dx);
    }

    /**
     * Y = Resize(X) is linear in X and separable: along each resized axis a, Y = M_a X with M_a the [out, in]
     * interpolation matrix of that axis (nearest, linear or cubic, any coordinate transformation, antialias). So
     * dX = M_a^T g along each resized axis in turn, a MatMul with a constant. M_a comes from the op's own
     * reference semantics: Resize of the [in, in] identity along its axis 1 alone, with the forward's attributes,
     * scale (or size) and roi for that axis, is M_a^T. Needs constant scales (or Y's size along the axis, for
     * sizes with the stretch policy) and static sizes of the resized axes.
     */
    static void resize(GradContext ctx) {
        if (!ctx.needsGrad(0)) {
            return;
        }
        Value x = ctx.input(0);
        Value y = ctx.output(0);
        int rank = x.shape().rank();
        boolean crop = ctx.attrString("coordinate_transformation_mode").equals("tf_crop_and_resize");
        Optional<double[]> scales = givenConstant(ctx, 2, "scales");
        if (scales.isEmpty() && !ctx.attrString("keep_aspect_ratio_policy").equals("stretch")) {
            throw ctx.unsupported("the gradient of Resize with sizes and keep_aspect_ratio_policy="
                    + ctx.attrString("keep_aspect_ratio_policy"));
        }
        double[] roi = crop ? givenConstant(ctx, 1, "roi").orElseThrow(
                () -> ctx.unsupported("the gradient of tf_crop_and_resize needs a constant roi")) : null;
        long[] axes = ctx.optInts("axes").orElseGet(() -> {
            long[] all = new long[rank];
            for (int i = 0; i < rank; i++) {
                all[i] = i;
            }
            return all;
        });
        Value g = ctx.outputGrad(0);
        for (int i = 0; i < axes.length; i++) {
            int a = x.shape().axis(axes[i]);
            double scale = scales.isPresent() ? scales.get()[i] : Double.NaN;
            double roiStart = crop ? roi[i] : 0;
            double roiEnd = crop ? roi[i + axes.length] : 1;
            Dim in = x.shape().dim(a);
            Dim out = y.shape().dim(a);
            boolean whole = roiStart == 0 && roiEnd == 1;
            if (whole && (scales.isPresent() ? scale == 1 : in.equals(out))) {
                continue;
            }
            if (!in.isStatic() || !out.isStatic()) {
                throw ctx.unsupported("the gradient of Resize needs static sizes along resized axis " + a + ", but X is "
                        + x.type() + " and Y is " + y.type());
            }
            double[][] m = axisMatrix(ctx, (int) in.value(), (int) out.value(), scale, roiStart, roiEnd, crop);
            g = contract(ctx, g, a, m);
        }
        ctx.setInputGrad(0, g);
    }

    /** Input i's constant values, empty when it is absent or an empty tensor (ONNX's "not given"). */
    private static Optional<double[]> givenConstant(GradContext ctx, int i, String what) {
        if (!ctx.hasInput(i)) {
            return Optional.empty();
        }
        Tensor t = ctx.constantValue(ctx.input(i)).orElseThrow(
                () -> ctx.unsupported("the gradient of Resize with non-constant " + what));
        return t.size() == 0 ? Optional.empty() : Optional.of(t.toDoubleArray());
    }

    /** M[o][i]: the weight of input index i in output index o along one axis, from the reference Resize. */
    private static double[][] axisMatrix(GradContext ctx, int in, int out, double scale, double roiStart, double roiEnd,
                                         boolean crop) {
        double[] identity = new double[in * in];
        for (int i = 0; i < in; i++) {
            identity[i * in + i] = 1;
        }
        GraphBuilder b = new GraphBuilder("resize_axis");
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        Value basis = b.input("basis", DType.FLOAT64, Shape.of(in, in));
        feeds.put("basis", Tensor.wrapDoubles(DType.FLOAT64, new int[] {in, in}, identity));
        Value roi = crop ? b.initializer("roi", Tensor.wrapDoubles(DType.FLOAT32, new int[] {2},
                new double[] {roiStart, roiEnd})) : Value.ABSENT;
        Value scales = Double.isNaN(scale) ? Value.ABSENT
                : b.initializer("scales", Tensor.wrapDoubles(DType.FLOAT32, new int[] {1}, new double[] {scale}));
        Value sizes = Double.isNaN(scale) ? b.initializer("sizes", Tensor.ofInt64s(out)) : Value.ABSENT;
        // Extrapolated points are constants, not a share of X: they contribute nothing to the gradient.
        Attributes attrs = ctx.attributes().with("axes", Attr.Ints.of(1))
                .with("extrapolation_value", new Attr.Float(0f));
        Value resized = b.op("Resize").inputs(basis, roi, scales, sizes).attrs(attrs).output();
        b.output(resized);
        Tensor mt = ReferenceEvaluator.run(b.build(), feeds).get(resized.name());
        if (mt.shape()[1] != out) {
            throw ctx.fail("resizing axis of size " + in + " alone gave " + mt.shape()[1] + " elements, not " + out);
        }
        double[][] m = new double[out][in];
        for (int i = 0; i < in; i++) {
            for (int o = 0; o < out; o++) {
                m[o][i] = mt.getDouble(i * out + o);
            }
        }
        return m;
    }

    /** g with axis a (size out) replaced by M^T g along it (size in): a MatMul, with Transposes for inner axes. */
    private static Value contract(GradContext ctx, Value g, int a, double[][] m) {
        int out = m.length;
        int in = m[0].length;
        int rank = g.shape().rank();
        double[] flat = new double[out * in];
        double[] flatT = new double[in * out];
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                flat[o * in + i] = m[o][i];
                flatT[i * out + o] = m[o][i];
            }
        }
        if (a == rank - 2) {
            Value mt = ctx.constant(Tensor.wrapDoubles(g.dtype(), new int[] {in, out}, flatT));
            return ctx.emit("MatMul", mt, g);
        }
        Value mv = ctx.constant(Tensor.wrapDoubles(g.dtype(), new int[] {out, in}, flat));
        if (a == rank - 1) {
            return ctx.emit("MatMul", g, mv);
        }
        long[] perm = new long[rank];
        for (int k = 0; k < rank; k++) {
            perm[k] = k;
        }
        perm[a] = rank - 1;
        perm[rank - 1] = a;
        Attributes swap = Attributes.builder().ints("perm", perm).build();
        Value moved = ctx.emit("Transpose", swap, g);
        return ctx.emit("Transpose", swap, ctx.emit("MatMul", moved, mv));
    }
}
