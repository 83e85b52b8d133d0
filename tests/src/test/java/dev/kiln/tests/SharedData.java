package dev.kiln.tests;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the shared reference data lives: the folder the parent pom passes as {@code kiln.shared.dir}. */
final class SharedData {
    private SharedData() {}

    static Path dir() {
        String prop = System.getProperty("kiln.shared.dir");
        Path dir = Path.of(prop == null ? "../../shared" : prop).toAbsolutePath().normalize();
        assertTrue(Files.isDirectory(dir.resolve("models")) && Files.isDirectory(dir.resolve("onnx-tests")),
                "shared reference data not found at " + dir + " (set -Dkiln.shared.dir)");
        return dir;
    }

    static Path model(String name) {
        return dir().resolve("models").resolve(name);
    }

    static Path onnxSuite(String name) {
        return dir().resolve("onnx-tests").resolve(name);
    }
}
