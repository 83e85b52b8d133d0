package dev.kiln.tests.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphPrinter;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Tensor;
import dev.kiln.onnx.Npy;
import dev.kiln.onnx.OnnxImporter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bundled example is exactly what {@link ExampleModels} generates, and it loads and runs. */
class ExampleModelsTest {
    private static final Path DIGITS = repositoryRoot().resolve("examples").resolve("digits");

    @Test
    void bundledDigitsModelIsRegeneratedByteForByte(@TempDir Path tmp) throws IOException {
        if (Boolean.getBoolean("kiln.examples.regenerate")) {
            ExampleModels.writeDigits(DIGITS);
        }
        ExampleModels.writeDigits(tmp);
        for (String file : new String[] {"model.onnx", "sample_input.npy"}) {
            assertTrue(Files.exists(DIGITS.resolve(file)), "missing " + DIGITS.resolve(file)
                    + ": regenerate it (see ExampleModels' Javadoc) and commit the result");
            assertArrayEquals(Files.readAllBytes(tmp.resolve(file)), Files.readAllBytes(DIGITS.resolve(file)),
                    file + " differs from what ExampleModels generates: regenerate it (see ExampleModels' Javadoc)");
        }
    }

    @Test
    void bundledDigitsModelImportsAsTheBuiltGraphAndRuns() {
        Graph imported = OnnxImporter.load(DIGITS.resolve("model.onnx"));
        Graph built = ExampleModels.digits();
        assertEquals(GraphPrinter.print(built), GraphPrinter.print(imported));
        Tensor x = Npy.read(DIGITS.resolve("sample_input.npy"));
        assertEquals(ExampleModels.digitsSampleInput(), x);
        Tensor logits = ReferenceEvaluator.run(imported, Map.of("image", x)).get("logits");
        assertArrayEquals(new int[] {1, 10}, logits.shape());
        assertEquals(ReferenceEvaluator.run(built, Map.of("image", x)).get("logits"), logits);
    }

    /** The folder holding the parent pom (tests run with the tests module as working directory). */
    static Path repositoryRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !(Files.exists(p.resolve("pom.xml")) && Files.isDirectory(p.resolve("tests")))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("no Kiln checkout above " + Path.of("").toAbsolutePath());
        }
        return p;
    }
}
