package dev.kiln.onnx;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/** Where the tests find the shared reference models ({@code ../shared/models}, set by the parent pom). */
final class SharedModels {
    private SharedModels() {}

    static Path dir() {
        return Path.of(System.getProperty("kiln.shared.dir", "../../shared"));
    }

    /** {@code models/<name>/model.onnx}; the test is skipped (not failed) when the shared data is absent. */
    static Path model(String name) {
        Path p = dir().resolve("models").resolve(name).resolve("model.onnx");
        Assumptions.assumeTrue(Files.exists(p), "shared model missing: " + p);
        return p;
    }

    static Path testData(String name, int set, String file) {
        return dir().resolve("models").resolve(name).resolve("test_data_set_" + set).resolve(file);
    }
}
