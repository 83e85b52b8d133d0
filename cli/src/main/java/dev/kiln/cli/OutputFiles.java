package dev.kiln.cli;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;

/** Writes a set of files into one folder so that a failure leaves no partial set behind. */
final class OutputFiles {
    private OutputFiles() {}

    /** Writes each file beside its target first and renames them only once all are written. */
    static void writeAll(Path folder, Map<Path, byte[]> files) throws IOException {
        Files.createDirectories(folder);
        Map<Path, Path> staged = new LinkedHashMap<>();
        try {
            for (Map.Entry<Path, byte[]> e : files.entrySet()) {
                Path tmp = Files.createTempFile(folder, ".kiln-", ".tmp");
                staged.put(tmp, e.getKey());
                Files.write(tmp, e.getValue());
            }
            for (Map.Entry<Path, Path> e : staged.entrySet()) {
                try {
                    Files.move(e.getKey(), e.getValue(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                } catch (AtomicMoveNotSupportedException ex) {
                    Files.move(e.getKey(), e.getValue(), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } finally {
            for (Path tmp : staged.keySet()) {
                Files.deleteIfExists(tmp);
            }
        }
    }
}
