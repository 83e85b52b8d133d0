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

    private ClassWriter(ModelPlan plan) {
        this.plan = plan;
        this.self = ClassName.get(plan.options.packageName(), plan.options.className());
    }

    static GeneratedModel write(ModelPlan plan) {
        return new ClassWriter(plan).generate();
    }

    private GeneratedModel generate() {
        for (ModelPlan.Step step : plan.steps) {
            stepMethods.add(stepMethod(step));
        }
        TypeSpec.Builder type = TypeSpec.classBuilder(self)
                .addModifiers(Modifier.PUBLIC, Modifier.FINAL)
                .addJavadoc(classDoc());
        type.addField(FieldSpec.builder(ParameterizedTypeName.get(VECTOR_SPECIES, ClassName.get(Float.class)), "SPECIES",
                        Modifier.PRIVATE, Modifier.STATIC, Modifier.FINAL)
                .addJavadoc("The widest float vector of the machine this runs on (AVX2: 8 lanes, AVX-512: 16).\n")
                .initializer("$T.SPECIES_PREFERRED", PointwiseForms.FLOAT_VECTOR).build());
        type.addField(FieldSpec.builder(String.class, "WEIGHTS_RESOURCE", Modifier.PRIVATE, Modifier.STATIC, Modifier.FINAL)
                .initializer("$S", plan.options.weightsResource()).build());
        type.addFields(staticFields);
        plan.weights.values().forEach(w -> type.addField(w.type(), w.field(), Modifier.PRIVATE, Modifier.FINAL));
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
        type.addMethod(constructor());
        type.addMethod(loadFromClasspath());
        type.addMethod(loadFromPath());
        type.addMethod(runAllocating(type));
        type.addMethod(runInto());
        arrayTypesOfRun().forEach(t -> type.addMethod(requireLength(t)));
        type.addMethod(arena());
        if (plan.options.threads() > 1) {
            type.addMethod(MethodSpec.methodBuilder("close").addAnnotation(Override.class).addModifiers(Modifier.PUBLIC)
                    .addJavadoc("Stops this instance's worker threads; the instance cannot run afterwards.\n")
                    .addStatement("workers.close()").build());
        }
        type.addMethods(stepMethods);
        JavaFile file = JavaFile.builder(plan.options.packageName(), type.build())
                .addFileComment("Generated by Kiln from $L. Do not edit: regenerate from the model instead.",
                        plan.options.sourceName())
                .skipJavaLangImports(true)
                .indent("    ")
                .build();
        Map<String, Object> weights = new LinkedHashMap<>();
        plan.weights.values().forEach(w -> weights.put(w.key(), w.data()));
        return new GeneratedModel(List.of(file), plan.options.weightsResource(), WeightsFile.write(weights));
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
        types.forEach(t -> parts.add(t.doc() + " as {@code " + t.array() + "}"));
        return String.join(", ", parts);
    }

    private static String typeDoc(Value v) {
        ElementType t = ElementType.of(v.dtype());
        return t.isFloat32() ? "float32" : t.doc() + " ({@code " + t.array() + "})";
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
            ElementType t = ElementType.of(v.dtype());
            byArray.putIfAbsent(t.element().equals(TypeName.FLOAT) ? "" : t.element().toString(), t);
        }
        return new ArrayList<>(byArray.values());
    }

    private static TypeName arrayOf(Value v) {
        return ElementType.of(v.dtype()).array();
    }

    private String shapeDoc(Value v) {
        String s = v.shape().toString();
        return plan.batchSymbol.isEmpty() ? s : s.replace(plan.batchSymbol, "batch");
    }

    private MethodSpec constructor() {
        MethodSpec.Builder m = MethodSpec.constructorBuilder().addModifiers(Modifier.PRIVATE)
                .addParameter(WEIGHT_MAP, "weights").addParameter(String.class, "source");
        for (ModelPlan.WeightField w : plan.weights.values()) {
            CodeBlock read = CodeBlock.of("$T.$N(weights, $S, $L, source)", WEIGHTS_FILE, w.elementType().requireMethod(),
                    w.key(), w.length());
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
        MethodSpec.Builder m = MethodSpec.methodBuilder("run").addModifiers(Modifier.PUBLIC)
                .addJavadoc("Runs the model on a batch, writing into the caller's output arrays; allocates nothing once "
                        + "the scratch arena has grown to the largest batch seen.\n\n"
                        + "@throws IllegalArgumentException if {@code batch < 1} or an array's length does not match its "
                        + "shape\n");
        plan.inputParams.forEach((v, p) -> m.addParameter(arrayOf(v), p));
        m.addParameter(TypeName.INT, "batch");
        plan.outputParams.forEach((v, p) -> m.addParameter(arrayOf(v), p));
        m.beginControlFlow("if (batch < 1)")
                .addStatement("throw new $T($S + batch)", IllegalArgumentException.class, "batch must be at least 1, got ")
                .endControlFlow();
        plan.inputParams.forEach((v, p) -> m.addStatement("requireLength($S, $N, $L, $S)", p, p, lengthOf(v), shapeDoc(v)));
        plan.outputParams.forEach((v, p) -> m.addStatement("requireLength($S, $N, $L, $S)", p, p, lengthOf(v), shapeDoc(v)));
        m.addStatement("ensureArena(batch)");
        for (ModelPlan.Step step : plan.steps) {
            List<String> args = new ArrayList<>();
            args.add("batch");
            args.addAll(stepParams.get(step));
            m.addStatement("$N($L)", step.method(), String.join(", ", args));
        }
        return m.build();
    }

    private CodeBlock lengthOf(Value v) {
        return new EmitContext(null, plan, staticFields, staticByKey).count(v);
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
        MethodSpec.Builder m = MethodSpec.methodBuilder(step.method()).addModifiers(Modifier.PRIVATE)
                .addJavadoc("$L\n", GraphPrinter.printNode(n).replace("*/", "* /"))
                .addParameter(ParameterSpec.builder(TypeName.INT, "batch").build());
        for (String p : ctx.params()) {
            m.addParameter(arrayOf(plan.paramValue(p)), p);
        }
        stepParams.put(step, ctx.params());
        return m.addCode(body).build();
    }
}
