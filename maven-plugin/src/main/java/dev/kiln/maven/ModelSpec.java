package dev.kiln.maven;

import java.nio.file.Path;
import java.util.Objects;

/**
 * One model the plugin compiles: its ONNX file and the simple name of the class generated from it.
 *
 * @param file the ONNX model
 * @param className the inference class's simple name
 */
record ModelSpec(Path file, String className) {
    ModelSpec {
        Objects.requireNonNull(file);
        Objects.requireNonNull(className);
    }

    /** The model's file name, e.g. {@code digits.onnx}. */
    String fileName() {
        return file.getFileName().toString();
    }
}
