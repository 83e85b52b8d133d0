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

    /**
     * The value of type {@code type} in {@code file}: a tensor from {@code .npy} or a TensorProto {@code .pb}; a
     * sequence or optional from a SequenceProto or OptionalProto {@code .pb} (ONNX's test-data form).
     */
    static Tensor read(Path file, dev.kiln.ir.TensorType type) {
        if (type.isTensor()) {
            return read(file);
        }
        if (!Files.isRegularFile(file)) {
            throw new KilnException("input file '" + file + "' " + (Files.exists(file) ? "is not a file" : "does not exist"));
        }
        if (!file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".pb")) {
            throw new KilnException("input file '" + file + "' must be an ONNX " + (type.isSequence() ? "SequenceProto"
                    : "OptionalProto") + " .pb file: the input is " + type);
        }
        return TensorProtos.read(file, type).tensor();
    }

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
        return safeName(valueName) + ".npy";
    }

    /**
     * The file an output is written to: {@code <name>.npy} for a tensor; {@code <name>.pb} holding an ONNX
     * SequenceProto or OptionalProto for a sequence or optional, which NumPy's format cannot hold.
     */
    static String outputFileName(String valueName, Tensor value) {
        return value.isPlain() ? npyFileName(valueName) : safeName(valueName) + ".pb";
    }

    private static String safeName(String valueName) {
        String safe = valueName.replaceAll("[^A-Za-z0-9._-]", "_");
        return safe.isEmpty() ? "_" : safe;
    }
}
