package dev.kiln.onnx;

import dev.kiln.ir.Attr;
import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ModelFormatException;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Subgraphs;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.ControlFlowOps;
import dev.kiln.onnx.proto.Onnx.AttributeProto;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.TypeProto;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Imports one If, Loop or Scan node: imports its bodies with the types the node feeds them (a Loop's carried values
 * and a Scan's states widened until the body's outputs fit them), turns the outer values they use into trailing
 * operands (see {@link ImportScope}), inlines an If whose condition is already a constant, and lowers Scan-8, whose body runs per batch element, to a Loop over the batch
 * whose body is a Scan.
 */
final class ControlFlowImport {
    private static final int MAX_WIDENING_ROUNDS = 16;

    private final OnnxImporter importer;
    private final NodeProto np;
    private final String where;
    private final int opset;
    private final List<Value> inputs;
    private final ImportScope scope;
    private final NodeEmitter emitter;

    ControlFlowImport(OnnxImporter importer, NodeProto np, String where, int opset, List<Value> inputs,
                      ImportScope scope, NodeEmitter emitter) {
        this.importer = importer;
        this.np = np;
        this.where = where;
        this.opset = opset;
        this.inputs = inputs;
        this.scope = scope;
        this.emitter = emitter;
    }

    /** True for the default-domain ops with bodies that Kiln imports. */
    static boolean handles(NodeProto np, String domain) {
        return domain.isEmpty() && List.of("If", "Loop", "Scan").contains(np.getOpType());
    }

    List<Value> emit() {
        return switch (np.getOpType()) {
            case "If" -> emitIf();
            case "Loop" -> emitLoop();
            default -> opset >= 9 ? emitScan() : emitBatchedScan();
        };
    }

    // If(cond){then_branch, else_branch} -> If(cond, captured...){then_branch, else_branch}: both branches take every
    // value either captures, in one order.
    private List<Value> emitIf() {
        requireInputs(1);
        Optional<Tensor> known = emitter.constantValue(inputs.get(0));
        if (known.isPresent() && known.get().size() == 1) {
            return inlineIf(known.get().getBool(0) ? "then_branch" : "else_branch");
        }
        OnnxImporter.ImportedBody then = importer.importBody(graph("then_branch"), scope, List.of(),
                where + ", then_branch");
        OnnxImporter.ImportedBody otherwise = importer.importBody(graph("else_branch"), scope, List.of(),
                where + ", else_branch");
        Set<Value> union = new LinkedHashSet<>(then.captured());
        union.addAll(otherwise.captured());
        List<Value> captured = List.copyOf(union);
        Attributes attrs = plainAttributes()
                .with("then_branch", new Attr.GraphValue(takingAll(then, 0, captured)))
                .with("else_branch", new Attr.GraphValue(takingAll(otherwise, 0, captured)));
        List<Value> operands = new ArrayList<>();
        operands.add(inputs.get(0));
        operands.addAll(captured);
        return OpsetAdapters.emit(node("If", operands, attrs), emitter);
    }

    // If(true){then_branch=g} -> g's nodes, with Identity(g's output i) named after output i (likewise for false)
    private List<Value> inlineIf(String branch) {
        List<Value> results = importer.importInline(graph(branch), scope, where + ", " + branch);
        if (results.size() != np.getOutputCount()) {
            throw new ModelFormatException(where + ": " + branch + " returns " + results.size() + " values but the node"
                    + " has " + np.getOutputCount() + " outputs");
        }
        ImportedNode forNode = node("If", List.of(), Attributes.EMPTY);
        List<Value> outs = new ArrayList<>();
        for (int i = 0; i < results.size(); i++) {
            String name = np.getOutput(i);
            outs.add(name.isEmpty() ? Value.ABSENT
                    : emitter.helperNamed(forNode, "Identity", Attributes.EMPTY, name, results.get(i)));
        }
        return outs;
    }

    /** The body with inputs for all of {@code captured}, in that order, after its {@code formals} own ones. */
    private static Graph takingAll(OnnxImporter.ImportedBody body, int formals, List<Value> captured) {
        Graph g = body.graph();
        List<Value> in = new ArrayList<>(g.inputs().subList(0, formals));
        for (Value outer : captured) {
            int k = body.captured().indexOf(outer);
            in.add(k >= 0 ? g.inputs().get(formals + k) : new Value(outer.name(), outer.type()));
        }
        return new Graph(g.name(), in, g.initializers(), g.nodes(), g.outputs());
    }

    // Loop(M, cond, v...){body} -> Loop(M, cond, v..., captured...){body, captures}
    private List<Value> emitLoop() {
        GraphProto body = graph("body");
        List<Value> operands = new ArrayList<>(inputs);
        while (operands.size() < 2) {
            operands.add(Value.ABSENT);
        }
        int carried = operands.size() - 2;
        if (body.getInputCount() != 2 + carried) {
            throw new ModelFormatException(where + ": body declares " + body.getInputCount()
                    + " inputs but the node feeds it 2 + " + carried + " carried values");
        }
        List<TensorType> fixed = List.of(
                new TensorType(DType.INT64, declaredScalarShape(body, 0)),
                new TensorType(DType.BOOL, declaredScalarShape(body, 1)));
        List<TensorType> carriedTypes = new ArrayList<>();
        for (Value v : operands.subList(2, operands.size())) {
            carriedTypes.add(v.type());
        }
        OnnxImporter.ImportedBody imported = importWidened(body, fixed, carriedTypes, 1);
        operands.addAll(imported.captured());
        Attributes attrs = plainAttributes().with("body", new Attr.GraphValue(imported.graph()));
        if (!imported.captured().isEmpty()) {
            attrs = attrs.with(ControlFlowOps.CAPTURES, new Attr.Int(imported.captured().size()));
        }
        return OpsetAdapters.emit(node("Loop", operands, attrs), emitter);
    }

    // Scan(state..., x...){body} -> Scan(state..., x..., captured...){body, captures}
    private List<Value> emitScan() {
        GraphProto body = graph("body");
        int scanInputs = Math.toIntExact(intAttr("num_scan_inputs"));
        int states = inputs.size() - scanInputs;
        if (states < 0 || scanInputs < 1) {
            throw new ModelFormatException(where + ": num_scan_inputs is " + scanInputs + " but the node has "
                    + inputs.size() + " inputs");
        }
        long[] axes = intsAttr("scan_input_axes", scanInputs);
        List<TensorType> slices = new ArrayList<>();
        for (int j = 0; j < scanInputs; j++) {
            slices.add(without(inputs.get(states + j).type(), axes[j]));
        }
        List<TensorType> stateTypes = new ArrayList<>();
        for (Value v : inputs.subList(0, states)) {
            stateTypes.add(v.type());
        }
        OnnxImporter.ImportedBody imported = importWidened(body, List.of(), stateTypes, 0, slices);
        List<Value> operands = new ArrayList<>(inputs);
        operands.addAll(imported.captured());
        Attributes attrs = plainAttributes().with("body", new Attr.GraphValue(imported.graph()));
        if (!imported.captured().isEmpty()) {
            attrs = attrs.with(ControlFlowOps.CAPTURES, new Attr.Int(imported.captured().size()));
        }
        return OpsetAdapters.emit(node("Scan", operands, attrs), emitter);
    }

    // Scan-8(sequence_lens, state..., x...){body, directions} (every operand batched on axis 0, the body run per batch
    // element) -> Loop(batch){ b -> Scan(Gather(state, b)..., Gather(x, b)...){body, scan_input_directions} }, whose
    // scan outputs stack the per-element results on axis 0 again.
    private List<Value> emitBatchedScan() {
        if (!inputs.isEmpty() && !inputs.get(0).isAbsent()) {
            throw new dev.kiln.ir.UnsupportedOpException(where + ": Scan (opset " + opset + ") with sequence_lens "
                    + "(per-batch scan lengths) is not supported; only full-length scans are");
        }
        List<Value> operands = inputs.isEmpty() ? List.of() : inputs.subList(1, inputs.size());
        int scanInputs = Math.toIntExact(intAttr("num_scan_inputs"));
        int states = operands.size() - scanInputs;
        if (states < 0 || scanInputs < 1) {
            throw new ModelFormatException(where + ": num_scan_inputs is " + scanInputs + " but the node has "
                    + operands.size() + " states and scan inputs");
        }
        for (Value v : operands) {
            if (v.type().rank() < 1) {
                throw new ModelFormatException(where + ": operand '" + v.name() + "' has no batch axis");
            }
        }
        List<TensorType> stateTypes = new ArrayList<>();
        for (Value v : operands.subList(0, states)) {
            stateTypes.add(without(v.type(), 0));
        }
        List<TensorType> slices = new ArrayList<>();
        for (Value v : operands.subList(states, operands.size())) {
            if (v.type().rank() < 2) {
                throw new ModelFormatException(where + ": scan input '" + v.name() + "' needs a batch and a sequence axis");
            }
            slices.add(without(without(v.type(), 0), 0));
        }
        OnnxImporter.ImportedBody inner = importWidened(graph("body"), List.of(), stateTypes, 0, slices);

        String hint = np.getName().isEmpty() ? "scan" : np.getName();
        GraphBuilder lb = new GraphBuilder(hint + "_per_batch");
        Value index = lb.input(emitter.freshName(hint + "_batch_index"), DType.INT64, Shape.SCALAR);
        Value cond = lb.input(emitter.freshName(hint + "_batch_cond"), DType.BOOL, Shape.SCALAR);
        List<Value> captured = new ArrayList<>(operands);
        captured.addAll(inner.captured());
        List<Value> scanOperands = new ArrayList<>();
        for (int i = 0; i < captured.size(); i++) {
            Value outer = captured.get(i);
            Value in = lb.input(emitter.freshName(outer.name() + "_all"), outer.type());
            scanOperands.add(i < operands.size() ? lb.op("Gather").inputs(in, index).attr("axis", 0L)
                    .outputNames(emitter.freshName(outer.name() + "_element")).build().get(0) : in);
        }
        List<String> scanOutputs = new ArrayList<>();
        for (String out : np.getOutputList()) {
            scanOutputs.add(emitter.freshName((out.isEmpty() ? hint : out) + "_element"));
        }
        GraphBuilder.NodeSpec scan = lb.op("Scan").name(np.getName()).inputs(scanOperands)
                .attr("body", new Attr.GraphValue(inner.graph()))
                .attr("num_scan_inputs", (long) scanInputs)
                .outputNames(scanOutputs);
        if (hasAttr("directions")) {
            scan.attr("scan_input_directions", intsAttr("directions", scanInputs));
        }
        if (!inner.captured().isEmpty()) {
            scan.attr(ControlFlowOps.CAPTURES, (long) inner.captured().size());
        }
        List<Value> perElement = scan.build();
        lb.output(lb.op("Identity").inputs(cond).outputNames(emitter.freshName(hint + "_batch_cond_out")).build().get(0));
        perElement.forEach(lb::output);

        List<Value> loopOperands = new ArrayList<>();
        loopOperands.add(batchCount(operands.get(0)));
        loopOperands.add(Value.ABSENT);
        loopOperands.addAll(captured);
        Attributes attrs = Attributes.EMPTY.with("body", new Attr.GraphValue(lb.build()))
                .with(ControlFlowOps.CAPTURES, new Attr.Int(captured.size()));
        return OpsetAdapters.emit(node("Loop", loopOperands, attrs), emitter);
    }

    /** The length of v's axis 0 as an int64 scalar: a constant when static, else Gather(Shape(v), 0). */
    private Value batchCount(Value v) {
        ImportedNode forNode = node("Scan", List.of(), Attributes.EMPTY);
        Dim d = v.shape().dim(0);
        if (d.isStatic()) {
            return emitter.constant(forNode, "batch", Tensor.scalarLong(DType.INT64, d.value()));
        }
        Value shape = emitter.helper(forNode, "Shape", Attributes.EMPTY, v);
        Value zero = emitter.constant(forNode, "batch_axis", Tensor.scalarLong(DType.INT64, 0));
        return emitter.helper(forNode, "Gather", Attributes.EMPTY, shape, zero);
    }

    /**
     * Imports a Loop or Scan body whose inputs are {@code fixed}, then the carried values (states), then {@code rest};
     * while a carried output of the body does not fit its input's type (a shape that changes between iterations),
     * the input's type is widened to the join of both and the body imported again.
     *
     * @param firstCarriedOutput the index of the first carried value among the body's outputs
     */
    private OnnxImporter.ImportedBody importWidened(GraphProto body, List<TensorType> fixed, List<TensorType> carried,
                                                    int firstCarriedOutput, List<TensorType> rest) {
        List<TensorType> carriedTypes = new ArrayList<>(carried);
        for (int round = 0; ; round++) {
            List<TensorType> types = new ArrayList<>(fixed);
            types.addAll(carriedTypes);
            types.addAll(rest);
            OnnxImporter.ImportedBody imported = importer.importBody(body, scope, types, where + ", body");
            List<Value> outs = imported.graph().outputs();
            if (outs.size() < firstCarriedOutput + carriedTypes.size()) {
                throw new ModelFormatException(where + ": body returns " + outs.size() + " values, fewer than its "
                        + carriedTypes.size() + " carried values need");
            }
            boolean widened = false;
            for (int j = 0; j < carriedTypes.size(); j++) {
                TensorType next = outs.get(firstCarriedOutput + j).type();
                if (!Subgraphs.covers(carriedTypes.get(j), next)) {
                    int k = j;
                    carriedTypes.set(j, Subgraphs.join(carriedTypes.get(j), next).orElseThrow(() ->
                            new ModelFormatException(where + ": body returns carried value '"
                                    + outs.get(firstCarriedOutput + k).name() + "' as " + next + " but takes it as "
                                    + carriedTypes.get(k))));
                    widened = true;
                }
            }
            if (!widened) {
                return imported;
            }
            if (round == MAX_WIDENING_ROUNDS) {
                throw new ModelFormatException(where + ": the carried values' types do not settle");
            }
        }
    }

    private OnnxImporter.ImportedBody importWidened(GraphProto body, List<TensorType> fixed, List<TensorType> carried,
                                                    int firstCarriedOutput) {
        return importWidened(body, fixed, carried, firstCarriedOutput, List.of());
    }

    /** The shape a Loop body declares for its iteration count or condition input: [1] if so declared, else scalar. */
    private static Shape declaredScalarShape(GraphProto body, int input) {
        TypeProto t = body.getInput(input).getType();
        boolean vector = t.hasTensorType() && t.getTensorType().hasShape()
                && t.getTensorType().getShape().getDimCount() == 1;
        return vector ? Shape.of(1) : Shape.SCALAR;
    }

    private static TensorType without(TensorType t, long axis) {
        List<Dim> dims = new ArrayList<>(t.shape().dims());
        dims.remove(Shape.normalizeAxis(axis, dims.size()));
        return new TensorType(t.dtype(), new Shape(dims));
    }

    private void requireInputs(int n) {
        if (inputs.size() < n || inputs.get(0).isAbsent()) {
            throw new ModelFormatException(where + " needs " + n + " input(s)");
        }
    }

    private ImportedNode node(String op, List<Value> operands, Attributes attrs) {
        return new ImportedNode(op, "", np.getName(), operands, np.getOutputList(), attrs, opset);
    }

    private GraphProto graph(String name) {
        for (AttributeProto a : np.getAttributeList()) {
            if (a.getName().equals(name) && a.hasG()) {
                return a.getG();
            }
        }
        throw new ModelFormatException(where + ": graph attribute '" + name + "' is missing");
    }

    private boolean hasAttr(String name) {
        return np.getAttributeList().stream().anyMatch(a -> a.getName().equals(name));
    }

    private long intAttr(String name) {
        return np.getAttributeList().stream().filter(a -> a.getName().equals(name)).findFirst()
                .map(AttributeProto::getI)
                .orElseThrow(() -> new ModelFormatException(where + ": attribute '" + name + "' is required"));
    }

    /** An INTS attribute with {@code n} entries, all zero when absent. */
    private long[] intsAttr(String name, int n) {
        Optional<AttributeProto> a = np.getAttributeList().stream().filter(x -> x.getName().equals(name)).findFirst();
        if (a.isEmpty()) {
            return new long[n];
        }
        long[] v = a.get().getIntsList().stream().mapToLong(Long::longValue).toArray();
        if (v.length != n) {
            throw new ModelFormatException(where + ": " + name + " has " + v.length + " entries for " + n + " values");
        }
        return v;
    }

    /** The node's attributes other than bodies, as Kiln attributes. */
    private Attributes plainAttributes() {
        List<AttributeProto> plain = np.getAttributeList().stream()
                .filter(a -> !a.hasG() && a.getType() != AttributeProto.AttributeType.GRAPH).toList();
        return AttributeProtos.toAttributes(plain, null, where, where);
    }
}
