package dev.kiln.ir.ops;

import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Ops that encode, find, order or accumulate elements: OneHot, NonZero, TopK, CumSum, CumProd. */
final class SelectionOps {
    private SelectionOps() {}

    static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("OneHot").since(11)
                .doc("One-hot encoding: a new axis of size depth holding values[1] at each index and values[0] elsewhere.")
                .inputs("indices", "depth", "values").outputs("output")
                .attrInt("axis", -1, "where the new axis goes, in [-(r+1), r]")
                .shape(ctx -> {
                    Shape idx = ctx.inputShape(0);
                    int axis = oneHotAxis(ctx, idx.rank());
                    Dim depth = ctx.constant(1).map(t -> Dim.of(depth(ctx, t))).orElseGet(Dim::unknown);
                    List<Dim> out = new ArrayList<>(idx.dims());
                    out.add(axis, depth);
                    if (ctx.inputShape(2).rank() != 1) {
                        throw ctx.fail("values must be 1-D [off, on]");
                    }
                    return List.of(new TensorType(ctx.inputDtype(2), new Shape(out)));
                })
                .eval(SelectionOps::oneHot)
                .build());

        r.add(OpDef.builder("NonZero").since(13)
                .doc("The indices of the non-zero elements, as an i64 tensor [rank, count] in row-major order.")
                .inputs("X").outputs("Y")
                .shape(ctx -> List.of(new TensorType(DType.INT64,
                        Shape.of(Dim.of(ctx.inputShape(0).rank()), Dim.unknown()))))
                .eval(ctx -> {
                    Tensor x = ctx.input(0);
                    if (x.dtype() == DType.STRING) {
                        throw ctx.unsupported("NonZero of strings");
                    }
                    int[] shape = x.shape();
                    List<Integer> hits = new ArrayList<>();
                    for (int i = 0; i < x.size(); i++) {
                        if (x.getBool(i)) {
                            hits.add(i);
                        }
                    }
                    int n = hits.size();
                    long[] out = new long[shape.length * n];
                    int[] idx = new int[shape.length];
                    for (int j = 0; j < n; j++) {
                        Indexing.unravel(hits.get(j), shape, idx);
                        for (int a = 0; a < shape.length; a++) {
                            out[a * n + j] = idx[a];
                        }
                    }
                    return List.of(Tensor.wrapLongs(DType.INT64, new int[] {shape.length, n}, out));
                })
                .build());

        r.add(OpDef.builder("TopK").since(11)
                .doc("The k largest (or smallest) elements along axis and their indices; equal values keep index order.")
                .inputs("X", "K").outputs("Values", "Indices")
                .attrInt("axis", -1, "the axis to select along, in [-r, r)")
                .attrInt("largest", 1, "1 for the largest elements, 0 for the smallest")
                .attrInt("sorted", 1, "1 to return them in order (Kiln always does)")
                .shape(ctx -> {
                    Shape x = ctx.inputShape(0);
                    int axis = Indexing.axis(ctx, ctx.attrInt("axis"), x.rank());
                    if (!ctx.inputDtype(0).isNumeric()) {
                        throw ctx.fail("TopK needs a numeric input");
                    }
                    Dim k = ShapeValues.dims(ctx, 1).filter(d -> d.size() == 1).map(d -> d.get(0))
                            .orElseGet(Dim::unknown);
                    if (k.isStatic() && x.dim(axis).isStatic() && k.value() > x.dim(axis).value()) {
                        throw ctx.fail("k = " + k + " exceeds the axis size " + x.dim(axis));
                    }
                    List<Dim> out = new ArrayList<>(x.dims());
                    out.set(axis, k);
                    return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)),
                            new TensorType(DType.INT64, new Shape(out)));
                })
                .eval(SelectionOps::topK)
                .build());

        r.add(cumulative("CumSum", 14, "sum").eval(ctx -> cumulative(ctx, false)).build());
        r.add(cumulative("CumProd", 26, "product").eval(ctx -> cumulative(ctx, true)).build());
    }

    private static int oneHotAxis(NodeContext ctx, int indicesRank) {
        long axis = ctx.attrInt("axis");
        int outRank = indicesRank + 1;
        long a = axis < 0 ? axis + outRank : axis;
        if (a < 0 || a >= outRank) {
            throw ctx.fail("axis " + axis + " is out of range for output rank " + outRank);
        }
        return (int) a;
    }

    private static int depth(NodeContext ctx, Tensor depth) {
        if (depth.size() != 1) {
            throw ctx.fail("depth must hold one element");
        }
        long d = depth.getLong(0);
        if (d < 1) {
            throw ctx.fail("depth must be positive, not " + d);
        }
        return Math.toIntExact(d);
    }

    private static List<Tensor> oneHot(EvalContext ctx) {
        Tensor indices = ctx.input(0);
        int depth = depth(ctx, ctx.input(1));
        Tensor values = ctx.input(2);
        if (values.size() != 2) {
            throw ctx.fail("values must be [off, on]");
        }
        int[] idxShape = indices.shape();
        int axis = oneHotAxis(ctx, idxShape.length);
        int outer = Indexing.product(idxShape, 0, axis);
        int inner = Indexing.product(idxShape, axis, idxShape.length);
        int[] out = new int[idxShape.length + 1];
        System.arraycopy(idxShape, 0, out, 0, axis);
        out[axis] = depth;
        System.arraycopy(idxShape, axis, out, axis + 1, idxShape.length - axis);
        int[] src = new int[outer * depth * inner];
        int f = 0;
        for (int o = 0; o < outer; o++) {
            for (int d = 0; d < depth; d++) {
                for (int i = 0; i < inner; i++) {
                    long v = indices.getLong(o * inner + i);
                    if (v < 0) {
                        v += depth;
                    }
                    src[f++] = v == d ? 1 : 0;
                }
            }
        }
        return List.of(ElementBuffer.gather(values, out, src));
    }

    private static Comparator<Integer> order(Tensor x, int base, int stride) {
        if (x.dtype().isFloat()) {
            double[] v = x.doubles();
            // NaN counts as the largest value; -0 equals +0 so ties fall back to index order.
            return (a, b) -> {
                double p = v[base + a * stride];
                double q = v[base + b * stride];
                if (Double.isNaN(p) || Double.isNaN(q)) {
                    return Boolean.compare(Double.isNaN(p), Double.isNaN(q));
                }
                return p < q ? -1 : p > q ? 1 : 0;
            };
        }
        long[] v = x.longs();
        boolean unsigned = x.dtype().isUnsigned();
        return (a, b) -> unsigned ? Long.compareUnsigned(v[base + a * stride], v[base + b * stride])
                : Long.compare(v[base + a * stride], v[base + b * stride]);
    }

    private static List<Tensor> topK(EvalContext ctx) {
        Tensor x = ctx.input(0);
        Tensor kt = ctx.input(1);
        if (kt.size() != 1 || !kt.dtype().isInteger()) {
            throw ctx.fail("K must be one integer");
        }
        long kLong = kt.longs()[0];
        int[] shape = x.shape();
        int axis = Indexing.axis(ctx, ctx.attrInt("axis"), shape.length);
        int d = shape[axis];
        if (kLong < 0 || kLong > d) {
            throw ctx.fail("k = " + kLong + " is outside [0, " + d + "]");
        }
        int k = (int) kLong;
        boolean largest = ctx.attrInt("largest") != 0;
        int outer = Indexing.product(shape, 0, axis);
        int inner = Indexing.product(shape, axis + 1, shape.length);
        int[] out = shape.clone();
        out[axis] = k;
        int[] src = new int[outer * k * inner];
        long[] indices = new long[src.length];
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < inner; i++) {
                int base = o * d * inner + i;
                Comparator<Integer> byValue = order(x, base, inner);
                Comparator<Integer> cmp = (largest ? byValue.reversed() : byValue).thenComparing(Integer::compare);
                List<Integer> pos = new ArrayList<>();
                for (int j = 0; j < d; j++) {
                    pos.add(j);
                }
                pos.sort(cmp);
                for (int j = 0; j < k; j++) {
                    int f = (o * k + j) * inner + i;
                    src[f] = base + pos.get(j) * inner;
                    indices[f] = pos.get(j);
                }
            }
        }
        return List.of(ElementBuffer.gather(x, out, src), Tensor.wrapLongs(DType.INT64, out, indices));
    }

    /** CumSum and CumProd: the same operands and attributes, the running {@code what} along axis. */
    private static OpDef.Builder cumulative(String name, int since, String what) {
        return OpDef.builder(name).since(since)
                .doc("Cumulative " + what + " along axis, optionally exclusive (shifted by one) and/or from the end.")
                .inputs("x", "axis").outputs("y")
                .attrInt("exclusive", 0, "1: element i takes the " + what + " of the elements before i, not up to it")
                .attrInt("reverse", 0, "1: accumulate from the end of the axis")
                .shape(ctx -> {
                    if (!ctx.inputDtype(0).isNumeric()) {
                        throw ctx.fail(name + " needs a numeric input");
                    }
                    IndexingOps.requireIndices(ctx, 1);
                    return Pointwise.sameAsInput(ctx);
                });
    }

    /** The running sum or product (floats in double, integers in long, wrapping) along the axis. */
    private static List<Tensor> cumulative(EvalContext ctx, boolean product) {
        Tensor x = ctx.input(0);
        Tensor axisT = ctx.input(1);
        if (axisT.size() != 1 || axisT.rank() > 1) {
            throw ctx.fail("axis must be a scalar");
        }
        int[] shape = x.shape();
        int axis = Indexing.axis(ctx, axisT.getLong(0), shape.length);
        boolean exclusive = ctx.attrInt("exclusive") != 0;
        boolean reverse = ctx.attrInt("reverse") != 0;
        int outer = Indexing.product(shape, 0, axis);
        int d = shape[axis];
        int inner = Indexing.product(shape, axis + 1, shape.length);
        boolean integer = x.dtype().isInteger();
        double[] outD = integer ? null : new double[x.size()];
        long[] outL = integer ? new long[x.size()] : null;
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < inner; i++) {
                double sumD = product ? 1 : 0;
                long sumL = product ? 1 : 0;
                for (int step = 0; step < d; step++) {
                    int j = reverse ? d - 1 - step : step;
                    int f = (o * d + j) * inner + i;
                    if (integer) {
                        long v = x.longs()[f];
                        long next = product ? sumL * v : sumL + v;
                        outL[f] = exclusive ? sumL : next;
                        sumL = next;
                    } else {
                        double v = x.doubles()[f];
                        double next = product ? sumD * v : sumD + v;
                        outD[f] = exclusive ? sumD : next;
                        sumD = next;
                    }
                }
            }
        }
        return List.of(integer ? Tensor.wrapLongs(x.dtype(), shape, outL) : Tensor.wrapDoubles(x.dtype(), shape, outD));
    }
}
