package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.Graph;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Subgraphs;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * ONNX's control flow: If, Loop and Scan, whose bodies are graph attributes. Bodies are closed (see
 * {@link Subgraphs}): the values a body captures from enclosing graphs are the node's trailing operands, bound to the
 * body's trailing inputs. For If every operand after the condition is a capture and both branches take them all; for
 * Loop and Scan, whose own operands are variadic, the {@value #CAPTURES} attribute counts them.
 */
public final class ControlFlowOps {
    /** Kiln's attribute on Loop and Scan: how many trailing operands are captured outer values. */
    public static final String CAPTURES = "captures";

    private ControlFlowOps() {}

    public static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("If").since(21)
                .doc("Runs then_branch when cond is true, else else_branch, and returns that branch's outputs; the "
                        + "branches may give outputs of different shapes (same element types). Operands after cond "
                        + "are the outer values the branches capture, in both branches' input order.")
                .inputs("cond", "captured?...").outputs("outputs...")
                .requiredAttr("then_branch", AttrType.GRAPH, "the graph run when cond is true")
                .requiredAttr("else_branch", AttrType.GRAPH, "the graph run when cond is false")
                .nonDifferentiable("cond")
                .properties(OpProperty.CONTAINERS)
                .shape(ControlFlowOps::ifTypes)
                .eval(ControlFlowOps::evalIf)
                .build());
        r.add(OpDef.builder("Loop").since(21)
                .doc("Runs body while the iteration count is below M (if given) and cond (if given) holds, carrying "
                        + "N values from one iteration to the next; body(iteration_num, cond, v...) returns "
                        + "(cond, v..., scan outputs...). Outputs the final carried values, then each scan output of "
                        + "every iteration stacked on a new axis 0.")
                .inputs("M?", "cond?", "v_initial?...").outputs("v_final_and_scan_outputs...")
                .requiredAttr("body", AttrType.GRAPH, "the loop body")
                .attrInt(CAPTURES, 0, "Kiln: how many trailing operands are outer values the body captures")
                .properties(OpProperty.CONTAINERS)
                .shape(ControlFlowOps::loopTypes)
                .eval(ControlFlowOps::evalLoop)
                .build());
        r.add(OpDef.builder("Scan").since(21)
                .doc("Iterates body over slices of the scan inputs along their scan axes (forward or reverse), "
                        + "carrying N state values: body(state..., slices..., captures...) returns (state..., scan "
                        + "output slices...). Outputs the final states, then each scan output's slices stacked along "
                        + "its scan output axis (in its direction).")
                .inputs("initial_state_and_scan_inputs...").outputs("final_state_and_scan_outputs...")
                .requiredAttr("body", AttrType.GRAPH, "the body run once per slice")
                .requiredAttr("num_scan_inputs", AttrType.INT, "how many operands (after the states) are scanned")
                .optionalAttr("scan_input_axes", AttrType.INTS, "per scan input, the axis scanned (default 0)")
                .optionalAttr("scan_input_directions", AttrType.INTS, "per scan input, 0 forward, 1 reverse")
                .optionalAttr("scan_output_axes", AttrType.INTS, "per scan output, the axis slices stack on (default 0)")
                .optionalAttr("scan_output_directions", AttrType.INTS,
                        "per scan output, 0 appends each slice, 1 prepends it")
                .attrInt(CAPTURES, 0, "Kiln: how many trailing operands are outer values the body captures")
                .shape(ControlFlowOps::scanTypes)
                .eval(ControlFlowOps::evalScan)
                .build());
    }

    // ---- If ----

    private static List<TensorType> ifTypes(ShapeContext ctx) {
        TensorType cond = ctx.inputType(0);
        if (cond.dtype() != DType.BOOL || !cond.shape().elementCount().mayEqual(Dim.of(1))) {
            throw ctx.fail("cond must be a single bool");
        }
        List<TensorType> operands = Subgraphs.operandTypes(ctx, 1);
        List<Optional<Tensor>> values = Subgraphs.operandValues(ctx, 1);
        int n = ctx.outputCount();
        // With a known condition only the branch taken is typed: the other need not even be valid for these operands.
        Optional<Tensor> known = ctx.constant(0);
        List<String> branches = known.isEmpty() ? List.of("then_branch", "else_branch")
                : List.of(known.get().getBool(0) ? "then_branch" : "else_branch");
        List<Subgraphs.Typed> typed = new ArrayList<>();
        for (String name : branches) {
            Subgraphs.Typed branch = Subgraphs.specialize(ctx.attrGraph(name), operands, values,
                    ctx.nodeDescription() + ", " + name);
            if (branch.graph().outputs().size() != n) {
                throw ctx.fail(name + " returns " + branch.graph().outputs().size() + " values but the node has " + n
                        + " outputs");
            }
            typed.add(branch);
        }
        if (known.isPresent()) {
            return typed.get(0).graph().outputs().stream().map(Value::type).toList();
        }
        Subgraphs.Typed then = typed.get(0);
        Subgraphs.Typed otherwise = typed.get(1);
        List<TensorType> types = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            TensorType a = then.outputType(i);
            TensorType b = otherwise.outputType(i);
            if (a.dtype() != b.dtype()) {
                throw ctx.fail("output " + i + " is " + a + " in then_branch but " + b + " in else_branch");
            }
            if (a.rank() != b.rank()) {
                throw ctx.unsupported("output " + i + " of rank " + a.rank() + " in then_branch and " + b.rank()
                        + " in else_branch (Kiln needs each value's rank)");
            }
            types.add(Subgraphs.join(a, b).orElseThrow());
        }
        return types;
    }

    private static List<Tensor> evalIf(EvalContext ctx) {
        Tensor cond = ctx.input(0);
        if (cond.size() != 1) {
            throw ctx.fail("cond must hold one element but has shape " + cond.type().shape());
        }
        Graph branch = ctx.attrGraph(cond.getBool(0) ? "then_branch" : "else_branch");
        List<Tensor> operands = new ArrayList<>();
        for (int i = 1; i < ctx.inputCount(); i++) {
            operands.add(ctx.input(i));
        }
        return Subgraphs.evaluate(branch, operands, ctx.random());
    }

    // ---- Loop ----

    /** How a Loop node's operands and its body's inputs and outputs line up. */
    private record LoopLayout(int carried, int captures, int scans) {
        static LoopLayout of(NodeContext ctx, Graph body) {
            int captures = Math.toIntExact(ctx.attrInt(CAPTURES));
            int carried = ctx.inputCount() - 2 - captures;
            if (carried < 0 || body.inputs().size() != 2 + carried + captures) {
                throw ctx.fail("body takes " + body.inputs().size() + " inputs (iteration_num, cond, carried "
                        + "values, captured values) but the node has " + Math.max(0, carried) + " carried and "
                        + captures + " captured operands");
            }
            int scans = ctx.outputCount() - carried;
            if (scans < 0 || body.outputs().size() != 1 + carried + scans) {
                throw ctx.fail("body returns " + body.outputs().size() + " values but the node's " + ctx.outputCount()
                        + " outputs and " + carried + " carried values need " + (1 + ctx.outputCount()));
            }
            return new LoopLayout(carried, captures, scans);
        }
    }

    private static List<TensorType> loopTypes(ShapeContext ctx) {
        Graph body = ctx.attrGraph("body");
        LoopLayout layout = LoopLayout.of(ctx, body);
        for (int i = 0; i < 2; i++) {
            if (ctx.hasInput(i) && !ctx.inputShape(i).elementCount().mayEqual(Dim.of(1))) {
                throw ctx.fail(ctx.def().inputName(i) + " must hold one element");
            }
        }
        if (ctx.hasInput(0) && ctx.inputDtype(0) != DType.INT64 || ctx.hasInput(1) && ctx.inputDtype(1) != DType.BOOL) {
            throw ctx.fail("M must be int64 and cond bool");
        }
        List<TensorType> carried = new ArrayList<>(Subgraphs.operandTypes(ctx, 2).subList(0, layout.carried()));
        Subgraphs.Typed typed = loopBody(ctx, body, layout, carried);
        // A carried value whose shape changes between iterations gets an unknown dim there (its join with what the
        // body returns), until the body's carried outputs fit the inputs it is typed with.
        for (int round = 0; ; round++) {
            boolean widened = false;
            for (int j = 0; j < layout.carried(); j++) {
                TensorType next = typed.outputType(1 + j);
                String name = typed.graph().outputs().get(1 + j).name();
                TensorType joined = Subgraphs.join(carried.get(j), next).orElseThrow(() -> ctx.fail(
                        "body returns carried value '" + name + "' as " + next + ", another element type or rank "
                                + "than its input"));
                if (!Subgraphs.covers(carried.get(j), next)) {
                    carried.set(j, joined);
                    widened = true;
                }
            }
            if (!widened) {
                break;
            }
            if (round > 64) {
                throw ctx.fail("the carried values' types do not settle");
            }
            typed = loopBody(ctx, body, layout, carried);
        }
        Subgraphs.Typed settled = typed;
        List<TensorType> out = new ArrayList<>(carried);
        Dim trips = tripCount(ctx, settled);
        for (int k = 0; k < layout.scans(); k++) {
            TensorType slice = settled.outputType(1 + layout.carried() + k);
            List<Dim> dims = new ArrayList<>();
            dims.add(trips);
            dims.addAll(slice.shape().dims());
            out.add(new TensorType(slice.dtype(), new Shape(dims)));
        }
        return out;
    }

    private static Subgraphs.Typed loopBody(ShapeContext ctx, Graph body, LoopLayout layout, List<TensorType> carried) {
        List<TensorType> types = new ArrayList<>();
        types.add(new TensorType(DType.INT64, body.inputs().get(0).shape()));
        types.add(new TensorType(DType.BOOL, body.inputs().get(1).shape()));
        types.addAll(carried);
        List<TensorType> operands = Subgraphs.operandTypes(ctx, 2);
        types.addAll(operands.subList(layout.carried(), operands.size()));
        List<Optional<Tensor>> values = new ArrayList<>();
        for (int i = 0; i < 2 + layout.carried(); i++) {
            values.add(Optional.empty());
        }
        List<Optional<Tensor>> operandValues = Subgraphs.operandValues(ctx, 2);
        values.addAll(operandValues.subList(layout.carried(), operandValues.size()));
        return Subgraphs.specialize(body, types, values, ctx.nodeDescription() + ", body");
    }

    /**
     * The number of iterations when inference can tell: none when M is a constant below 1 or cond a false one; M when it
     * is a constant and the loop cannot stop early (no cond operand or a true one, and a body that returns true or its
     * cond input unchanged).
     */
    private static Dim tripCount(ShapeContext ctx, Subgraphs.Typed body) {
        Optional<Tensor> m = ctx.constant(0);
        Optional<Boolean> cond = ctx.hasInput(1) ? ctx.constant(1).map(c -> c.getBool(0)) : Optional.of(true);
        if (m.isPresent() && m.get().getLong(0) <= 0 || cond.isPresent() && !cond.get()) {
            return Dim.of(0); // no iteration runs
        }
        if (m.isEmpty() || cond.isEmpty()) {
            return Dim.unknown();
        }
        Value condOut = body.graph().outputs().get(0);
        boolean alwaysTrue = body.outputValues().get(0).map(c -> c.size() == 1 && c.getBool(0)).orElse(false);
        if (!alwaysTrue && !passesThrough(body.graph(), condOut, body.graph().inputs().get(1))) {
            return Dim.unknown();
        }
        return Dim.of(Math.max(0, m.get().getLong(0)));
    }

    /** True when {@code v} is {@code source}, possibly through Identity nodes. */
    private static boolean passesThrough(Graph g, Value v, Value source) {
        Value at = v;
        while (at != source) {
            Optional<dev.kiln.ir.Node> p = g.producer(at);
            if (p.isEmpty() || !p.get().op().equals("Identity") || !p.get().domain().isEmpty()) {
                return false;
            }
            at = p.get().input(0);
        }
        return true;
    }

    private static List<Tensor> evalLoop(EvalContext ctx) {
        Graph body = ctx.attrGraph("body");
        LoopLayout layout = LoopLayout.of(ctx, body);
        long maxTrips = ctx.hasInput(0) ? single(ctx, 0).getLong(0) : Long.MAX_VALUE;
        boolean cond = !ctx.hasInput(1) || single(ctx, 1).getBool(0);
        List<Tensor> carried = new ArrayList<>();
        for (int j = 0; j < layout.carried(); j++) {
            carried.add(ctx.input(2 + j));
        }
        List<Tensor> captured = new ArrayList<>();
        for (int c = 0; c < layout.captures(); c++) {
            captured.add(ctx.input(2 + layout.carried() + c));
        }
        List<List<Tensor>> scans = new ArrayList<>();
        for (int k = 0; k < layout.scans(); k++) {
            scans.add(new ArrayList<>());
        }
        int[] iterShape = body.inputs().get(0).shape().rank() == 0 ? new int[0] : new int[] {1};
        int[] condShape = body.inputs().get(1).shape().rank() == 0 ? new int[0] : new int[] {1};
        for (long i = 0; i < maxTrips && cond; i++) {
            List<Tensor> in = new ArrayList<>();
            in.add(Tensor.ofLongs(DType.INT64, iterShape, i));
            in.add(Tensor.wrapBools(condShape, new boolean[] {true}));
            in.addAll(carried);
            in.addAll(captured);
            List<Tensor> out = Subgraphs.evaluate(body, in, ctx.random());
            if (out.get(0).size() != 1) {
                throw ctx.fail("body returned a cond of shape " + out.get(0).type().shape() + " (needs one element)");
            }
            cond = out.get(0).getBool(0);
            carried = new ArrayList<>(out.subList(1, 1 + layout.carried()));
            for (int k = 0; k < layout.scans(); k++) {
                scans.get(k).add(out.get(1 + layout.carried() + k));
            }
        }
        List<Tensor> result = new ArrayList<>(carried);
        for (int k = 0; k < layout.scans(); k++) {
            result.add(stack(ctx, scans.get(k), 0, body.outputs().get(1 + layout.carried() + k)));
        }
        return result;
    }

    private static Tensor single(EvalContext ctx, int i) {
        Tensor t = ctx.input(i);
        if (t.size() != 1) {
            throw ctx.fail(ctx.def().inputName(i) + " must hold one element but has shape " + t.type().shape());
        }
        return t;
    }

    // ---- Scan ----

    /** How a Scan node's operands, outputs and body line up, with each scan axis and direction. */
    private record ScanLayout(int states, int scanInputs, int captures, int scanOutputs, long[] inputAxes,
                              long[] inputDirections, long[] outputAxes, long[] outputDirections) {
        static ScanLayout of(NodeContext ctx, Graph body) {
            int captures = Math.toIntExact(ctx.attrInt(CAPTURES));
            int scanInputs = Math.toIntExact(ctx.attrInt("num_scan_inputs"));
            int states = ctx.inputCount() - scanInputs - captures;
            if (scanInputs < 1 || states < 0 || body.inputs().size() != ctx.inputCount()) {
                throw ctx.fail("body takes " + body.inputs().size() + " inputs but the node has "
                        + ctx.inputCount() + " operands with num_scan_inputs = " + scanInputs + " and " + captures
                        + " captured");
            }
            int scanOutputs = ctx.outputCount() - states;
            if (scanOutputs < 0 || body.outputs().size() != ctx.outputCount()) {
                throw ctx.fail("body returns " + body.outputs().size() + " values but the node has "
                        + ctx.outputCount() + " outputs");
            }
            return new ScanLayout(states, scanInputs, captures, scanOutputs,
                    list(ctx, "scan_input_axes", scanInputs), list(ctx, "scan_input_directions", scanInputs),
                    list(ctx, "scan_output_axes", scanOutputs), list(ctx, "scan_output_directions", scanOutputs));
        }

        private static long[] list(NodeContext ctx, String attr, int n) {
            long[] v = ctx.optInts(attr).orElse(new long[n]);
            if (v.length != n) {
                throw ctx.fail(attr + " has " + v.length + " entries for " + n + " values");
            }
            return v;
        }
    }

    private static List<TensorType> scanTypes(ShapeContext ctx) {
        Graph body = ctx.attrGraph("body");
        ScanLayout layout = ScanLayout.of(ctx, body);
        Dim length = null;
        List<TensorType> slices = new ArrayList<>();
        for (int j = 0; j < layout.scanInputs(); j++) {
            TensorType x = ctx.inputType(layout.states() + j);
            if (x.rank() == 0) {
                throw ctx.fail("scan input " + j + " is a scalar; it needs an axis to scan");
            }
            int axis = Indexing.axis(ctx, layout.inputAxes()[j], x.rank());
            Dim d = x.shape().dim(axis);
            if (length == null || length.hasUnknown() && !d.hasUnknown()) {
                length = d;
            } else if (!d.hasUnknown() && !length.hasUnknown() && !d.equals(length)) {
                throw ctx.fail("scan inputs have different lengths along their scan axes (" + length + " and " + d + ")");
            }
            List<Dim> dims = new ArrayList<>(x.shape().dims());
            dims.remove(axis);
            slices.add(new TensorType(x.dtype(), new Shape(dims)));
        }
        List<TensorType> states = new ArrayList<>(Subgraphs.operandTypes(ctx, 0).subList(0, layout.states()));
        Subgraphs.Typed typed = scanBody(ctx, body, layout, states, slices);
        for (int round = 0; ; round++) {
            boolean widened = false;
            for (int j = 0; j < layout.states(); j++) {
                TensorType next = typed.outputType(j);
                TensorType joined = Subgraphs.join(states.get(j), next).orElseThrow(() -> ctx.fail(
                        "body returns a state of another element type or rank than its input"));
                if (!Subgraphs.covers(states.get(j), next)) {
                    states.set(j, joined);
                    widened = true;
                }
            }
            if (!widened) {
                break;
            }
            if (round > 64) {
                throw ctx.fail("the states' types do not settle");
            }
            typed = scanBody(ctx, body, layout, states, slices);
        }
        List<TensorType> out = new ArrayList<>(states);
        for (int k = 0; k < layout.scanOutputs(); k++) {
            TensorType slice = typed.outputType(layout.states() + k);
            int axis = Indexing.axis(ctx, layout.outputAxes()[k], slice.rank() + 1);
            List<Dim> dims = new ArrayList<>(slice.shape().dims());
            dims.add(axis, length);
            out.add(new TensorType(slice.dtype(), new Shape(dims)));
        }
        return out;
    }

    private static Subgraphs.Typed scanBody(ShapeContext ctx, Graph body, ScanLayout layout, List<TensorType> states,
                                            List<TensorType> slices) {
        List<TensorType> types = new ArrayList<>(states);
        types.addAll(slices);
        List<Optional<Tensor>> values = new ArrayList<>();
        for (int i = 0; i < layout.states() + layout.scanInputs(); i++) {
            values.add(Optional.empty());
        }
        int firstCapture = layout.states() + layout.scanInputs();
        types.addAll(Subgraphs.operandTypes(ctx, firstCapture));
        values.addAll(Subgraphs.operandValues(ctx, firstCapture));
        return Subgraphs.specialize(body, types, values, ctx.nodeDescription() + ", body");
    }

    private static List<Tensor> evalScan(EvalContext ctx) {
        Graph body = ctx.attrGraph("body");
        ScanLayout layout = ScanLayout.of(ctx, body);
        List<Tensor> states = new ArrayList<>();
        for (int j = 0; j < layout.states(); j++) {
            states.add(ctx.input(j));
        }
        int length = -1;
        int[] axes = new int[layout.scanInputs()];
        for (int j = 0; j < layout.scanInputs(); j++) {
            Tensor x = ctx.input(layout.states() + j);
            axes[j] = Indexing.axis(ctx, layout.inputAxes()[j], x.rank());
            if (length >= 0 && x.dim(axes[j]) != length) {
                throw ctx.fail("scan inputs have different lengths along their scan axes (" + length + " and "
                        + x.dim(axes[j]) + ")");
            }
            length = x.dim(axes[j]);
        }
        List<Tensor> captured = new ArrayList<>();
        for (int c = 0; c < layout.captures(); c++) {
            captured.add(ctx.input(layout.states() + layout.scanInputs() + c));
        }
        List<List<Tensor>> scans = new ArrayList<>();
        for (int k = 0; k < layout.scanOutputs(); k++) {
            scans.add(new ArrayList<>());
        }
        for (int t = 0; t < length; t++) {
            List<Tensor> in = new ArrayList<>(states);
            for (int j = 0; j < layout.scanInputs(); j++) {
                int index = layout.inputDirections()[j] == 0 ? t : length - 1 - t;
                in.add(take(ctx.input(layout.states() + j), axes[j], index));
            }
            in.addAll(captured);
            List<Tensor> out = Subgraphs.evaluate(body, in, ctx.random());
            states = new ArrayList<>(out.subList(0, layout.states()));
            for (int k = 0; k < layout.scanOutputs(); k++) {
                scans.get(k).add(out.get(layout.states() + k));
            }
        }
        List<Tensor> result = new ArrayList<>(states);
        for (int k = 0; k < layout.scanOutputs(); k++) {
            List<Tensor> slices = new ArrayList<>(scans.get(k));
            if (layout.outputDirections()[k] != 0) {
                java.util.Collections.reverse(slices);
            }
            Value declared = body.outputs().get(layout.states() + k);
            int axis = Indexing.axis(ctx, layout.outputAxes()[k], declared.type().rank() + 1);
            result.add(stack(ctx, slices, axis, declared));
        }
        return result;
    }

    // ---- slicing and stacking ----

    /** Element {@code index} of {@code x} along {@code axis}, that axis removed. */
    static Tensor take(Tensor x, int axis, int index) {
        int[] shape = x.shape();
        int outer = Indexing.product(shape, 0, axis);
        int inner = Indexing.product(shape, axis + 1, shape.length);
        int[] sources = new int[outer * inner];
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < inner; i++) {
                sources[o * inner + i] = (o * shape[axis] + index) * inner + i;
            }
        }
        int[] sliceShape = new int[shape.length - 1];
        for (int d = 0, s = 0; d < shape.length; d++) {
            if (d != axis) {
                sliceShape[s++] = shape[d];
            }
        }
        return ElementBuffer.gather(x, sliceShape, sources);
    }

    /**
     * The slices stacked along a new {@code axis}. With no slices, the result has length 0 there and the body output's
     * static dims elsewhere (0 for dims inference could not fix).
     */
    static Tensor stack(NodeContext ctx, List<Tensor> slices, int axis, Value bodyOutput) {
        int[] slice;
        if (slices.isEmpty()) {
            slice = new int[bodyOutput.type().rank()];
            for (int d = 0; d < slice.length; d++) {
                Dim dim = bodyOutput.shape().dim(d);
                slice[d] = dim.isStatic() ? Math.toIntExact(dim.value()) : 0;
            }
        } else {
            slice = slices.get(0).shape();
            for (Tensor s : slices) {
                if (!java.util.Arrays.equals(s.shape(), slice)) {
                    throw ctx.fail("the body's scan output '" + bodyOutput.name() + "' changes shape between "
                            + "iterations (" + Shape.of(slice) + " and " + s.type().shape() + ")");
                }
            }
        }
        int outer = Indexing.product(slice, 0, axis);
        int inner = Indexing.product(slice, axis, slice.length);
        int count = slices.size();
        int[] shape = new int[slice.length + 1];
        for (int d = 0, s = 0; d < shape.length; d++) {
            shape[d] = d == axis ? count : slice[s++];
        }
        ElementBuffer b = ElementBuffer.zeros(bodyOutput.dtype(), outer * count * inner);
        for (int t = 0; t < count; t++) {
            Tensor s = slices.get(t);
            for (int o = 0; o < outer; o++) {
                for (int i = 0; i < inner; i++) {
                    b.copy((o * count + t) * inner + i, s, o * inner + i);
                }
            }
        }
        return b.toTensor(shape);
    }
}
