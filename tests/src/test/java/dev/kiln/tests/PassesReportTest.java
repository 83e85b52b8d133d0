package dev.kiln.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.ir.Graph;
import dev.kiln.onnx.OnnxImporter;
import dev.kiln.passes.PassReport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * docs/PASSES.md is what {@link PassReport} says about the reference models today. Run with
 * {@code -Dkiln.updateDocs=true} to rewrite the file instead of checking it.
 */
class PassesReportTest {
    static final String COMMAND = "mvn -B -q verify -pl tests -am -Dtest=PassesReportTest "
            + "-Dsurefire.failIfNoSpecifiedTests=false -Dkiln.updateDocs=true";

    @Test
    void docsMatchTheOptimizer() throws IOException {
        Map<String, Graph> models = new LinkedHashMap<>();
        for (String name : List.of("mlp", "mnist_cnn", "cifar_cnn", "lstm", "gru")) {
            models.put(name, OnnxImporter.load(SharedData.dir().resolve("models").resolve(name).resolve("model.onnx")));
        }
        // A builder model with deep channels on small images: the one whose conv chain blocked-layout blocks.
        models.put("resnet_tail", ResNetTail.build("N"));
        String report = PassReport.markdown(models, COMMAND);
        Path doc = Path.of(System.getProperty("user.dir")).getParent().resolve("docs/PASSES.md");
        if (Boolean.getBoolean("kiln.updateDocs")) {
            Files.writeString(doc, report);
        }
        assertEquals(report, Files.exists(doc) ? Files.readString(doc) : "", "docs/PASSES.md is out of date: run " + COMMAND);
    }
}
