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
 * Ops that join, split, cut or rearrange blocks of a tensor: Concat, Split, Slice, Pad, DepthToSpace,
 * SpaceToDepth, Trilu, ReverseSequence, Compress.
 */
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
                .build());

        r.add(OpDef.builder("Slice").since(13)
                .doc("data[starts:ends:steps] along axes; negative indices count from the end; bounds are clamped.")
                .inputs("data", "starts", "ends", "axes?", "steps?").outputs("output")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(SliceOps::sliceType)
                .eval(SliceOps::sliceEval)
                .symbolic(SliceOps::sliceSymbolic)
                .build());

        r.add(OpDef.builder("Pad").since(21)
                .doc("Pads (or with negative pads crops) each axis; constant, reflect, edge or wrap mode.")
                .inputs("data", "pads", "constant_value?", "axes?").outputs("output")
                .attrString("mode", "constant", "constant, reflect, edge or wrap")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(SliceOps::padType)
                .eval(SliceOps::padEval)
                .build());

        r.add(OpDef.builder("DepthToSpace").since(13)
                .doc("Moves blocks of channels into blocksize x blocksize spatial blocks ([N,C,H,W] -> "
                        + "[N,C/b^2,H*b,W*b]), in DCR or CRD channel order.")
                .inputs("input").outputs("output")
                .requiredAttr("blocksize", AttrType.INT, "side of the spatial block")
                .attrString("mode", "DCR", "DCR (depth-column-row) or CRD (column-row-depth)")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(ctx -> {
                    Shape in = nchw(ctx);
                    long b = blocksize(ctx);
                    blockMode(ctx);
                    Dim c = in.dim(1).dividedBy(Dim.of(b * b)).orElseThrow(
                            () -> ctx.fail("channels " + in.dim(1) + " are not divisible by blocksize^2 = " + b * b));
                    return List.of(new TensorType(ctx.inputDtype(0),
                            Shape.of(in.dim(0), c, in.dim(2).times(b), in.dim(3).times(b))));
                })
                .eval(ctx -> List.of(depthToSpace(ctx, ctx.input(0), (int) blocksize(ctx), blockMode(ctx))))
                .build());

        r.add(OpDef.builder("SpaceToDepth").since(13)
                .doc("Moves blocksize x blocksize spatial blocks into channels ([N,C,H,W] -> [N,C*b^2,H/b,W/b]).")
                .inputs("input").outputs("output")
                .requiredAttr("blocksize", AttrType.INT, "side of the spatial block")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(ctx -> {
                    Shape in = nchw(ctx);
                    long b = blocksize(ctx);
                    Dim[] hw = new Dim[2];
                    for (int i = 0; i < 2; i++) {
                        Dim d = in.dim(2 + i);
                        hw[i] = d.dividedBy(Dim.of(b)).orElseGet(() -> {
                            if (d.isStatic()) {
                                throw ctx.fail("spatial dim " + d + " is not divisible by blocksize " + b);
                            }
                            return Dim.unknown();
                        });
                    }
                    return List.of(new TensorType(ctx.inputDtype(0),
                            Shape.of(in.dim(0), in.dim(1).times(b * b), hw[0], hw[1])));
                })
                .eval(ctx -> List.of(spaceToDepth(ctx, ctx.input(0), (int) blocksize(ctx))))
                .build());

        r.add(OpDef.builder("Trilu").since(14)
                .doc("Keeps the upper (j - i >= k) or lower (j - i <= k) triangle of the last two dims, zeroes the rest.")
                .inputs("input", "k?").outputs("output")
                .attrInt("upper", 1, "1 keeps the upper triangle, 0 the lower")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(ctx -> {
                    if (ctx.inputShape(0).rank() < 2) {
                        throw ctx.fail("Trilu needs rank >= 2");
                    }
                    return Pointwise.sameAsInput(ctx);
                })
                .eval(SliceOps::trilu)
                .build());

        r.add(OpDef.builder("ReverseSequence").since(10)
                .doc("Reverses the first sequence_lens[b] elements along time_axis of each batch entry b.")
                .inputs("input", "sequence_lens").outputs("Y")
                .attrInt("batch_axis", 1, "the batch axis, 0 or 1")
                .attrInt("time_axis", 0, "the time axis, 0 or 1")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(ctx -> {
                    if (ctx.inputShape(0).rank() < 2) {
                        throw ctx.fail("ReverseSequence needs rank >= 2");
                    }
                    sequenceAxes(ctx);
                    return Pointwise.sameAsInput(ctx);
                })
                .eval(SliceOps::reverseSequence)
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

    // ---- Concat ----

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

    // ---- Split ----

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

    // ---- Slice ----

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

    // ---- Pad ----

    private static String padMode(NodeContext ctx) {
        String mode = ctx.attrString("mode");
        if (!List.of("constant", "reflect", "edge", "wrap").contains(mode)) {
            throw ctx.fail("unknown pad mode '" + mode + "'");
        }
        return mode;
    }

    /** Begin and end pads per axis of a tensor of {@code rank}, from the pads and optional axes inputs. */
    private static long[][] fullPads(NodeContext ctx, long[] pads, Optional<long[]> axesIn, int rank) {
        int[] axes;
        if (axesIn.isPresent()) {
            axes = Indexing.axes(ctx, axesIn.get(), rank);
        } else {
            axes = new int[rank];
            for (int i = 0; i < rank; i++) {
                axes[i] = i;
            }
        }
        if (pads.length != 2 * axes.length) {
            throw ctx.fail("pads has " + pads.length + " entries but " + axes.length + " axes need " + 2 * axes.length);
        }
        long[][] out = new long[2][rank];
        for (int i = 0; i < axes.length; i++) {
            out[0][axes[i]] = pads[i];
            out[1][axes[i]] = pads[i + axes.length];
        }
        return out;
    }

    private static List<TensorType> padType(ShapeContext ctx) {
        Shape in = ctx.inputShape(0);
        padMode(ctx);
        Optional<long[]> pads = ShapeValues.longs(ctx, 1);
        Optional<long[]> axes = ShapeValues.longs(ctx, 3);
        if (pads.isEmpty() || ctx.hasInput(3) && axes.isEmpty()) {
            return List.of(new TensorType(ctx.inputDtype(0), new Shape(ShapeValues.unknowns(in.rank()))));
        }
        long[][] p = fullPads(ctx, pads.get(), axes, in.rank());
        List<Dim> out = new ArrayList<>();
        for (int a = 0; a < in.rank(); a++) {
            long delta = p[0][a] + p[1][a];
            Dim d = in.dim(a);
            if (d.isStatic()) {
                if (d.value() + delta < 0) {
                    throw ctx.fail("pads " + Arrays.toString(pads.get()) + " crop axis " + a + " below zero");
                }
                out.add(Dim.of(d.value() + delta));
            } else {
                out.add(delta == 0 ? d : delta > 0 ? d.plus(Dim.of(delta)).orElseGet(Dim::unknown) : Dim.unknown());
            }
        }
        return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)));
    }

    private static List<Tensor> padEval(EvalContext ctx) {
        Tensor x = ctx.input(0);
        String mode = padMode(ctx);
        int[] shape = x.shape();
        long[][] p = fullPads(ctx, Indexing.longs(ctx, 1),
                ctx.hasInput(3) ? Optional.of(Indexing.longs(ctx, 3)) : Optional.empty(), shape.length);
        // Negative pads crop first; the remaining (non-negative) pads then extend the cropped region.
        int[] lo = new int[shape.length];
        int[] len = new int[shape.length];
        int[] before = new int[shape.length];
        int[] out = new int[shape.length];
        for (int a = 0; a < shape.length; a++) {
            lo[a] = (int) Math.max(0, -p[0][a]);
            len[a] = (int) (shape[a] - lo[a] - Math.max(0, -p[1][a]));
            if (len[a] < 0) {
                throw ctx.fail("pads crop axis " + a + " below zero");
            }
            before[a] = (int) Math.max(0, p[0][a]);
            out[a] = Math.toIntExact(len[a] + before[a] + Math.max(0, p[1][a]));
            if (out[a] > 0 && len[a] == 0 && !mode.equals("constant")) {
                throw ctx.fail(mode + " padding of an empty axis " + a);
            }
        }
        Tensor fill = ctx.hasInput(2) ? ctx.input(2) : null;
        if (fill != null && (fill.size() != 1 || fill.dtype() != x.dtype())) {
            throw ctx.fail("constant_value must be one element of the data's type");
        }
        int[] inStrides = Indexing.strides(shape);
        int[] idx = new int[shape.length];
        int n = Tensor.sizeOf(out);
        ElementBuffer buf = ElementBuffer.zeros(x.dtype(), n);
        for (int f = 0; f < n; f++) {
            Indexing.unravel(f, out, idx);
            int src = 0;
            boolean outside = false;
            for (int a = 0; a < shape.length; a++) {
                int i = idx[a] - before[a];
                if (i < 0 || i >= len[a]) {
                    switch (mode) {
                        case "constant" -> outside = true;
                        case "edge" -> i = i < 0 ? 0 : len[a] - 1;
                        case "wrap" -> i = Math.floorMod(i, len[a]);
                        default -> i = reflect(i, len[a]);
                    }
                }
                src += (lo[a] + i) * inStrides[a];
            }
            if (outside) {
                if (fill != null) {
                    buf.copy(f, fill, 0);
                }
            } else {
                buf.copy(f, x, src);
            }
        }
        return List.of(buf.toTensor(out));
    }

    /** Index i mirrored into [0, n) about the first and last elements (numpy's 'reflect'), repeatedly. */
    private static int reflect(int i, int n) {
        if (n == 1) {
            return 0;
        }
        int period = 2 * (n - 1);
        int m = Math.floorMod(i, period);
        return m < n ? m : period - m;
    }

    // ---- DepthToSpace, SpaceToDepth ----

    private static Shape nchw(ShapeContext ctx) {
        Shape in = ctx.inputShape(0);
        if (in.rank() != 4) {
            throw ctx.fail("input must be 4-D [N,C,H,W]");
        }
        return in;
    }

    private static long blocksize(NodeContext ctx) {
        long b = ctx.attrInt("blocksize");
        if (b <= 0) {
            throw ctx.fail("blocksize must be positive, not " + b);
        }
        return b;
    }

    private static boolean blockMode(NodeContext ctx) {
        String mode = ctx.attrString("mode");
        if (!mode.equals("DCR") && !mode.equals("CRD")) {
            throw ctx.fail("mode must be DCR or CRD, not '" + mode + "'");
        }
        return mode.equals("DCR");
    }

    private static Tensor depthToSpace(NodeContext ctx, Tensor x, int b, boolean dcr) {
        int n = x.dim(0);
        int c = x.dim(1);
        int h = x.dim(2);
        int w = x.dim(3);
        if (c % (b * b) != 0) {
            throw ctx.fail("channels " + c + " are not divisible by blocksize^2 = " + b * b);
        }
        int oc = c / (b * b);
        int[] out = {n, oc, h * b, w * b};
        int[] src = new int[x.size()];
        int f = 0;
        for (int ni = 0; ni < n; ni++) {
            for (int ci = 0; ci < oc; ci++) {
                for (int y = 0; y < h * b; y++) {
                    for (int z = 0; z < w * b; z++) {
                        int bi = y % b;
                        int bj = z % b;
                        // DCR takes channel (bi*b + bj)*oc + ci; CRD takes ci*b*b + bi*b + bj.
                        int channel = dcr ? (bi * b + bj) * oc + ci : ci * b * b + bi * b + bj;
                        src[f++] = ((ni * c + channel) * h + y / b) * w + z / b;
                    }
                }
            }
        }
        return ElementBuffer.gather(x, out, src);
    }

    private static Tensor spaceToDepth(NodeContext ctx, Tensor x, int b) {
        int n = x.dim(0);
        int c = x.dim(1);
        int h = x.dim(2);
        int w = x.dim(3);
        if (h % b != 0 || w % b != 0) {
            throw ctx.fail("spatial dims " + h + "x" + w + " are not divisible by blocksize " + b);
        }
        int oh = h / b;
        int ow = w / b;
        int[] out = {n, c * b * b, oh, ow};
        int[] src = new int[x.size()];
        int f = 0;
        for (int ni = 0; ni < n; ni++) {
            for (int oc = 0; oc < c * b * b; oc++) {
                // Output channel (bi*b + bj)*c + ci holds offset (bi, bj) of every block of channel ci.
                int ci = oc % c;
                int bi = oc / c / b;
                int bj = oc / c % b;
                for (int y = 0; y < oh; y++) {
                    for (int z = 0; z < ow; z++) {
                        src[f++] = ((ni * c + ci) * h + y * b + bi) * w + z * b + bj;
                    }
                }
            }
        }
        return ElementBuffer.gather(x, out, src);
    }

    // ---- Trilu, ReverseSequence, Compress ----

    private static List<Tensor> trilu(EvalContext ctx) {
        Tensor x = ctx.input(0);
        long k = ctx.hasInput(1) ? ctx.input(1).getLong(0) : 0;
        boolean upper = ctx.attrInt("upper") != 0;
        int rows = x.dim(x.rank() - 2);
        int cols = x.dim(x.rank() - 1);
        ElementBuffer buf = ElementBuffer.zeros(x.dtype(), x.size());
        for (int f = 0; f < x.size(); f++) {
            long i = f / cols % rows;
            long j = f % cols;
            if (upper ? j - i >= k : j - i <= k) {
                buf.copy(f, x, f);
            }
        }
        return List.of(buf.toTensor(x.shape()));
    }

    private static int[] sequenceAxes(NodeContext ctx) {
        long b = ctx.attrInt("batch_axis");
        long t = ctx.attrInt("time_axis");
        if (b < 0 || b > 1 || t < 0 || t > 1 || b == t) {
            throw ctx.fail("batch_axis and time_axis must be 0 and 1 in some order");
        }
        return new int[] {(int) b, (int) t};
    }

    private static List<Tensor> reverseSequence(EvalContext ctx) {
        Tensor x = ctx.input(0);
        int[] axes = sequenceAxes(ctx);
        int batchAxis = axes[0];
        int timeAxis = axes[1];
        int[] shape = x.shape();
        long[] lens = Indexing.longs(ctx, 1);
        if (lens.length != shape[batchAxis]) {
            throw ctx.fail("sequence_lens has " + lens.length + " entries for a batch of " + shape[batchAxis]);
        }
        int[] strides = Indexing.strides(shape);
        int[] idx = new int[shape.length];
        int[] src = new int[x.size()];
        for (int f = 0; f < src.length; f++) {
            Indexing.unravel(f, shape, idx);
            long len = lens[idx[batchAxis]];
            if (len < 0 || len > shape[timeAxis]) {
                throw ctx.fail("sequence length " + len + " is outside [0, " + shape[timeAxis] + "]");
            }
            int t = idx[timeAxis];
            if (t < len) {
                idx[timeAxis] = (int) (len - 1 - t);
            }
            src[f] = Indexing.ravel(idx, strides);
        }
        return List.of(ElementBuffer.gather(x, x.shape(), src));
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
