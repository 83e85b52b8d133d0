package dev.kiln.cli;

import dev.kiln.ir.Graph;
import dev.kiln.ir.KilnException;
import dev.kiln.onnx.OnnxImporter;
import java.nio.file.Files;
import java.nio.file.Path;

/** Loads the model a command names, failing with a one-line message that names the file. */
final class ModelFiles {
    private ModelFiles() {}

    static Graph load(Path model) {
        if (!Files.exists(model)) {
            throw new KilnException("model file '" + model + "' does not exist");
        }
        if (!Files.isRegularFile(model)) {
            throw new KilnException("model file '" + model + "' is not a file");
        }
        return OnnxImporter.load(model);
    }
}
