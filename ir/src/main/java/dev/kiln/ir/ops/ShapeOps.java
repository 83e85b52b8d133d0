package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.EvalContext;
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
 * Ops that create tensors or change only their shape: Constant, Identity, Reshape, Flatten, Transpose,
 * Squeeze, Unsqueeze, Shape, Size, ConstantOfShape, Expand, Tile, Range, EyeLike, Dropout.
 */
final class ShapeOps {
    private ShapeOps() {}

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

        r.add(OpDef.builder("Identity").since(21)
                .doc("The input, unchanged.")
                .inputs("input").outputs("output")
                .properties(OpProperty.DATA_MOVEMENT, OpProperty.VIEW)
                .shape(Pointwise::sameAsInput)
                .eval(ctx -> List.of(ctx.input(0)))
                .symbolic(ctx -> ShapeValues.withMarkers(ctx, 0))
                .build());

        r.add(OpDef.builder("Reshape").since(21)
                .doc("The data with a new shape: 0 copies the input dim (unless allowzero), one -1 is inferred.")
                .inputs("data", "shape").outputs("reshaped")
                .attrInt("allowzero", 0, "1: a 0 in shape means a zero dim rather than 'copy the input dim'")
                .properties(OpProperty.DATA_MOVEMENT, OpProperty.VIEW)
                .shape(ShapeOps::reshapeType)
                .eval(ShapeOps::reshapeEval)
                .symbolic(ctx -> ctx.hasInput(1) && ctx.inputShape(1).rank() == 1
                        && ctx.inputShape(1).dim(0).isStatic() && ctx.inputShape(1).dim(0).value() <= 1
                        ? ShapeValues.withMarkers(ctx, 0) : Optional.empty())
                .build());

        r.add(OpDef.builder("Flatten").since(21)
                .doc("Reshapes to 2-D: dims before axis multiply into the rows, the rest into the columns.")
                .inputs("input").outputs("output")
                .attrInt("axis", 1, "split point in [-r, r]")
                .properties(OpProperty.DATA_MOVEMENT, OpProperty.VIEW)
                .shape(ctx -> {
                    Shape in = ctx.inputShape(0);
                    int axis = flattenAxis(ctx, in.rank());
                    Dim rows = new Shape(in.dims().subList(0, axis)).elementCount();
                    Dim cols = new Shape(in.dims().subList(axis, in.rank())).elementCount();
                    return List.of(new TensorType(ctx.inputDtype(0), Shape.of(rows, cols)));
                })
                .eval(ctx -> {
                    Tensor x = ctx.input(0);
                    int[] s = x.shape();
                    int axis = flattenAxis(ctx, s.length);
                    return List.of(x.reshape(new int[] {Indexing.product(s, 0, axis), Indexing.product(s, axis, s.length)}));
                })
                .build());

        r.add(OpDef.builder("Transpose").since(21)
                .doc("Permutes the axes: output axis i is input axis perm[i] (default: reversed).")
                .inputs("data").outputs("transposed")
                .optionalAttr("perm", AttrType.INTS, "the permutation; absent means reverse the axes")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(ctx -> {
                    Shape in = ctx.inputShape(0);
                    int[] perm = perm(ctx, in.rank());
                    List<Dim> out = new ArrayList<>();
                    for (int p : perm) {
                        out.add(in.dim(p));
                    }
                    return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)));
                })
                .eval(ctx -> List.of(transpose(ctx.input(0), perm(ctx, ctx.input(0).rank()))))
                .build());

        r.add(OpDef.builder("Squeeze").since(21)
                .doc("Removes the given size-1 axes (default: every static size-1 axis).")
                .inputs("data", "axes?").outputs("squeezed")
                .properties(OpProperty.DATA_MOVEMENT, OpProperty.VIEW)
                .shape(ShapeOps::squeezeType)
                .eval(ctx -> {
                    Tensor x = ctx.input(0);
                    int[] s = x.shape();
                    boolean[] drop = new boolean[s.length];
                    if (ctx.hasInput(1)) {
                        for (int a : Indexing.axes(ctx, Indexing.longs(ctx, 1), s.length)) {
                            if (s[a] != 1) {
                                throw ctx.fail("cannot squeeze axis " + a + " of size " + s[a]);
                            }
                            drop[a] = true;
                        }
                    } else {
                        for (int a = 0; a < s.length; a++) {
                            drop[a] = s[a] == 1;
                        }
                    }
                    int[] out = new int[s.length];
                    int n = 0;
                    for (int a = 0; a < s.length; a++) {
                        if (!drop[a]) {
                            out[n++] = s[a];
                        }
                    }
                    return List.of(x.reshape(Arrays.copyOf(out, n)));
                })
                .symbolic(ctx -> ctx.inputShape(0).rank() <= 1 ? ShapeValues.withMarkers(ctx, 0) : Optional.empty())
                .build());

        r.add(OpDef.builder("Unsqueeze").since(21)
                .doc("Inserts size-1 axes at the given positions of the output.")
                .inputs("data", "axes").outputs("expanded")
                .properties(OpProperty.DATA_MOVEMENT, OpProperty.VIEW)
                .shape(ctx -> {
                    Shape in = ctx.inputShape(0);
                    Optional<long[]> axes = ShapeValues.longs(ctx, 1);
                    if (axes.isEmpty()) {
                        return List.of(new TensorType(ctx.inputDtype(0),
                                new Shape(ShapeValues.unknowns(in.rank() + ShapeValues.length(ctx, 1)))));
                    }
                    boolean[] inserted = unsqueezeMask(ctx, axes.get(), in.rank());
                    List<Dim> out = new ArrayList<>();
                    int k = 0;
                    for (boolean ins : inserted) {
                        out.add(ins ? Dim.of(1) : in.dim(k++));
                    }
                    return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)));
                })
                .eval(ctx -> {
                    Tensor x = ctx.input(0);
                    boolean[] inserted = unsqueezeMask(ctx, Indexing.longs(ctx, 1), x.rank());
                    int[] out = new int[inserted.length];
                    int k = 0;
                    for (int a = 0; a < out.length; a++) {
                        out[a] = inserted[a] ? 1 : x.dim(k++);
                    }
                    return List.of(x.reshape(out));
                })
                .symbolic(ctx -> ctx.inputShape(0).rank() == 0 ? ShapeValues.withMarkers(ctx, 0) : Optional.empty())
                .build());

        r.add(OpDef.builder("Shape").since(21)
                .doc("The input's shape as a 1-D i64 tensor, optionally only dims [start, end).")
                .inputs("data").outputs("shape")
                .attrInt("start", 0, "first dim to include; negative counts from the end; clamped to [0, r]")
                .optionalAttr("end", AttrType.INT, "one past the last dim to include (default r); clamped")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(ctx -> {
                    int[] range = shapeRange(ctx, ctx.inputShape(0).rank());
                    return List.of(TensorType.of(DType.INT64, range[1] - range[0]));
                })
                .eval(ctx -> {
                    int[] s = ctx.input(0).shape();
                    int[] range = shapeRange(ctx, s.length);
                    long[] out = new long[range[1] - range[0]];
                    for (int i = 0; i < out.length; i++) {
                        out[i] = s[range[0] + i];
                    }
                    return List.of(Tensor.ofInt64s(out));
                })
                .symbolic(ctx -> {
                    int[] range = shapeRange(ctx, ctx.inputShape(0).rank());
                    return Optional.of(ctx.inputShape(0).dims().subList(range[0], range[1]));
                })
                .build());

        r.add(OpDef.builder("Size").since(21)
                .doc("The number of elements of the input, as an i64 scalar.")
                .inputs("data").outputs("size")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(ctx -> List.of(TensorType.of(DType.INT64)))
                .eval(ctx -> List.of(Tensor.scalarLong(DType.INT64, ctx.input(0).size())))
                .symbolic(ctx -> Optional.of(List.of(ctx.inputShape(0).elementCount())))
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
                .shape(ShapeOps::expandType)
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
                .build());

        r.add(OpDef.builder("Range").since(11)
                .doc("start, start+delta, ... up to but excluding limit: max(ceil((limit-start)/delta), 0) elements.")
                .inputs("start", "limit", "delta").outputs("output")
                .shape(ctx -> {
                    DType t = ctx.inputDtype(0);
                    for (int i = 0; i < 3; i++) {
                        if (ctx.inputDtype(i) != t || ctx.inputShape(i).rank() != 0) {
                            throw ctx.fail("start, limit and delta must be scalars of one type");
                        }
                    }
                    if (!t.isNumeric()) {
                        throw ctx.fail("Range needs a numeric type");
                    }
                    Optional<Tensor> s = ctx.constant(0);
                    Optional<Tensor> l = ctx.constant(1);
                    Optional<Tensor> d = ctx.constant(2);
                    Dim n = s.isPresent() && l.isPresent() && d.isPresent()
                            ? Dim.of(rangeCount(ctx, s.get(), l.get(), d.get())) : Dim.unknown();
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

        r.add(OpDef.builder("Dropout").since(13)
                .doc("Inference (default): the input and an all-true mask; training: zeroes elements with "
                        + "probability ratio and scales the rest by 1/(1-ratio).")
                .inputs("data", "ratio?", "training_mode?").outputs("output", "mask?")
                .optionalAttr("seed", AttrType.INT, "seed of the mask, drawn as numpy's np.random.seed(seed) would (default: "
                        + "the evaluation's random source)")
                .properties(OpProperty.TRAINING_AWARE)
                .shape(ctx -> {
                    Pointwise.requireFloat(ctx, 0);
                    return List.of(ctx.inputType(0), new TensorType(DType.BOOL, ctx.inputShape(0)));
                })
                .eval(ShapeOps::dropout)
                .build());
    }

    // ---- Constant ----

    private static Tensor constantValue(List<String> set, dev.kiln.ir.NodeContext ctx) {
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

    // ---- Reshape ----

    private static List<TensorType> reshapeType(ShapeContext ctx) {
        Shape in = ctx.inputShape(0);
        DType t = ctx.inputDtype(0);
        Optional<List<Dim>> target = ShapeValues.withMarkers(ctx, 1);
        if (target.isEmpty()) {
            return List.of(new TensorType(t, new Shape(ShapeValues.unknowns(ShapeValues.length(ctx, 1)))));
        }
        boolean allowZero = ctx.attrInt("allowzero") != 0;
        List<Dim> out = new ArrayList<>();
        int inferAt = -1;
        boolean hasZero = false;
        for (int k = 0; k < target.get().size(); k++) {
            Dim d = target.get().get(k);
            if (d.equals(ShapeValues.INFER)) {
                if (inferAt >= 0) {
                    throw ctx.fail("shape " + target.get() + " has more than one -1");
                }
                inferAt = k;
                out.add(Dim.of(1));
            } else if (d.isStatic() && d.value() == 0) {
                hasZero = true;
                if (allowZero) {
                    out.add(d);
                } else if (k < in.rank()) {
                    out.add(in.dim(k));
                } else {
                    throw ctx.fail("shape entry " + k + " is 0 (copy) but the input has rank " + in.rank());
                }
            } else {
                out.add(d);
            }
        }
        if (allowZero && hasZero && inferAt >= 0) {
            throw ctx.fail("with allowzero=1 a shape cannot hold both 0 and -1");
        }
        Dim total = in.elementCount();
        Dim known = new Shape(out).elementCount();
        if (inferAt >= 0) {
            Optional<Dim> q = total.dividedBy(known);
            if (q.isEmpty() && total.isStatic() && known.isStatic()) {
                throw ctx.fail("cannot reshape " + total + " elements to " + target.get() + " (-1 not inferable)");
            }
            out.set(inferAt, q.orElseGet(Dim::unknown));
        } else if (total.isStatic() && known.isStatic() && total.value() != known.value()) {
            throw ctx.fail("cannot reshape " + in + " to " + new Shape(out));
        }
        return List.of(new TensorType(t, new Shape(out)));
    }

    private static List<Tensor> reshapeEval(EvalContext ctx) {
        Tensor x = ctx.input(0);
        long[] target = Indexing.longs(ctx, 1);
        boolean allowZero = ctx.attrInt("allowzero") != 0;
        int[] out = new int[target.length];
        int inferAt = -1;
        boolean hasZero = false;
        long known = 1;
        for (int k = 0; k < target.length; k++) {
            long v = target[k];
            if (v == -1) {
                if (inferAt >= 0) {
                    throw ctx.fail("shape " + Arrays.toString(target) + " has more than one -1");
                }
                inferAt = k;
                continue;
            }
            if (v < -1) {
                throw ctx.fail("invalid shape entry " + v);
            }
            if (v == 0) {
                hasZero = true;
                if (!allowZero) {
                    if (k >= x.rank()) {
                        throw ctx.fail("shape entry " + k + " is 0 (copy) but the input has rank " + x.rank());
                    }
                    v = x.dim(k);
                }
            }
            out[k] = Math.toIntExact(v);
            known *= v;
        }
        if (allowZero && hasZero && inferAt >= 0) {
            throw ctx.fail("with allowzero=1 a shape cannot hold both 0 and -1");
        }
        if (inferAt >= 0) {
            if (known == 0 || x.size() % known != 0) {
                throw ctx.fail("cannot reshape " + x.size() + " elements to " + Arrays.toString(target));
            }
            out[inferAt] = Math.toIntExact(x.size() / known);
        } else if (known != x.size()) {
            throw ctx.fail("cannot reshape " + Arrays.toString(x.shape()) + " to " + Arrays.toString(out));
        }
        return List.of(x.reshape(out));
    }

    // ---- Flatten, Transpose, Squeeze, Unsqueeze, Shape ----

    private static int flattenAxis(dev.kiln.ir.NodeContext ctx, int rank) {
        long axis = ctx.attrInt("axis");
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a > rank) {
            throw ctx.fail("axis " + axis + " is out of range [-" + rank + ", " + rank + "]");
        }
        return (int) a;
    }

    private static int[] perm(dev.kiln.ir.NodeContext ctx, int rank) {
        Optional<long[]> given = ctx.optInts("perm");
        int[] perm = new int[rank];
        if (given.isEmpty()) {
            for (int i = 0; i < rank; i++) {
                perm[i] = rank - 1 - i;
            }
            return perm;
        }
        long[] p = given.get();
        if (p.length != rank) {
            throw ctx.fail("perm " + Arrays.toString(p) + " does not match rank " + rank);
        }
        int[] norm = Indexing.axes(ctx, p, rank);
        System.arraycopy(norm, 0, perm, 0, rank);
        return perm;
    }

    /** The input permuted: output axis k is input axis perm[k]. */
    static Tensor transpose(Tensor x, int[] perm) {
        int[] in = x.shape();
        int[] out = new int[in.length];
        for (int k = 0; k < perm.length; k++) {
            out[k] = in[perm[k]];
        }
        int[] inStrides = Indexing.strides(in);
        int[] idx = new int[out.length];
        int[] src = new int[x.size()];
        for (int f = 0; f < src.length; f++) {
            Indexing.unravel(f, out, idx);
            int s = 0;
            for (int k = 0; k < perm.length; k++) {
                s += idx[k] * inStrides[perm[k]];
            }
            src[f] = s;
        }
        return ElementBuffer.gather(x, out, src);
    }

    private static List<TensorType> squeezeType(ShapeContext ctx) {
        Shape in = ctx.inputShape(0);
        List<Dim> out = new ArrayList<>();
        if (!ctx.hasInput(1)) {
            // A symbolic dim is assumed not to be 1: squeezing it would make the rank depend on the data.
            for (Dim d : in.dims()) {
                if (!(d.isStatic() && d.value() == 1)) {
                    out.add(d);
                }
            }
            return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)));
        }
        Optional<long[]> axes = ShapeValues.longs(ctx, 1);
        if (axes.isEmpty()) {
            int n = in.rank() - ShapeValues.length(ctx, 1);
            return List.of(new TensorType(ctx.inputDtype(0), new Shape(ShapeValues.unknowns(n))));
        }
        boolean[] drop = new boolean[in.rank()];
        for (int a : Indexing.axes(ctx, axes.get(), in.rank())) {
            Dim d = in.dim(a);
            if (d.isStatic() && d.value() != 1) {
                throw ctx.fail("cannot squeeze axis " + a + " of size " + d);
            }
            drop[a] = true;
        }
        for (int a = 0; a < in.rank(); a++) {
            if (!drop[a]) {
                out.add(in.dim(a));
            }
        }
        return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)));
    }

    /** Which axes of the output (rank r + axes.length) are inserted ones. */
    private static boolean[] unsqueezeMask(dev.kiln.ir.NodeContext ctx, long[] axes, int inRank) {
        int outRank = inRank + axes.length;
        boolean[] inserted = new boolean[outRank];
        for (int a : Indexing.axes(ctx, axes, outRank)) {
            inserted[a] = true;
        }
        return inserted;
    }

    private static int[] shapeRange(dev.kiln.ir.NodeContext ctx, int rank) {
        long start = ctx.attrInt("start");
        long end = ctx.isSet("end") ? ctx.attrInt("end") : rank;
        int s = clampAxisBound(start, rank);
        int e = clampAxisBound(end, rank);
        return new int[] {s, Math.max(s, e)};
    }

    private static int clampAxisBound(long v, int rank) {
        long a = v < 0 ? v + rank : v;
        return (int) Math.max(0, Math.min(rank, a));
    }

    // ---- ConstantOfShape, Expand ----

    private static Tensor fillValue(dev.kiln.ir.NodeContext ctx) {
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

    // ---- Range, EyeLike, Dropout ----

    private static int rangeCount(dev.kiln.ir.NodeContext ctx, Tensor start, Tensor limit, Tensor delta) {
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

    private static DType eyeDtype(dev.kiln.ir.NodeContext ctx, DType input) {
        DType t = ctx.isSet("dtype") ? DType.fromOnnx((int) ctx.attrInt("dtype")) : input;
        if (!t.isNumeric() && t != DType.BOOL) {
            throw ctx.fail("EyeLike cannot produce " + t);
        }
        return t;
    }

    private static List<Tensor> dropout(EvalContext ctx) {
        Tensor x = ctx.input(0);
        boolean training = ctx.hasInput(2) && ctx.input(2).getBool(0);
        double ratio = ctx.hasInput(1) ? ctx.input(1).getDouble(0) : 0.5;
        boolean[] mask = new boolean[x.size()];
        Arrays.fill(mask, true);
        if (!training || ratio == 0) {
            return List.of(x, Tensor.wrapBools(x.shape(), mask));
        }
        if (!(ratio >= 0 && ratio < 1)) {
            throw ctx.fail("ratio must be in [0, 1), not " + ratio);
        }
        // A node's seed reproduces numpy's np.random.seed(seed) draws, as ONNX's reference does; without one
        // the mask comes from the evaluation's seeded source.
        java.util.function.DoubleSupplier uniform = ctx.isSet("seed")
                ? new NumpyRandom(ctx.attrInt("seed"))::nextDouble : ctx.random()::nextDouble;
        double scale = 1 / (1 - ratio);
        double[] in = x.doubles();
        double[] out = new double[in.length];
        for (int i = 0; i < in.length; i++) {
            mask[i] = uniform.getAsDouble() >= ratio;
            out[i] = mask[i] ? in[i] * scale : 0;
        }
        return List.of(Tensor.wrapDoubles(x.dtype(), x.shape(), out), Tensor.wrapBools(x.shape(), mask));
    }
}
