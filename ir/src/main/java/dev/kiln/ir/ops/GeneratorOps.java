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
 * Ops that build tensors from attributes, shape tensors or repetition: Constant, ConstantOfShape, Expand, Tile,
 * Range, EyeLike.
 */
final class GeneratorOps {
    private GeneratorOps() {}

    static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("Constant").since(21)
                .doc("A constant tensor given by exactly one of its value attributes.")
                .inputs().outputs("output")
                .optionalAttr("value", AttrType.TENSOR, "the tensor")
                .optionalAttr("value_float", AttrType.FLOAT, "an f32 scalar")
                .optionalAttr("value_floats", AttrType.FLOATS, "a 1-D f32 tensor")
                .optionalAttr("value_int", AttrType.INT, "an i64 scalar")
                .optionalAttr("value_ints", AttrType.INTS, "a 1-D i64 tensor")
                .optionalAttr("value_string", AttrType.STRING, "a string scalar")
                .optionalAttr("value_strings", AttrType.STRINGS, "a 1-D string tensor")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(ctx -> List.of(constantValue(ctx.attributes().asMap().keySet().stream().toList(), ctx).type()))
                .eval(ctx -> List.of(constantValue(ctx.attributes().asMap().keySet().stream().toList(), ctx)))
                .build());

        r.add(OpDef.builder("ConstantOfShape").since(21)
                .doc("A tensor of the given shape filled with the one element of 'value' (default f32 0).")
                .inputs("input").outputs("output")
                .optionalAttr("value", AttrType.TENSOR, "one-element tensor giving the fill value and dtype")
                .shape(ctx -> {
                    DType t = ctx.isSet("value") ? fillValue(ctx).dtype() : DType.FLOAT32;
                    List<Dim> dims = ShapeValues.dims(ctx, 0)
                            .orElseGet(() -> ShapeValues.unknowns(ShapeValues.length(ctx, 0)));
                    return List.of(new TensorType(t, new Shape(dims)));
                })
                .eval(ctx -> {
                    int[] shape = shapeArgument(ctx, 0);
                    Tensor v = ctx.isSet("value") ? fillValue(ctx) : Tensor.scalarFloat(0f);
                    return List.of(ElementBuffer.filled(v, 0, Tensor.sizeOf(shape)).toTensor(shape));
                })
                .build());

        r.add(OpDef.builder("Expand").since(13)
                .doc("Broadcasts the input to the given shape (numpy rules in both directions).")
                .inputs("input", "shape").outputs("output")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(GeneratorOps::expandType)
                .eval(ctx -> {
                    Tensor x = ctx.input(0);
                    int[] shape;
                    try {
                        shape = Broadcasting.shape(x.shape(), shapeArgument(ctx, 1));
                    } catch (IllegalArgumentException e) {
                        throw ctx.fail(e.getMessage());
                    }
                    return List.of(ElementBuffer.gather(x, shape, Broadcasting.indexMap(shape, x.shape())));
                })
                .grad(MovementGrads::expand)
                .build());

        r.add(OpDef.builder("Tile").since(13)
                .doc("Repeats the input repeats[i] times along each axis i.")
                .inputs("input", "repeats").outputs("output")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(ctx -> {
                    Shape in = ctx.inputShape(0);
                    if (ShapeValues.length(ctx, 1) != in.rank()) {
                        throw ctx.fail("repeats must have one entry per input axis");
                    }
                    Optional<List<Dim>> reps = ShapeValues.dims(ctx, 1);
                    List<Dim> out = new ArrayList<>();
                    for (int i = 0; i < in.rank(); i++) {
                        out.add(reps.isPresent() ? in.dim(i).times(reps.get().get(i)) : Dim.unknown());
                    }
                    return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)));
                })
                .eval(ctx -> {
                    Tensor x = ctx.input(0);
                    int[] in = x.shape();
                    long[] reps = Indexing.longs(ctx, 1);
                    if (reps.length != in.length) {
                        throw ctx.fail("repeats must have one entry per input axis");
                    }
                    int[] out = new int[in.length];
                    for (int i = 0; i < in.length; i++) {
                        if (reps[i] < 0) {
                            throw ctx.fail("negative repeat " + reps[i]);
                        }
                        out[i] = Math.toIntExact(in[i] * reps[i]);
                    }
                    int[] inStrides = Indexing.strides(in);
                    int[] idx = new int[out.length];
                    int[] src = new int[Tensor.sizeOf(out)];
                    for (int k = 0; k < src.length; k++) {
                        Indexing.unravel(k, out, idx);
                        int f = 0;
                        for (int i = 0; i < idx.length; i++) {
                            f += (idx[i] % in[i]) * inStrides[i];
                        }
                        src[k] = f;
                    }
                    return List.of(ElementBuffer.gather(x, out, src));
                })
                .grad(MovementGrads::tile)
                .build());

        r.add(OpDef.builder("Range").since(11)
                .doc("start, start+delta, ... up to but excluding limit: max(ceil((limit-start)/delta), 0) elements.")
                .inputs("start", "limit", "delta").outputs("output")
                .shape(ctx -> {
                    DType t = ctx.inputDtype(0);
                    for (int i = 0; i < 3; i++) {
                        // A one-element vector is read as its scalar, as ONNX's reference (numpy.arange) does; the
                        // expanded AffineGrid function passes such limits.
                        Shape in = ctx.inputShape(i);
                        boolean single = in.rank() == 0 || in.rank() == 1 && in.dim(0).equals(Dim.of(1));
                        if (ctx.inputDtype(i) != t || !single) {
                            throw ctx.fail("start, limit and delta must be scalars (or one-element vectors) of one type");
                        }
                    }
                    if (!t.isNumeric()) {
                        throw ctx.fail("Range needs a numeric type");
                    }
                    Optional<Tensor> s = ctx.constant(0);
                    Optional<Tensor> l = ctx.constant(1);
                    Optional<Tensor> d = ctx.constant(2);
                    if (s.isPresent() && l.isPresent() && d.isPresent()) {
                        return List.of(new TensorType(t, Shape.of(rangeCount(ctx, s.get(), l.get(), d.get()))));
                    }
                    // Range(0, n, 1) over a tracked dim n (e.g. a sequence length from Shape) has n elements.
                    boolean countsFromZero = t.isInteger() && s.isPresent() && s.get().getLong(0) == 0
                            && d.isPresent() && d.get().getLong(0) == 1;
                    Dim n = countsFromZero ? ShapeValues.dims(ctx, 1).filter(v -> v.size() == 1).map(v -> v.get(0))
                            .orElseGet(Dim::unknown) : Dim.unknown();
                    return List.of(new TensorType(t, Shape.of(n)));
                })
                .eval(ctx -> {
                    Tensor s = ctx.input(0);
                    Tensor d = ctx.input(2);
                    int n = rangeCount(ctx, s, ctx.input(1), d);
                    if (s.dtype().isInteger()) {
                        long[] out = new long[n];
                        for (int i = 0; i < n; i++) {
                            out[i] = s.longs()[0] + i * d.longs()[0];
                        }
                        return List.of(Tensor.wrapLongs(s.dtype(), new int[] {n}, out));
                    }
                    double[] out = new double[n];
                    for (int i = 0; i < n; i++) {
                        out[i] = s.doubles()[0] + i * d.doubles()[0];
                    }
                    return List.of(Tensor.wrapDoubles(s.dtype(), new int[] {n}, out));
                })
                .build());

        r.add(OpDef.builder("EyeLike").since(9)
                .doc("A 2-D tensor shaped like the input with ones on the k-th diagonal, zeros elsewhere.")
                .inputs("input").outputs("output")
                .optionalAttr("dtype", AttrType.INT, "ONNX element type of the output (default: the input's)")
                .attrInt("k", 0, "diagonal: 0 main, positive above, negative below")
                .shape(ctx -> {
                    if (ctx.inputShape(0).rank() != 2) {
                        throw ctx.fail("EyeLike needs a 2-D input");
                    }
                    return List.of(new TensorType(eyeDtype(ctx, ctx.inputDtype(0)), ctx.inputShape(0)));
                })
                .eval(ctx -> {
                    Tensor x = ctx.input(0);
                    int rows = x.dim(0);
                    int cols = x.dim(1);
                    long k = ctx.attrInt("k");
                    double[] out = new double[rows * cols];
                    for (int i = 0; i < rows; i++) {
                        long j = i + k;
                        if (j >= 0 && j < cols) {
                            out[i * cols + (int) j] = 1;
                        }
                    }
                    return List.of(Tensor.fromDoubles(eyeDtype(ctx, x.dtype()), x.shape(), out));
                })
                .build());
    }

    private static Tensor constantValue(List<String> set, NodeContext ctx) {
        if (set.size() != 1) {
            throw ctx.fail("exactly one value attribute must be set, not " + set);
        }
        String name = set.get(0);
        return switch (name) {
            case "value" -> ctx.attrTensor(name);
            case "value_float" -> Tensor.scalarFloat(ctx.attrFloat(name));
            case "value_floats" -> {
                float[] f = ctx.attrFloats(name);
                yield Tensor.ofFloats(new int[] {f.length}, f);
            }
            case "value_int" -> Tensor.scalarLong(DType.INT64, ctx.attrInt(name));
            case "value_ints" -> Tensor.ofInt64s(ctx.attrInts(name));
            case "value_string" -> Tensor.wrapStrings(new int[0], new String[] {ctx.attrString(name)});
            case "value_strings" -> {
                List<String> s = ctx.attrStrings(name);
                yield Tensor.wrapStrings(new int[] {s.size()}, s.toArray(String[]::new));
            }
            default -> throw ctx.unsupported("Constant attribute '" + name + "'");
        };
    }

    private static Tensor fillValue(NodeContext ctx) {
        Tensor v = ctx.attrTensor("value");
        if (v.size() != 1) {
            throw ctx.fail("'value' must hold exactly one element, not " + v.type());
        }
        return v;
    }

    /** A 1-D integer input read as a concrete shape. */
    private static int[] shapeArgument(EvalContext ctx, int i) {
        Tensor t = ctx.input(i);
        if (t.rank() != 1) {
            throw ctx.fail("input " + ctx.def().inputName(i) + " must be 1-D");
        }
        long[] v = Indexing.longs(ctx, i);
        int[] out = new int[v.length];
        for (int k = 0; k < v.length; k++) {
            if (v[k] < 0) {
                throw ctx.fail("negative dim " + v[k] + " in " + Arrays.toString(v));
            }
            out[k] = Math.toIntExact(v[k]);
        }
        return out;
    }

    private static List<TensorType> expandType(ShapeContext ctx) {
        Shape in = ctx.inputShape(0);
        Optional<List<Dim>> target = ShapeValues.dims(ctx, 1);
        if (target.isPresent()) {
            return List.of(new TensorType(ctx.inputDtype(0),
                    Broadcasting.shape(ctx, List.of(in, new Shape(target.get())))));
        }
        int len = ShapeValues.length(ctx, 1);
        int rank = Math.max(len, in.rank());
        List<Dim> out = new ArrayList<>();
        for (int i = 0; i < rank; i++) {
            int j = i - (rank - in.rank());
            boolean targetHere = i >= rank - len;
            if (j < 0 || (targetHere && in.dim(j).isStatic() && in.dim(j).value() == 1)) {
                out.add(Dim.unknown());
            } else {
                // An input dim other than 1 survives: the target must be 1 or equal to it there.
                out.add(in.dim(j));
            }
        }
        return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)));
    }

    private static int rangeCount(NodeContext ctx, Tensor start, Tensor limit, Tensor delta) {
        if (start.dtype().isInteger()) {
            long s = start.longs()[0];
            long l = limit.longs()[0];
            long d = delta.longs()[0];
            if (d == 0) {
                throw ctx.fail("delta must not be 0");
            }
            long n = -Math.floorDiv(-(l - s), d);
            return Math.toIntExact(Math.max(n, 0));
        }
        double d = delta.getDouble(0);
        if (d == 0 || Double.isNaN(d)) {
            throw ctx.fail("delta must be non-zero");
        }
        double n = Math.ceil((limit.getDouble(0) - start.getDouble(0)) / d);
        if (!(n < Integer.MAX_VALUE)) {
            throw ctx.fail("Range of " + n + " elements is too large");
        }
        return (int) Math.max(n, 0);
    }

    private static DType eyeDtype(NodeContext ctx, DType input) {
        DType t = ctx.isSet("dtype") ? DType.fromOnnx((int) ctx.attrInt("dtype")) : input;
        if (!t.isNumeric() && t != DType.BOOL) {
            throw ctx.fail("EyeLike cannot produce " + t);
        }
        return t;
    }
}
