package dev.kiln.ir.ops;

import dev.kiln.ir.DType;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.ScaleFloat;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * Linear quantization: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger, QLinearMatMul,
 * ConvInteger and QLinearConv. QuantizeLinear and DequantizeLinear also take the 2- and 4-bit integers and the
 * float8 and float4 types: a float target is reached by Cast's conversion (round to nearest even, saturating
 * unless {@code saturate} is 0) instead of rounding to an integer and clamping.
 *
 * <p>A scale (and its zero point, of the same shape) applies per tensor (a scalar, or one element), per axis (1-D,
 * one per index of x along {@code axis}) or per block (x's rank; {@code block_size} consecutive indices along
 * {@code axis} share one, every other dim as x's).
 */
public final class QuantizationOps {
    private QuantizationOps() {}

    /** The types x quantizes to. */
    private static final Set<DType> QUANTIZED = Set.of(DType.UINT8, DType.INT8, DType.UINT16, DType.INT16,
            DType.UINT4, DType.INT4, DType.UINT2, DType.INT2, DType.FLOAT8E4M3FN, DType.FLOAT8E4M3FNUZ,
            DType.FLOAT8E5M2, DType.FLOAT8E5M2FNUZ, DType.FLOAT4E2M1);

    public static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("QuantizeLinear").since(25)
                .doc("y = saturate(round_half_even(x / y_scale) + y_zero_point), per tensor, axis or block.")
                .inputs("x", "y_scale", "y_zero_point?").outputs("y")
                .attrInt("axis", 1, "the axis of x a 1-D or blocked scale runs along")
                .attrInt("block_size", 0, "indices along axis sharing one scale (blocked quantization)")
                .attrInt("output_dtype", 0, "ONNX element type of y; 0: y_zero_point's, or uint8 without one")
                .attrInt("saturate", 1, "float8 targets only (0: out-of-range values become infinity or NaN); "
                        + "integers and float4 always saturate")
                .attrInt("precision", 0, "ONNX element type of the division; 0: y_scale's (float32 for a float8e8m0 "
                        + "scale)")
                .shape(QuantizationOps::quantizeShape)
                .eval(ctx -> List.of(quantize(ctx)))
                .build());

        r.add(OpDef.builder("DequantizeLinear").since(25)
                .doc("y = (x - x_zero_point) * x_scale, per tensor, axis or block.")
                .inputs("x", "x_scale", "x_zero_point?").outputs("y")
                .attrInt("axis", 1, "the axis of x a 1-D or blocked scale runs along")
                .attrInt("block_size", 0, "indices along axis sharing one scale (blocked quantization)")
                .attrInt("output_dtype", 0, "ONNX element type of y; 0: x_scale's")
                .shape(QuantizationOps::dequantizeShape)
                .eval(ctx -> List.of(dequantize(ctx)))
                .build());

        r.add(OpDef.builder("DynamicQuantizeLinear").since(11)
                .doc("Quantizes float x to uint8 with the scale and zero point that map [min(x, 0), max(x, 0)] onto "
                        + "[0, 255].")
                .inputs("x").outputs("y", "y_scale", "y_zero_point")
                .shape(ctx -> {
                    if (ctx.inputDtype(0) != DType.FLOAT32) {
                        throw ctx.fail("x must be float32 but is " + ctx.inputDtype(0));
                    }
                    return List.of(new TensorType(DType.UINT8, ctx.inputShape(0)),
                            new TensorType(DType.FLOAT32, Shape.of(new long[0])), new TensorType(DType.UINT8, Shape.of(new long[0])));
                })
                .eval(QuantizationOps::dynamicQuantize)
                .build());

        r.add(OpDef.builder("MatMulInteger").since(10)
                .doc("int32 numpy.matmul of (A - a_zero_point) and (B - b_zero_point); zero points per tensor, per "
                        + "row of A or per column of B.")
                .inputs("A", "B", "a_zero_point?", "b_zero_point?").outputs("Y")
                .shape(ctx -> {
                    for (int i = 0; i < 2; i++) {
                        DType t = ctx.inputDtype(i);
                        if (t != DType.UINT8 && t != DType.INT8) {
                            throw ctx.fail(ctx.def().inputName(i) + " must be uint8 or int8 but is " + t);
                        }
                        if (ctx.hasInput(i + 2) && ctx.inputDtype(i + 2) != t) {
                            throw ctx.fail(ctx.def().inputName(i + 2) + " must have " + ctx.def().inputName(i)
                                    + "'s type " + t);
                        }
                    }
                    return List.of(new TensorType(DType.INT32, LinearAlgebraOps.matMulDims(ctx)));
                })
                .eval(ctx -> List.of(matMulInteger(ctx)))
                .build());

        r.add(OpDef.builder("QLinearMatMul").since(21)
                .doc("Quantized numpy.matmul: (a - a_zero_point) (b - b_zero_point) times a_scale b_scale / y_scale, "
                        + "rounded half to even, plus y_zero_point, saturated; scales and zero points per tensor, per "
                        + "row of a or per column of b.")
                .inputs("a", "a_scale", "a_zero_point", "b", "b_scale", "b_zero_point", "y_scale", "y_zero_point")
                .outputs("y")
                .shape(ctx -> {
                    for (int i : new int[] {0, 3}) {
                        DType t = ctx.inputDtype(i);
                        if (t != DType.UINT8 && t != DType.INT8) {
                            throw ctx.fail(ctx.def().inputName(i) + " must be uint8 or int8 but is " + t);
                        }
                        if (ctx.inputDtype(i + 2) != t) {
                            throw ctx.fail(ctx.def().inputName(i + 2) + " must have " + ctx.def().inputName(i)
                                    + "'s type " + t);
                        }
                    }
                    DType scale = ctx.inputDtype(1);
                    for (int i : new int[] {1, 4, 6}) {
                        if (!ctx.inputDtype(i).isFloat() || ctx.inputDtype(i) != scale) {
                            throw ctx.fail("a_scale, b_scale and y_scale must share one floating type");
                        }
                    }
                    DType out = ctx.inputDtype(7);
                    if (out != DType.UINT8 && out != DType.INT8) {
                        throw ctx.fail("y_zero_point must be uint8 or int8 but is " + out);
                    }
                    return List.of(new TensorType(out, LinearAlgebraOps.matMulDims(ctx, 0, 3)));
                })
                .eval(ctx -> List.of(qLinearMatMul(ctx)))
                .build());

        r.add(ConvGeometry.declareWindowAttributes(OpDef.builder("ConvInteger").since(10)
                        .doc("int32 convolution of (x - x_zero_point) by (w - w_zero_point); padding contributes 0.")
                        .inputs("x", "w", "x_zero_point?", "w_zero_point?").outputs("y"), false)
                .attrInt("group", 1, "number of groups input and output channels are split into")
                .shape(ctx -> {
                    requireEightBit(ctx, 0, 2);
                    requireEightBit(ctx, 1, 3);
                    return List.of(new TensorType(DType.INT32, ConvPoolOps.convDims(ctx, 0, 1)));
                })
                .eval(ctx -> List.of(convInteger(ctx)))
                .build());

        r.add(ConvGeometry.declareWindowAttributes(OpDef.builder("QLinearConv").since(10)
                        .doc("Quantized convolution: (x - x_zero_point) by (w - w_zero_point) plus int32 B, times x_scale "
                                + "w_scale / y_scale, rounded half to even, plus y_zero_point, saturated; w's scale and "
                                + "zero point per tensor or per output channel.")
                        .inputs("x", "x_scale", "x_zero_point", "w", "w_scale", "w_zero_point", "y_scale",
                                "y_zero_point", "B?").outputs("y"), false)
                .attrInt("group", 1, "number of groups input and output channels are split into")
                .shape(ctx -> {
                    requireEightBit(ctx, 0, 2);
                    requireEightBit(ctx, 3, 5);
                    requireEightBit(ctx, 7, 7);
                    if (ctx.hasInput(8) && ctx.inputDtype(8) != DType.INT32) {
                        throw ctx.fail("B must be int32 but is " + ctx.inputDtype(8));
                    }
                    return List.of(new TensorType(ctx.inputDtype(7), ConvPoolOps.convDims(ctx, 0, 3)));
                })
                .eval(ctx -> List.of(qLinearConv(ctx)))
                .build());
    }

    // ---- shapes ----

    /** Input {@code i} is uint8 or int8 and input {@code zero} (its zero point, when present) of the same type. */
    private static void requireEightBit(ShapeContext ctx, int i, int zero) {
        DType t = ctx.inputDtype(i);
        if (t != DType.UINT8 && t != DType.INT8) {
            throw ctx.fail(ctx.def().inputName(i) + " must be uint8 or int8 but is " + t);
        }
        if (zero != i && ctx.hasInput(zero) && ctx.inputDtype(zero) != t) {
            throw ctx.fail(ctx.def().inputName(zero) + " must have " + ctx.def().inputName(i) + "'s type " + t);
        }
    }

    private static List<TensorType> quantizeShape(ShapeContext ctx) {
        DType x = ctx.inputDtype(0);
        if (!x.isFloat() && x != DType.INT32) {
            throw ctx.fail("x must be a floating type or int32 but is " + x);
        }
        Pointwise.requireFloat(ctx, 1);
        DType out = quantizedType(ctx, ctx.hasInput(2) ? ctx.inputDtype(2) : null);
        if (ctx.attrInt("precision") != 0 && (!elementType(ctx, "precision").isFloat()
                || elementType(ctx, "precision").isLowPrecisionFloat())) {
            throw ctx.fail("precision must be float32, float16, bfloat16 or float64");
        }
        checkGranularity(ctx);
        return List.of(new TensorType(out, ctx.inputShape(0)));
    }

    private static List<TensorType> dequantizeShape(ShapeContext ctx) {
        DType x = ctx.inputDtype(0);
        if (!QUANTIZED.contains(x) && x != DType.INT32) {
            throw ctx.fail("x must be an 8-, 16-, 4- or 2-bit integer, int32, or a float8 or float4 type but is " + x);
        }
        Pointwise.requireFloat(ctx, 1);
        if (ctx.hasInput(2) && ctx.inputDtype(2) != x) {
            throw ctx.fail("x_zero_point must have x's type " + x + " but is " + ctx.inputDtype(2));
        }
        DType out = ctx.attrInt("output_dtype") == 0 ? ctx.inputDtype(1) : elementType(ctx, "output_dtype");
        if (!out.isFloat() || out.isLowPrecisionFloat()) {
            throw ctx.fail("y's type (output_dtype, or x_scale's) must be float32, float16, bfloat16 or float64 but is "
                    + out);
        }
        checkGranularity(ctx);
        return List.of(new TensorType(out, ctx.inputShape(0)));
    }

    /**
     * The type QuantizeLinear divides in: attribute {@code precision} when set, else the scale's; a float8e8m0
     * scale (a power of two) divides in float32, as rounding quotients to powers of two would make no sense.
     */
    public static DType divisionPrecision(DType scale, long precisionAttr) {
        if (precisionAttr != 0) {
            return DType.fromOnnx(Math.toIntExact(precisionAttr));
        }
        return scale.isLowPrecisionFloat() ? DType.FLOAT32 : scale;
    }

    /** QuantizeLinear's y type: output_dtype, or the zero point's, or uint8; the two must agree when both are set. */
    private static DType quantizedType(NodeContext ctx, DType zeroPoint) {
        DType out = zeroPoint != null ? zeroPoint : DType.UINT8;
        if (ctx.attrInt("output_dtype") != 0) {
            DType asked = elementType(ctx, "output_dtype");
            if (zeroPoint != null && zeroPoint != asked) {
                throw ctx.fail("output_dtype " + asked + " differs from y_zero_point's type " + zeroPoint);
            }
            out = asked;
        }
        if (!QUANTIZED.contains(out)) {
            throw ctx.fail("quantizing to " + out + " is not supported (the 16-, 8-, 4- and 2-bit integers, float8 and "
                    + "float4 are)");
        }
        return out;
    }

    private static DType elementType(NodeContext ctx, String attr) {
        long code = ctx.attrInt(attr);
        try {
            return DType.fromOnnx((int) code);
        } catch (RuntimeException e) {
            throw ctx.fail(attr + " " + code + " is not an ONNX element type Kiln supports");
        }
    }

    /**
     * The scale is a scalar, 1-D along axis or blocked; the zero point has its shape (a scalar and a tensor of one
     * element both mean per tensor, and the backend tests pair them).
     */
    private static void checkGranularity(ShapeContext ctx) {
        Shape x = ctx.inputShape(0);
        Shape scale = ctx.inputShape(1);
        if (ctx.hasInput(2) && !scale.mayEqual(ctx.inputShape(2)) && !(perTensor(scale) && perTensor(ctx.inputShape(2)))) {
            throw ctx.fail("the zero point's shape " + ctx.inputShape(2) + " differs from the scale's " + scale);
        }
        if (scale.rank() > 1 && scale.rank() != x.rank()) {
            throw ctx.fail("the scale must be a scalar, 1-D (per axis) or of x's rank (blocked), not " + scale);
        }
        if (scale.rank() == 1 || scale.rank() == x.rank() && x.rank() > 1) {
            axis(ctx, x.rank());
        }
        if (scale.rank() == x.rank() && x.rank() > 1 && ctx.attrInt("block_size") <= 0) {
            throw ctx.fail("a scale of x's rank " + scale + " needs a positive block_size");
        }
    }

    /** A scalar or a 1-D tensor of one element: one scale (or zero point) for the whole tensor, in either form. */
    private static boolean perTensor(Shape s) {
        return s.rank() == 0 || s.rank() == 1 && s.elementCount().isStatic() && s.elementCount().value() == 1;
    }

    private static int axis(NodeContext ctx, int rank) {
        long axis = ctx.attrInt("axis");
        if (axis < -rank || axis >= rank) {
            throw ctx.fail("axis " + axis + " is out of range for x of rank " + rank);
        }
        return (int) (axis < 0 ? axis + rank : axis);
    }

    // ---- evaluation ----

    /**
     * For each element of x, the index of its scale and zero point: all 0 per tensor, the index along axis per
     * axis, the block's flat index when blocked.
     */
    static int[] scaleIndex(NodeContext ctx, int[] xs, int[] ss) {
        int size = Tensor.sizeOf(xs);
        int[] index = new int[size];
        if (Tensor.sizeOf(ss) == 1 && ss.length <= 1) {
            return index;
        }
        int axis = axis(ctx, xs.length);
        int inner = Tensor.sizeOf(Arrays.copyOfRange(xs, axis + 1, xs.length));
        int along = xs[axis];
        if (ss.length == 1) {
            if (ss[0] != along) {
                throw ctx.fail("a per-axis scale needs " + along + " elements (x's axis " + axis + ") but has " + ss[0]);
            }
            for (int i = 0; i < size; i++) {
                index[i] = i / inner % along;
            }
            return index;
        }
        int block = (int) ctx.attrInt("block_size");
        for (int d = 0; d < xs.length; d++) {
            int want = d == axis ? Math.ceilDiv(along, block) : xs[d];
            if (ss[d] != want) {
                throw ctx.fail("a blocked scale for x " + Arrays.toString(xs) + " with block_size " + block
                        + " along axis " + axis + " must have shape with " + want + " at dim " + d + ", not "
                        + Arrays.toString(ss));
            }
        }
        int blocks = ss[axis];
        for (int i = 0; i < size; i++) {
            int outer = i / (inner * along);
            int a = i / inner % along;
            index[i] = (outer * blocks + a / block) * inner + i % inner;
        }
        return index;
    }

    private static Tensor quantize(EvalContext ctx) {
        Tensor x = ctx.input(0);
        Tensor scale = ctx.input(1);
        Tensor zeroPoint = ctx.hasInput(2) ? ctx.input(2) : null;
        DType out = quantizedType(ctx, zeroPoint == null ? null : zeroPoint.dtype());
        DType precision = divisionPrecision(scale.dtype(), ctx.attrInt("precision"));
        int[] si = scaleIndex(ctx, x.shape(), scale.shape());
        double[] sv = scale.doubles();
        if (out.isFloat()) {
            // A float target: Cast's conversion of the scaled value plus the (float) zero point.
            boolean saturate = ctx.attrInt("saturate") != 0;
            double[] y = new double[x.size()];
            for (int i = 0; i < y.length; i++) {
                int s = si[i];
                double v = precision.round(x.getDouble(i) / sv[s]) + (zeroPoint == null ? 0 : zeroPoint.getDouble(s));
                y[i] = CastOps.convert(v, out, saturate, ScaleFloat.RoundMode.UP);
            }
            return Tensor.wrapDoubles(out, x.shape(), y);
        }
        long[] zv = zeroPoint == null ? null : zeroPoint.longs();
        long[] y = new long[x.size()];
        for (int i = 0; i < y.length; i++) {
            int s = si[i];
            double q = Math.rint(precision.round(x.getDouble(i) / sv[s])) + (zv == null ? 0 : zv[s]);
            y[i] = saturate(out, q);
        }
        return Tensor.wrapLongs(out, x.shape(), y);
    }

    /** {@code v} (an integer or NaN) clamped to the range of {@code t}; NaN goes to 0. */
    static long saturate(DType t, double v) {
        return Double.isNaN(v) ? 0 : (long) Math.max(t.minValue(), Math.min(t.maxValue(), v));
    }

    private static Tensor dequantize(EvalContext ctx) {
        Tensor x = ctx.input(0);
        Tensor scale = ctx.input(1);
        Tensor zeroPoint = ctx.hasInput(2) ? ctx.input(2) : null;
        DType out = ctx.attrInt("output_dtype") == 0 ? scale.dtype() : elementType(ctx, "output_dtype");
        int[] si = scaleIndex(ctx, x.shape(), scale.shape());
        double[] xv = x.toDoubleArray();
        double[] sv = scale.doubles().clone();
        for (int s = 0; s < sv.length; s++) {
            sv[s] = out.round(sv[s]); // the product's precision is the output type's
        }
        double[] zv = zeroPoint == null ? null : zeroPoint.toDoubleArray();
        double[] y = new double[xv.length];
        for (int i = 0; i < y.length; i++) {
            int s = si[i];
            y[i] = (xv[i] - (zv == null ? 0 : zv[s])) * sv[s];
        }
        return Tensor.wrapDoubles(out, x.shape(), y);
    }

    /**
     * In float32 as ONNX defines it: scale = (max(x, 0) - min(x, 0)) / 255, zero point = round(clamp(-min / scale,
     * 0, 255)), y = saturate(round(x / scale) + zero point), rounding half to even. An x of zeros only (scale 0)
     * gives scale 0, zero point 0 and y 0, where the formula would divide 0 by 0.
     */
    private static List<Tensor> dynamicQuantize(EvalContext ctx) {
        Tensor x = ctx.input(0);
        double[] xv = x.doubles();
        float min = 0;
        float max = 0;
        for (double v : xv) {
            min = Math.min(min, (float) v);
            max = Math.max(max, (float) v);
        }
        float scale = (max - min) / 255f;
        long zero = scale == 0 ? 0 : saturate(DType.UINT8, Math.rint(Math.max(0f, Math.min(255f, 0f - min / scale))));
        long[] y = new long[xv.length];
        for (int i = 0; i < y.length; i++) {
            y[i] = scale == 0 ? 0 : saturate(DType.UINT8, Math.rint((float) xv[i] / scale) + zero);
        }
        return List.of(Tensor.wrapLongs(DType.UINT8, x.shape(), y),
                Tensor.wrapDoubles(DType.FLOAT32, new int[0], new double[] {scale}),
                Tensor.wrapLongs(DType.UINT8, new int[0], new long[] {zero}));
    }

    private static Tensor matMulInteger(EvalContext ctx) {
        Tensor a = shifted(ctx, ctx.input(0), ctx.hasInput(2) ? ctx.input(2) : null, true);
        Tensor b = shifted(ctx, ctx.input(1), ctx.hasInput(3) ? ctx.input(3) : null, false);
        Tensor y = LinearAlgebraOps.matMul(a, b, ctx);
        return Tensor.wrapLongs(DType.INT32, y.shape(), y.longs().clone());
    }

    /**
     * As ONNX's reference: the integer product of the shifted operands times the multiplier a_scale b_scale /
     * y_scale (computed in the scales' type, rounding after each operation), in double, plus y_zero_point,
     * rounded half to even and saturated.
     */
    private static Tensor qLinearMatMul(EvalContext ctx) {
        Tensor a = shifted(ctx, ctx.input(0), ctx.input(2), true);
        Tensor b = shifted(ctx, ctx.input(3), ctx.input(5), false);
        Tensor product = LinearAlgebraOps.matMul(a, b, ctx);
        long[] c = product.longs();
        if (ctx.input(6).size() != 1 || ctx.input(7).size() != 1) {
            throw ctx.fail("y_scale and y_zero_point must hold one value each");
        }
        DType scaleType = ctx.input(1).dtype();
        double[] as = ctx.input(1).doubles();
        double[] bs = ctx.input(4).doubles();
        double ys = ctx.input(6).doubles()[0];
        long yz = ctx.input(7).longs()[0];
        int[] as0 = a.shape();
        int rows = as0.length < 2 ? 1 : as0[as0.length - 2];
        int cols = b.shape()[b.shape().length - 1];
        checkCount(ctx, as.length, rows, "a_scale", "row of a");
        checkCount(ctx, bs.length, b.rank() < 2 ? 1 : cols, "b_scale", "column of b");
        DType out = ctx.input(7).dtype();
        long[] y = new long[c.length];
        for (int f = 0; f < y.length; f++) {
            int i = as.length == 1 ? 0 : f / cols % rows;
            int j = bs.length == 1 ? 0 : f % cols;
            double multiplier = scaleType.round(scaleType.round(as[i] * bs[j]) / ys);
            y[f] = saturate(out, Math.rint(c[f] * multiplier + yz));
        }
        return Tensor.wrapLongs(out, product.shape(), y);
    }

    private static Tensor convInteger(EvalContext ctx) {
        Tensor y = integerConv(ctx, 0, 2, 1, 3, null);
        return Tensor.wrapLongs(DType.INT32, y.shape(), Arrays.stream(y.doubles()).mapToLong(Math::round).toArray());
    }

    /** As QLinearMatMul, with w's scale per tensor or per output channel and the int32 bias added to the sums. */
    private static Tensor qLinearConv(EvalContext ctx) {
        double[] bias = ctx.hasInput(8) ? ctx.input(8).toDoubleArray() : null;
        Tensor sums = integerConv(ctx, 0, 2, 3, 5, bias);
        if (ctx.input(1).size() != 1 || ctx.input(2).size() != 1 || ctx.input(6).size() != 1
                || ctx.input(7).size() != 1) {
            throw ctx.fail("x_scale, x_zero_point, y_scale and y_zero_point must hold one value each");
        }
        int[] shape = sums.shape();
        int m = shape[1];
        int plane = sums.size() / Math.max(1, shape[0] * m);
        DType scaleType = ctx.input(1).dtype();
        double xs = ctx.input(1).doubles()[0];
        double[] ws = ctx.input(4).doubles();
        double ys = ctx.input(6).doubles()[0];
        long yz = ctx.input(7).longs()[0];
        checkCount(ctx, ws.length, m, "w_scale", "output channel");
        DType out = ctx.input(7).dtype();
        double[] c = sums.doubles();
        long[] y = new long[c.length];
        for (int f = 0; f < y.length; f++) {
            double w = ws[ws.length == 1 ? 0 : f / plane % m];
            double multiplier = scaleType.round(scaleType.round(xs * w) / ys);
            y[f] = saturate(out, Math.rint(c[f] * multiplier + yz));
        }
        return Tensor.wrapLongs(out, shape, y);
    }

    /**
     * The convolution of input {@code xi} minus its zero point {@code xz} by input {@code wi} minus its zero point
     * {@code wz} (one, or one per output channel), exact in double for 8-bit operands; the node's window attributes.
     */
    private static Tensor integerConv(EvalContext ctx, int xi, int xz, int wi, int wz, double[] bias) {
        Tensor x = ctx.input(xi);
        Tensor w = ctx.input(wi);
        long[] xzp = ctx.hasInput(xz) ? ctx.input(xz).longs() : new long[] {0};
        long[] wzp = ctx.hasInput(wz) ? ctx.input(wz).longs() : new long[] {0};
        int m = w.shape()[0];
        if (xzp.length != 1) {
            throw ctx.fail(ctx.def().inputName(xz) + " must hold one value, not " + xzp.length);
        }
        checkCount(ctx, wzp.length, m, ctx.def().inputName(wz), "output channel");
        double[] xv = new double[x.size()];
        for (int i = 0; i < xv.length; i++) {
            xv[i] = x.longs()[i] - xzp[0];
        }
        int perChannel = w.size() / Math.max(1, m);
        double[] wv = new double[w.size()];
        for (int i = 0; i < wv.length; i++) {
            wv[i] = w.longs()[i] - wzp[wzp.length == 1 ? 0 : i / perChannel];
        }
        return ConvPoolOps.convolve(ctx, Tensor.wrapDoubles(DType.FLOAT64, x.shape(), xv),
                Tensor.wrapDoubles(DType.FLOAT64, w.shape(), wv), bias);
    }

    private static void checkCount(EvalContext ctx, int have, int per, String name, String what) {
        if (have != 1 && have != per) {
            throw ctx.fail(name + " must hold one value or one per " + what + " (" + per + "), not " + have);
        }
    }

    /**
     * {@code m - zeroPoint} as int64: a zero point of one element applies to all of m; a 1-D one to each row of
     * A ({@code rows}) or each column of B.
     */
    private static Tensor shifted(EvalContext ctx, Tensor m, Tensor zeroPoint, boolean rows) {
        long[] v = m.longs().clone();
        if (zeroPoint != null) {
            long[] z = zeroPoint.longs();
            int[] s = m.shape();
            int cols = s[s.length - 1];
            int count = s.length < 2 ? 1 : rows ? s[s.length - 2] : cols;
            if (z.length != 1 && z.length != count) {
                throw ctx.fail("a zero point must be a scalar or hold one value per " + (rows ? "row of A" : "column of B")
                        + " (" + count + "), not shape " + Arrays.toString(zeroPoint.shape()));
            }
            for (int i = 0; i < v.length; i++) {
                int at = z.length == 1 ? 0 : rows ? i / cols % count : i % cols;
                v[i] -= z[at];
            }
        }
        return Tensor.wrapLongs(DType.INT64, m.shape(), v);
    }
}
