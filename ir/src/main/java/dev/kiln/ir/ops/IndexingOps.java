package dev.kiln.ir.ops;

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
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Ops that select or place elements by index, or order them: Gather, GatherElements, GatherND,
 * ScatterElements, ScatterND, OneHot, NonZero, TopK, CumSum. Indices may be negative (counted from the end).
 */
final class IndexingOps {
    private IndexingOps() {}

    private static final List<String> REDUCTIONS = List.of("none", "add", "mul", "max", "min");

    static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("Gather").since(13)
                .doc("Selects entries of data along axis by indices: out shape data[:axis] + indices + data[axis+1:].")
                .inputs("data", "indices").outputs("output")
                .attrInt("axis", 0, "the axis to index, in [-r, r)")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(ctx -> {
                    Shape data = ctx.inputShape(0);
                    requireIndices(ctx, 1);
                    int axis = Indexing.axis(ctx, ctx.attrInt("axis"), data.rank());
                    List<Dim> out = new ArrayList<>(data.dims().subList(0, axis));
                    out.addAll(ctx.inputShape(1).dims());
                    out.addAll(data.dims().subList(axis + 1, data.rank()));
                    return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)));
                })
                .eval(IndexingOps::gather)
                .symbolic(ctx -> {
                    Optional<List<Dim>> data = ShapeValues.withMarkers(ctx, 0);
                    Optional<long[]> idx = ShapeValues.longs(ctx, 1);
                    if (data.isEmpty() || idx.isEmpty() || ctx.inputShape(0).rank() != 1
                            || ctx.inputShape(1).rank() > 1) {
                        return Optional.empty();
                    }
                    int n = data.get().size();
                    List<Dim> out = new ArrayList<>();
                    for (long i : idx.get()) {
                        if (i < -n || i >= n) {
                            return Optional.empty();
                        }
                        out.add(data.get().get((int) (i < 0 ? i + n : i)));
                    }
                    return Optional.of(out);
                })
                .build());

        r.add(OpDef.builder("GatherElements").since(13)
                .doc("out[i..] = data[i.. with axis coordinate replaced by indices[i..]]; output shaped as indices.")
                .inputs("data", "indices").outputs("output")
                .attrInt("axis", 0, "the axis to index, in [-r, r)")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(ctx -> {
                    requireIndices(ctx, 1);
                    Shape data = ctx.inputShape(0);
                    if (ctx.inputShape(1).rank() != data.rank()) {
                        throw ctx.fail("indices must have the rank of data");
                    }
                    Indexing.axis(ctx, ctx.attrInt("axis"), data.rank());
                    return List.of(new TensorType(ctx.inputDtype(0), ctx.inputShape(1)));
                })
                .eval(IndexingOps::gatherElements)
                .build());

        r.add(OpDef.builder("GatherND").since(13)
                .doc("Gathers slices of data addressed by the index tuples in the last axis of indices.")
                .inputs("data", "indices").outputs("output")
                .attrInt("batch_dims", 0, "number of leading batch dims shared by data and indices")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(ctx -> {
                    requireIndices(ctx, 1);
                    Shape data = ctx.inputShape(0);
                    Shape idx = ctx.inputShape(1);
                    int b = (int) ctx.attrInt("batch_dims");
                    if (idx.rank() < 1 || !idx.dim(idx.rank() - 1).isStatic()) {
                        throw ctx.fail("indices need a static last dim");
                    }
                    int k = (int) idx.dim(idx.rank() - 1).value();
                    if (b < 0 || b >= Math.min(data.rank(), idx.rank()) || k < 1 || b + k > data.rank()) {
                        throw ctx.fail("batch_dims " + b + " and index length " + k + " do not fit data " + data);
                    }
                    List<Dim> out = new ArrayList<>(idx.dims().subList(0, idx.rank() - 1));
                    out.addAll(data.dims().subList(b + k, data.rank()));
                    return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)));
                })
                .eval(IndexingOps::gatherNd)
                .build());

        r.add(OpDef.builder("ScatterElements").since(18)
                .doc("A copy of data where data[i.. with axis coordinate indices[i..]] is combined with updates[i..].")
                .inputs("data", "indices", "updates").outputs("output")
                .attrInt("axis", 0, "the axis to index, in [-r, r)")
                .attrString("reduction", "none", "none (overwrite), add, mul, max or min")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(ctx -> {
                    requireIndices(ctx, 1);
                    reduction(ctx);
                    Shape data = ctx.inputShape(0);
                    if (ctx.inputShape(1).rank() != data.rank() || !ctx.inputShape(2).equals(ctx.inputShape(1))
                            || ctx.inputDtype(2) != ctx.inputDtype(0)) {
                        throw ctx.fail("indices and updates must have one shape, of data's rank and updates data's type");
                    }
                    Indexing.axis(ctx, ctx.attrInt("axis"), data.rank());
                    return Pointwise.sameAsInput(ctx);
                })
                .eval(IndexingOps::scatterElements)
                .build());

        r.add(OpDef.builder("ScatterND").since(18)
                .doc("A copy of data where the slices addressed by the index tuples of indices are combined with updates.")
                .inputs("data", "indices", "updates").outputs("output")
                .attrString("reduction", "none", "none (overwrite), add, mul, max or min")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(ctx -> {
                    requireIndices(ctx, 1);
                    reduction(ctx);
                    Shape idx = ctx.inputShape(1);
                    if (idx.rank() < 1 || !idx.dim(idx.rank() - 1).isStatic()
                            || idx.dim(idx.rank() - 1).value() > ctx.inputShape(0).rank()) {
                        throw ctx.fail("the last dim of indices must be static and at most data's rank");
                    }
                    if (ctx.inputDtype(2) != ctx.inputDtype(0)) {
                        throw ctx.fail("updates must have data's type");
                    }
                    return Pointwise.sameAsInput(ctx);
                })
                .eval(IndexingOps::scatterNd)
                .build());

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
                .eval(IndexingOps::oneHot)
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
                .eval(IndexingOps::topK)
                .build());

        r.add(OpDef.builder("CumSum").since(14)
                .doc("Cumulative sum along axis, optionally exclusive (shifted by one) and/or from the end.")
                .inputs("x", "axis").outputs("y")
                .attrInt("exclusive", 0, "1: element i sums the elements before i, not up to it")
                .attrInt("reverse", 0, "1: sum from the end of the axis")
                .shape(ctx -> {
                    if (!ctx.inputDtype(0).isNumeric()) {
                        throw ctx.fail("CumSum needs a numeric input");
                    }
                    requireIndices(ctx, 1);
                    return Pointwise.sameAsInput(ctx);
                })
                .eval(IndexingOps::cumSum)
                .build());
    }

    private static void requireIndices(ShapeContext ctx, int i) {
        DType t = ctx.inputDtype(i);
        if (t != DType.INT64 && t != DType.INT32) {
            throw ctx.fail("input " + ctx.def().inputName(i) + " must be i32 or i64, not " + t);
        }
    }

    private static String reduction(NodeContext ctx) {
        String r = ctx.attrString("reduction");
        if (!REDUCTIONS.contains(r)) {
            throw ctx.fail("unknown reduction '" + r + "'");
        }
        return r;
    }

    // ---- Gather family ----

    private static List<Tensor> gather(EvalContext ctx) {
        Tensor data = ctx.input(0);
        long[] indices = Indexing.longs(ctx, 1);
        int[] shape = data.shape();
        int axis = Indexing.axis(ctx, ctx.attrInt("axis"), shape.length);
        int outer = Indexing.product(shape, 0, axis);
        int d = shape[axis];
        int inner = Indexing.product(shape, axis + 1, shape.length);
        int[] idxShape = ctx.input(1).shape();
        int[] out = new int[shape.length - 1 + idxShape.length];
        System.arraycopy(shape, 0, out, 0, axis);
        System.arraycopy(idxShape, 0, out, axis, idxShape.length);
        System.arraycopy(shape, axis + 1, out, axis + idxShape.length, shape.length - axis - 1);
        int[] src = new int[outer * indices.length * inner];
        int f = 0;
        for (int o = 0; o < outer; o++) {
            for (long raw : indices) {
                int i = Indexing.index(ctx, raw, d);
                for (int j = 0; j < inner; j++) {
                    src[f++] = (o * d + i) * inner + j;
                }
            }
        }
        return List.of(ElementBuffer.gather(data, out, src));
    }

    private static List<Tensor> gatherElements(EvalContext ctx) {
        Tensor data = ctx.input(0);
        Tensor indices = ctx.input(1);
        int[] shape = data.shape();
        int axis = Indexing.axis(ctx, ctx.attrInt("axis"), shape.length);
        int[] idxShape = indices.shape();
        for (int a = 0; a < shape.length; a++) {
            if (a != axis && idxShape[a] > shape[a]) {
                throw ctx.fail("indices dim " + a + " exceeds data's");
            }
        }
        long[] idx = indices.longs();
        int[] strides = Indexing.strides(shape);
        int[] pos = new int[shape.length];
        int[] src = new int[idx.length];
        for (int f = 0; f < idx.length; f++) {
            Indexing.unravel(f, idxShape, pos);
            pos[axis] = Indexing.index(ctx, idx[f], shape[axis]);
            src[f] = Indexing.ravel(pos, strides);
        }
        return List.of(ElementBuffer.gather(data, idxShape, src));
    }

    /**
     * Where the index tuples of a GatherND/ScatterND point: for each tuple (row-major over indices[:-1]),
     * the flat offset in data of the addressed slice of {@code sliceSize} elements.
     */
    private record TupleTargets(int[] offsets, int sliceSize) {}

    private static TupleTargets tupleTargets(NodeContext ctx, int[] dataShape, Tensor indices, int batchDims) {
        int[] idxShape = indices.shape();
        int q = idxShape.length;
        int k = idxShape[q - 1];
        if (k < 1 || batchDims + k > dataShape.length) {
            throw ctx.fail("index tuples of length " + k + " do not fit data of rank " + dataShape.length);
        }
        for (int a = 0; a < batchDims; a++) {
            if (idxShape[a] != dataShape[a]) {
                throw ctx.fail("batch dim " + a + " differs between data and indices");
            }
        }
        int batch = Indexing.product(dataShape, 0, batchDims);
        int batchBlock = Indexing.product(dataShape, batchDims, dataShape.length);
        int tuplesPerBatch = Indexing.product(idxShape, batchDims, q - 1);
        int sliceSize = Indexing.product(dataShape, batchDims + k, dataShape.length);
        int[] strides = Indexing.strides(dataShape);
        long[] idx = indices.longs();
        int[] offsets = new int[batch * tuplesPerBatch];
        for (int t = 0; t < offsets.length; t++) {
            int off = (t / Math.max(tuplesPerBatch, 1)) * batchBlock;
            for (int j = 0; j < k; j++) {
                int a = batchDims + j;
                off += Indexing.index(ctx, idx[t * k + j], dataShape[a]) * strides[a];
            }
            offsets[t] = off;
        }
        return new TupleTargets(offsets, sliceSize);
    }

    private static List<Tensor> gatherNd(EvalContext ctx) {
        Tensor data = ctx.input(0);
        Tensor indices = ctx.input(1);
        int b = (int) ctx.attrInt("batch_dims");
        int[] dataShape = data.shape();
        int[] idxShape = indices.shape();
        if (b < 0 || idxShape.length < 1 || b >= Math.min(dataShape.length, idxShape.length)) {
            throw ctx.fail("batch_dims " + b + " does not fit the inputs");
        }
        TupleTargets targets = tupleTargets(ctx, dataShape, indices, b);
        int k = idxShape[idxShape.length - 1];
        int[] out = new int[idxShape.length - 1 + dataShape.length - b - k];
        System.arraycopy(idxShape, 0, out, 0, idxShape.length - 1);
        System.arraycopy(dataShape, b + k, out, idxShape.length - 1, dataShape.length - b - k);
        int[] src = new int[targets.offsets().length * targets.sliceSize()];
        int f = 0;
        for (int off : targets.offsets()) {
            for (int j = 0; j < targets.sliceSize(); j++) {
                src[f++] = off + j;
            }
        }
        return List.of(ElementBuffer.gather(data, out, src));
    }

    // ---- Scatter family ----

    private static List<Tensor> scatterElements(EvalContext ctx) {
        Tensor data = ctx.input(0);
        Tensor indices = ctx.input(1);
        Tensor updates = ctx.input(2);
        String reduction = reduction(ctx);
        int[] shape = data.shape();
        int axis = Indexing.axis(ctx, ctx.attrInt("axis"), shape.length);
        int[] idxShape = indices.shape();
        if (!java.util.Arrays.equals(idxShape, updates.shape())) {
            throw ctx.fail("indices and updates must have the same shape");
        }
        long[] idx = indices.longs();
        int[] strides = Indexing.strides(shape);
        int[] pos = new int[shape.length];
        ElementBuffer buf = ElementBuffer.copyOf(data);
        for (int f = 0; f < idx.length; f++) {
            Indexing.unravel(f, idxShape, pos);
            pos[axis] = Indexing.index(ctx, idx[f], shape[axis]);
            buf.combine(Indexing.ravel(pos, strides), updates, f, reduction);
        }
        return List.of(buf.toTensor(shape));
    }

    private static List<Tensor> scatterNd(EvalContext ctx) {
        Tensor data = ctx.input(0);
        Tensor indices = ctx.input(1);
        Tensor updates = ctx.input(2);
        String reduction = reduction(ctx);
        int[] shape = data.shape();
        int[] idxShape = indices.shape();
        int k = idxShape[idxShape.length - 1];
        TupleTargets targets = tupleTargets(ctx, shape, indices, 0);
        int[] expected = new int[idxShape.length - 1 + shape.length - k];
        System.arraycopy(idxShape, 0, expected, 0, idxShape.length - 1);
        System.arraycopy(shape, k, expected, idxShape.length - 1, shape.length - k);
        if (!java.util.Arrays.equals(expected, updates.shape())) {
            throw ctx.fail("updates must have shape " + java.util.Arrays.toString(expected));
        }
        ElementBuffer buf = ElementBuffer.copyOf(data);
        int s = targets.sliceSize();
        for (int t = 0; t < targets.offsets().length; t++) {
            for (int j = 0; j < s; j++) {
                buf.combine(targets.offsets()[t] + j, updates, t * s + j, reduction);
            }
        }
        return List.of(buf.toTensor(shape));
    }

    // ---- OneHot, TopK, CumSum ----

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

    private static List<Tensor> cumSum(EvalContext ctx) {
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
                double sumD = 0;
                long sumL = 0;
                for (int step = 0; step < d; step++) {
                    int j = reverse ? d - 1 - step : step;
                    int f = (o * d + j) * inner + i;
                    if (integer) {
                        long v = x.longs()[f];
                        outL[f] = exclusive ? sumL : sumL + v;
                        sumL += v;
                    } else {
                        double v = x.doubles()[f];
                        outD[f] = exclusive ? sumD : sumD + v;
                        sumD += v;
                    }
                }
            }
        }
        return List.of(integer ? Tensor.wrapLongs(x.dtype(), shape, outL) : Tensor.wrapDoubles(x.dtype(), shape, outD));
    }
}
