package dev.kiln.ir.builder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The code of {@code docs/BUILDER.md}, compiled and run; and a check that the page still shows this code. */
class BuilderDocExampleTest {

    @Test
    void mnistExampleBuildsAndRuns() {
        // ---- docs/BUILDER.md, first example (the exporter line lives in kiln-frontend, tested there) ----
        ModelBuilder m = ModelBuilder.create("mnist_cnn").seed(42);
        m.input("input", DType.FLOAT32, "N,1,28,28")
                .conv2d(10, 5).maxPool2d(2).relu()           // conv1.weight [10,1,5,5], conv1.bias [10]
                .conv2d(20, 5).maxPool2d(2).relu()           // conv2.weight [20,10,5,5], conv2.bias [20]
                .reshape(-1, 320)
                .dense(50, Activation.RELU).dropout(0.5)     // fc1.weight [50,320], fc1.bias [50]
                .dense(10).logSoftmax(1)                     // fc2.weight [10,50], fc2.bias [10]
                .output("output");
        Graph g = m.build();

        Tensor x = Tensor.zeros(DType.FLOAT32, new int[] {2, 1, 28, 28});
        Tensor y = ReferenceEvaluator.run(g, Map.of("input", x)).get("output");   // f32[2,10]
        // ---- end of example ----

        assertArrayEquals(new int[] {2, 10}, y.shape());
        assertEquals(List.of("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias",
                "fc2.weight", "fc2.bias"), m.parameterNames());
        // log-probabilities: each row's exponentials sum to 1.
        double sum = 0;
        for (int i = 0; i < 10; i++) {
            sum += Math.exp(y.getDouble(i));
        }
        assertEquals(1.0, sum, 1e-6);
    }

    @Test
    void handlesExampleBuilds() {
        ModelBuilder m = ModelBuilder.create("res");
        // ---- docs/BUILDER.md, "Handles" ----
        Flow x = m.input("x", DType.FLOAT32, "N,64");
        Flow h = x.dense(64, Activation.RELU).dense(64);
        Flow y = x.add(h).relu();                          // residual
        Flow both = y.concat(1, x);                        // [N,128]
        // ---- end of example ----
        assertEquals("f32[N,128]", both.type().toString());
    }

    @Test
    void docPageShowsTheCodeOfThisTest() throws IOException {
        Path root = Path.of("").toAbsolutePath().getParent();
        String doc = Files.readString(root.resolve("docs/BUILDER.md"));
        String test = normalize(Files.readString(root.resolve(
                "ir/src/test/java/dev/kiln/ir/builder/BuilderDocExampleTest.java")));
        Matcher blocks = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(doc);
        int checked = 0;
        while (blocks.find()) {
            for (String line : blocks.group(1).split("\\n")) {
                if (line.isBlank() || line.contains("OnnxExporter")) {
                    continue; // the exporter is in kiln-frontend; ExampleModels uses the same call
                }
                assertTrue(test.contains(normalize(line)), "docs/BUILDER.md line not in this test: " + line.strip());
                checked++;
            }
        }
        assertTrue(checked >= 15, "expected the doc's code blocks, checked " + checked + " lines");
    }

    private static String normalize(String s) {
        return s.replaceAll("\\s+", " ").strip();
    }
}
