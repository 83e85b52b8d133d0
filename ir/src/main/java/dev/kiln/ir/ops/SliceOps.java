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

/** Ops that join, split or cut tensors: Concat, Split, Slice, Compress. */
final class SliceOps {
    private SliceOps() {}

    /** Slice bounds large enough to mean "to the end" whatever the dim (ONNX exporters use INT64_MAX or INT32_MAX). */
    private static final long OPEN_END = Integer.MAX_VALUE;

    static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("Concat").since(13)
                .doc("Joins the inputs along axis; all other dims must match.")
                .inputs("inputs...").outputs("concat_result")
                .requiredAttr("axis", AttrType.INT, "the axis to join along, in [-r, r)")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(SliceOps::concatType)
                .eval(SliceOps::concatEval)
                .symbolic(ctx -> {
                    List<Dim> out = new ArrayList<>();
                    for (int i = 0; i < ctx.inputCount(); i++) {
                        if (ctx.inputShape(i).rank() != 1) {
                            return Optional.empty();
                        }
                        Optional<List<Dim>> d = ShapeValues.withMarkers(ctx, i);
                        if (d.isEmpty()) {
                            return Optional.empty();
                        }
                        out.addAll(d.get());
                    }
                    return Optional.of(out);
                })
                .grad(DenseGrads::concat)
                .build());

        r.add(OpDef.builder("Split").since(18)
                .doc("Splits along axis into parts of the given sizes, or into num_outputs parts of ceil(d/n) "
                        + "(the last one smaller).")
                .inputs("input", "split?").outputs("outputs...")
                .attrInt("axis", 0, "the axis to split, in [-r, r)")
                .optionalAttr("num_outputs", AttrType.INT, "number of equal parts when 'split' is not given")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(SliceOps::splitType)
                .eval(SliceOps::splitEval)
                .grad(DenseGrads::split)
                .build());

        r.add(OpDef.builder("Slice").since(13)
                .doc("data[starts:ends:steps] along axes; negative indices count from the end; bounds are clamped.")
                .inputs("data", "starts", "ends", "axes?", "steps?").outputs("output")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(SliceOps::sliceType)
                .eval(SliceOps::sliceEval)
                .symbolic(SliceOps::sliceSymbolic)
                .grad(DenseGrads::slice)
                .build());

        r.add(OpDef.builder("Compress").since(11)
                .doc("Keeps the slices along axis (or elements of the flattened input) where condition is true.")
                .inputs("input", "condition").outputs("output")
                .optionalAttr("axis", AttrType.INT, "axis to select along; absent means the flattened input")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(ctx -> {
                    Shape in = ctx.inputShape(0);
                    Dim kept = ctx.constant(1).map(c -> Dim.of(countTrue(c))).orElseGet(Dim::unknown);
                    if (!ctx.isSet("axis")) {
                        return List.of(new TensorType(ctx.inputDtype(0), Shape.of(kept)));
                    }
                    List<Dim> out = new ArrayList<>(in.dims());
                    out.set(Indexing.axis(ctx, ctx.attrInt("axis"), in.rank()), kept);
                    return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)));
                })
                .eval(SliceOps::compress)
                .build());
    }

    private static List<TensorType> concatType(ShapeContext ctx) {
        Shape first = ctx.inputShape(0);
        DType t = ctx.inputDtype(0);
        int axis = Indexing.axis(ctx, ctx.attrInt("axis"), first.rank());
        List<Dim> out = new ArrayList<>(first.dims());
        Optional<Dim> sum = Optional.of(Dim.of(0));
        for (int i = 0; i < ctx.inputCount(); i++) {
            Shape s = ctx.inputShape(i);
            if (ctx.inputDtype(i) != t || s.rank() != first.rank()) {
                throw ctx.fail("inputs must share element type and rank");
            }
            for (int a = 0; a < s.rank(); a++) {
                if (a == axis) {
                    continue;
                }
                Dim have = out.get(a);
                Dim d = s.dim(a);
                if (have.isStatic() && d.isStatic() && have.value() != d.value()) {
                    throw ctx.fail("inputs differ on axis " + a + " (" + have + " vs " + d + ")");
                }
                if (!have.isStatic() && d.isStatic()) {
                    out.set(a, d);
                }
            }
            sum = sum.flatMap(acc -> acc.plus(s.dim(axis)));
        }
        out.set(axis, sum.orElseGet(Dim::unknown));
        return List.of(new TensorType(t, new Shape(out)));
    }

    private static List<Tensor> concatEval(EvalContext ctx) {
        Tensor first = ctx.input(0);
        int[] shape = first.shape();
        int axis = Indexing.axis(ctx, ctx.attrInt("axis"), shape.length);
        int total = 0;
        for (int i = 0; i < ctx.inputCount(); i++) {
            int[] s = ctx.input(i).shape();
            for (int a = 0; a < shape.length; a++) {
                if (a != axis && s[a] != shape[a]) {
                    throw ctx.fail("inputs differ on axis " + a);
                }
            }
            total += s[axis];
        }
        int[] out = shape.clone();
        out[axis] = total;
        int outer = Indexing.product(shape, 0, axis);
        int inner = Indexing.product(shape, axis + 1, shape.length);
        ElementBuffer buf = ElementBuffer.zeros(first.dtype(), Tensor.sizeOf(out));
        int offset = 0;
        for (int i = 0; i < ctx.inputCount(); i++) {
            Tensor x = ctx.input(i);
            int d = x.dim(axis);
            for (int o = 0; o < outer; o++) {
                for (int k = 0; k < d * inner; k++) {
                    buf.copy((o * total + offset) * inner + k, x, o * d * inner + k);
                }
            }
            offset += d;
        }
        return List.of(buf.toTensor(out));
    }

    private static List<TensorType> splitType(ShapeContext ctx) {
        Shape in = ctx.inputShape(0);
        int axis = Indexing.axis(ctx, ctx.attrInt("axis"), in.rank());
        int n = ctx.outputCount();
        List<Dim> parts = new ArrayList<>();
        Dim d = in.dim(axis);
        if (ctx.hasInput(1)) {
            Optional<long[]> split = ShapeValues.longs(ctx, 1);
            if (split.isPresent()) {
                checkSplit(ctx, split.get(), n, d.isStatic() ? d.value() : -1);
                for (long s : split.get()) {
                    parts.add(Dim.of(s));
                }
            } else {
                parts.addAll(ShapeValues.unknowns(n));
            }
        } else {
            int count = partCount(ctx);
            if (d.isStatic()) {
                for (long s : equalParts(ctx, d.value(), count)) {
                    parts.add(Dim.of(s));
                }
            } else {
                Optional<Dim> q = d.dividedBy(Dim.of(count));
                for (int i = 0; i < count; i++) {
                    parts.add(q.orElseGet(Dim::unknown));
                }
            }
        }
        List<TensorType> out = new ArrayList<>();
        for (Dim p : parts) {
            List<Dim> dims = new ArrayList<>(in.dims());
            dims.set(axis, p);
            out.add(new TensorType(ctx.inputDtype(0), new Shape(dims)));
        }
        return out;
    }

    private static List<Tensor> splitEval(EvalContext ctx) {
        Tensor x = ctx.input(0);
        int[] shape = x.shape();
        int axis = Indexing.axis(ctx, ctx.attrInt("axis"), shape.length);
        long[] sizes;
        if (ctx.hasInput(1)) {
            sizes = Indexing.longs(ctx, 1);
            checkSplit(ctx, sizes, ctx.outputCount(), shape[axis]);
        } else {
            sizes = equalParts(ctx, shape[axis], partCount(ctx));
        }
        List<Tensor> out = new ArrayList<>();
        int start = 0;
        for (long size : sizes) {
            out.add(sliceAxis(x, axis, start, (int) size));
            start += (int) size;
        }
        return out;
    }

    private static int partCount(NodeContext ctx) {
        if (ctx.isSet("num_outputs")) {
            long n = ctx.attrInt("num_outputs");
            if (n != ctx.outputCount()) {
                throw ctx.fail("num_outputs = " + n + " but the node has " + ctx.outputCount() + " outputs");
            }
        }
        return ctx.outputCount();
    }

    /** Parts of ceil(d/n), the last one taking the remainder. */
    private static long[] equalParts(NodeContext ctx, long d, int n) {
        long chunk = (d + n - 1) / n;
        long[] parts = new long[n];
        Arrays.fill(parts, chunk);
        parts[n - 1] = d - chunk * (n - 1);
        if (parts[n - 1] < 0) {
            throw ctx.fail("a dim of " + d + " cannot be split into " + n + " parts of " + chunk);
        }
        return parts;
    }

    private static void checkSplit(NodeContext ctx, long[] split, int outputs, long dim) {
        if (split.length != outputs) {
            throw ctx.fail("split " + Arrays.toString(split) + " does not give one size per output (" + outputs + ")");
        }
        long sum = 0;
        for (long s : split) {
            if (s < 0) {
                throw ctx.fail("negative split size in " + Arrays.toString(split));
            }
            sum += s;
        }
        if (dim >= 0 && sum != dim) {
            throw ctx.fail("split " + Arrays.toString(split) + " does not sum to the dim " + dim);
        }
    }

    /** Elements [start, start+len) of x along axis. */
    private static Tensor sliceAxis(Tensor x, int axis, int start, int len) {
        int[] shape = x.shape();
        int outer = Indexing.product(shape, 0, axis);
        int inner = Indexing.product(shape, axis + 1, shape.length);
        int d = shape[axis];
        int[] out = shape.clone();
        out[axis] = len;
        int[] src = new int[outer * len * inner];
        int k = 0;
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < len * inner; j++) {
                src[k++] = (o * d + start) * inner + j;
            }
        }
        return ElementBuffer.gather(x, out, src);
    }

    /** The resolved slice of one axis: first index, element count, and step. */
    private record AxisSlice(int start, int count, long step) {}

    /** Resolves start/end/step against a concrete dim as the ONNX spec does (clamping included). */
    private static AxisSlice resolve(NodeContext ctx, long start, long end, long step, long dim) {
        if (step == 0) {
            throw ctx.fail("slice step must not be 0");
        }
        long s = start < 0 ? start + dim : start;
        long e = end < 0 ? end + dim : end;
        long count;
        if (step > 0) {
            s = Math.max(0, Math.min(dim, s));
            e = Math.max(0, Math.min(dim, e));
            count = e > s ? (e - s + step - 1) / step : 0;
        } else {
            s = Math.max(0, Math.min(dim - 1, s));
            e = Math.max(-1, Math.min(dim - 1, e));
            count = s > e ? (s - e + (-step) - 1) / (-step) : 0;
        }
        return new AxisSlice((int) s, (int) count, step);
    }

    /** The axes of a Slice: the axes input normalized, or 0..n-1. */
    private static int[] sliceAxes(NodeContext ctx, Optional<long[]> axes, int n, int rank) {
        if (axes.isEmpty()) {
            int[] a = new int[n];
            for (int i = 0; i < n; i++) {
                a[i] = i;
            }
            return a;
        }
        if (axes.get().length != n) {
            throw ctx.fail("axes and starts differ in length");
        }
        return Indexing.axes(ctx, axes.get(), rank);
    }

    private static long[] steps(NodeContext ctx, Optional<long[]> steps, int n) {
        if (steps.isEmpty()) {
            long[] s = new long[n];
            Arrays.fill(s, 1);
            return s;
        }
        if (steps.get().length != n) {
            throw ctx.fail("steps and starts differ in length");
        }
        return steps.get();
    }

    private static List<TensorType> sliceType(ShapeContext ctx) {
        Shape in = ctx.inputShape(0);
        List<Dim> out = new ArrayList<>(in.dims());
        Optional<long[]> starts = ShapeValues.longs(ctx, 1);
        Optional<long[]> ends = ShapeValues.longs(ctx, 2);
        Optional<long[]> axesIn = ShapeValues.longs(ctx, 3);
        Optional<long[]> stepsIn = ShapeValues.longs(ctx, 4);
        boolean axesKnown = !ctx.hasInput(3) || axesIn.isPresent();
        if (!axesKnown) {
            return List.of(new TensorType(ctx.inputDtype(0), new Shape(ShapeValues.unknowns(in.rank()))));
        }
        int n = ShapeValues.length(ctx, 1);
        int[] axes = sliceAxes(ctx, axesIn, n, in.rank());
        boolean boundsKnown = starts.isPresent() && ends.isPresent() && (!ctx.hasInput(4) || stepsIn.isPresent());
        if (!boundsKnown) {
            for (int a : axes) {
                out.set(a, Dim.unknown());
            }
            return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)));
        }
        if (ends.get().length != n) {
            throw ctx.fail("starts and ends differ in length");
        }
        long[] steps = steps(ctx, stepsIn, n);
        for (int i = 0; i < n; i++) {
            Dim d = in.dim(axes[i]);
            long s = starts.get()[i];
            long e = ends.get()[i];
            long st = steps[i];
            if (d.isStatic()) {
                out.set(axes[i], Dim.of(resolve(ctx, s, e, st, d.value()).count()));
            } else if (st == 0) {
                throw ctx.fail("slice step must not be 0");
            } else {
                boolean whole = st == 1 && s == 0 && e >= OPEN_END || st == -1 && s == -1 && e <= -OPEN_END;
                out.set(axes[i], whole ? d : Dim.unknown());
            }
        }
        return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)));
    }

    private static List<Tensor> sliceEval(EvalContext ctx) {
        Tensor x = ctx.input(0);
        int[] shape = x.shape();
        long[] starts = Indexing.longs(ctx, 1);
        long[] ends = Indexing.longs(ctx, 2);
        int n = starts.length;
        if (ends.length != n) {
            throw ctx.fail("starts and ends differ in length");
        }
        int[] axes = sliceAxes(ctx, ctx.hasInput(3) ? Optional.of(Indexing.longs(ctx, 3)) : Optional.empty(),
                n, shape.length);
        long[] steps = steps(ctx, ctx.hasInput(4) ? Optional.of(Indexing.longs(ctx, 4)) : Optional.empty(), n);
        AxisSlice[] per = new AxisSlice[shape.length];
        for (int a = 0; a < shape.length; a++) {
            per[a] = new AxisSlice(0, shape[a], 1);
        }
        for (int i = 0; i < n; i++) {
            per[axes[i]] = resolve(ctx, starts[i], ends[i], steps[i], shape[axes[i]]);
        }
        int[] out = new int[shape.length];
        for (int a = 0; a < shape.length; a++) {
            out[a] = per[a].count();
        }
        int[] inStrides = Indexing.strides(shape);
        int[] idx = new int[shape.length];
        int[] src = new int[Tensor.sizeOf(out)];
        for (int f = 0; f < src.length; f++) {
            Indexing.unravel(f, out, idx);
            long s = 0;
            for (int a = 0; a < shape.length; a++) {
                s += (per[a].start() + idx[a] * per[a].step()) * inStrides[a];
            }
            src[f] = (int) s;
        }
        return List.of(ElementBuffer.gather(x, out, src));
    }

    private static Optional<List<Dim>> sliceSymbolic(ShapeContext ctx) {
        if (ctx.inputShape(0).rank() != 1) {
            return Optional.empty();
        }
        Optional<List<Dim>> data = ShapeValues.withMarkers(ctx, 0);
        Optional<long[]> starts = ShapeValues.longs(ctx, 1);
        Optional<long[]> ends = ShapeValues.longs(ctx, 2);
        Optional<long[]> axes = ShapeValues.longs(ctx, 3);
        Optional<long[]> steps = ShapeValues.longs(ctx, 4);
        if (data.isEmpty() || starts.isEmpty() || ends.isEmpty() || starts.get().length != 1
                || ends.get().length != 1 || ctx.hasInput(3) && (axes.isEmpty() || axes.get().length != 1)
                || ctx.hasInput(4) && (steps.isEmpty() || steps.get().length != 1)) {
            return Optional.empty();
        }
        if (axes.isPresent() && axes.get()[0] != 0 && axes.get()[0] != -1) {
            return Optional.empty();
        }
        long step = steps.map(s -> s[0]).orElse(1L);
        if (step == 0) {
            return Optional.empty();
        }
        AxisSlice s = resolve(ctx, starts.get()[0], ends.get()[0], step, data.get().size());
        List<Dim> out = new ArrayList<>();
        for (int i = 0; i < s.count(); i++) {
            out.add(data.get().get((int) (s.start() + i * s.step())));
        }
        return Optional.of(out);
    }

    private static int countTrue(Tensor condition) {
        int n = 0;
        for (int i = 0; i < condition.size(); i++) {
            if (condition.getBool(i)) {
                n++;
            }
        }
        return n;
    }

    private static List<Tensor> compress(EvalContext ctx) {
        Tensor x = ctx.input(0);
        Tensor cond = ctx.input(1);
        if (cond.rank() != 1) {
            throw ctx.fail("condition must be 1-D");
        }
        if (!ctx.isSet("axis")) {
            if (cond.size() > x.size()) {
                throw ctx.fail("condition is longer (" + cond.size() + ") than the input (" + x.size() + ")");
            }
            List<Integer> kept = new ArrayList<>();
            for (int i = 0; i < cond.size(); i++) {
                if (cond.getBool(i)) {
                    kept.add(i);
                }
            }
            int[] src = kept.stream().mapToInt(Integer::intValue).toArray();
            return List.of(ElementBuffer.gather(x, new int[] {src.length}, src));
        }
        int[] shape = x.shape();
        int axis = Indexing.axis(ctx, ctx.attrInt("axis"), shape.length);
        if (cond.size() > shape[axis]) {
            throw ctx.fail("condition is longer (" + cond.size() + ") than axis " + axis + " (" + shape[axis] + ")");
        }
        List<Integer> keptIdx = new ArrayList<>();
        for (int i = 0; i < cond.size(); i++) {
            if (cond.getBool(i)) {
                keptIdx.add(i);
            }
        }
        int outer = Indexing.product(shape, 0, axis);
        int inner = Indexing.product(shape, axis + 1, shape.length);
        int[] out = shape.clone();
        out[axis] = keptIdx.size();
        int[] src = new int[Tensor.sizeOf(out)];
        int f = 0;
        for (int o = 0; o < outer; o++) {
            for (int k : keptIdx) {
                for (int j = 0; j < inner; j++) {
                    src[f++] = (o * shape[axis] + k) * inner + j;
                }
            }
        }
        return List.of(ElementBuffer.gather(x, out, src));
    }
}
