package dev.kiln.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphPrinter;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Tensor;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Imports the shared reference models and checks their graphs and outputs against the ONNX test data. */
class OnnxImporterTest {
    @Test
    void importsTinyReluAndMatchesItsTestData() {
        Graph g = OnnxImporter.load(SharedModels.model("tiny_relu"));
        assertEquals("""
                graph tiny_relu(%input: f32[batch,10]) -> (%output: f32[batch,10])
                  %output: f32[batch,10] = Relu(%input)
                  return %output
                """,
                GraphPrinter.print(g));
        NamedTensor in = TensorProtos.read(SharedModels.testData("tiny_relu", 0, "input_0.pb"));
        NamedTensor expected = TensorProtos.read(SharedModels.testData("tiny_relu", 0, "output_0.pb"));
        Map<String, Tensor> out = ReferenceEvaluator.run(g, Map.of("input", in.tensor()));
        assertArrayEquals(expected.tensor().toFloatArray(), out.get("output").toFloatArray(), 0f);
    }
}
