package dev.kiln.maven;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What the last successful run of one plugin execution generated: the fingerprint of its inputs and the files
 * it wrote. Stored as a small text file in the sources root; output paths are relative to that root so that a
 * moved project still finds (and never deletes outside) its own outputs.
 *
 * @param fingerprint hash of the Kiln version, the effective configuration and every model's content
 * @param resourceRoot the resources root of that run, relative to the sources root (stale weights may be there)
 * @param outputs the files written, relative to the sources root
 */
record BuildState(String fingerprint, String resourceRoot, List<String> outputs) {
    private static final String FINGERPRINT = "fingerprint ";
    private static final String RESOURCES = "resources ";
    private static final String OUTPUT = "output ";

    BuildState {
        Objects.requireNonNull(fingerprint);
        Objects.requireNonNull(resourceRoot);
        outputs = List.copyOf(outputs);
    }

    /** The state file of an execution, e.g. {@code .kiln-default.state}. */
    static Path file(Path sourceRoot, String executionId) {
        return sourceRoot.resolve(".kiln-" + executionId.replaceAll("[^A-Za-z0-9._-]", "_") + ".state");
    }

    /** The stored state; empty when there is none or it is unreadable (which just means regenerate). */
    static Optional<BuildState> read(Path file) {
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try {
            String fingerprint = null;
            String resources = null;
            List<String> outputs = new ArrayList<>();
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (line.startsWith(FINGERPRINT)) {
                    fingerprint = line.substring(FINGERPRINT.length());
                } else if (line.startsWith(RESOURCES)) {
                    resources = line.substring(RESOURCES.length());
                } else if (line.startsWith(OUTPUT)) {
                    outputs.add(line.substring(OUTPUT.length()));
                }
            }
            return fingerprint == null || resources == null ? Optional.empty()
                    : Optional.of(new BuildState(fingerprint, resources, outputs));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Writes the state through a temporary file, so a crash never leaves a truncated state that looks valid. */
    void write(Path file) throws IOException {
        StringBuilder text = new StringBuilder(
                "# Kiln Maven plugin: inputs fingerprint and outputs of the last successful run. Delete to regenerate.\n");
        text.append(FINGERPRINT).append(fingerprint).append('\n');
        text.append(RESOURCES).append(resourceRoot).append('\n');
        outputs.forEach(o -> text.append(OUTPUT).append(o).append('\n'));
        Files.createDirectories(file.getParent());
        Path tmp = Files.createTempFile(file.getParent(), ".kiln-state-", ".tmp");
        try {
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
            try {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
