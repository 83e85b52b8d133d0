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
import dev.kiln.runtime.NumpyRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.DoubleSupplier;

/**
 * Ops that pass data through or change only its shape: Identity, Dropout, Reshape, Flatten, Transpose, Squeeze,
 * Unsqueeze, Shape, Size.
 */
final class ShapeOps {
    private ShapeOps() {}

    static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("Identity").since(21)
                .doc("The input (a tensor, sequence or optional), unchanged.")
                .inputs("input").outputs("output")
                .properties(OpProperty.DATA_MOVEMENT, OpProperty.VIEW, OpProperty.CONTAINERS)
                .shape(Pointwise::sameAsInput)
                .eval(ctx -> List.of(ctx.input(0)))
                .symbolic(ctx -> ShapeValues.withMarkers(ctx, 0))
                .grad(DenseGrads::identity)
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
                .grad(DenseGrads::reshapeBack)
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
                .grad(DenseGrads::reshapeBack)
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
                .grad(DenseGrads::transpose)
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
                .grad(DenseGrads::reshapeBack)
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
                .grad(DenseGrads::reshapeBack)
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

        r.add(OpDef.builder("Dropout").since(13)
                .doc("Inference (default): the input and an all-true mask; training: zeroes elements with "
                        + "probability ratio and scales the rest by 1/(1-ratio).")
                .inputs("data", "ratio?", "training_mode?").outputs("output", "mask?")
                .nonDifferentiable("ratio")
                .optionalAttr("seed", AttrType.INT, "seed of the mask, drawn as numpy's np.random.seed(seed) would (default: "
                        + "the evaluation's random source)")
                .properties(OpProperty.TRAINING_AWARE)
                .shape(ctx -> {
                    Pointwise.requireFloat(ctx, 0);
                    return List.of(ctx.inputType(0), new TensorType(DType.BOOL, ctx.inputShape(0)));
                })
                .eval(ShapeOps::dropout)
                .grad(NnGradRules::dropout)
                .build());
    }

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

    private static int flattenAxis(NodeContext ctx, int rank) {
        long axis = ctx.attrInt("axis");
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a > rank) {
            throw ctx.fail("axis " + axis + " is out of range [-" + rank + ", " + rank + "]");
        }
        return (int) a;
    }

    private static int[] perm(NodeContext ctx, int rank) {
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
    private static boolean[] unsqueezeMask(NodeContext ctx, long[] axes, int inRank) {
        int outRank = inRank + axes.length;
        boolean[] inserted = new boolean[outRank];
        for (int a : Indexing.axes(ctx, axes, outRank)) {
            inserted[a] = true;
        }
        return inserted;
    }

    private static int[] shapeRange(NodeContext ctx, int rank) {
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
        DoubleSupplier uniform = ctx.isSet("seed")
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
