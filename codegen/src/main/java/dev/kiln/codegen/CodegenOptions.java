package dev.kiln.codegen;

import java.util.Objects;

/**
 * What to generate.
 *
 * @param packageName package of the generated class ({@code ""} for the default package)
 * @param className simple name of the inference class
 * @param threads worker threads the large kernels split across (1 = caller thread only)
 * @param sourceName where the model came from, for the class Javadoc (e.g. {@code mnist.onnx})
 */
public record CodegenOptions(String packageName, String className, int threads, String sourceName) {
    public CodegenOptions {
        Objects.requireNonNull(packageName);
        Objects.requireNonNull(sourceName);
        if (!javax.lang.model.SourceVersion.isName(className) || className.contains(".")) {
            throw new IllegalArgumentException("'" + className + "' is not a valid Java class name");
        }
        if (!packageName.isEmpty() && !javax.lang.model.SourceVersion.isName(packageName)) {
            throw new IllegalArgumentException("'" + packageName + "' is not a valid Java package name");
        }
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
    }

    /** The weights resource beside the class, e.g. {@code Net.weights}. */
    public String weightsResource() {
        return className + ".weights";
    }
}
