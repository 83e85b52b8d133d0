package dev.kiln.codegen;

import com.palantir.javapoet.NameAllocator;
import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import dev.kiln.passes.MemoryPlan;
import dev.kiln.passes.MemoryPlan.Linear;
import dev.kiln.passes.MemoryPlanner;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Code generation's analysis: for an optimized graph, where every tensor lives (a {@code run} parameter, the
 * scratch arena at a batch-linear offset from the memory plan, or a weights field), which nodes become
 * methods, and the weights (raw or packed by kernels) that go into the resource. An intermediate whose dims are known
 * only at run time lives in a buffer of its own ({@link DynamicValues}). Views of a tensor
 * (Reshape, Flatten, ...) share its storage and emit no code, unless they take a shape or axes read at run time,
 * which their step checks. Nothing here writes Java; {@link ClassWriter} does.
 */
final class ModelPlan {
    /** A node that becomes a method. */
    record Step(Node node, String method) {}

    /**
     * An array in the weights resource, read into a field; {@code data} is a {@code float[]} (kernels' weights and
     * float32 constants) or the array of a constant's {@link ElementType} ({@code long[]}, {@code boolean[]}, ...).
     * {@code wrapper} (with {@code $1L} for the array) turns it into the field's {@code type} once at load time,
     * e.g. a {@code PackedMatrix}.
     */
    record WeightField(String field, String key, Object data, com.palantir.javapoet.TypeName type, String wrapper,
                       Object[] wrapperArgs) {
        ElementType elementType() {
            return ElementType.of(switch (data) {
                case float[] a -> DType.FLOAT32;
                case double[] a -> DType.FLOAT64;
                case long[] a -> DType.INT64;
                case int[] a -> DType.INT32;
                case boolean[] a -> DType.BOOL;
                case String[] a -> DType.STRING;
                default -> throw new IllegalStateException("weight " + key + " holds " + data);
            });
        }

        int length() {
            return ElementType.length(data);
        }
    }

    final Graph graph;
    final CodegenOptions options;
    final String batchSymbol;
    final NameAllocator names = new NameAllocator();
    final Map<Value, String> inputParams = new LinkedHashMap<>();
    final Map<Value, String> outputParams = new LinkedHashMap<>();
    final Map<Value, Storage> storage = new IdentityHashMap<>();
    final Map<String, WeightField> weights = new LinkedHashMap<>();
    final List<Step> steps = new ArrayList<>();
    /** Arena size per element type, float32 first then in {@link DType} order (one arena field each). */
    final Map<DType, Linear> arenaSizes = new java.util.TreeMap<>();
    /** An instance field built in the constructor from weight fields (e.g. an LSTM's packed weight record). */
    record DerivedField(String name, com.palantir.javapoet.TypeName type, com.palantir.javapoet.CodeBlock init) {}

    final Map<String, DerivedField> derived = new LinkedHashMap<>();
    /** Floats per batch element of the scratch that batch-dependent kernels (LSTM, GRU) share; grown with the arena. */
    long batchScratchPerBatch;

    /** Per-thread kernel scratch ({@code float[threads][length]}) by length, for multi-threaded kernels. */
    final Map<Integer, String> threadScratchFields = new java.util.TreeMap<>();

    /** Kernel scratch arrays by length (im2col panels), each shared by the steps needing that length. */
    final Map<Integer, String> scratchFields = new java.util.TreeMap<>();

    /** A body of a control-flow node compiled as a nested class, with its weights under their resource keys. */
    record NestedClass(com.palantir.javapoet.TypeSpec type, Map<String, Object> weights) {}

    /** The bodies of this class's control-flow nodes (see {@link ControlFlowEmitter}). */
    final List<NestedClass> nestedClasses = new ArrayList<>();
    /** A per-instance array grown on demand by the code that uses it: its Java array type and its field's doc. */
    record GrowableArray(com.palantir.javapoet.TypeName type, String doc) {}

    /** Per-instance arrays grown on demand, by field name (the buffers bodies are run on, saved recurrent gates). */
    final Map<String, GrowableArray> growableArrays = new LinkedHashMap<>();
    /**
     * The field each recurrent training forward written so far keeps its gates in for its gradient node, by
     * forward node (identity: two equal nodes are still two computations).
     */
    final Map<Node, String> savedGates = new java.util.IdentityHashMap<>();
    /** Prefix of this class's keys in the weights resource: empty for the model's class, the nesting path for a body. */
    String keyPrefix = "";
    /** The generated class: the model's, or for a body the class nested in its enclosing one. */
    com.palantir.javapoet.ClassName self;

    /** Graph inputs held in fields (trainable parameters, state) and those passed as {@code int[]} (labels). */
    final FieldInputs fieldInputs;
    /** Nodes whose outputs only shape arguments read, which generation resolves from static types: no code. */
    final java.util.Set<Node> generationTimeOnly;
    /** Intermediates whose dims are known only at run time: their buffers, dims fields and dim symbols. */
    final DynamicValues dynamic;
    /** Integer values known as dims of the batch (Shape, Size and their arithmetic), read by Casts to float. */
    final Map<Value, List<dev.kiln.ir.Dim>> batchValues;

    ModelPlan(Graph graph, CodegenOptions options) {
        this(graph, options, FieldInputs.NONE);
    }

    ModelPlan(Graph graph, CodegenOptions options, FieldInputs fieldInputs) {
        this.graph = graph;
        this.options = options;
        this.fieldInputs = fieldInputs;
        this.self = com.palantir.javapoet.ClassName.get(options.packageName(), options.className());
        java.util.Set<String> reservedNames = new java.util.LinkedHashSet<>(List.of("batch", "batchScratch",
                "workers", "close", "weights", "source", "SPECIES", "run", "load", "requireNoNulls"));
        reservedNames.addAll(fieldInputs.reservedNames());
        for (String reserved : reservedNames) {
            names.newName(reserved, reserved);
        }
        for (DType t : DType.values()) {
            names.newName(arenaField(t), arenaField(t));
        }
        // An op without an emitter is the most useful thing to report, then a shape that depends on values (beyond
        // any emitter), then element types.
        GenerationTimeValues generationTime = GenerationTimeValues.of(graph);
        this.generationTimeOnly = generationTime.nodes();
        this.batchValues = generationTime.dims();
        List<Node> emitted = graph.nodes().stream().filter(n -> !generationTimeOnly.contains(n)).toList();
        emitted.forEach(Emitters::forNode);
        this.dynamic = DynamicValues.of(graph, emitted, names);
        checkTypes(graph, emitted);
        MemoryPlan memory = MemoryPlanner.plan(graph);
        this.batchSymbol = memory.batchSymbol();
        for (Value v : graph.inputs()) {
            if (fieldInputs.values().containsKey(v.name())) {
                storage.put(v, new Storage.Weight(v.name()));
                continue;
            }
            String p = names.newName(Identifiers.camel(v.name(), "input"));
            inputParams.put(v, p);
            storage.put(v, new Storage.Param(p));
        }
        for (Value v : graph.outputs()) {
            if (inputParams.containsKey(v) || outputParams.containsKey(v)) {
                throw new UnsupportedOpException("graph output '" + v.name() + "' is also a graph input or listed twice;"
                        + " code generation needs each output produced by a node");
            }
            String p = names.newName(Identifiers.camel(v.name(), "output"));
            outputParams.put(v, p);
            storage.put(v, new Storage.Param(p));
        }
        // Initializers enter the resource only when an emitter reads them raw (packed forms replace the rest).
        graph.initializers().forEach((v, t) -> storage.putIfAbsent(v, new Storage.Weight(v.name())));
        for (Node n : graph.nodes()) {
            if (generationTimeOnly.contains(n)) {
                continue;
            }
            if (isView(n) && !storage.containsKey(n.output(0))) {
                storage.put(n.output(0), storage.get(n.input(0)));
                if (!takesShapeAtRunTime(n)) {
                    continue;
                }
            }
            for (Value o : n.outputs()) {
                if (!o.isAbsent() && !storage.containsKey(o) && dynamic.buffers.containsKey(o)) {
                    storage.put(o, new Storage.Dynamic(o.dtype(), dynamic.buffers.get(o)));
                } else if (!o.isAbsent() && !storage.containsKey(o)) {
                    MemoryPlan.Placement p = memory.placements().get(o);
                    if (p == null) {
                        throw new UnsupportedOpException(n.describe() + ": output '" + o.name() + "' has shape "
                                + o.shape() + ", whose size is not linear in the batch; code generation needs static "
                                + "dims apart from the batch");
                    }
                    storage.put(o, new Storage.Arena(p.dtype(), p.offset()));
                }
            }
            steps.add(new Step(n, names.newName(Identifiers.method(n), n)));
        }
        // An output that is a constant (folded at compile time) is copied from its weight into the caller's array.
        for (Value out : graph.outputs()) {
            if (graph.isInitializer(out)) {
                Value source = new Value(out.name() + "#constant", out.type());
                storage.put(source, new Storage.Weight(out.name()));
                Node copy = new Node("Identity", "", "", List.of(source), List.of(out), dev.kiln.ir.Attributes.EMPTY);
                steps.add(new Step(copy, names.newName(Identifiers.camel(out.name(), "output") + "Constant")));
            }
        }
        arenaSizes.put(DType.FLOAT32, memory.arenaSizes().getOrDefault(DType.FLOAT32, Linear.ZERO));
        arenaSizes.putAll(memory.arenaSizes());
    }

    /** The field of the scratch arena for element type t: {@code arena} for float32, else e.g. {@code arenaInt64}. */
    static String arenaField(DType t) {
        return t == DType.FLOAT32 ? "arena" : "arena" + ElementType.of(t).suffix();
    }

    /** A view whose output can share its input's storage (the output is not a caller's array). */
    private boolean isView(Node n) {
        return n.hasInput(0) && n.outputs().size() == 1
                && OpTable.get().find(n.domain(), n.op()).map(d -> d.has(OpProperty.VIEW)).orElse(false)
                && !outputParams.containsKey(n.output(0));
    }

    /** A Reshape, Squeeze or Unsqueeze whose shape or axes are read at run time: its step checks the values. */
    private boolean takesShapeAtRunTime(Node n) {
        if (!n.domain().isEmpty() || !List.of("Reshape", "Squeeze", "Unsqueeze").contains(n.op())) {
            return false;
        }
        for (int i = 1; i < n.inputs().size(); i++) {
            if (n.hasInput(i) && !isConstant(n.input(i)) && !batchValues.containsKey(n.input(i))) {
                return true;
            }
        }
        return false;
    }

    /** The field holding initializer {@code key} as stored in the graph, adding it to the resource on first use. */
    String rawWeight(String key) {
        Tensor bound = fieldInputs.values().get(key);
        if (bound != null) {
            return addWeight(key, bound.toFloatArray());
        }
        for (java.util.Map.Entry<Value, Tensor> e : graph.initializers().entrySet()) {
            if (e.getKey().name().equals(key)) {
                ElementType t = ElementType.of(e.getValue().dtype());
                if (t.isFloat32()) {
                    return addWeight(key, e.getValue().toFloatArray());
                }
                return addWeight(key, t.toArray(e.getValue()), t.array(), Identifiers.camel(key, "weight"), "$1L");
            }
        }
        throw new IllegalStateException("no initializer " + key);
    }

    /** Adds a float array to the weights resource and returns the {@code float[]} field holding it. */
    String addWeight(String key, float[] data) {
        return addWeight(key, data, com.palantir.javapoet.ArrayTypeName.of(com.palantir.javapoet.TypeName.FLOAT),
                Identifiers.camel(key, "weight"), "$1L");
    }

    /**
     * Adds a float array to the weights resource, held in a field of {@code type} built by {@code wrapper}
     * (a JavaPoet format with indexed arguments: {@code $1L} is the array, {@code $2..} are {@code args}).
     */
    String addWeight(String key, Object data, com.palantir.javapoet.TypeName type, String hint, String wrapper,
                     Object... args) {
        WeightField existing = weights.get(key);
        if (existing != null) {
            return existing.field();
        }
        String field = names.newName(hint);
        weights.put(key, new WeightField(field, key, data, type, wrapper, args));
        return field;
    }

    /** The graph input or output behind {@code run} parameter {@code name}. */
    Value paramValue(String name) {
        for (Map<Value, String> params : List.of(inputParams, outputParams)) {
            for (Map.Entry<Value, String> e : params.entrySet()) {
                if (e.getValue().equals(name)) {
                    return e.getKey();
                }
            }
        }
        throw new IllegalStateException("no run parameter " + name);
    }

    Tensor constant(Value v) {
        Tensor t = graph.initializers().get(v);
        if (t == null) {
            throw new IllegalStateException(v.name() + " is not a constant");
        }
        return t;
    }

    boolean isConstant(Value v) {
        return graph.isInitializer(v);
    }

    /** The Java type of a method parameter holding a graph input or output. */
    com.palantir.javapoet.TypeName paramType(String param) {
        Value v = paramValue(param);
        if (fieldInputs.intInputs().contains(v.name()) && graph.inputs().contains(v)) {
            return com.palantir.javapoet.ArrayTypeName.of(com.palantir.javapoet.TypeName.INT);
        }
        return ElementType.of(v.dtype()).array();
    }

    /**
     * Refuses element types an emitter cannot hold: strings in the tensors of an emitter that does not move, select or
     * compare them ({@link KernelEmitter#strings}), and anything but float32 in the tensors an emitter written for
     * float32 reads or writes at run time. Constants such an emitter reads at generation time (Reshape's target, axes,
     * values resolved at generation time) may have any type; reading one as data fails in {@link EmitContext#ref}.
     */
    private static void checkTypes(Graph g, List<Node> emitted) {
        java.util.Set<Value> runTime = new java.util.HashSet<>(g.inputs());
        emitted.forEach(n -> runTime.addAll(n.outputs()));
        for (Node n : emitted) {
            KernelEmitter emitter = Emitters.forNode(n);
            boolean typed = emitter.typed(n);
            List<Value> values = new ArrayList<>(n.outputs());
            n.inputs().stream().filter(runTime::contains).forEach(values::add);
            for (Value v : values) {
                if (v.isAbsent()) {
                    continue;
                }
                if (v.dtype() == DType.STRING && !emitter.strings(n)) {
                    throw new UnsupportedOpException(n.describe() + ": code generation does not handle string tensors in "
                            + n.qualifiedOp() + " ('" + v.name() + "' is " + v.type() + "); generated code moves, selects"
                            + " and compares strings (data movement, Gather, Where, Equal) and parses numbers from them"
                            + " (Cast from string), but computes no other string");
                }
                if (!typed && v.dtype() != DType.FLOAT32) {
                    throw new UnsupportedOpException(n.describe() + ": code generation of " + n.qualifiedOp()
                            + " handles float32 tensors only; '" + v.name() + "' is " + v.type());
                }
            }
        }
    }

    /** The node name used in messages and comments. */
    static String describe(Node n) {
        return n.name().isEmpty() ? n.qualifiedOp() : n.name() + " (" + n.qualifiedOp() + ")";
    }

    static String lower(String s) {
        return s.toLowerCase(Locale.ROOT);
    }
}
