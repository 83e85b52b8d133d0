package dev.kiln.maven;

import dev.kiln.codegen.CodegenOptions;
import dev.kiln.compiler.CompileOptions;
import dev.kiln.passes.OptLevel;
import dev.kiln.passes.training.Loss;
import dev.kiln.runtime.train.Optimizer;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.maven.model.Resource;
import org.apache.maven.plugin.AbstractMojo;
import org.apache.maven.plugin.MojoExecution;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;
import org.apache.maven.project.MavenProject;

/**
 * Compiles the project's ONNX models ahead of time into Java inference classes (sources) and their weights
 * (resources), and adds both folders to the build so that {@code mvn package} compiles and jars them.
 * Incremental: when the models, this configuration and the Kiln version are unchanged, nothing is regenerated.
 * The generated classes need {@code dev.kiln:kiln-runtime} and {@code --add-modules jdk.incubator.vector}
 * for javac, tests and execution.
 */
@Mojo(name = "compile", defaultPhase = LifecyclePhase.GENERATE_SOURCES, threadSafe = true)
public final class CompileMojo extends AbstractMojo {
    /** ONNX model files, or folders whose {@code *.onnx} files are all compiled. Default: {@code src/main/onnx}. */
    @Parameter
    List<File> models;

    /** Package of the generated classes (default: none, which code in a named package cannot import). */
    @Parameter(property = "kiln.packageName", defaultValue = "")
    String packageName;

    /**
     * Class names per model, keyed by the model's file name with or without {@code .onnx}
     * ({@code <classNames><mnist_cnn>MnistNet</mnist_cnn></classNames>}). Default: the file name in
     * UpperCamelCase ({@code mnist_cnn.onnx} -> {@code MnistCnn}).
     */
    @Parameter
    Map<String, String> classNames;

    /** Root folder of the generated sources (also holds Kiln's incremental-build state). */
    @Parameter(property = "kiln.outputDirectory", defaultValue = "${project.build.directory}/generated-sources/kiln")
    File outputDirectory;

    /** Root folder of the generated weights resources (one {@code <Class>.weights} beside each class). */
    @Parameter(property = "kiln.resourcesDirectory",
            defaultValue = "${project.build.directory}/generated-resources/kiln")
    File resourcesDirectory;

    /** Optimization level: 0 to 3 (also {@code O2} or {@code -O2}). */
    @Parameter(property = "kiln.optimizationLevel", defaultValue = "3")
    String optimizationLevel;

    /** Worker threads the generated classes' large kernels split across (1 = the caller's thread only). */
    @Parameter(property = "kiln.threads", defaultValue = "1")
    int threads;

    /**
     * Also generate {@code <Class>Trainer} beside each inference class (forward, loss, backward and optimizer step;
     * needs {@code <loss>}); the inference class then keeps its parameters raw so the trainer's saved weights load
     * into it.
     */
    @Parameter(property = "kiln.train", defaultValue = "false")
    boolean train;

    /**
     * Loss of the training class: {@code ce} (softmax cross-entropy on logits), {@code nll} (on log-probabilities)
     * or {@code mse}, averaged over the batch; with {@code train} only.
     */
    @Parameter(property = "kiln.loss")
    String loss;

    /**
     * Optimizer SPEC of the training class's {@code create(net)}, e.g. {@code adam:lr=1e-3} (PyTorch's defaults
     * otherwise); with {@code train} only. Without it only {@code create(net, optimizer)} is generated.
     */
    @Parameter(property = "kiln.optimizer")
    String optimizer;

    /**
     * Initializers (by ONNX name) the training class reads but never trains, e.g. a pretrained backbone under a
     * new head: {@code <freeze><name>conv1.weight</name><name>conv1.bias</name></freeze>}; with {@code train} only.
     * Every model of the execution must have them.
     */
    @Parameter
    List<String> freeze;

    /**
     * Sizes for symbolic dims of the models' inputs other than the batch ({@code <dims><seq>128</seq></dims>}):
     * generated code takes one dynamic dim, the batch, so a model exported with others (a sequence length, an image
     * size) is compiled for fixed sizes of them. They apply to every model of the execution, each of which must have
     * them; models with different dims go in separate executions.
     */
    @Parameter
    Map<String, String> dims;

    /** Skip this goal: nothing is generated and no folder is added to the build. */
    @Parameter(property = "kiln.skip", defaultValue = "false")
    boolean skip;

    @Parameter(defaultValue = "${project}", readonly = true, required = true)
    MavenProject project;

    @Parameter(defaultValue = "${mojoExecution}", readonly = true)
    MojoExecution mojoExecution;

    /** The Kiln version in the fingerprint; a field so tests can change it. */
    String kilnVersion = KilnVersion.current();

    /** Compile in a child JVM even when this one has the Vector API (tests of the path Maven usually takes). */
    boolean alwaysFork;

    @Override
    public void execute() throws MojoExecutionException, MojoFailureException {
        if (skip) {
            getLog().info("Kiln: skipped (kiln.skip)");
            return;
        }
        GenerationRequest request = request();
        if (request.models().isEmpty()) {
            getLog().warn("Kiln: no ONNX models to compile in " + (models == null || models.isEmpty()
                    ? defaultModelFolder() + " (the default <models> folder)" : models));
        }
        ModelCompiler compiler;
        if (ModelCompiler.vectorApiAvailable() && !alwaysFork) {
            compiler = ModelCompiler.inProcess();
        } else {
            getLog().debug("Kiln: this JVM lacks jdk.incubator.vector (the code generator needs it), so models are "
                    + "compiled in a child JVM; add --add-modules jdk.incubator.vector to .mvn/jvm.config to compile in "
                    + "Maven's own JVM");
            compiler = new ForkedModelCompiler(getLog());
        }
        ModelGenerator.Outcome outcome = new ModelGenerator(request, kilnVersion, compiler, getLog()).run();
        if (outcome != ModelGenerator.Outcome.NO_MODELS) {
            addToProject(request);
        }
    }

    /** The validated configuration; every mistake is a {@link MojoFailureException} that says what to change. */
    GenerationRequest request() throws MojoFailureException {
        Optional<TrainingConfig> training = training();
        String pkg = packageName == null ? "" : packageName.trim();
        OptLevel level;
        try {
            level = OptLevel.parse(optimizationLevel == null ? "3" : optimizationLevel.trim());
        } catch (IllegalArgumentException e) {
            throw configError("<optimizationLevel>: " + e.getMessage().replace("use -O0..-O3", "use 0, 1, 2 or 3"));
        }
        List<Path> files;
        try {
            files = ModelFiles.find(modelPaths());
        } catch (IllegalArgumentException e) {
            throw configError(e.getMessage());
        }
        List<ModelSpec> specs = new ArrayList<>();
        Map<String, String> names = classNames == null ? Map.of() : classNames;
        Set<String> usedKeys = new HashSet<>();
        Map<String, Path> byClass = new HashMap<>();
        for (Path file : files) {
            String fileName = file.getFileName().toString();
            String base = fileName.replaceFirst("(?i)\\.onnx$", "");
            String key = names.containsKey(fileName) ? fileName : base;
            String className = names.containsKey(key) ? names.get(key).trim() : CompileOptions.classNameFromFile(fileName);
            if (names.containsKey(key)) {
                usedKeys.add(key);
            }
            try {
                new CodegenOptions(pkg, className, threads, fileName);
            } catch (IllegalArgumentException e) {
                throw configError(e.getMessage() + " (model " + file + ")");
            }
            Path clash = byClass.put(className, file);
            if (clash != null) {
                throw configError("models " + clash + " and " + file + " would both generate class " + className
                        + "; give one another name in <classNames>");
            }
            specs.add(new ModelSpec(file, className));
        }
        Set<String> unused = new HashSet<>(names.keySet());
        unused.removeAll(usedKeys);
        if (!unused.isEmpty()) {
            throw configError("<classNames> names " + unused + ", which match no model (models: "
                    + specs.stream().map(ModelSpec::fileName).toList() + ")");
        }
        String execution = mojoExecution == null ? "default" : mojoExecution.getExecutionId();
        return new GenerationRequest(specs, pkg, level, threads, outputDirectory.toPath(), resourcesDirectory.toPath(),
                execution, training, dimSizes());
    }

    /** {@code <dims>} as sizes, each a whole number of at least 1. */
    private Map<String, Long> dimSizes() throws MojoFailureException {
        Map<String, Long> sizes = new java.util.TreeMap<>();
        if (dims != null) {
            for (Map.Entry<String, String> e : dims.entrySet()) {
                try {
                    long size = Long.parseLong(e.getValue() == null ? "" : e.getValue().trim());
                    if (size < 1) {
                        throw new NumberFormatException();
                    }
                    sizes.put(e.getKey(), size);
                } catch (NumberFormatException bad) {
                    throw configError("<dims>: <" + e.getKey() + "> must be a whole number of at least 1, got '"
                            + e.getValue() + "'");
                }
            }
        }
        return sizes;
    }

    /** The trainer requested by {@code <train>}, {@code <loss>}, {@code <optimizer>} and {@code <freeze>}, checked. */
    private Optional<TrainingConfig> training() throws MojoFailureException {
        if (!train) {
            if (loss != null || optimizer != null || freeze != null && !freeze.isEmpty()) {
                getLog().warn("Kiln: <loss>, <optimizer> and <freeze> apply only with <train>true</train>; ignored");
            }
            return Optional.empty();
        }
        if (loss == null || loss.isBlank()) {
            throw configError("<train>true</train> needs <loss>: ce, nll or mse");
        }
        Loss lossKind;
        try {
            lossKind = Loss.parse(loss.trim());
        } catch (IllegalArgumentException e) {
            throw configError("<loss>: " + e.getMessage());
        }
        Optional<String> spec = optimizer == null || optimizer.isBlank() ? Optional.empty() : Optional.of(optimizer.trim());
        try {
            spec.ifPresent(Optimizer::parse);
        } catch (IllegalArgumentException e) {
            throw configError("<optimizer>: " + e.getMessage());
        }
        List<String> frozen = freeze == null ? List.of() : freeze.stream().map(String::trim).toList();
        if (frozen.stream().anyMatch(String::isEmpty)) {
            throw configError("<freeze>: an empty name; give each initializer's ONNX name in an element of its own");
        }
        return Optional.of(new TrainingConfig(lossKind, spec, frozen));
    }

    private List<Path> modelPaths() {
        if (models == null || models.isEmpty()) {
            Path folder = defaultModelFolder();
            return Files.isDirectory(folder) ? List.of(folder) : List.of();
        }
        return models.stream().map(File::toPath).toList();
    }

    private Path defaultModelFolder() {
        return project.getBasedir().toPath().resolve("src/main/onnx");
    }

    private void addToProject(GenerationRequest request) {
        String sources = request.sourceRoot().toString();
        if (!project.getCompileSourceRoots().contains(sources)) {
            project.addCompileSourceRoot(sources);
        }
        String resources = request.resourceRoot().toString();
        if (project.getResources().stream().noneMatch(r -> resources.equals(r.getDirectory()))) {
            Resource weights = new Resource();
            weights.setDirectory(resources);
            project.addResource(weights);
        }
    }

    private static MojoFailureException configError(String message) {
        return new MojoFailureException("Kiln configuration error: " + message);
    }
}
