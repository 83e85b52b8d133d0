package dev.kiln.codegen;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.FieldSpec;
import com.palantir.javapoet.JavaFile;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.ParameterizedTypeName;
import com.palantir.javapoet.TypeName;
import com.palantir.javapoet.TypeSpec;
import dev.kiln.ir.GraphPrinter;
import dev.kiln.ir.Value;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.lang.model.element.Modifier;

/**
 * The final emitter for training: the inference class (through {@link ClassWriter}, compiled to keep raw
 * parameters) and the trainer class beside it. The trainer is a generated model whose graph is the training
 * graph: its kernels and step methods come from the same {@link ClassWriter} and emitter registry, its
 * parameters and state are fields copied from the inference instance, its gradients and next state are
 * fields the step methods write, and {@code step} ends with the runtime optimizer's update. One method per
 * section of the API.
 */
final class TrainerWriter {
    static final ClassName OPTIMIZER = ClassName.get("dev.kiln.runtime.train", "Optimizer");
    static final ClassName OPTIMIZER_STATE = ClassName.get("dev.kiln.runtime.train", "OptimizerState");
    private static final ClassName NON_FINITE = ClassName.get("dev.kiln.runtime.train", "NonFinite");
    private static final ClassName WEIGHTS_FILE = ClassName.get("dev.kiln.runtime", "WeightsFile");
    private static final TypeName FLOATS = ArrayTypeName.of(TypeName.FLOAT);
    private static final TypeName INTS = ArrayTypeName.of(TypeName.INT);
    private static final TypeName WEIGHT_MAP = ParameterizedTypeName.get(ClassName.get(Map.class),
            ClassName.get(String.class), com.palantir.javapoet.WildcardTypeName.subtypeOf(Object.class));
    /** The arrays the inference class reads, by name: the trainer's own parameters once created. */
    private static final TypeName NET_WEIGHTS = ParameterizedTypeName.get(ClassName.get(Map.class),
            ClassName.get(String.class), ClassName.get(Object.class));

    private final TrainerPlan plan;
    private final ModelPlan model;
    private final ClassWriter kernels;
    private final ClassName self;
    private final ClassName net;

    private TrainerWriter(TrainerPlan plan) {
        this.plan = plan;
        this.model = plan.trainer;
        this.kernels = new ClassWriter(plan.trainer);
        this.self = ClassName.get(model.options.packageName(), plan.trainerClass());
        this.net = ClassName.get(model.options.packageName(), plan.netClass);
    }

    /**
     * The inference class, its weights resource (which also holds the trainer's constants that are not written
     * into its source, under {@code <Trainer>/}), and the trainer class.
     */
    static GeneratedModel write(TrainerPlan plan) {
        TrainerWriter writer = new TrainerWriter(plan);
        JavaFile trainer = writer.trainerFile();
        Map<String, Object> constants = new LinkedHashMap<>();
        writer.model.weights.values().stream().filter(writer::inResource)
                .forEach(w -> constants.put(writer.resourceKey(w), w.data()));
        GeneratedModel inference = ClassWriter.write(plan.net, constants);
        List<JavaFile> sources = new ArrayList<>(inference.sources());
        sources.add(trainer);
        return new GeneratedModel(sources, inference.weightsResource(), inference.weights());
    }

    private JavaFile trainerFile() {
        kernels.generateStepMethods();
        TypeSpec.Builder type = TypeSpec.classBuilder(self).addModifiers(Modifier.PUBLIC, Modifier.FINAL)
                .addJavadoc(classDoc());
        kernels.addSpecies(type);
        type.addField(FieldSpec.builder(ParameterizedTypeName.get(ClassName.get(List.class), ClassName.get(String.class)),
                        "PARAMETER_NAMES", Modifier.PRIVATE, Modifier.STATIC, Modifier.FINAL)
                .initializer("$T.of($L)", List.class, CodeBlock.join(plan.parameters.stream()
                        .map(p -> CodeBlock.of("$S", p.name())).toList(), ", "))
                .build());
        type.addFields(kernels.staticFields());
        addStateFields(type);
        kernels.addScratchFields(type);
        type.addMethod(constructor());
        type.addMethod(create());
        plan.defaultOptimizer.ifPresent(spec -> {
            type.addField(FieldSpec.builder(String.class, "DEFAULT_OPTIMIZER", Modifier.PUBLIC, Modifier.STATIC,
                    Modifier.FINAL).addJavadoc("The optimizer the model was compiled with, as a SPEC.\n")
                    .initializer("$S", spec).build());
            type.addMethod(MethodSpec.methodBuilder("create").addModifiers(Modifier.PUBLIC, Modifier.STATIC).returns(self)
                    .addParameter(net, "net")
                    .addJavadoc("A trainer starting from {@code net}'s weights with the optimizer the model was compiled "
                            + "with, {@code $L}.\n", spec)
                    .addStatement("return create(net, $T.parse(DEFAULT_OPTIMIZER))", OPTIMIZER).build());
        });
        type.addMethod(step());
        type.addMethod(MethodSpec.methodBuilder("train").addModifiers(Modifier.PUBLIC)
                .addJavadoc("Training mode (the default): {@link #step} runs the training forward pass.\n")
                .addStatement("training = true").build());
        type.addMethod(MethodSpec.methodBuilder("eval").addModifiers(Modifier.PUBLIC)
                .addJavadoc("Evaluation mode: {@link #step} is refused until {@link #train()}; {@link #run} works in "
                        + "either mode.\n")
                .addStatement("training = false").build());
        type.addMethod(MethodSpec.methodBuilder("isTraining").addModifiers(Modifier.PUBLIC).returns(TypeName.BOOLEAN)
                .addStatement("return training").build());
        type.addMethod(run());
        type.addMethod(MethodSpec.methodBuilder("parameterNames").addModifiers(Modifier.PUBLIC)
                .returns(ParameterizedTypeName.get(ClassName.get(List.class), ClassName.get(String.class)))
                .addJavadoc("The trainable parameters' ONNX names, in the order the optimizer sees them.\n")
                .addStatement("return PARAMETER_NAMES").build());
        type.addMethod(byName("gradient", "gradients", "The gradient of parameter {@code name} computed by the last "
                + "{@link #step} (zeros before the first), as a new array.\n"));
        type.addMethod(byName("parameter", "parameters", "The current value of parameter {@code name}, as a new "
                + "array.\n"));
        type.addMethod(saveWeights());
        type.addMethod(firstNonFinite());
        type.addMethod(nonFiniteAt());
        type.addMethod(nonFiniteArray());
        if (plan.integerLabels) {
            type.addMethod(requireLabels());
        }
        if (model.options.threads() > 1) {
            type.addMethod(MethodSpec.methodBuilder("close").addAnnotation(Override.class).addModifiers(Modifier.PUBLIC)
                    .addJavadoc("Stops this trainer's worker threads and those of its evaluation instance.\n")
                    .addStatement("workers.close()")
                    .addStatement("evalNet.close()").build());
        }
        kernels.addKernelMethods(type, false);
        return JavaFile.builder(model.options.packageName(), type.build())
                .addFileComment("Generated by Kiln from $L. Do not edit: regenerate from the model instead.",
                        model.options.sourceName())
                .skipJavaLangImports(true)
                .indent("    ")
                .build();
    }

    private CodeBlock classDoc() {
        CodeBlock.Builder d = CodeBlock.builder();
        d.add("Trains {@link $T} (model {@code $L}, from {@code $L}): each {@link #step} runs the forward pass in "
                + "training mode, the loss, the backward pass and the optimizer's update, all generated ahead of time.\n\n",
                net, model.graph.name(), model.options.sourceName());
        d.add("<p>{@code batch} is the size of the first dim and may change from call to call.\n<ul>\n");
        for (Value v : plan.dataInputs) {
            d.add("<li>input {@code $L} ($L): $L $L\n", model.inputParams.get(v), v.name(), ClassWriter.typeDoc(v),
                    shapeDoc(v));
        }
        d.add("<li>{@code $L}: $L\n", model.inputParams.get(plan.labels), plan.integerLabels
                ? CodeBlock.of("class indices in [0, $L), shape $L", plan.classes, shapeDoc(plan.labels))
                : CodeBlock.of("float32 targets $L", shapeDoc(plan.labels)));
        d.add("</ul>\nParameters, in optimizer order: ");
        d.add(CodeBlock.join(plan.parameters.stream().map(p -> CodeBlock.of("{@code $L} $L", p.name(), p.input().shape()))
                .toList(), ", "));
        d.add(".\n");
        if (!plan.state.isEmpty()) {
            d.add("State updated by training steps: $L.\n", String.join(", ", plan.state.stream().map(TrainerPlan.State::name)
                    .toList()));
        }
        if (!plan.frozen.isEmpty()) {
            d.add("Frozen (read from the weights, never trained): $L.\n", String.join(", ", plan.frozen.stream()
                    .map(TrainerPlan.Frozen::name).toList()));
        }
        d.add("\n<p>Not thread-safe: a trainer owns its parameters, gradients and scratch buffers.\n");
        return d.build();
    }

    private String shapeDoc(Value v) {
        String s = v.shape().toString();
        return model.batchSymbol.isEmpty() ? s : s.replace(model.batchSymbol, "batch");
    }

    /** Parameter and state arrays (weight fields), gradients and next state (output fields), and bookkeeping. */
    private void addStateFields(TypeSpec.Builder type) {
        model.weights.values().forEach(w -> type.addField(FieldSpec.builder(w.type(), w.field(), Modifier.PRIVATE,
                Modifier.FINAL).addJavadoc(fieldDoc(w)).build()));
        model.outputParams.forEach((v, field) -> type.addField(FieldSpec.builder(FLOATS, field, Modifier.PRIVATE,
                        Modifier.FINAL).addJavadoc("Output {@code $L} of the last step.\n", v.name())
                .initializer("new float[$L]", kernels.lengthOf(v)).build()));
        type.addField(FieldSpec.builder(ArrayTypeName.of(FLOATS), "parameters", Modifier.PRIVATE, Modifier.FINAL)
                .addJavadoc("The parameter arrays in {@link #parameterNames()} order, as the optimizer updates them.\n")
                .build());
        type.addField(FieldSpec.builder(ArrayTypeName.of(FLOATS), "gradients", Modifier.PRIVATE, Modifier.FINAL)
                .addJavadoc("The gradient arrays, parallel to {@link #parameters}.\n").build());
        type.addField(NET_WEIGHTS, "netWeights", Modifier.PRIVATE, Modifier.FINAL);
        type.addField(OPTIMIZER, "optimizer", Modifier.PRIVATE, Modifier.FINAL);
        type.addField(OPTIMIZER_STATE, "optimizerState", Modifier.PRIVATE, Modifier.FINAL);
        type.addField(FieldSpec.builder(net, "evalNet", Modifier.PRIVATE, Modifier.FINAL)
                .addJavadoc("The inference class running on this trainer's parameter arrays (always current).\n").build());
        type.addField(FieldSpec.builder(TypeName.INT, "stepCount", Modifier.PRIVATE)
                .addJavadoc("Steps taken; the optimizer's step number is one more.\n").build());
        type.addField(FieldSpec.builder(TypeName.BOOLEAN, "training", Modifier.PRIVATE).initializer("true").build());
        if (plan.hasDropout()) {
            type.addField(FieldSpec.builder(TypeName.LONG, DropoutTrainingEmitter.SEED_FIELD, Modifier.PRIVATE,
                            Modifier.FINAL)
                    .addJavadoc("Seeds the dropout masks: step k's come from this, k and the node (see the training spec).\n")
                    .initializer("$LL", plan.dropoutSeed).build());
        }
    }

    /**
     * Small float constants of the training graph read as arrays (e.g. a loss gradient's scale) are written into
     * the source; the others (a causal mask, gather indices, packed weights) are read from the inference class's
     * weights resource.
     */
    private static final int MAX_INLINE_CONSTANT = 256;

    private boolean inResource(ModelPlan.WeightField w) {
        return !isField(w) && !(w.data() instanceof float[] && w.length() <= MAX_INLINE_CONSTANT
                && w.wrapper().equals("$1L"));
    }

    private String resourceKey(ModelPlan.WeightField w) {
        return plan.trainerClass() + "/" + w.key();
    }

    private boolean isField(ModelPlan.WeightField w) {
        return model.fieldInputs.values().containsKey(w.key());
    }

    private boolean isFrozen(String key) {
        return plan.frozen.stream().anyMatch(f -> f.name().equals(key));
    }

    private CodeBlock fieldDoc(ModelPlan.WeightField w) {
        String key = w.key();
        if (!isField(w)) {
            return CodeBlock.of("Constant $L of the training graph.\n", key);
        }
        if (isFrozen(key)) {
            return CodeBlock.of("Frozen parameter $L: read, never trained.\n", key);
        }
        return CodeBlock.of("$L $L, updated in place.\n", plan.state.stream().anyMatch(s -> s.name().equals(key))
                ? "State" : "Parameter", key);
    }

    private MethodSpec constructor() {
        MethodSpec.Builder m = MethodSpec.constructorBuilder().addModifiers(Modifier.PRIVATE)
                .addParameter(WEIGHT_MAP, "weights").addParameter(OPTIMIZER, "optimizer")
                .addStatement("this.optimizer = optimizer")
                .addStatement("this.netWeights = new $T<>(weights)", LinkedHashMap.class)
                .addStatement("String source = $S", plan.netClass + " instance");
        if (model.weights.values().stream().anyMatch(this::inResource)) {
            m.addStatement("$T<String, Object> constants = $T.readResourceShared($T.class, $S)", Map.class, WEIGHTS_FILE,
                    net, plan.net.options.weightsResource());
        }
        // Copies, so training never writes the weights other instances of the inference class share.
        for (ModelPlan.WeightField w : model.weights.values()) {
            if (inResource(w)) {
                Object[] args = new Object[w.wrapperArgs().length + 1];
                args[0] = CodeBlock.of("$T.$N(constants, $S, $L, $S)", WEIGHTS_FILE, w.elementType().requireMethod(),
                        resourceKey(w), w.length(), plan.net.options.weightsResource());
                System.arraycopy(w.wrapperArgs(), 0, args, 1, w.wrapperArgs().length);
                m.addStatement("$N = $L", w.field(), CodeBlock.of(w.wrapper(), args));
                continue;
            }
            if (!isField(w)) {
                List<CodeBlock> values = new ArrayList<>();
                for (float f : (float[]) w.data()) {
                    values.add(ElementwiseEmitter.literal(f));
                }
                m.addStatement("$N = new float[] {$L}", w.field(), CodeBlock.join(values, ", "));
                continue;
            }
            // Frozen parameters are never written: shared with the inference instance, not copied.
            m.addStatement("$N = $T.$N(weights, $S, $L, source)$L", w.field(), WEIGHTS_FILE,
                    w.elementType().requireMethod(), w.key(), w.length(), isFrozen(w.key()) ? "" : ".clone()");
            m.addStatement("netWeights.put($S, $N)", w.key(), w.field());
        }
        model.derived.values().forEach(d -> m.addStatement("$N = $L", d.name(), d.init()));
        List<CodeBlock> params = new ArrayList<>();
        List<CodeBlock> grads = new ArrayList<>();
        List<CodeBlock> sizes = new ArrayList<>();
        for (TrainerPlan.Parameter p : plan.parameters) {
            params.add(CodeBlock.of("$N", model.rawWeight(p.name())));
            grads.add(CodeBlock.of("$N", model.outputParams.get(p.gradient())));
            sizes.add(kernels.lengthOf(p.gradient()));
        }
        m.addStatement("this.parameters = new float[][] {$L}", CodeBlock.join(params, ", "));
        m.addStatement("this.gradients = new float[][] {$L}", CodeBlock.join(grads, ", "));
        m.addStatement("this.optimizerState = optimizer.state(new int[] {$L})", CodeBlock.join(sizes, ", "));
        m.addStatement("this.evalNet = new $T(netWeights, $S)", net, plan.trainerClass() + " parameters");
        return m.build();
    }

    private MethodSpec create() {
        return MethodSpec.methodBuilder("create").addModifiers(Modifier.PUBLIC, Modifier.STATIC).returns(self)
                .addParameter(net, "net").addParameter(OPTIMIZER, "optimizer")
                .addJavadoc("A trainer starting from {@code net}'s weights (copied: {@code net} is not changed), updating "
                        + "them with {@code optimizer}.\n")
                .addStatement("$T.requireNonNull(net, $S)", java.util.Objects.class, "net")
                .addStatement("$T.requireNonNull(optimizer, $S)", java.util.Objects.class, "optimizer")
                .addStatement("return new $T(net.$N(), optimizer)", self, TrainableNet.WEIGHTS_FIELD)
                .build();
    }

    private List<String> stepParams() {
        List<String> names = new ArrayList<>();
        plan.dataInputs.forEach(v -> names.add(model.inputParams.get(v)));
        names.add(model.inputParams.get(plan.labels));
        return names;
    }

    private MethodSpec step() {
        MethodSpec.Builder m = MethodSpec.methodBuilder("step").addModifiers(Modifier.PUBLIC).returns(TypeName.FLOAT)
                .addJavadoc("One training step on a batch: forward pass in training mode, loss, backward pass, then the "
                        + "optimizer's update of every parameter.\n\n@return the loss before the update\n"
                        + "@throws IllegalArgumentException if {@code batch < 1}, an array's length does not match its "
                        + "shape$L\n@throws IllegalStateException in evaluation mode, or when the loss or a gradient is "
                        + "not finite (naming the step and the first non-finite tensor); parameters are then unchanged\n",
                        plan.integerLabels ? " or a label is outside [0, " + plan.classes + ")" : "");
        for (Value v : plan.dataInputs) {
            m.addParameter(ClassWriter.arrayOf(v), model.inputParams.get(v));
        }
        String labels = model.inputParams.get(plan.labels);
        m.addParameter(plan.integerLabels ? INTS : FLOATS, labels);
        m.addParameter(TypeName.INT, "batch");
        m.beginControlFlow("if (!training)")
                .addStatement("throw new $T($S)", IllegalStateException.class,
                        "step() trains in training mode; call train() after eval()")
                .endControlFlow();
        m.beginControlFlow("if (batch < 1)")
                .addStatement("throw new $T($S + batch)", IllegalArgumentException.class, "batch must be at least 1, got ")
                .endControlFlow();
        for (Value v : plan.dataInputs) {
            String p = model.inputParams.get(v);
            m.addStatement("requireLength($S, $N, $L, $S)", p, p, kernels.lengthOf(v), shapeDoc(v));
        }
        if (plan.integerLabels) {
            m.addStatement("requireLabels($N, $L)", labels, kernels.lengthOf(plan.labels));
        } else {
            m.addStatement("requireLength($S, $N, $L, $S)", labels, labels, kernels.lengthOf(plan.labels),
                    shapeDoc(plan.labels));
        }
        m.addStatement("ensureArena(batch)");
        m.addCode(kernels.stepCalls());
        String loss = model.outputParams.get(plan.loss);
        m.addStatement("float value = $N[0]", loss);
        m.addStatement("int bad = $T.isFinite(value) ? nonFiniteArray(gradients) : -1", Float.class);
        m.beginControlFlow("if (!$T.isFinite(value) || bad >= 0)", Float.class)
                .addStatement("throw new $T($S + (stepCount + 1) + $S + value + $S + firstNonFinite($L, batch))",
                        IllegalStateException.class, "training step ", ": loss is ", ", first non-finite tensor: ",
                        String.join(", ", stepParams()))
                .endControlFlow();
        for (TrainerPlan.State s : plan.state) {
            String next = model.outputParams.get(s.next());
            m.addStatement("$T.arraycopy($N, 0, $N, 0, $N.length)", System.class, next,
                    model.rawWeight(s.name()), next);
        }
        m.addStatement("stepCount++");
        if (model.options.threads() > 1) {
            m.addStatement("optimizer.update(stepCount, parameters, null, gradients, null, optimizerState, workers)");
        } else {
            m.addStatement("optimizer.update(stepCount, parameters, gradients, optimizerState)");
        }
        return m.addStatement("return value").build();
    }

    private MethodSpec run() {
        MethodSpec.Builder m = MethodSpec.methodBuilder("run").addModifiers(Modifier.PUBLIC)
                .addJavadoc("The model's output on a batch in evaluation mode with the current parameters (what "
                        + "{@link $T#run} returns after {@link #saveWeights} and {@code load}), as a new array.\n", net);
        List<String> args = new ArrayList<>();
        for (Value v : plan.net.inputParams.keySet()) {
            String p = plan.net.inputParams.get(v);
            m.addParameter(ClassWriter.arrayOf(v), p);
            args.add(p);
        }
        args.add("batch");
        m.addParameter(TypeName.INT, "batch");
        TypeName result = plan.net.outputParams.size() == 1 ? FLOATS : net.nestedClass("Outputs");
        return m.returns(result).addStatement("return evalNet.run($L)", String.join(", ", args)).build();
    }

    private MethodSpec byName(String method, String arrays, String doc) {
        return MethodSpec.methodBuilder(method).addModifiers(Modifier.PUBLIC).returns(FLOATS)
                .addParameter(String.class, "name").addJavadoc(doc)
                .addStatement("int i = PARAMETER_NAMES.indexOf(name)")
                .beginControlFlow("if (i < 0)")
                .addStatement("throw new $T($S + name + $S + PARAMETER_NAMES)", IllegalArgumentException.class,
                        "no trainable parameter '", "'; parameters: ")
                .endControlFlow()
                .addStatement("return $N[i].clone()", arrays)
                .build();
    }

    private MethodSpec saveWeights() {
        return MethodSpec.methodBuilder("saveWeights").addModifiers(Modifier.PUBLIC).addParameter(Path.class, "file")
                .addException(IOException.class)
                .addJavadoc("Writes the current weights (every array {@link $T} reads, parameters and state under their "
                        + "ONNX names) to {@code file}, atomically, for {@code $T.load(file)}.\n", net, net)
                .addStatement("$T.write(file, netWeights)", WEIGHTS_FILE)
                .build();
    }

    /**
     * Re-runs the step kernel by kernel after a non-finite loss, checking each tensor as soon as it is written
     * (later kernels may reuse its arena space): the inputs and parameters first, then every node's outputs.
     */
    private MethodSpec firstNonFinite() {
        MethodSpec.Builder m = MethodSpec.methodBuilder("firstNonFinite").addModifiers(Modifier.PRIVATE)
                .returns(String.class)
                .addJavadoc("Names the first tensor holding NaN or an infinity, recomputing the step kernel by kernel.\n");
        for (Value v : plan.dataInputs) {
            m.addParameter(ClassWriter.arrayOf(v), model.inputParams.get(v));
        }
        m.addParameter(plan.integerLabels ? INTS : FLOATS, model.inputParams.get(plan.labels));
        m.addParameter(TypeName.INT, "batch");
        List<Value> sources = new ArrayList<>(plan.dataInputs.stream().filter(v -> v.dtype() == dev.kiln.ir.DType.FLOAT32)
                .toList());
        if (!plan.integerLabels) {
            sources.add(plan.labels);
        }
        plan.parameters.forEach(p -> sources.add(p.input()));
        plan.state.forEach(s -> sources.add(s.input()));
        plan.frozen.forEach(f -> sources.add(f.input()));
        for (Value v : sources) {
            check(m, v, "input " + v.name());
        }
        for (ModelPlan.Step step : model.steps) {
            m.addStatement("$N($L)", step.method(), String.join(", ", kernels.stepArguments(step)));
            for (Value o : step.node().outputs()) {
                // Only floating tensors can hold NaN or an infinity (a max's bool mask, a shape's int64 cannot).
                if (!o.isAbsent() && o.dtype() == dev.kiln.ir.DType.FLOAT32) {
                    check(m, o, "'" + o.name() + "' from " + GraphPrinter.printNode(step.node()).strip());
                }
            }
        }
        return m.addStatement("return $S", "none (the loss or a gradient was not finite only on the first run)").build();
    }

    private void check(MethodSpec.Builder m, Value v, String what) {
        TensorRef r = kernels.refOf(v);
        m.beginControlFlow("if (nonFiniteAt($L, $L, $L) >= 0)", r.array(), r.offset(), kernels.lengthOf(v))
                .addStatement("return $S", what)
                .endControlFlow();
    }

    private MethodSpec nonFiniteAt() {
        return MethodSpec.methodBuilder("nonFiniteAt").addModifiers(Modifier.PRIVATE, Modifier.STATIC)
                .returns(TypeName.INT).addParameter(FLOATS, "a").addParameter(TypeName.INT, "from")
                .addParameter(TypeName.INT, "length")
                .addJavadoc("The index of the first NaN or infinity in {@code a[from, from + length)}, or -1.\n")
                .addStatement("return $T.firstIndex(a, from, length)", NON_FINITE)
                .build();
    }

    private MethodSpec nonFiniteArray() {
        return MethodSpec.methodBuilder("nonFiniteArray").addModifiers(Modifier.PRIVATE, Modifier.STATIC)
                .returns(TypeName.INT).addParameter(ArrayTypeName.of(FLOATS), "arrays")
                .addJavadoc("The index of the first array holding a NaN or an infinity, or -1.\n")
                .beginControlFlow("for (int i = 0; i < arrays.length; i++)")
                .beginControlFlow("if (nonFiniteAt(arrays[i], 0, arrays[i].length) >= 0)")
                .addStatement("return i")
                .endControlFlow()
                .endControlFlow()
                .addStatement("return -1")
                .build();
    }

    private MethodSpec requireLabels() {
        return MethodSpec.methodBuilder("requireLabels").addModifiers(Modifier.PRIVATE, Modifier.STATIC)
                .addParameter(INTS, "labels").addParameter(TypeName.INT, "expected")
                .beginControlFlow("if (labels.length != expected)")
                .addStatement("throw new $T($S + expected + $S + labels.length)", IllegalArgumentException.class,
                        "labels must hold one class index per sample, " + shapeDoc(plan.labels) + " = ", ", got ")
                .endControlFlow()
                .beginControlFlow("for (int i = 0; i < labels.length; i++)")
                .beginControlFlow("if (labels[i] < 0 || labels[i] >= $L)", plan.classes)
                .addStatement("throw new $T($S + i + $S + labels[i] + $S)", IllegalArgumentException.class, "labels[",
                        "] = ", " is outside [0, " + plan.classes + ")")
                .endControlFlow()
                .endControlFlow()
                .build();
    }
}
