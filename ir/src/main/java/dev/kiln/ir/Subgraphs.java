package dev.kiln.ir;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

/**
 * What every part of Kiln needs to know about graph-valued attributes (the bodies of If, Loop and Scan, a fused
 * chain). Kiln's bodies are closed: a body reads nothing from an enclosing graph; every outer value it uses is an
 * explicit operand of its node, bound positionally to a trailing input of the body (the importer turns ONNX's
 * by-name references to outer scopes into such operands). So a pass sees every use of a value as a node input, and
 * a body can be typed, evaluated or compiled as a graph of its own.
 */
public final class Subgraphs {
    private Subgraphs() {}

    /** The graph-valued attributes of a node, by attribute name, in declaration order. */
    public static Map<String, Graph> of(Attributes attributes) {
        Map<String, Graph> graphs = new LinkedHashMap<>();
        attributes.asMap().forEach((name, a) -> {
            if (a instanceof Attr.GraphValue g) {
                graphs.put(name, g.value());
            }
        });
        return graphs;
    }

    /** True when the node holds a body (If, Loop, Scan, a fused chain). */
    public static boolean hasBody(Node n) {
        return !of(n.attributes()).isEmpty();
    }

    /**
     * True when the op is nondeterministic, or a body of the node (at any depth) holds a nondeterministic op: such a
     * node is never folded or deduplicated.
     */
    public static boolean nondeterministic(OpDef def, Attributes attributes) {
        if (def.has(OpProperty.NONDETERMINISTIC) || def.has(OpProperty.TRAINING_AWARE)) {
            return true;
        }
        for (Graph body : of(attributes).values()) {
            for (Node n : body.nodes()) {
                Optional<OpDef> inner = OpTable.get().find(n.domain(), n.op());
                if (inner.isEmpty() || nondeterministic(inner.get(), n.attributes())) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * A body typed for its actual operands.
     *
     * @param graph the body with inputs of the operands' types and every node output re-inferred
     * @param outputValues per body output, its value when inference could compute it (constant operands)
     */
    public record Typed(Graph graph, List<Optional<Tensor>> outputValues) {
        public TensorType outputType(int i) { return graph.outputs().get(i).type(); }
    }

    /**
     * Re-infers {@code body} for inputs of {@code inputTypes} (values in {@code inputValues} where known), through the
     * op table's shape rules: the types a body's outputs have for this node, which may be more precise than the ones
     * recorded when the body was built (a batch dim since fixed, a captured constant).
     *
     * @param where how messages name the node and body, e.g. {@code If node producing 'y', then_branch}
     */
    public static Typed specialize(Graph body, List<TensorType> inputTypes, List<Optional<Tensor>> inputValues,
                                   String where) {
        if (inputTypes.size() != body.inputs().size()) {
            throw new ShapeException(where + ": the body takes " + body.inputs().size() + " inputs but receives "
                    + inputTypes.size());
        }
        TypeInference inference = new TypeInference();
        Map<Value, Value> actual = new IdentityHashMap<>();
        List<Value> inputs = new ArrayList<>();
        for (int i = 0; i < inputTypes.size(); i++) {
            Value declared = body.inputs().get(i);
            TensorType t = inputTypes.get(i);
            if (t.dtype() != declared.dtype() || t.rank() != declared.type().rank()) {
                throw new ShapeException(where + ": body input '" + declared.name() + "' is " + declared.type()
                        + " but receives " + t);
            }
            Value in = t.equals(declared.type()) ? declared : new Value(declared.name(), t);
            actual.put(declared, in);
            inputs.add(in);
            if (i < inputValues.size()) {
                inputValues.get(i).ifPresent(c -> inference.addConstant(in, c));
            }
        }
        body.initializers().forEach((v, t) -> {
            actual.put(v, v);
            inference.addConstant(v, t);
        });
        List<Node> nodes = new ArrayList<>();
        for (Node n : body.nodes()) {
            OpDef def = OpTable.get().require(n.domain(), n.op(), n.describe());
            List<Value> in = n.inputs().stream().map(v -> v.isAbsent() ? v : actual.get(v)).toList();
            TypeInference.Result res = inference.infer(def, where + ": " + n.describe(), n.attributes(), in,
                    n.outputs().size());
            List<Value> outs = new ArrayList<>();
            for (int i = 0; i < n.outputs().size(); i++) {
                Value o = n.outputs().get(i);
                TensorType t = o.isAbsent() ? null : refined(o.type(), res.types().get(i));
                Value typed = o.isAbsent() || o.type().equals(t) ? o : new Value(o.name(), t);
                outs.add(typed);
                actual.put(o, typed);
            }
            inference.bind(outs, res);
            nodes.add(new Node(n.op(), n.domain(), n.name(), in, outs, n.attributes()));
        }
        List<Value> outputs = body.outputs().stream().map(actual::get).toList();
        List<Optional<Tensor>> values = outputs.stream().map(inference::constant).toList();
        return new Typed(new Graph(body.name(), inputs, body.initializers(), nodes, outputs), values);
    }

    /**
     * The inferred type, with the recorded static dims where inference leaves a dim unknown: a body's declared output
     * shapes (ONNX value_info) are kept, as the importer keeps them for every graph.
     */
    private static TensorType refined(TensorType recorded, TensorType inferred) {
        if (recorded.dtype() != inferred.dtype() || recorded.rank() != inferred.rank()) {
            return inferred;
        }
        List<Dim> dims = new ArrayList<>(inferred.shape().dims());
        boolean changed = false;
        for (int d = 0; d < dims.size(); d++) {
            Dim r = recorded.shape().dim(d);
            if (dims.get(d).hasUnknown() && r.isStatic()) {
                dims.set(d, r);
                changed = true;
            }
        }
        return changed ? new TensorType(inferred.dtype(), new Shape(dims)) : inferred;
    }

    /** The types of a node's operands from {@code from} on, as a body receives them. */
    public static List<TensorType> operandTypes(ShapeContext ctx, int from) {
        List<TensorType> types = new ArrayList<>();
        for (int i = from; i < ctx.inputCount(); i++) {
            types.add(ctx.inputType(i));
        }
        return types;
    }

    /** The known values of a node's operands from {@code from} on. */
    public static List<Optional<Tensor>> operandValues(ShapeContext ctx, int from) {
        List<Optional<Tensor>> values = new ArrayList<>();
        for (int i = from; i < ctx.inputCount(); i++) {
            values.add(ctx.constant(i));
        }
        return values;
    }

    /**
     * The type both {@code a} and {@code b} have: their common dims, an unknown dim where they differ. A sequence or
     * optional joined with one whose tensors have another rank (or an unknown one) holds tensors of unknown rank; an
     * optional joined with a value of its content's kind is that optional. Empty when the element types differ, the
     * kinds do not meet, or two tensors' ranks differ.
     */
    public static Optional<TensorType> join(TensorType a, TensorType b) {
        Optional<TensorType.Kind> kind = joinKind(a.kind(), b.kind());
        if (a.dtype() != b.dtype() || kind.isEmpty()) {
            return Optional.empty();
        }
        if (a.equals(b)) {
            return Optional.of(a);
        }
        boolean tensor = kind.get() == TensorType.Kind.TENSOR;
        if (!a.ranked() || !b.ranked() || a.rank() != b.rank()) {
            return tensor ? Optional.empty()
                    : Optional.of(new TensorType(a.dtype(), Shape.SCALAR, kind.get(), false));
        }
        List<Dim> dims = new ArrayList<>();
        for (int i = 0; i < a.rank(); i++) {
            Dim x = a.shape().dim(i);
            dims.add(x.equals(b.shape().dim(i)) ? x : Dim.unknown());
        }
        return Optional.of(new TensorType(a.dtype(), new Shape(dims), kind.get(), true));
    }

    /** The kind of a join: the same kind, or the optional when one side is an optional of the other's kind. */
    private static Optional<TensorType.Kind> joinKind(TensorType.Kind a, TensorType.Kind b) {
        if (a == b) {
            return Optional.of(a);
        }
        if (a == optionalOf(b)) {
            return Optional.of(a);
        }
        return b == optionalOf(a) ? Optional.of(b) : Optional.empty();
    }

    private static TensorType.Kind optionalOf(TensorType.Kind k) {
        return switch (k) {
            case TENSOR -> TensorType.Kind.OPTIONAL_TENSOR;
            case SEQUENCE -> TensorType.Kind.OPTIONAL_SEQUENCE;
            default -> null;
        };
    }

    /**
     * True when every value of {@code specific} is also one of {@code general}: a kind {@link #join} takes to
     * general's, and the same dims or general's unknown (any rank when general's is unknown).
     */
    public static boolean covers(TensorType general, TensorType specific) {
        Optional<TensorType.Kind> kind = joinKind(general.kind(), specific.kind());
        if (general.dtype() != specific.dtype() || kind.isEmpty() || kind.get() != general.kind()) {
            return false;
        }
        if (!general.ranked()) {
            return true;
        }
        if (!specific.ranked() || general.rank() != specific.rank()) {
            return false;
        }
        for (int i = 0; i < general.rank(); i++) {
            Dim g = general.shape().dim(i);
            if (!g.hasUnknown() && !g.equals(specific.shape().dim(i))) {
                return false;
            }
        }
        return true;
    }

    /** Runs a body on its inputs in order; its outputs in order. */
    public static List<Tensor> evaluate(Graph body, List<Tensor> inputs, Random random) {
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        for (int i = 0; i < body.inputs().size(); i++) {
            Value in = body.inputs().get(i);
            Tensor t = inputs.get(i);
            // A tensor or sequence reaching an optional input (types joined as in join()) is that optional, present.
            boolean wrap = in.type().isOptional() && !t.type().isOptional();
            feeds.put(in.name(), wrap ? Tensor.optionalOf(t) : t);
        }
        Map<String, Tensor> out = ReferenceEvaluator.run(body, feeds, random.nextLong(), (v, t) -> { });
        List<Tensor> result = new ArrayList<>();
        for (Value v : body.outputs()) {
            result.add(out.get(v.name()));
        }
        return result;
    }
}
