package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.FieldSpec;
import com.palantir.javapoet.NameAllocator;
import com.palantir.javapoet.TypeName;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import dev.kiln.passes.MemoryPlan.Linear;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.lang.model.element.Modifier;

/**
 * What an emitter sees of one node: where its tensors live, their dims as code (static, in terms of {@code batch}, or
 * int locals for dims known only at run time), its attributes with the op table's defaults, and ways to add weights
 * and constants to the class. Collects the {@code run} parameters the method needs and what its prologue declares.
 */
final class EmitContext {
    private static final TypeName FLOATS = com.palantir.javapoet.ArrayTypeName.of(TypeName.FLOAT);
    private static final com.palantir.javapoet.ClassName DYNAMIC_TENSORS =
            com.palantir.javapoet.ClassName.get("dev.kiln.runtime", "DynamicTensors");
    final Node node;
    private final ModelPlan plan;
    private final List<FieldSpec> staticFields;
    private final Map<String, FieldSpec> staticByKey;
    final NameAllocator locals = new NameAllocator();
    private final Set<String> params = new LinkedHashSet<>();
    /** The int local of each unknown dim symbol this method reads, by symbol. */
    private final Map<String, String> symbolLocals = new java.util.LinkedHashMap<>();
    /** The symbols whose locals the prologue declares (read from fields set by earlier steps). */
    private final Map<String, String> prologueSymbols = new java.util.LinkedHashMap<>();
    /** Outputs whose run-time dims this node's emitter resolved. */
    private final Set<Value> defined = new java.util.HashSet<>();
    /** Whether the node's emitter handles element types other than float32 (see {@link KernelEmitter#typed}). */
    private final boolean typed;
    /** Whether it also handles string tensors (see {@link KernelEmitter#strings}). */
    private final boolean strings;

    EmitContext(Node node, ModelPlan plan, List<FieldSpec> staticFields, Map<String, FieldSpec> staticByKey) {
        this.node = node;
        this.plan = plan;
        this.staticFields = staticFields;
        this.staticByKey = staticByKey;
        this.typed = node != null && Emitters.forNode(node).typed(node);
        this.strings = node != null && Emitters.forNode(node).strings(node);
        // Locals never take a parameter's name; instance fields are referenced as this.x, so no local shadows them.
        locals.newName("batch", "batch");
        for (dev.kiln.ir.DType t : dev.kiln.ir.DType.values()) {
            locals.newName(ModelPlan.arenaField(t), ModelPlan.arenaField(t));
        }
        locals.newName("batchScratch", "batchScratch");
        locals.newName("workers", "workers");
        plan.inputParams.values().forEach(p -> locals.newName(p, p));
        plan.outputParams.values().forEach(p -> locals.newName(p, p));
    }

    TensorRef in(int i) {
        return ref(node.input(i));
    }

    TensorRef out(int i) {
        return ref(node.output(i));
    }

    TensorRef ref(Value v) {
        Storage s = plan.storage.get(v);
        if (!typed && s != null && v.dtype() != dev.kiln.ir.DType.FLOAT32) {
            throw new UnsupportedOpException(node.describe() + ": code generation of " + node.qualifiedOp()
                    + " reads float32 data only; '" + v.name() + "' is " + v.type());
        }
        if (node != null && !strings && s != null && v.dtype() == dev.kiln.ir.DType.STRING) {
            throw new UnsupportedOpException(node.describe() + ": code generation of " + node.qualifiedOp()
                    + " does not read string data; '" + v.name() + "' is " + v.type());
        }
        return switch (s) {
            case Storage.Param p -> {
                params.add(p.name());
                yield new TensorRef(p.name(), CodeBlock.of("0"));
            }
            case Storage.Arena a -> new TensorRef("this." + ModelPlan.arenaField(a.dtype()), linear(a.offset()));
            case Storage.Weight w -> new TensorRef("this." + plan.rawWeight(w.key()), CodeBlock.of("0"));
            case Storage.Dynamic d -> new TensorRef("this." + d.buffer(), CodeBlock.of("0"));
            case null -> throw new IllegalStateException("no storage for " + v.name());
        };
    }

    /** How generated code holds v's elements. */
    static ElementType type(Value v) {
        return ElementType.of(v.dtype());
    }

    /** The {@code run} parameters the method reads or writes, in first-use order. */
    List<String> params() {
        return new ArrayList<>(params);
    }

    /** {@code c + b * batch} as code. */
    static CodeBlock linear(Linear l) {
        if (l.perBatch() == 0) {
            return CodeBlock.of("$L", l.constant());
        }
        CodeBlock scaled = l.perBatch() == 1 ? CodeBlock.of("batch") : CodeBlock.of("$L * batch", l.perBatch());
        return l.constant() == 0 ? scaled : CodeBlock.of("$L + $L", scaled, l.constant());
    }

    /**
     * A dim as code: its value, or {@code batch} times a constant when it involves the batch symbol, or for a dim known
     * only at run time the product of int locals holding its symbols (see {@link #prologue}).
     */
    CodeBlock dim(Dim d) {
        if (d.isStatic()) {
            return CodeBlock.of("$L", d.value());
        }
        if (d.hasUnknown() && d.symbols().keySet().stream()
                .allMatch(s -> !s.startsWith(Dim.UNKNOWN_PREFIX) || plan.dynamic.symbols.containsKey(s))) {
            return runTimeDim(d);
        }
        if (d.symbols().size() == 1 && d.symbols().containsKey(plan.batchSymbol) && d.symbols().get(plan.batchSymbol) == 1) {
            return d.coefficient() == 1 ? CodeBlock.of("batch") : CodeBlock.of("$L * batch", d.coefficient());
        }
        throw new UnsupportedOpException(node.describe() + ": dim " + d + " is neither static nor a multiple of the batch "
                + plan.batchSymbol);
    }

    /** {@code coefficient * batch * sym...} over the locals of the unknown symbols, in parentheses. */
    private CodeBlock runTimeDim(Dim d) {
        List<CodeBlock> factors = new ArrayList<>();
        if (d.coefficient() != 1) {
            factors.add(CodeBlock.of("$L", d.coefficient()));
        }
        d.symbols().forEach((symbol, exponent) -> {
            CodeBlock factor;
            if (symbol.startsWith(Dim.UNKNOWN_PREFIX)) {
                factor = CodeBlock.of("$N", symbolLocal(symbol));
            } else if (symbol.equals(plan.batchSymbol)) {
                factor = CodeBlock.of("batch");
            } else {
                throw new UnsupportedOpException(node.describe() + ": dim " + d + " involves the symbol " + symbol
                        + ", which is neither the batch " + plan.batchSymbol + " nor known at run time");
            }
            for (int k = 0; k < exponent; k++) {
                factors.add(factor);
            }
        });
        return factors.size() == 1 ? factors.get(0) : CodeBlock.of("($L)", CodeBlock.join(factors, " * "));
    }

    /**
     * The int local holding an unknown dim symbol in this method: declared by {@link #prologue} from the dims field of
     * the value that defines it, or by {@link #defineDims} when this node defines it.
     */
    private String symbolLocal(String symbol) {
        String local = symbolLocals.get(symbol);
        if (local != null) {
            return local;
        }
        DynamicValues.Source source = plan.dynamic.symbols.get(symbol);
        if (node != null && node.outputs().contains(source.value())) {
            throw new IllegalStateException(node.describe() + " reads dim " + symbol + " of its output before it"
                    + " resolves it (defineDims)");
        }
        local = locals.newName(Identifiers.camel(source.value().name(), "value") + "Dim" + source.axis());
        symbolLocals.put(symbol, local);
        prologueSymbols.put(symbol, local);
        return local;
    }

    /** True when v's dims are known only at run time (it lives in a buffer of its own). */
    boolean isDynamic(Value v) {
        return plan.dynamic.dimsFields.containsKey(v);
    }

    /** The per-instance {@code long[]} holding v's dims this run, for a value whose dims are known only at run time. */
    String dimsField(Value v) {
        String f = plan.dynamic.dimsFields.get(v);
        if (f == null) {
            throw new IllegalStateException(v.name() + " has static dims");
        }
        return "this." + f;
    }

    /** True when this node's emitter resolves its output's run-time dims itself (a Pad or Slice, see defineDims). */
    boolean definesDims() {
        return plan.dynamic.definers.contains(node);
    }

    /**
     * For a Pad or Slice whose output {@code i} has run-time dims: after the runtime has written them into its dims
     * field, declares the locals of the symbols it defines, checks the dims tied to symbols resolved earlier, and grows
     * the output's buffer to fit.
     */
    void defineDims(CodeBlock.Builder b, int i) {
        Value o = node.output(i);
        String dims = dimsField(o);
        for (int a = 0; a < o.shape().rank(); a++) {
            Dim d = o.shape().dim(a);
            if (plan.dynamic.defines(o, a)) {
                String local = locals.newName(Identifiers.camel(o.name(), "value") + "Dim" + a);
                b.addStatement("int $N = (int) $N[$L]", local, dims, a);
                symbolLocals.put(d.symbols().firstKey(), local);
            } else if (d.hasUnknown()) {
                b.addStatement("$T.requireDim($S, $S, $N, $L, $L)", DYNAMIC_TENSORS, node.describe(), o.name(), dims, a,
                        dim(d));
            }
        }
        grow(b, o);
        defined.add(o);
    }

    /** {@code buffer = DynamicTensors.fit(buffer, count)}: the buffer of a run-time-shaped value grows to fit. */
    private void grow(CodeBlock.Builder b, Value o) {
        TensorRef r = ref(o);
        b.addStatement("$N = $T.fit($N, $L)", r.array(), DYNAMIC_TENSORS, r.array(), count(o));
    }

    /**
     * What the step method runs before the emitter's body: the int locals of the run-time dims the body reads, and for
     * each output with run-time dims (other than a Pad's or Slice's, which resolve them) its dims set from those
     * locals and its buffer grown to fit.
     */
    CodeBlock prologue() {
        CodeBlock.Builder setup = CodeBlock.builder();
        if (node != null && !definesDims()) {
            for (Value o : node.outputs()) {
                if (!o.isAbsent() && isDynamic(o) && !defined.contains(o)) {
                    String dims = dimsField(o);
                    for (int a = 0; a < o.shape().rank(); a++) {
                        setup.addStatement("$N[$L] = $L", dims, a, dim(o.shape().dim(a)));
                    }
                    grow(setup, o);
                }
            }
        } else if (node != null) {
            for (Value o : node.outputs()) {
                if (!o.isAbsent() && isDynamic(o) && !defined.contains(o)) {
                    throw new IllegalStateException(node.describe() + ": the emitter did not resolve the dims of '"
                            + o.name() + "'");
                }
            }
        }
        CodeBlock.Builder b = CodeBlock.builder();
        prologueSymbols.forEach((symbol, local) -> {
            DynamicValues.Source s = plan.dynamic.symbols.get(symbol);
            b.addStatement("int $N = (int) $N[$L]", local, dimsField(s.value()), s.axis());
        });
        return b.add(setup.build()).build();
    }

    /** The number of elements of v as code. */
    CodeBlock count(Value v) {
        return dim(v.shape().elementCount());
    }

    /** The static value of dim {@code axis} of v, failing clearly if it depends on the batch. */
    int staticDim(Value v, int axis) {
        Dim d = v.shape().dim(axis);
        if (!d.isStatic()) {
            throw new UnsupportedOpException(node.describe() + ": dim " + axis + " of '" + v.name() + "' " + v.shape()
                    + " must be static for this kernel");
        }
        return Math.toIntExact(d.value());
    }

    /** True when dim 0 is the batch and every other dim is static. */
    boolean batchLeading(Value v) {
        Shape s = v.shape();
        if (s.rank() == 0) {
            return false;
        }
        for (int i = 1; i < s.rank(); i++) {
            if (!s.dim(i).isStatic()) {
                return false;
            }
        }
        return !s.dim(0).isStatic() && dim(s.dim(0)).toString().equals("batch");
    }

    long intAttr(String name) {
        return OpTable.get().intAttr(node, name);
    }

    float floatAttr(String name) {
        return OpTable.get().floatAttr(node, name);
    }

    String stringAttr(String name) {
        return OpTable.get().stringAttr(node, name);
    }

    /** The elements of an integer value that is a function of the batch alone, as dims (see GenerationTimeValues). */
    java.util.Optional<List<Dim>> batchValue(Value v) {
        return java.util.Optional.ofNullable(plan.batchValues.get(v));
    }

    /** True when a node of the graph reads {@code v} or it is a graph output. */
    boolean isRead(Value v) {
        return plan.graph.outputs().contains(v) || plan.graph.nodes().stream().anyMatch(n -> n.inputs().contains(v));
    }

    boolean isConstant(Value v) {
        return plan.isConstant(v);
    }

    /** True if {@code v} is an integer graph input that generated code takes as an {@code int[]} (labels). */
    boolean isIntInput(Value v) {
        return plan.fieldInputs.intInputs().contains(v.name()) && plan.graph.inputs().contains(v);
    }

    dev.kiln.ir.Tensor constant(Value v) {
        return plan.constant(v);
    }

    /** Adds (once per key) a float array to the weights resource, e.g. weights packed for a kernel. */
    String weight(String key, float[] data) {
        return plan.addWeight(key, data);
    }

    /**
     * Adds (once per key) an array of any element type generated code holds ({@code long[]}, {@code int[]},
     * {@code double[]}, {@code boolean[]}, {@code String[]}) to the weights resource; returns its field.
     */
    String weightArray(String key, Object data, String hint) {
        return plan.addWeight(key, data, TypeName.get(data.getClass()), hint, "$1L");
    }

    /** The node seen as the op table's rules see it, for attribute helpers of its op (defaults applied). */
    dev.kiln.ir.ShapeContext attributes() {
        dev.kiln.ir.OpDef def = OpTable.get().require(node.domain(), node.op(), node.describe());
        return new dev.kiln.ir.ShapeContext(def, node.describe(), node.attributes(), node.inputs(),
                node.outputs().size(), new dev.kiln.ir.ShapeContext.ConstantLookup() {
                    @Override
                    public java.util.Optional<dev.kiln.ir.Tensor> constant(Value v) {
                        return java.util.Optional.empty();
                    }

                    @Override
                    public java.util.Optional<List<Dim>> dims(Value v) {
                        return java.util.Optional.empty();
                    }
                });
    }

    /** A {@code private static final} field of the class, shared by key (kernel shapes, epilogues). */
    String staticField(String key, TypeName type, String hint, CodeBlock init) {
        FieldSpec existing = staticByKey.get(key);
        if (existing != null) {
            return existing.name();
        }
        String name = plan.names.newName(hint);
        FieldSpec f = FieldSpec.builder(type, name, Modifier.PRIVATE, Modifier.STATIC, Modifier.FINAL).initializer(init).build();
        staticFields.add(f);
        staticByKey.put(key, f);
        return name;
    }

    /** Adds (once per key) a float array to the resource, held in a field built by {@code wrapper} ({@code $1L}: the array). */
    String weight(String key, float[] data, TypeName type, String hint, String wrapper, Object... args) {
        return plan.addWeight(key, data, type, hint, wrapper, args);
    }

    /** True when the class splits large kernels over a worker pool ({@code threads > 1}). */
    boolean threaded() {
        return plan.options.threads() > 1;
    }

    /**
     * One batch-independent scratch array of exactly {@code length} floats per pool thread ({@code float[][]}),
     * for kernels that split work across threads each with its own scratch.
     */
    String scratchPerThread(int length) {
        return plan.threadScratchFields.computeIfAbsent(length, k -> plan.names.newName("scratch" + k + "PerThread"));
    }

    /**
     * A batch-independent scratch array of exactly {@code length} floats (kernels such as im2col wrap it as a
     * packed matrix of that size); kernels needing the same length share one, since steps run one at a time.
     */
    String scratch(int length) {
        return plan.scratchFields.computeIfAbsent(length, k -> plan.names.newName("scratch" + k));
    }

    /** A {@code private final} field built in the constructor from weight fields, shared by key. */
    String derivedField(String key, TypeName type, String hint, CodeBlock init) {
        return plan.derived.computeIfAbsent(key, k -> new ModelPlan.DerivedField(plan.names.newName(hint), type, init)).name();
    }

    /** The nodes of the graph being written, in the order their code runs. */
    List<Node> graphNodes() {
        return plan.graph.nodes();
    }

    /**
     * The per-instance float array in which the recurrent training forward {@code forward} keeps its gates for its
     * gradient node (made on the first call, grown by the forward's code); the gradient node finds it with
     * {@link #savedGatesOf}.
     */
    String savedGates(Node forward) {
        return plan.savedGates.computeIfAbsent(forward, f -> growableArray("savedGates", FLOATS,
                "Gates and states of every step of " + f.describe() + ", saved for its gradient; grown on demand."));
    }

    /** The array {@link #savedGates} gave {@code forward}, or null when its code did not ask for one. */
    String savedGatesOf(Node forward) {
        return plan.savedGates.get(forward);
    }

    /** Scratch of {@code perBatch * batch} floats, grown with the arena and shared by the kernels that need one. */
    String batchScratch(long perBatch) {
        plan.batchScratchPerBatch = Math.max(plan.batchScratchPerBatch, perBatch);
        return "batchScratch";
    }

    /** The plan of the class being written (for emitters that compile a body as a class of its own). */
    ModelPlan plan() {
        return plan;
    }

    /** A per-instance array field of {@code arrayType}, grown on demand by the code that uses it; doc its Javadoc. */
    String growableArray(String hint, TypeName arrayType, String doc) {
        String name = plan.names.newName(hint);
        plan.growableArrays.put(name, new ModelPlan.GrowableArray(arrayType, doc));
        return name;
    }

    /** The same failure users get for an op without code generation. */
    UnsupportedOpException unsupported(String what) {
        return new UnsupportedOpException(node.describe() + ": " + what + " is not supported by code generation yet");
    }
}
