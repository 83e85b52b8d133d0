package dev.kiln.compiler;

import dev.kiln.codegen.CodeGenerator;
import dev.kiln.codegen.CodegenOptions;
import dev.kiln.codegen.GeneratedModel;
import dev.kiln.ir.DimBinding;
import dev.kiln.ir.Graph;
import dev.kiln.ir.KilnException;
import dev.kiln.onnx.OnnxImporter;
import dev.kiln.passes.CommonSubexpressionElimination;
import dev.kiln.passes.Pass;
import dev.kiln.passes.PassManager;
import dev.kiln.passes.Pipeline;
import dev.kiln.passes.RnnUnrolling;
import dev.kiln.passes.OptLevel;
import dev.kiln.passes.PassOptions;
import dev.kiln.passes.SequenceMajorRecurrence;
import dev.kiln.passes.ShapeInference;
import dev.kiln.passes.training.Autodiff;
import dev.kiln.passes.training.TrainingGraph;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The one compiler pipeline: import an ONNX model, optimize it, generate the inference class (and, with training
 * on, its trainer), and write the sources and the weights resource whole or not at all. The command line, the Maven plugin, the benchmarks
 * and the tests all call this; none re-plumbs the stages.
 */
public final class KilnCompiler {
    private KilnCompiler() {}

    /** The generated class and resource for {@code model}, in memory. */
    public static GeneratedModel compile(Path model, CompileOptions options, PassOptions passOptions) {
        Graph imported = bindDims(OnnxImporter.load(model), model.toString(), options.dims());
        return generate(imported, model.getFileName().toString(), options, passOptions);
    }

    /** The generated class and resource for an already built graph (e.g. from the builder API). */
    public static GeneratedModel compile(Graph graph, String sourceName, CompileOptions options, PassOptions passOptions) {
        return generate(bindDims(graph, sourceName, options.dims()), sourceName, options, passOptions);
    }

    /** Optimizes and generates a graph whose dims {@code options} fixes are already fixed. */
    private static GeneratedModel generate(Graph graph, String sourceName, CompileOptions options,
                                           PassOptions passOptions) {
        String className = options.classNameFor(sourceName);
        CodegenOptions codegen = new CodegenOptions(options.packageName(), className, options.threads(), sourceName);
        if (options.train().isPresent()) {
            return compileForTraining(graph, codegen, options, options.train().get(), passOptions);
        }
        Graph optimized = PassManager.forLevel(options.level(), passOptions).run(graph);
        return CodeGenerator.generate(optimized, codegen);
    }

    /**
     * {@code graph} with the symbolic dims of {@code sizes} fixed and every type re-inferred from them; a name the
     * inputs do not have, or a size below 1, is a {@link KilnException} naming the model ({@code source}).
     */
    static Graph bindDims(Graph graph, String source, Map<String, Long> sizes) {
        if (sizes.isEmpty()) {
            return graph;
        }
        try {
            return new ShapeInference().apply(DimBinding.bind(graph, sizes));
        } catch (IllegalArgumentException e) {
            throw new KilnException(source + ": cannot fix dims " + sizes + ": " + e.getMessage(), e);
        }
    }

    /**
     * The inference class compiled for training and its trainer: the model is simplified ({@link
     * #simplifyForTraining}: at most -O1, which changes no arithmetic, folds shape computations and keeps
     * BatchNormalization and the weights as they are),
     * differentiated, and both the training graph and the eval graph are optimized at the requested level. Their
     * parameters and state are graph inputs, so no pass folds or packs them: fusion still gives bias and
     * activation epilogues and one loop per elementwise chain, and the kernels pack weights at run time.
     */
    private static GeneratedModel compileForTraining(Graph graph, CodegenOptions codegen, CompileOptions options,
                                                     TrainOptions train, PassOptions passOptions) {
        TrainingGraph training = differentiate(graph, train.spec(), options.level(), passOptions);
        Graph trainGraph = PassManager.forLevel(options.level(), passOptions).run(training.graph());
        Graph evalGraph = PassManager.forLevel(options.level(), passOptions).run(training.evalGraph());
        return CodeGenerator.generateTrainer(trainGraph, evalGraph, training.parameters(), training.state(),
                training.frozen(), train.optimizer(), train.spec().seed(), codegen);
    }

    /**
     * The training graph the compiler generates a trainer from: {@link #simplifyForTraining} then autodiff, the values
     * the model computes from its Constant nodes alone staying constants though the simplification folds them into
     * initializers.
     */
    public static TrainingGraph differentiate(Graph graph, dev.kiln.passes.training.TrainingSpec spec, OptLevel level,
                                              PassOptions passOptions) {
        return Autodiff.build(simplifyForTraining(graph, level, passOptions), spec, Autodiff.constantValues(graph));
    }

    /**
     * The model as differentiation sees it: the passes of {@code level} (at most -O1) except common subexpression
     * elimination, which merges initializers of equal contents. Parameters and state must stay apart even when
     * they start equal: a freshly initialized BatchNormalization has scale = running variance = ones and
     * bias = running mean = zeros, and merged they would train as one tensor under the wrong name. Then, at any
     * level, batch-major LSTM and GRU nodes become sequence-major ones between Transposes ({@link
     * SequenceMajorRecurrence}), the one layout the recurrent training kernels read, and RNN nodes are written out
     * as their steps in ops that have gradient rules ({@link RnnUnrolling}). The generated and the reference trainer
     * both start from this graph.
     */
    public static Graph simplifyForTraining(Graph graph, OptLevel level, PassOptions passOptions) {
        OptLevel capped = level.compareTo(OptLevel.O1) > 0 ? OptLevel.O1 : level;
        // Dropout nodes must reach autodiff, which puts them in training mode; the simplification that removes
        // inference-mode Dropout is skipped for graphs that have one.
        boolean dropout = graph.nodes().stream().anyMatch(n -> n.domain().isEmpty() && n.op().equals("Dropout"));
        List<Pass> passes = new ArrayList<>(Pipeline.forLevel(capped).stream()
                .filter(p -> !(p instanceof CommonSubexpressionElimination))
                .filter(p -> !dropout || !p.name().equals("simplification")).toList());
        // Last, so that no folding turns the Transpose of a trained initial state, or the Squeeze of a trained RNN
        // weight, into a constant.
        passes.add(new SequenceMajorRecurrence());
        passes.add(new RnnUnrolling());
        return new PassManager(passes, passOptions).run(graph);
    }

    /**
     * Compiles {@code model} and writes {@code <out>/<package path>/<Class>.java} and {@code <Class>.weights}
     * beside it. Everything is written into a temporary folder inside {@code out} first and moved into place
     * only when complete, so a failure leaves {@code out} as it was.
     *
     * @return the generated model (what was written)
     */
    public static GeneratedModel compileTo(Path model, Path out, CompileOptions options, PassOptions passOptions) {
        GeneratedModel generated = compile(model, options, passOptions);
        writeWhole(generated, out, out);
        return generated;
    }

    /** Writes sources under {@code sourceRoot} and the weights under {@code resourceRoot}, whole or not at all. */
    public static void writeWhole(GeneratedModel generated, Path sourceRoot, Path resourceRoot) {
        try {
            Files.createDirectories(sourceRoot);
            Files.createDirectories(resourceRoot);
            Path stagingSources = Files.createTempDirectory(sourceRoot, ".kiln-staging-");
            Path stagingResources = resourceRoot.equals(sourceRoot) ? stagingSources
                    : Files.createTempDirectory(resourceRoot, ".kiln-staging-");
            try {
                generated.writeTo(stagingSources, stagingResources);
                moveTree(stagingSources, sourceRoot);
                if (stagingResources != stagingSources) {
                    moveTree(stagingResources, resourceRoot);
                }
            } finally {
                deleteTree(stagingSources);
                deleteTree(stagingResources);
            }
        } catch (IOException e) {
            throw new KilnException("cannot write the generated model to " + sourceRoot + ": " + e.getMessage(), e);
        }
    }

    /** Moves every file of {@code from} to the same relative path under {@code to}, replacing older versions. */
    private static void moveTree(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Path target = to.resolve(from.relativize(f).toString());
                Files.createDirectories(target.getParent());
                Files.move(f, target, StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
