package dev.kiln.cli;

import dev.kiln.ir.KilnException;
import dev.kiln.ir.Tensor;
import dev.kiln.onnx.Npy;
import dev.kiln.onnx.TensorProtos;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** Reads tensors from files the user names ({@code .npy} or ONNX {@code TensorProto} {@code .pb}) and names output files. */
final class TensorFiles {
    private TensorFiles() {}

    /** The tensor in {@code file}, chosen by its extension. */
    static Tensor read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new KilnException("input file '" + file + "' " + (Files.exists(file) ? "is not a file" : "does not exist"));
        }
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".npy")) {
            return Npy.read(file);
        }
        if (name.endsWith(".pb")) {
            return TensorProtos.read(file).tensor();
        }
        throw new KilnException("input file '" + file + "' must be a NumPy .npy or an ONNX TensorProto .pb file");
    }

    /** {@code name} with every character outside {@code [A-Za-z0-9._-]} replaced by {@code _}, plus {@code .npy}. */
    static String npyFileName(String valueName) {
        String safe = valueName.replaceAll("[^A-Za-z0-9._-]", "_");
        return (safe.isEmpty() ? "_" : safe) + ".npy";
    }
}
