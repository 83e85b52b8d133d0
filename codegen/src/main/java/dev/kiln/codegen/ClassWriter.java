package dev.kiln.codegen;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.FieldSpec;
import com.palantir.javapoet.JavaFile;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.ParameterSpec;
import com.palantir.javapoet.ParameterizedTypeName;
import com.palantir.javapoet.TypeName;
import com.palantir.javapoet.TypeSpec;
import dev.kiln.ir.GraphPrinter;
import dev.kiln.ir.Node;
import dev.kiln.ir.Value;
import dev.kiln.runtime.WeightsFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.lang.model.element.Modifier;

/**
 * The final emitter: turns a {@link ModelPlan} into the inference class, one method per section (header and
 * Javadoc, fields, loading, {@code run}, input checks, arena, one private method per node), and the weights
 * resource. All Java is built with JavaPoet; identifiers come from the plan's {@code NameAllocator}.
 */
final class ClassWriter {
    private static final TypeName FLOATS = ArrayTypeName.of(TypeName.FLOAT);
    private static final ClassName VECTOR_SPECIES = ClassName.get("jdk.incubator.vector", "VectorSpecies");
    private static final ClassName VECTOR_WIDTH = ClassName.get("dev.kiln.runtime", "VectorWidth");
    private static final ClassName WEIGHTS_FILE = ClassName.get("dev.kiln.runtime", "WeightsFile");
    private static final ClassName WORKER_POOL = ClassName.get("dev.kiln.runtime", "WorkerPool");
    private static final TypeName WEIGHT_MAP = ParameterizedTypeName.get(ClassName.get(Map.class),
            ClassName.get(String.class), com.palantir.javapoet.WildcardTypeName.subtypeOf(Object.class));

    private final ModelPlan plan;
    private final ClassName self;
    private final List<FieldSpec> staticFields = new ArrayList<>();
    private final Map<String, FieldSpec> staticByKey = new HashMap<>();
    private final List<MethodSpec> stepMethods = new ArrayList<>();
    private final Map<ModelPlan.Step, List<String>> stepParams = new LinkedHashMap<>();

    ClassWriter(ModelPlan plan) {
        this(plan, plan.self);
    }

    private ClassWriter(ModelPlan plan, ClassName self) {
        this.plan = plan;
        this.self = self;
    }

    static GeneratedModel write(ModelPlan plan) {
        return write(plan, Map.of());
    }

    /** As {@link #write(ModelPlan)}, with {@code extraWeights} (a trainer's constants) in the weights resource too. */
    static GeneratedModel write(ModelPlan plan, Map<String, Object> extraWeights) {
        return new ClassWriter(plan).generate(extraWeights);
    }

    /**
     * A body of a control-flow node as a {@code private static final} class nested in the model's class: built from
     * the model's weights map (its keys under {@code plan.keyPrefix}), with a {@code run} that trusts its caller (the
     * enclosing class's step, which sizes every array) and no loading or allocating entry points of its own.
     */
    static ModelPlan.NestedClass writeNested(ModelPlan plan) {
        ClassName self = plan.self;
        ClassWriter w = new ClassWriter(plan, self);
        w.generateStepMethods();
        TypeSpec.Builder type = TypeSpec.classBuilder(self)
                .addModifiers(Modifier.PRIVATE, Modifier.STATIC, Modifier.FINAL)
                .addJavadoc("The body {@code $L}, run by the enclosing class once per branch taken or iteration.\n",
                        plan.graph.name());
        w.addSpecies(type);
        type.addFields(w.staticFields);
        plan.weights.values().forEach(x -> type.addField(x.type(), x.field(), Modifier.PRIVATE, Modifier.FINAL));
        w.addScratchFields(type);
        type.addMethod(w.constructor());
        MethodSpec.Builder run = MethodSpec.methodBuilder("run")
                .addJavadoc("Runs the body once; every array is at least as long as its shape needs.\n");
        plan.inputParams.forEach((v, p) -> run.addParameter(arrayOf(v), p));
        run.addParameter(TypeName.INT, "batch");
        plan.outputParams.forEach((v, p) -> run.addParameter(arrayOf(v), p));
        run.addStatement("ensureArena(batch)").addCode(w.stepCalls());
        type.addMethod(run.build());
        type.addMethod(w.arena());
        type.addMethods(w.stepMethods);
        Map<String, Object> weights = new LinkedHashMap<>();
        plan.weights.values().forEach(x -> weights.put(plan.keyPrefix + x.key(), x.data()));
        for (ModelPlan.NestedClass inner : plan.nestedClasses) {
            type.addType(inner.type());
            weights.putAll(inner.weights());
        }
        return new ModelPlan.NestedClass(type.build(), weights);
    }

    private GeneratedModel generate(Map<String, Object> extraWeights) {
        generateStepMethods();
        TypeSpec.Builder type = TypeSpec.classBuilder(self)
                .addModifiers(Modifier.PUBLIC, Modifier.FINAL)
                .addJavadoc(classDoc());
        addSpecies(type);
        type.addField(FieldSpec.builder(String.class, "WEIGHTS_RESOURCE", Modifier.PRIVATE, Modifier.STATIC, Modifier.FINAL)
                .initializer("$S", plan.options.weightsResource()).build());
        type.addFields(staticFields);
        plan.weights.values().forEach(w -> type.addField(w.type(), w.field(), Modifier.PRIVATE, Modifier.FINAL));
        addScratchFields(type);
        if (!plan.fieldInputs.isEmpty()) {
            TrainableNet.addWeightsField(type);
        }
        type.addMethod(constructor());
        type.addMethod(loadFromClasspath());
        type.addMethod(loadFromPath());
        type.addMethod(runAllocating(type));
        type.addMethod(runInto());
        addKernelMethods(type);
        if (!plan.fieldInputs.isEmpty()) {
            TrainableNet.addWeightsAccessor(type);
        }
        plan.nestedClasses.forEach(inner -> type.addType(inner.type()));
        JavaFile file = JavaFile.builder(plan.options.packageName(), type.build())
                .addFileComment("Generated by Kiln from $L. Do not edit: regenerate from the model instead.",
                        plan.options.sourceName())
                .skipJavaLangImports(true)
                .indent("    ")
                .build();
        Map<String, Object> weights = new LinkedHashMap<>();
        plan.weights.values().forEach(w -> weights.put(w.key(), w.data()));
        plan.nestedClasses.forEach(inner -> weights.putAll(inner.weights()));
        extraWeights.forEach((k, v) -> {
            if (weights.putIfAbsent(k, v) != null) {
                throw new IllegalStateException("weights resource key '" + k + "' is taken");
            }
        });
        return new GeneratedModel(List.of(file), plan.options.weightsResource(), WeightsFile.write(weights));
    }

    /** Emits one method per step; static fields and scratch the kernels ask for are collected on the way. */
    void generateStepMethods() {
        for (ModelPlan.Step step : plan.steps) {
            stepMethods.add(stepMethod(step));
        }
    }

    void addSpecies(TypeSpec.Builder type) {
        type.addField(FieldSpec.builder(ParameterizedTypeName.get(VECTOR_SPECIES, ClassName.get(Float.class)), "SPECIES",
                        Modifier.PRIVATE, Modifier.STATIC, Modifier.FINAL)
                .addJavadoc("The runtime kernels' float vector: one species per JVM (8 lanes on AVX2 and AVX-512).\n")
                .initializer("$T.FLOAT", VECTOR_WIDTH).build());
    }

    List<FieldSpec> staticFields() {
        return staticFields;
    }

    /** Fields built from weights, the arena, kernel scratch and the worker pool; for {@code threads > 1} the class closes. */
    void addScratchFields(TypeSpec.Builder type) {
        plan.derived.values().forEach(d -> type.addField(d.type(), d.name(), Modifier.PRIVATE, Modifier.FINAL));
        plan.arenaSizes.forEach((dtype, size) -> {
            if (dtype == dev.kiln.ir.DType.FLOAT32) {
                type.addField(FieldSpec.builder(FLOATS, "arena", Modifier.PRIVATE)
                        .addJavadoc("Scratch for intermediate tensors, laid out by the memory plan; grown on demand.\n")
                        .initializer("new float[0]").build());
            } else {
                ElementType t = ElementType.of(dtype);
                type.addField(FieldSpec.builder(t.array(), ModelPlan.arenaField(dtype), Modifier.PRIVATE)
                        .addJavadoc("Scratch for $L intermediate tensors, laid out by the memory plan; grown on demand.\n",
                                t.doc())
                        .initializer("new $T[0]", t.element()).build());
            }
        });
        addDynamicFields(type);
        plan.growableArrays.forEach((name, array) -> type.addField(FieldSpec.builder(array.type(), name, Modifier.PRIVATE)
                .addJavadoc("$L\n", array.doc())
                .initializer("new $T[0]", ((ArrayTypeName) array.type()).componentType()).build()));
        if (plan.batchScratchPerBatch > 0) {
            type.addField(FieldSpec.builder(FLOATS, "batchScratch", Modifier.PRIVATE)
                    .addJavadoc("Kernel scratch whose size depends on the batch (recurrent gates); grown with the arena.\n")
                    .initializer("new float[0]").build());
        }
        plan.threadScratchFields.forEach((length, name) -> type.addField(FieldSpec.builder(ArrayTypeName.of(FLOATS), name,
                        Modifier.PRIVATE, Modifier.FINAL)
                .addJavadoc("Kernel scratch for each thread of the pool, independent of the batch.\n")
                .initializer("new float[$L][$L]", plan.options.threads(), length).build()));
        if (plan.options.threads() > 1) {
            type.addSuperinterface(AutoCloseable.class);
            type.addField(FieldSpec.builder(WORKER_POOL, "workers", Modifier.PRIVATE, Modifier.FINAL)
                    .addJavadoc("The $L threads (this one included) the large kernels split across; daemon threads.\n",
                            plan.options.threads())
                    .initializer("$T.of($L)", WORKER_POOL, plan.options.threads()).build());
        }
        plan.scratchFields.forEach((length, name) -> type.addField(FieldSpec.builder(FLOATS, name, Modifier.PRIVATE,
                        Modifier.FINAL)
                .addJavadoc("Kernel scratch (e.g. im2col panels), independent of the batch.\n")
                .initializer("new float[$L]", length).build()));
    }

    /** Per intermediate whose dims are known only at run time: its buffer (grown on demand) and its dims this run. */
    private void addDynamicFields(TypeSpec.Builder type) {
        plan.dynamic.ownBuffers.forEach((v, buffer) -> {
            ElementType t = ElementType.of(v.dtype());
            type.addField(FieldSpec.builder(t.array(), buffer, Modifier.PRIVATE)
                    .addJavadoc("{@code $L} $L, whose dims are known only at run time; grown on demand.\n", v.name(), v.type())
                    .initializer("new $T[0]", t.element()).build());
            type.addField(FieldSpec.builder(ArrayTypeName.of(TypeName.LONG), plan.dynamic.dimsFields.get(v),
                            Modifier.PRIVATE, Modifier.FINAL)
                    .addJavadoc("The dims of {@code $L} this run, set by its producer.\n", v.name())
                    .initializer("new long[$L]", v.shape().rank()).build());
        });
    }

    /** {@code requireLength}, {@code ensureArena}, {@code close} when threaded, and the step methods. */
    void addKernelMethods(TypeSpec.Builder type) {
        addKernelMethods(type, true);
    }

    /** As {@link #addKernelMethods(TypeSpec.Builder)}; {@code withClose} false when the class writes its own close. */
    void addKernelMethods(TypeSpec.Builder type, boolean withClose) {
        arrayTypesOfRun().forEach(t -> type.addMethod(requireLength(t)));
        if (plan.inputParams.keySet().stream().anyMatch(v -> v.dtype() == dev.kiln.ir.DType.STRING)) {
            type.addMethod(requireNoNulls());
        }
        type.addMethod(arena());
        if (withClose && plan.options.threads() > 1) {
            type.addMethod(MethodSpec.methodBuilder("close").addAnnotation(Override.class).addModifiers(Modifier.PUBLIC)
                    .addJavadoc("Stops this instance's worker threads; the instance cannot run afterwards.\n")
                    .addStatement("workers.close()").build());
        }
        type.addMethods(stepMethods);
    }

    /** The statements calling every step in order, each with the arrays it reads and writes. */
    CodeBlock stepCalls() {
        CodeBlock.Builder b = CodeBlock.builder();
        for (ModelPlan.Step step : plan.steps) {
            b.addStatement("$N($L)", step.method(), String.join(", ", stepArguments(step)));
        }
        return b.build();
    }

    /** The arguments of one step's method: {@code batch}, then the graph inputs and outputs it touches. */
    List<String> stepArguments(ModelPlan.Step step) {
        List<String> args = new ArrayList<>();
        args.add("batch");
        args.addAll(stepParams.get(step));
        return args;
    }

    private CodeBlock classDoc() {
        CodeBlock.Builder d = CodeBlock.builder();
        d.add("Model {@code $L}, compiled ahead of time by Kiln from {@code $L}.\n\n", plan.graph.name(),
                plan.options.sourceName());
        d.add("<p>Inputs and outputs are row-major $L arrays; {@code batch} is the size of the first dim ($L in the "
                + "model) and may change from call to call.\n<ul>\n", arraysDoc(),
                plan.batchSymbol.isEmpty() ? "none" : plan.batchSymbol);
        plan.inputParams.forEach((v, p) -> d.add("<li>input {@code $L} ($L): $L $L\n", p, v.name(), typeDoc(v), shapeDoc(v)));
        plan.outputParams.forEach((v, p) -> d.add("<li>output {@code $L} ($L): $L $L\n", p, v.name(), typeDoc(v), shapeDoc(v)));
        d.add("</ul>\n\n<p>Not thread-safe: an instance owns scratch buffers. Create one instance per thread with "
                + "{@link #load()}; instances loaded from the class path share one copy of the weights.\n");
        if (plan.options.threads() > 1) {
            d.add("\n<p>Each instance splits its large kernels over $L threads (the caller and $L daemon workers); "
                    + "{@link #close()} stops the workers. Results are identical for any thread count.\n",
                    plan.options.threads(), plan.options.threads() - 1);
        }
        return d.build();
    }

    /** "float" when every input and output is float32, else how each element type is held. */
    private String arraysDoc() {
        List<ElementType> types = new ArrayList<>();
        for (Value v : ioValues()) {
            ElementType t = ElementType.of(v.dtype());
            if (!types.contains(t)) {
                types.add(t);
            }
        }
        if (types.stream().allMatch(ElementType::isFloat32)) {
            return "float";
        }
        List<String> parts = new ArrayList<>();
        types.forEach(t -> parts.add(t.doc() + " as {@code " + t.arrayDoc() + "}"));
        return String.join(", ", parts);
    }

    static String typeDoc(Value v) {
        ElementType t = ElementType.of(v.dtype());
        return t.isFloat32() ? "float32" : t.doc() + " ({@code " + t.arrayDoc() + "})";
    }

    private List<Value> ioValues() {
        List<Value> all = new ArrayList<>(plan.inputParams.keySet());
        all.addAll(plan.outputParams.keySet());
        return all;
    }

    /** The Java array types of run's parameters, float[] first (the order the length checks are declared in). */
    private List<ElementType> arrayTypesOfRun() {
        java.util.TreeMap<String, ElementType> byArray = new java.util.TreeMap<>();
        for (Value v : ioValues()) {
            // Integer inputs a trainer takes as int[] (labels) are checked as int32 arrays.
            boolean asInt = plan.fieldInputs.intInputs().contains(v.name()) && plan.graph.inputs().contains(v);
            ElementType t = ElementType.of(asInt ? dev.kiln.ir.DType.INT32 : v.dtype());
            byArray.putIfAbsent(t.element().equals(TypeName.FLOAT) ? "" : t.element().toString(), t);
        }
        return new ArrayList<>(byArray.values());
    }

    static TypeName arrayOf(Value v) {
        return ElementType.of(v.dtype()).array();
    }

    private String shapeDoc(Value v) {
        String s = v.shape().toString();
        return plan.batchSymbol.isEmpty() ? s : s.replace(plan.batchSymbol, "batch");
    }

    private MethodSpec constructor() {
        MethodSpec.Builder m = MethodSpec.constructorBuilder()
                .addParameter(WEIGHT_MAP, "weights").addParameter(String.class, "source");
        if (plan.fieldInputs.isEmpty()) {
            m.addModifiers(Modifier.PRIVATE);
        } else {
            // The trainer beside this class builds instances on its own parameter arrays.
            m.addJavadoc("Reads every weight from {@code weights}; {@code source} names it in errors.\n");
            m.addStatement("this.$N = weights", TrainableNet.WEIGHTS_FIELD);
        }
        for (ModelPlan.WeightField w : plan.weights.values()) {
            CodeBlock read = CodeBlock.of("$T.$N(weights, $S, $L, source)", WEIGHTS_FILE, w.elementType().requireMethod(),
                    plan.keyPrefix + w.key(), w.length());
            Object[] args = new Object[w.wrapperArgs().length + 1];
            args[0] = read;
            System.arraycopy(w.wrapperArgs(), 0, args, 1, w.wrapperArgs().length);
            m.addStatement("$N = $L", w.field(), CodeBlock.of(w.wrapper(), args));
        }
        plan.derived.values().forEach(d -> m.addStatement("$N = $L", d.name(), d.init()));
        return m.build();
    }

    private MethodSpec loadFromClasspath() {
        return MethodSpec.methodBuilder("load").addModifiers(Modifier.PUBLIC, Modifier.STATIC).returns(self)
                .addJavadoc("A new instance with the weights of the resource {@code $L} beside this class (read once, "
                        + "then shared by every instance).\n", plan.options.weightsResource())
                .addStatement("return new $T($T.readResourceShared($T.class, WEIGHTS_RESOURCE), WEIGHTS_RESOURCE)", self,
                        WEIGHTS_FILE, self)
                .build();
    }

    private MethodSpec loadFromPath() {
        return MethodSpec.methodBuilder("load").addModifiers(Modifier.PUBLIC, Modifier.STATIC).returns(self)
                .addParameter(Path.class, "weightsFile")
                .addJavadoc("A new instance with weights read from {@code weightsFile} (e.g. saved after training).\n")
                .addStatement("return new $T($T.readAll(weightsFile), weightsFile.toString())", self, WEIGHTS_FILE)
                .build();
    }

    private MethodSpec runAllocating(TypeSpec.Builder type) {
        MethodSpec.Builder m = MethodSpec.methodBuilder("run").addModifiers(Modifier.PUBLIC);
        plan.inputParams.forEach((v, p) -> m.addParameter(arrayOf(v), p));
        m.addParameter(TypeName.INT, "batch");
        List<String> args = new ArrayList<>(plan.inputParams.values());
        args.add("batch");
        plan.outputParams.forEach((v, p) -> {
            m.addStatement("$T $N = new $T[$L]", arrayOf(v), p, ElementType.of(v.dtype()).element(), lengthOf(v));
            args.add(p);
        });
        m.addStatement("run($L)", String.join(", ", args));
        if (plan.outputParams.size() == 1) {
            String out = plan.outputParams.values().iterator().next();
            return m.returns(arrayOf(plan.outputParams.keySet().iterator().next())).addJavadoc("Runs the model on a batch and returns {@code $L}, a new array.\n", out)
                    .addStatement("return $N", out).build();
        }
        // Several outputs come back as a record with one named component per output.
        ClassName outputs = self.nestedClass("Outputs");
        TypeSpec.Builder record = TypeSpec.recordBuilder(outputs).addModifiers(Modifier.PUBLIC)
                .addJavadoc("The outputs of one {@code run}, in graph order.\n");
        MethodSpec.Builder ctor = MethodSpec.constructorBuilder();
        plan.outputParams.forEach((v, p) -> ctor.addParameter(arrayOf(v), p));
        record.recordConstructor(ctor.build());
        type.addType(record.build());
        return m.returns(outputs).addJavadoc("Runs the model on a batch and returns its outputs in new arrays.\n")
                .addStatement("return new $T($L)", outputs, String.join(", ", plan.outputParams.values())).build();
    }

    private MethodSpec runInto() {
        boolean strings = plan.inputParams.keySet().stream().anyMatch(v -> v.dtype() == dev.kiln.ir.DType.STRING);
        MethodSpec.Builder m = MethodSpec.methodBuilder("run").addModifiers(Modifier.PUBLIC)
                .addJavadoc("Runs the model on a batch, writing into the caller's output arrays; allocates nothing once "
                        + "the scratch arena has grown to the largest batch seen.\n\n"
                        + "@throws IllegalArgumentException if {@code batch < 1}$L an array's length does not match its "
                        + "shape$L\n", strings ? "," : " or", strings ? " or a string input holds a null" : "");
        plan.inputParams.forEach((v, p) -> m.addParameter(arrayOf(v), p));
        m.addParameter(TypeName.INT, "batch");
        plan.outputParams.forEach((v, p) -> m.addParameter(arrayOf(v), p));
        m.beginControlFlow("if (batch < 1)")
                .addStatement("throw new $T($S + batch)", IllegalArgumentException.class, "batch must be at least 1, got ")
                .endControlFlow();
        plan.inputParams.forEach((v, p) -> m.addStatement("requireLength($S, $N, $L, $S)", p, p, lengthOf(v), shapeDoc(v)));
        plan.outputParams.forEach((v, p) -> m.addStatement("requireLength($S, $N, $L, $S)", p, p, lengthOf(v), shapeDoc(v)));
        plan.inputParams.forEach((v, p) -> {
            if (v.dtype() == dev.kiln.ir.DType.STRING) {
                m.addStatement("requireNoNulls($S, $N)", p, p);
            }
        });
        m.addStatement("ensureArena(batch)");
        return m.addCode(stepCalls()).build();
    }

    CodeBlock lengthOf(Value v) {
        return new EmitContext(null, plan, staticFields, staticByKey).count(v);
    }

    /** Where {@code v} lives, as the step methods reach it. */
    TensorRef refOf(Value v) {
        return new EmitContext(null, plan, staticFields, staticByKey).ref(v);
    }

    /** The length check of run's arrays of one Java type (float16 and bfloat16 arrays share float32's). */
    private static MethodSpec requireLength(ElementType t) {
        String held = t.element().equals(TypeName.FLOAT) ? "float32" : t.element().equals(TypeName.INT) ? "int32"
                : t.element().equals(TypeName.LONG) ? "int64" : t.doc();
        return MethodSpec.methodBuilder("requireLength").addModifiers(Modifier.PRIVATE, Modifier.STATIC)
                .addParameter(String.class, "name").addParameter(t.array(), "array").addParameter(TypeName.INT, "expected")
                .addParameter(String.class, "shape")
                .beginControlFlow("if (array.length != expected)")
                .addStatement("throw new $T(name + $S + shape + $S + expected + $S + array.length)",
                        IllegalArgumentException.class, " must hold " + held + " ", " = ", " " + t.javaPlural() + ", got ")
                .endControlFlow()
                .build();
    }

    /** Strings are compared with {@code equals}: a null element is refused up front, naming where it is. */
    private static MethodSpec requireNoNulls() {
        return MethodSpec.methodBuilder("requireNoNulls").addModifiers(Modifier.PRIVATE, Modifier.STATIC)
                .addParameter(String.class, "name").addParameter(ArrayTypeName.of(String.class), "array")
                .beginControlFlow("for (int i = 0; i < array.length; i++)")
                .beginControlFlow("if (array[i] == null)")
                .addStatement("throw new $T(name + $S + i + $S)", IllegalArgumentException.class, "[",
                        "] is null; string tensors hold no nulls (use \"\" for an empty string)")
                .endControlFlow()
                .endControlFlow()
                .build();
    }

    private MethodSpec arena() {
        MethodSpec.Builder m = MethodSpec.methodBuilder("ensureArena").addModifiers(Modifier.PRIVATE)
                .addParameter(TypeName.INT, "batch")
                .addStatement("int needed = $L", EmitContext.linear(plan.arenaSizes.get(dev.kiln.ir.DType.FLOAT32)))
                .beginControlFlow("if (arena.length < needed)")
                .addStatement("arena = new float[needed]")
                .endControlFlow();
        plan.arenaSizes.forEach((dtype, size) -> {
            if (dtype != dev.kiln.ir.DType.FLOAT32) {
                String field = ModelPlan.arenaField(dtype);
                m.beginControlFlow("if ($N.length < $L)", field, EmitContext.linear(size))
                        .addStatement("$N = new $T[$L]", field, ElementType.of(dtype).element(), EmitContext.linear(size))
                        .endControlFlow();
            }
        });
        if (plan.batchScratchPerBatch > 0) {
            m.beginControlFlow("if (batchScratch.length < $L * batch)", plan.batchScratchPerBatch)
                    .addStatement("batchScratch = new float[$L * batch]", plan.batchScratchPerBatch)
                    .endControlFlow();
        }
        return m.build();
    }

    private MethodSpec stepMethod(ModelPlan.Step step) {
        Node n = step.node();
        EmitContext ctx = new EmitContext(n, plan, staticFields, staticByKey);
        CodeBlock body = Emitters.forNode(n).emit(ctx);
        CodeBlock prologue = ctx.prologue();
        MethodSpec.Builder m = MethodSpec.methodBuilder(step.method()).addModifiers(Modifier.PRIVATE)
                .addJavadoc("$L\n", GraphPrinter.printNodeSummary(n).replace("*/", "* /"))
                .addParameter(ParameterSpec.builder(TypeName.INT, "batch").build());
        for (String p : ctx.params()) {
            m.addParameter(plan.paramType(p), p);
        }
        stepParams.put(step, ctx.params());
        return m.addCode(prologue).addCode(body).build();
    }
}
