package dev.kiln.compiler;

import dev.kiln.passes.OptLevel;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What {@link KilnCompiler} produces from a model.
 *
 * @param packageName package of the generated class ({@code ""} for none)
 * @param className class name; empty to derive it from the model's file name ({@code mnist_cnn.onnx} ->
 *     {@code MnistCnn})
 * @param level optimization level
 * @param threads worker threads for the large kernels (1 = caller only)
 * @param train when present, also generate {@code <Class>Trainer} and compile the inference class for training
 *     (parameters and state raw under their ONNX names, so the trainer's saved weights load into it)
 * @param dims sizes for symbolic dims of the model's inputs ({@code S -> 128}): generated code takes one dynamic
 *     dim, the batch, so a model exported with others is compiled for fixed sizes of them ({@link
 *     dev.kiln.ir.DimBinding})
 */
public record CompileOptions(String packageName, Optional<String> className, OptLevel level, int threads,
                             Optional<TrainOptions> train, Map<String, Long> dims) {
    public CompileOptions {
        Objects.requireNonNull(packageName);
        Objects.requireNonNull(className);
        Objects.requireNonNull(level);
        Objects.requireNonNull(train);
        dims = Collections.unmodifiableMap(new LinkedHashMap<>(dims));
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
    }

    /** Inference only, no dims fixed. */
    public CompileOptions(String packageName, Optional<String> className, OptLevel level, int threads) {
        this(packageName, className, level, threads, Optional.empty(), Map.of());
    }

    /** These options, also generating a trainer. */
    public CompileOptions withTraining(TrainOptions training) {
        return new CompileOptions(packageName, className, level, threads, Optional.of(training), dims);
    }

    /** These options with the symbolic dims of {@code sizes} fixed (added to those already fixed). */
    public CompileOptions withDims(Map<String, Long> sizes) {
        Map<String, Long> all = new LinkedHashMap<>(dims);
        all.putAll(sizes);
        return new CompileOptions(packageName, className, level, threads, train, all);
    }

    /** Defaults: no package, class named after the file, -O3, one thread. */
    public static CompileOptions defaults() {
        return new CompileOptions("", Optional.empty(), OptLevel.O3, 1);
    }

    /** The class name for a model file: the configured one, or the file name in UpperCamelCase. */
    public String classNameFor(String modelFileName) {
        return className.orElseGet(() -> classNameFromFile(modelFileName));
    }

    /** {@code mnist_cnn.onnx} -> {@code MnistCnn}; a leading digit gets a {@code Model} prefix. */
    public static String classNameFromFile(String fileName) {
        String base = fileName.endsWith(".onnx") ? fileName.substring(0, fileName.length() - 5) : fileName;
        StringBuilder sb = new StringBuilder();
        boolean upper = true;
        for (char c : base.toCharArray()) {
            if (Character.isLetterOrDigit(c) && c < 128) {
                sb.append(upper ? Character.toUpperCase(c) : c);
                upper = false;
            } else {
                upper = true;
            }
        }
        if (sb.isEmpty() || Character.isDigit(sb.charAt(0))) {
            sb.insert(0, "Model");
        }
        return sb.toString();
    }
}
