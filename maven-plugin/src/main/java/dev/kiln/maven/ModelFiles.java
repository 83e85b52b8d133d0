package dev.kiln.maven;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import java.util.stream.Stream;

/** Finds the ONNX models among configured files and folders, and the files beside them that may hold their data. */
final class ModelFiles {
    private ModelFiles() {}

    /**
     * Every configured file, and every {@code *.onnx} directly inside every configured folder, sorted and without
     * duplicates.
     *
     * @throws IllegalArgumentException naming a path that does not exist
     */
    static List<Path> find(List<Path> paths) {
        TreeSet<Path> models = new TreeSet<>();
        for (Path p : paths) {
            Path abs = p.toAbsolutePath().normalize();
            if (Files.isDirectory(abs)) {
                models.addAll(onnxFilesIn(abs));
            } else if (Files.isRegularFile(abs)) {
                models.add(abs);
            } else {
                throw new IllegalArgumentException("model path " + abs + " does not exist (configure <models> with "
                        + "ONNX files or folders holding *.onnx files)");
            }
        }
        return new ArrayList<>(models);
    }

    /** The {@code *.onnx} files directly in {@code folder}, sorted. */
    static List<Path> onnxFilesIn(Path folder) {
        return list(folder).stream().filter(ModelFiles::isModel).toList();
    }

    /** Regular files in {@code folder} that are not models: where ONNX external data would be. */
    static List<Path> externalDataCandidates(Path folder) {
        return list(folder).stream().filter(f -> !isModel(f)).toList();
    }

    private static boolean isModel(Path f) {
        return f.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".onnx");
    }

    private static List<Path> list(Path folder) {
        try (Stream<Path> files = Files.list(folder)) {
            return files.filter(Files::isRegularFile).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + folder + ": " + e.getMessage(), e);
        }
    }
}
