package dev.kiln.onnx;

import dev.kiln.ir.Attr;
import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Rewrites the ONNX op forms of older (or newer) opsets into the form the op table declares, one rule per op
 * and version boundary. An op's declaration follows ONNX's semantics as of {@link OpDef#sinceVersion()}, so
 * a rule with boundary {@code v} applies to a model whose opset is below {@code v} when the table's version is
 * at or above it ({@link When#OLDER}), or the other way round ({@link When#NEWER}). A rule for op {@code "*"}
 * applies to every op. Matching rules run in boundary order, each handing its rewritten node to the next. A rule
 * belongs to one domain, and its boundary is a version of that domain's opset (ai.onnx.ml has its own numbering).
 */
final class OpsetAdapters {
    private OpsetAdapters() {}

    /** When a rule applies, relative to its boundary version. */
    enum When {
        /** The model's op predates the boundary; the table's op follows it. */
        OLDER,
        /** The model's op follows the boundary; the table's op predates it. */
        NEWER,
        /** The op is not in the table at all (it was replaced by another op). */
        MISSING,
        /** Every node of the op (normalizations independent of the version). */
        ALWAYS
    }

    /** Emits the (rest of the) rewritten node and returns its outputs. */
    @FunctionalInterface
    interface Next {
        List<Value> emit(ImportedNode node);
    }

    /** One rewrite; it must call {@code next} to emit the rewritten node itself (possibly between helpers). */
    @FunctionalInterface
    interface Rewrite {
        List<Value> apply(ImportedNode node, NodeEmitter out, Next next);
    }

    /** A rewrite of op {@code op} of {@code domain} ({@code ""}: ONNX's default), versions being that domain's. */
    record Rule(String domain, String op, int boundary, When when, Rewrite rewrite) {
        Rule(String op, int boundary, When when, Rewrite rewrite) {
            this("", op, boundary, when, rewrite);
        }
    }

    private static final float FLT_MAX = Float.MAX_VALUE;

    /** Reduce ops whose axes attribute became an input at opset 18 (ReduceSum moved at 13). */
    private static final List<String> REDUCE_18 = List.of("ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd",
            "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare");

    /** Binary ops whose operand broadcasting was opt-in ({@code broadcast}, {@code axis}) before opset 7. */
    private static final List<String> LEGACY_BROADCAST = List.of("Add", "Sub", "Mul", "Div", "Pow", "And", "Or",
            "Xor", "Equal", "Greater", "Less");

    static final List<Rule> RULES = rules();

    private static List<Rule> rules() {
        List<Rule> r = new ArrayList<>();
        // Op{consumed_inputs} -> Op: a legacy in-place hint before opset 6 with no effect on values
        r.add(new Rule("*", 6, When.OLDER, (n, out, next) -> next.emit(n.without("consumed_inputs"))));
        for (String op : LEGACY_BROADCAST) {
            // A(x, y){broadcast=1, axis=k} -> A(x, Unsqueeze(y, trailing axes)): numpy broadcasting aligns on the right
            r.add(new Rule(op, 7, When.OLDER, OpsetAdapters::legacyBroadcast));
        }
        // Gemm(A, B, C){broadcast} -> Gemm(A, B, C): C broadcasts unidirectionally since opset 7
        r.add(new Rule("Gemm", 7, When.OLDER, (n, out, next) -> next.emit(n.without("broadcast"))));
        // Cast{to="FLOAT"} -> Cast{to=1}: the target type was a string before opset 6
        r.add(new Rule("Cast", 6, When.OLDER, OpsetAdapters::castToCode));
        // Concat(x...) -> Concat(x...){axis=1}: axis was optional with default 1 before opset 4
        r.add(new Rule("Concat", 4, When.OLDER, (n, out, next) -> next.emit(n.attr("axis").isPresent() ? n
                : n.withAttr("axis", new Attr.Int(1)))));
        // Reshape(x){shape} -> Reshape(x, shape)
        r.add(new Rule("Reshape", 5, When.OLDER, (n, out, next) -> next.emit(intsToInput(n, out, "shape", 1))));
        // Pad{paddings} -> Pad{pads}: renamed at opset 2 (then moved to an input at 11 by the Pad rule)
        r.add(new Rule("Pad", 2, When.OLDER, (n, out, next) -> next.emit(n.attr("paddings")
                .map(a -> n.without("paddings").withAttr("pads", a)).orElse(n))));
        for (String op : List.of("RNN", "GRU", "LSTM")) {
            // RNN{output_sequence} -> RNN: Y is produced exactly when the node lists it, since opset 7
            r.add(new Rule(op, 7, When.OLDER, (n, out, next) -> next.emit(n.without("output_sequence"))));
        }
        // Constant{value_float|value_floats|value_int|value_ints|value_string|value_strings} -> Constant{value}
        r.add(new Rule("Constant", 0, When.ALWAYS, OpsetAdapters::constantValue));
        // Squeeze(x){axes} -> Squeeze(x, axes)
        r.add(new Rule("Squeeze", 13, When.OLDER, (n, out, next) -> next.emit(intsToInput(n, out, "axes", 1))));
        // Unsqueeze(x){axes} -> Unsqueeze(x, axes)
        r.add(new Rule("Unsqueeze", 13, When.OLDER, (n, out, next) -> next.emit(intsToInput(n, out, "axes", 1))));
        // Split(x){split} -> Split(x, split)
        r.add(new Rule("Split", 13, When.OLDER, (n, out, next) -> next.emit(intsToInput(n, out, "split", 1))));
        // Split(x){num_outputs=k} -> Split(x, [ceil(d/k), ..., rest]) for a table op that predates num_outputs
        r.add(new Rule("Split", 18, When.NEWER, OpsetAdapters::splitNumOutputs));
        // Clip(x){min, max} -> Clip(x, min, max), absent bounds being the old defaults -FLT_MAX / FLT_MAX
        r.add(new Rule("Clip", 11, When.OLDER, OpsetAdapters::clipInputs));
        // Pad(x){pads, mode, value} -> Pad(x, pads, value){mode}
        r.add(new Rule("Pad", 11, When.OLDER, OpsetAdapters::padInputs));
        // Slice(x){starts, ends, axes} -> Slice(x, starts, ends, axes)
        r.add(new Rule("Slice", 10, When.OLDER, (n, out, next) -> next.emit(
                intsToInput(intsToInput(intsToInput(n, out, "starts", 1), out, "ends", 2), out, "axes", 3))));
        // ReduceSum(x){axes} -> ReduceSum(x, axes)
        r.add(new Rule("ReduceSum", 13, When.OLDER, (n, out, next) -> next.emit(intsToInput(n, out, "axes", 1))));
        for (String op : REDUCE_18) {
            // Reduce*(x){axes} -> Reduce*(x, axes)
            r.add(new Rule(op, 18, When.OLDER, (n, out, next) -> next.emit(intsToInput(n, out, "axes", 1))));
        }
        for (String op : List.of("Softmax", "LogSoftmax", "Hardmax")) {
            // Softmax(x){axis=a} on the 2-D view [d0*..*d(a-1), da*..] -> Reshape(Softmax(Flatten(x){axis=a}){axis=1}, shape(x))
            r.add(new Rule(op, 13, When.OLDER, OpsetAdapters::coerceTo2d));
        }
        // Dropout(x){ratio, is_test} -> Dropout(x, ratio); before opset 10 the mask had x's type: Cast(mask)
        r.add(new Rule("Dropout", 12, When.OLDER, OpsetAdapters::dropout));
        // BatchNormalization{spatial=1, is_test, consumed_inputs} -> BatchNormalization; spatial=0 -> (x-mean)/sqrt(var+eps)*scale+B
        r.add(new Rule("BatchNormalization", 9, When.OLDER, OpsetAdapters::batchNormSpatial));
        // BatchNormalization -> (Y, mean?, var?, saved_mean?, saved_var?) -> (Y): only the inference output existed
        r.add(new Rule("BatchNormalization", 14, When.OLDER, OpsetAdapters::batchNormOutputs));
        // Upsample(x){scales} or Upsample(x, scales) -> Resize(x, _, scales){coordinate_transformation_mode=asymmetric, nearest_mode=floor}
        r.add(new Rule("Upsample", 0, When.MISSING, OpsetAdapters::upsample));
        // Scatter(x, i, u) -> ScatterElements(x, i, u): deprecated at 11 as an alias with the same semantics
        r.add(new Rule("Scatter", 0, When.MISSING, (n, out, next) -> NodeEmitter.def("", "ScatterElements").isPresent()
                ? out.node(n.withOp("ScatterElements")) : next.emit(n)));
        // TopK(x){k} -> TopK(x, [k])
        r.add(new Rule("TopK", 10, When.OLDER, OpsetAdapters::topK));
        // RoiAlign-10(X, rois, i) -> RoiAlign(X, rois, i){coordinate_transformation_mode=output_half_pixel}: no half-pixel shift before 16
        r.add(new Rule("RoiAlign", 16, When.OLDER, (n, out, next) -> next.emit(
                n.withAttr("coordinate_transformation_mode", new Attr.Str("output_half_pixel")))));
        // Resize-10(x, scales) -> Resize(x, _, scales){coordinate_transformation_mode=asymmetric}
        r.add(new Rule("Resize", 11, When.OLDER, OpsetAdapters::resize10));
        // Resize(x, roi=[], scales=[], sizes) -> Resize(x, _, _, sizes): empty tensors meant "absent" before 13
        r.add(new Rule("Resize", 13, When.OLDER, OpsetAdapters::resizeEmptyInputs));
        // DFT(x, len){axis=a} -> DFT(x, len, a): the axis (default 1 then, -2 now) became an input at opset 20
        r.add(new Rule("DFT", 20, When.OLDER, OpsetAdapters::dftAxis));
        // LabelEncoder-1{classes_strings} -> LabelEncoder{keys_strings, values_int64s=0..} (string X) or
        // {keys_int64s=0.., values_strings} (int64 X): opset 1 mapped strings to their index and back
        r.add(new Rule(dev.kiln.ir.ops.MlOps.DOMAIN, "LabelEncoder", 2, When.OLDER, OpsetAdapters::labelEncoderClasses));
        r.sort(Comparator.comparingInt(Rule::boundary));
        return List.copyOf(r);
    }

    /** Adds {@code node} to the graph after applying every rule that matches it, in boundary order. */
    static List<Value> emit(ImportedNode node, NodeEmitter out) {
        Optional<OpDef> def = NodeEmitter.def(node.domain(), node.op());
        List<Rule> matching = new ArrayList<>();
        for (Rule rule : RULES) {
            boolean forOp = rule.domain().equals(node.domain()) && (rule.op().equals(node.op()) || rule.op().equals("*"));
            if (forOp && applies(rule, node.opset(), def)) {
                matching.add(rule);
            }
        }
        return chain(matching, 0, out).emit(node);
    }

    private static Next chain(List<Rule> rules, int i, NodeEmitter out) {
        if (i == rules.size()) {
            return out::node;
        }
        Next rest = chain(rules, i + 1, out);
        return n -> rules.get(i).rewrite().apply(n, out, rest);
    }

    private static boolean applies(Rule rule, int opset, Optional<OpDef> def) {
        return switch (rule.when()) {
            case ALWAYS -> true;
            case MISSING -> def.isEmpty();
            case OLDER -> def.isPresent() && opset < rule.boundary() && def.get().sinceVersion() >= rule.boundary();
            case NEWER -> def.isPresent() && opset >= rule.boundary() && def.get().sinceVersion() < rule.boundary();
        };
    }

    private static List<Value> labelEncoderClasses(ImportedNode n, NodeEmitter out, Next next) {
        List<String> classes = n.attr("classes_strings").map(a -> ((Attr.Strs) a).values()).orElse(List.of());
        long[] positions = new long[classes.size()];
        for (int i = 0; i < positions.length; i++) {
            positions[i] = i;
        }
        ImportedNode rest = n.without("classes_strings");
        boolean fromStrings = !n.inputs().isEmpty() && n.inputs().get(0).dtype() == DType.STRING;
        if (fromStrings) {
            rest = rest.without("default_string").withAttr("keys_strings", new Attr.Strs(classes))
                    .withAttr("values_int64s", Attr.Ints.of(positions));
        } else {
            rest = rest.without("default_int64").withAttr("keys_int64s", Attr.Ints.of(positions))
                    .withAttr("values_strings", new Attr.Strs(classes));
        }
        return next.emit(rest);
    }

    private static List<Value> dftAxis(ImportedNode n, NodeEmitter out, Next next) {
        long axis = intAttr(n, "axis", 1);
        Value c = out.constant(n, "axis", Tensor.scalarLong(DType.INT64, axis));
        return next.emit(n.without("axis").withInput(2, c));
    }

    // ---- shared helpers ----

    /** Moves INTS attribute {@code attr} (when set) to input {@code index} as a 1-D int64 constant. */
    static ImportedNode intsToInput(ImportedNode n, NodeEmitter out, String attr, int index) {
        Optional<Attr> a = n.attr(attr);
        if (a.isEmpty()) {
            return n;
        }
        long[] values = ints(n, out, attr, a.get());
        Value c = out.constant(n, attr, Tensor.ofInt64s(values));
        return n.without(attr).withInput(index, c);
    }

    private static long[] ints(ImportedNode n, NodeEmitter out, String attr, Attr a) {
        if (a instanceof Attr.Ints is) {
            return is.toArray();
        }
        if (a instanceof Attr.Int i) {
            return new long[] {i.value()};
        }
        throw new dev.kiln.ir.ModelFormatException(out.source() + ": " + n.describe() + ": attribute '" + attr
                + "' must be a list of ints but is " + a.type());
    }

    private static long intAttr(ImportedNode n, String attr, long dflt) {
        return n.attr(attr).map(a -> a instanceof Attr.Int i ? i.value() : dflt).orElse(dflt);
    }

    private static float floatAttr(ImportedNode n, String attr, float dflt) {
        return n.attr(attr).map(a -> a instanceof Attr.Float f ? f.value() : dflt).orElse(dflt);
    }

    private static String stringAttr(ImportedNode n, String attr, String dflt) {
        return n.attr(attr).map(a -> a instanceof Attr.Str s ? s.value() : dflt).orElse(dflt);
    }

    private static UnsupportedModelException unsupported(ImportedNode n, NodeEmitter out, String why) {
        return new UnsupportedModelException(out.source() + ": " + n.describe() + " (opset " + n.opset() + "): " + why);
    }

    /** A scalar of {@code dtype} holding {@code v}. */
    private static Tensor scalar(DType dtype, double v) {
        return Tensor.fromDoubles(dtype, new int[0], new double[] {v});
    }

    private static List<String> outputsWithFirst(ImportedNode n, String first) {
        List<String> names = new ArrayList<>(n.outputNames());
        names.set(0, first);
        return names;
    }

    // ---- the rewrites ----

    private static List<Value> legacyBroadcast(ImportedNode n, NodeEmitter out, Next next) {
        ImportedNode m = n.without("broadcast", "axis");
        if (intAttr(n, "broadcast", 0) == 0 || !n.hasInput(1)) {
            return next.emit(m); // no broadcasting: the shapes are equal, which numpy rules accept as well
        }
        int rankA = n.input(0).shape().rank();
        int rankB = n.input(1).shape().rank();
        long axis = intAttr(n, "axis", rankA - rankB);
        if (axis < 0) {
            axis += rankA;
        }
        long trailing = rankA - axis - rankB;
        if (axis < 0 || trailing < 0) {
            throw unsupported(n, out, "broadcast axis " + intAttr(n, "axis", rankA - rankB) + " does not fit "
                    + n.input(1).type() + " into " + n.input(0).type());
        }
        if (trailing == 0) {
            return next.emit(m);
        }
        long[] axes = new long[(int) trailing];
        for (int k = 0; k < axes.length; k++) {
            axes[k] = rankB + k;
        }
        Value aligned = out.helper(n, "Unsqueeze", Attributes.EMPTY, n.input(1),
                out.constant(n, "broadcast_axes", Tensor.ofInt64s(axes)));
        return next.emit(m.withInput(1, aligned));
    }

    private static List<Value> castToCode(ImportedNode n, NodeEmitter out, Next next) {
        Optional<Attr> to = n.attr("to");
        if (to.isEmpty() || !(to.get() instanceof Attr.Str name)) {
            return next.emit(n);
        }
        String typeName = name.value().toUpperCase(java.util.Locale.ROOT);
        dev.kiln.onnx.proto.Onnx.TensorProto.DataType t;
        try {
            t = dev.kiln.onnx.proto.Onnx.TensorProto.DataType.valueOf(typeName);
        } catch (IllegalArgumentException e) {
            throw unsupported(n, out, "unknown Cast target type '" + name.value() + "'");
        }
        return next.emit(n.withAttr("to", new Attr.Int(t.getNumber())));
    }

    private static List<Value> constantValue(ImportedNode n, NodeEmitter out, Next next) {
        Tensor t = null;
        String used = null;
        for (String key : List.of("value_float", "value_floats", "value_int", "value_ints", "value_string",
                "value_strings")) {
            Optional<Attr> a = n.attr(key);
            if (a.isEmpty()) {
                continue;
            }
            used = key;
            t = switch (a.get()) {
                case Attr.Float f -> Tensor.scalarFloat(f.value());
                case Attr.Floats fs -> Tensor.ofFloats(new int[] {fs.values().size()}, fs.toArray());
                case Attr.Int i -> Tensor.scalarLong(DType.INT64, i.value());
                case Attr.Ints is -> Tensor.ofInt64s(is.toArray());
                case Attr.Str s -> Tensor.wrapStrings(new int[0], new String[] {s.value()});
                case Attr.Strs ss -> Tensor.wrapStrings(new int[] {ss.values().size()}, ss.values().toArray(String[]::new));
                default -> throw new dev.kiln.ir.ModelFormatException(out.source() + ": " + n.describe()
                        + ": attribute '" + key + "' has the wrong kind " + a.get().type());
            };
            break;
        }
        if (t == null) {
            return next.emit(n);
        }
        return next.emit(n.without(used).withAttr("value", new Attr.TensorValue(t)));
    }

    private static List<Value> splitNumOutputs(ImportedNode n, NodeEmitter out, Next next) {
        Optional<Attr> k = n.attr("num_outputs");
        if (k.isEmpty() || n.hasInput(1)) {
            return next.emit(n.without("num_outputs"));
        }
        long parts = ((Attr.Int) k.get()).value();
        Value x = n.input(0);
        int axis = Shape.normalizeAxis(intAttr(n, "axis", 0), x.shape().rank());
        if (!x.shape().dim(axis).isStatic()) {
            throw unsupported(n, out, "num_outputs splits a dynamic axis " + x.shape().dim(axis)
                    + ", which this op table's Split (opset " + NodeEmitter.def("", "Split").orElseThrow().sinceVersion()
                    + ") cannot express");
        }
        long d = x.shape().dim(axis).value();
        long chunk = (d + parts - 1) / parts;
        long[] sizes = new long[(int) parts];
        long left = d;
        for (int i = 0; i < parts; i++) {
            sizes[i] = Math.min(chunk, left);
            left -= sizes[i];
        }
        Value split = out.constant(n, "split", Tensor.ofInt64s(sizes));
        return next.emit(n.without("num_outputs").withInput(1, split));
    }

    private static List<Value> clipInputs(ImportedNode n, NodeEmitter out, Next next) {
        DType t = n.input(0).dtype();
        Value min = out.constant(n, "min", scalar(t, floatAttr(n, "min", -FLT_MAX)));
        Value max = out.constant(n, "max", scalar(t, floatAttr(n, "max", FLT_MAX)));
        return next.emit(n.without("min", "max").withInput(1, min).withInput(2, max));
    }

    private static List<Value> padInputs(ImportedNode n, NodeEmitter out, Next next) {
        Optional<Attr> pads = n.attr("pads");
        if (pads.isEmpty()) {
            return next.emit(n);
        }
        ImportedNode m = intsToInput(n, out, "pads", 1);
        if (stringAttr(n, "mode", "constant").equals("constant")) {
            Value v = out.constant(n, "value", scalar(n.input(0).dtype(), floatAttr(n, "value", 0f)));
            m = m.withInput(2, v);
        }
        return next.emit(m.without("value"));
    }

    private static List<Value> coerceTo2d(ImportedNode n, NodeEmitter out, Next next) {
        Value x = n.input(0);
        int rank = x.shape().rank();
        if (rank == 0) {
            return next.emit(n);
        }
        long requested = intAttr(n, "axis", 1);
        if (requested < -rank || requested >= rank) {
            throw new dev.kiln.ir.ShapeException(out.source() + ": " + n.describe() + " (opset " + n.opset()
                    + "): axis " + requested + " is out of range for input " + x.type());
        }
        int axis = Shape.normalizeAxis(requested, rank);
        if (axis == rank - 1) {
            // The 2-D view's second dim is exactly the last axis: the new semantics coincide.
            return next.emit(n.withAttr("axis", new Attr.Int(axis)));
        }
        Value flat = out.helper(n, "Flatten", Attributes.builder().i("axis", axis).build(), x);
        String tmp = out.freshName(n.outputNames().get(0) + "_2d");
        Value y2d = next.emit(n.withInputs(List.of(flat)).withAttr("axis", new Attr.Int(1))
                .withOutputNames(List.of(tmp))).get(0);
        Value shape = x.shape().isStatic()
                ? out.constant(n, "shape", Tensor.ofInt64s(java.util.Arrays.stream(x.shape().toIntArray())
                        .asLongStream().toArray()))
                : out.helper(n, "Shape", Attributes.EMPTY, x);
        return List.of(out.helperNamed(n, "Reshape", Attributes.EMPTY, n.outputNames().get(0), y2d, shape));
    }

    private static List<Value> dropout(ImportedNode n, NodeEmitter out, Next next) {
        ImportedNode m = n.without("is_test", "ratio");
        if (n.attr("ratio").isPresent()) {
            m = m.withInput(1, out.constant(n, "ratio", Tensor.scalarFloat(floatAttr(n, "ratio", 0.5f))));
        }
        boolean maskUsed = n.outputNames().size() > 1 && !n.outputNames().get(1).isEmpty();
        if (n.opset() >= 10 || !maskUsed) {
            return next.emit(m);
        }
        String maskName = n.outputNames().get(1);
        String boolMask = out.freshName(maskName + "_bool");
        List<Value> outs = next.emit(m.withOutputNames(List.of(n.outputNames().get(0), boolMask)));
        Value cast = out.helperNamed(n, "Cast", Attributes.builder().i("to", n.input(0).dtype().onnxCode()).build(),
                maskName, outs.get(1));
        return List.of(outs.get(0), cast);
    }

    private static List<Value> batchNormSpatial(ImportedNode n, NodeEmitter out, Next next) {
        long spatial = intAttr(n, "spatial", 1);
        ImportedNode m = n.without("spatial", "is_test", "consumed_inputs");
        if (spatial != 0) {
            return next.emit(m);
        }
        // Per-activation statistics: scale, B, mean, var have shape [C, D1, ..., Dn] and broadcast against x.
        Value x = n.input(0);
        Value eps = out.constant(n, "epsilon", scalar(x.dtype(), floatAttr(n, "epsilon", 1e-5f)));
        Value varEps = out.helper(n, "Add", Attributes.EMPTY, n.input(4), eps);
        Value std = out.helper(n, "Sqrt", Attributes.EMPTY, varEps);
        Value centered = out.helper(n, "Sub", Attributes.EMPTY, x, n.input(3));
        Value normalized = out.helper(n, "Div", Attributes.EMPTY, centered, std);
        Value scaled = out.helper(n, "Mul", Attributes.EMPTY, normalized, n.input(1));
        rejectTrainingOutputs(n, out);
        return List.of(out.helperNamed(n, "Add", Attributes.EMPTY, n.outputNames().get(0), scaled, n.input(2)));
    }

    private static void rejectTrainingOutputs(ImportedNode n, NodeEmitter out) {
        for (int i = 1; i < n.outputNames().size(); i++) {
            if (!n.outputNames().get(i).isEmpty()) {
                throw unsupported(n, out, "the training-mode outputs (mean, var, saved_mean, saved_var) of "
                        + "BatchNormalization before opset 14 are not supported");
            }
        }
    }

    private static List<Value> batchNormOutputs(ImportedNode n, NodeEmitter out, Next next) {
        rejectTrainingOutputs(n, out);
        return next.emit(n.without("is_test", "consumed_inputs").withOutputNames(List.of(n.outputNames().get(0))));
    }

    private static List<Value> upsample(ImportedNode n, NodeEmitter out, Next next) {
        if (NodeEmitter.def("", "Resize").isEmpty()) {
            throw new dev.kiln.ir.UnsupportedOpException(out.source() + ": unsupported op 'Upsample' (domain "
                    + "'ai.onnx', opset " + n.opset() + ") used by " + n.describe()
                    + "; Kiln rewrites it to Resize, which the op table does not have");
        }
        String mode = stringAttr(n, "mode", "nearest");
        if (mode.equals("bilinear") || mode.equals("trilinear")) {
            mode = "linear";
        }
        Value scales;
        if (n.hasInput(1)) {
            scales = n.input(1);
        } else {
            Attr s = n.attr("scales").orElseThrow(() -> unsupported(n, out, "Upsample has neither a scales "
                    + "input nor a scales attribute"));
            scales = out.constant(n, "scales", Tensor.ofFloats(new int[] {((Attr.Floats) s).values().size()},
                    ((Attr.Floats) s).toArray()));
        }
        Attributes.Builder a = Attributes.builder().s("mode", mode).s("coordinate_transformation_mode", "asymmetric");
        if (mode.equals("nearest")) {
            a.s("nearest_mode", "floor");
        }
        ImportedNode resize = new ImportedNode("Resize", "", n.name(), List.of(n.input(0), Value.ABSENT, scales),
                n.outputNames(), a.build(), n.opset());
        // Emitted directly: the Resize rules for old opsets describe Resize-10's inputs, not this canonical form.
        return out.node(resize);
    }

    private static List<Value> topK(ImportedNode n, NodeEmitter out, Next next) {
        Optional<Attr> k = n.attr("k");
        if (k.isEmpty()) {
            return next.emit(n);
        }
        Value kv = out.constant(n, "k", Tensor.ofInt64s(((Attr.Int) k.get()).value()));
        return next.emit(n.without("k").withInput(1, kv));
    }

    private static List<Value> resize10(ImportedNode n, NodeEmitter out, Next next) {
        // Resize-10 had (X, scales) and the asymmetric coordinate mapping with floor rounding for nearest.
        ImportedNode m = n.withInputs(List.of(n.input(0), Value.ABSENT, n.input(1)))
                .withAttr("coordinate_transformation_mode", new Attr.Str("asymmetric"));
        if (stringAttr(n, "mode", "nearest").equals("nearest")) {
            m = m.withAttr("nearest_mode", new Attr.Str("floor"));
        }
        return next.emit(m);
    }

    private static List<Value> resizeEmptyInputs(ImportedNode n, NodeEmitter out, Next next) {
        List<Value> in = new ArrayList<>(n.inputs());
        for (int i = 1; i < Math.min(3, in.size()); i++) {
            Value v = in.get(i);
            if (!v.isAbsent() && out.constantValue(v).map(t -> t.size() == 0).orElse(false)) {
                in.set(i, Value.ABSENT);
            }
        }
        return next.emit(n.withInputs(in));
    }
}
