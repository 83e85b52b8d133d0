package dev.kiln.ir;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

/**
 * Infers node output types in graph order through the op table's shape rules, tracking which values are
 * constant (initializers, and small all-constant subgraphs evaluated with the reference semantics) and
 * which integer values are known as dims (so a reshape target built from {@code Shape(x)} keeps {@code N}).
 * One instance follows one graph from its inputs down; {@link GraphBuilder} and {@link GraphVerifier} share it.
 */
public final class TypeInference implements ShapeContext.ConstantLookup {
    /** Constant subgraphs are evaluated during inference only when their outputs are at most this big. */
    public static final int MAX_TRACKED_CONSTANT_ELEMENTS = 1 << 16;

    private final Map<Value, Tensor> constants = new IdentityHashMap<>();
    private final Map<Value, List<Dim>> dims = new IdentityHashMap<>();

    /**
     * The inferred outputs of one node.
     *
     * @param types one type per output
     * @param values the constant output values when every input was constant, else empty
     * @param dims output 0's elements as dims when known symbolically
     */
    public record Result(List<TensorType> types, List<Tensor> values, Optional<List<Dim>> dims) {}

    @Override
    public Optional<Tensor> constant(Value v) { return Optional.ofNullable(constants.get(v)); }

    @Override
    public Optional<List<Dim>> dims(Value v) { return Optional.ofNullable(dims.get(v)); }

    /** Declares {@code v} constant (an initializer). */
    public void addConstant(Value v, Tensor t) { constants.put(v, t); }

    /**
     * Checks the node against its op's declaration (arity, attributes) and infers its output types.
     *
     * @param description how messages name the node
     */
    public Result infer(OpDef def, String description, Attributes attrs, List<Value> inputs, int outputCount) {
        checkArity(def, description, inputs, outputCount);
        checkAttributes(def, description, attrs);
        checkContainers(def, description, inputs);
        ShapeContext ctx = new ShapeContext(def, description, attrs, inputs, outputCount, this);
        List<TensorType> types = def.shapeRule().infer(ctx);
        if (types.size() < outputCount) {
            throw new IllegalStateException("shape rule of " + def + " gave " + types.size() + " types for "
                    + outputCount + " outputs");
        }
        types = List.copyOf(types.subList(0, outputCount));
        List<Tensor> values = List.of();
        if (!Subgraphs.nondeterministic(def, attrs) && allInputsConstant(inputs)
                && small(types)) {
            values = evaluate(def, description, attrs, inputs, outputCount);
            List<TensorType> refined = new ArrayList<>(types);
            for (int i = 0; i < outputCount; i++) {
                if (values.get(i) != null) {
                    refined.set(i, values.get(i).type());
                }
            }
            types = List.copyOf(refined);
        }
        Optional<List<Dim>> symbolic = def.symbolicRule().flatMap(rule -> rule.apply(ctx));
        return new Result(types, values, symbolic);
    }

    /** Records what {@link #infer} learned about the node's outputs, once the output values exist. */
    public void bind(List<Value> outputs, Result result) {
        for (int i = 0; i < outputs.size(); i++) {
            Value v = outputs.get(i);
            if (v.isAbsent()) {
                continue;
            }
            if (i < result.values().size() && result.values().get(i) != null) {
                constants.put(v, result.values().get(i));
            }
        }
        if (!outputs.isEmpty() && !outputs.get(0).isAbsent()) {
            result.dims().ifPresent(d -> dims.put(outputs.get(0), List.copyOf(d)));
            result.dims().flatMap(d -> staticValue(outputs.get(0), d)).ifPresent(t -> constants.putIfAbsent(outputs.get(0), t));
        }
    }

    /**
     * An integer value whose elements are all static dims (Size or Shape of a static shape, and arithmetic on them) as
     * the constant it is, so what depends on it (an If's condition, a Reshape target) is known while building.
     */
    private static Optional<Tensor> staticValue(Value v, List<Dim> d) {
        if (!v.dtype().isInteger() || v.type().rank() > 1 || !v.shape().isStatic()
                || v.shape().elementCount().value() != d.size()) {
            return Optional.empty();
        }
        long[] values = new long[d.size()];
        for (int i = 0; i < values.length; i++) {
            if (!d.get(i).isStatic()) {
                return Optional.empty();
            }
            values[i] = d.get(i).value();
        }
        return Optional.of(Tensor.ofLongs(v.dtype(), v.shape().evaluate(java.util.Map.of()), values));
    }

    private boolean allInputsConstant(List<Value> inputs) {
        for (Value v : inputs) {
            if (!v.isAbsent() && !constants.containsKey(v)) {
                return false;
            }
        }
        return true;
    }

    private static boolean small(List<TensorType> types) {
        long total = 0;
        for (TensorType t : types) {
            Dim n = t.shape().elementCount();
            if (!n.isStatic()) {
                // Shapes may be unknown until evaluated (e.g. Range); the evaluation itself is bounded by
                // the inputs, which are constants and therefore already in memory.
                continue;
            }
            total += n.value();
        }
        return total <= MAX_TRACKED_CONSTANT_ELEMENTS;
    }

    private List<Tensor> evaluate(OpDef def, String description, Attributes attrs, List<Value> inputs, int outputCount) {
        List<Tensor> in = new ArrayList<>();
        for (Value v : inputs) {
            in.add(v.isAbsent() ? null : constants.get(v));
        }
        EvalContext ctx = new EvalContext(def, description, attrs, in, outputCount, new Random(0));
        List<Tensor> out = def.evalRule().evaluate(ctx);
        for (Tensor t : out) {
            if (t != null && t.size() + t.elements().stream().mapToLong(e -> e.size()
                    + e.elements().stream().mapToLong(Tensor::size).sum()).sum() > MAX_TRACKED_CONSTANT_ELEMENTS) {
                return List.of();
            }
        }
        return out;
    }

    private static void checkArity(OpDef def, String description, List<Value> inputs, int outputCount) {
        int last = inputs.size();
        while (last > 0 && inputs.get(last - 1).isAbsent()) {
            last--;
        }
        if (last < def.minInputs() || last > def.maxInputs()) {
            throw new ShapeException(description + ": takes " + arity(def.minInputs(), def.maxInputs())
                    + " inputs but has " + last);
        }
        for (int i = 0; i < def.minInputs(); i++) {
            if (inputs.get(i).isAbsent()) {
                throw new ShapeException(description + ": required input " + def.inputName(i) + " is missing");
            }
        }
        if (outputCount < def.minOutputs() || outputCount > def.maxOutputs()) {
            throw new ShapeException(description + ": has " + arity(def.minOutputs(), def.maxOutputs())
                    + " outputs but the node lists " + outputCount);
        }
    }

    /** Only ops declared {@link OpProperty#CONTAINERS} take sequences and optionals; their rules check which inputs. */
    private static void checkContainers(OpDef def, String description, List<Value> inputs) {
        if (def.has(OpProperty.CONTAINERS)) {
            return;
        }
        for (int i = 0; i < inputs.size(); i++) {
            Value v = inputs.get(i);
            if (!v.isAbsent() && !v.type().isTensor()) {
                throw new ShapeException(description + ": input " + def.inputName(i) + " '" + v.name() + "' is "
                        + v.type() + " but " + def + " takes tensors only (unpack a sequence with SequenceAt or "
                        + "ConcatFromSequence, an optional with OptionalGetElement)");
            }
        }
    }

    private static String arity(int min, int max) {
        return min == max ? Integer.toString(min) : max == Integer.MAX_VALUE ? "at least " + min : min + " to " + max;
    }

    private static void checkAttributes(OpDef def, String description, Attributes attrs) {
        for (Map.Entry<String, Attr> e : attrs.asMap().entrySet()) {
            AttrSpec spec = def.attribute(e.getKey()).orElseThrow(() -> new UnsupportedOpException(
                    description + ": attribute '" + e.getKey() + "' is not known for op " + def + " (known: "
                            + def.attributes().keySet() + ")"));
            if (spec.type() != e.getValue().type()) {
                throw new ShapeException(description + ": attribute '" + e.getKey() + "' must be " + spec.type()
                        + " but is " + e.getValue().type());
            }
        }
        for (AttrSpec spec : def.attributes().values()) {
            if (spec.required() && !attrs.has(spec.name())) {
                throw new ShapeException(description + ": required attribute '" + spec.name() + "' is missing");
            }
        }
    }
}
