package dev.kiln.onnx;

import static dev.kiln.onnx.TestModels.model;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphPrinter;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Imports the shared reference models and small hand-built ones; checks graphs and outputs. */
class OnnxImporterTest {
    /** Relative and absolute tolerance against the PyTorch-produced expected outputs (float32 accumulation order). */
    private static final double TOLERANCE = 1e-4;

    @Test
    void importsTinyReluAndMatchesItsTestData() {
        Graph g = OnnxImporter.load(SharedModels.model("tiny_relu"));
        assertEquals("""
                graph tiny_relu(%input: f32[batch,10]) -> (%output: f32[batch,10])
                  %output: f32[batch,10] = Relu(%input)
                  return %output
                """, GraphPrinter.print(g));
        assertMatchesTestData("tiny_relu", g, 0);
    }

    @Test
    void importsTheMlp() {
        Graph g = OnnxImporter.load(SharedModels.model("mlp"));
        assertEquals(1, g.inputs().size());
        Value input = g.inputs().get(0);
        assertEquals("input", input.name());
        assertEquals(DType.FLOAT32, input.dtype());
        assertEquals(Shape.of(Dim.sym("batch"), Dim.of(784)), input.shape());
        assertEquals(6, g.initializers().size());
        assertEquals("""
                graph torch_jit(%input: f32[batch,784]) -> (%output: f32[batch,10])
                  init %fc1.weight: f32[512,784]
                  init %fc1.bias: f32[512]
                  init %fc2.weight: f32[256,512]
                  init %fc2.bias: f32[256]
                  init %fc3.weight: f32[10,256]
                  init %fc3.bias: f32[10]
                  %/fc1/Gemm_output_0: f32[batch,512] = Gemm(%input, %fc1.weight, %fc1.bias) {alpha=1.0, beta=1.0, transB=1}  # /fc1/Gemm
                  %/Relu_output_0: f32[batch,512] = Relu(%/fc1/Gemm_output_0)  # /Relu
                  %/fc2/Gemm_output_0: f32[batch,256] = Gemm(%/Relu_output_0, %fc2.weight, %fc2.bias) {alpha=1.0, beta=1.0, transB=1}  # /fc2/Gemm
                  %/Relu_1_output_0: f32[batch,256] = Relu(%/fc2/Gemm_output_0)  # /Relu_1
                  %output: f32[batch,10] = Gemm(%/Relu_1_output_0, %fc3.weight, %fc3.bias) {alpha=1.0, beta=1.0, transB=1}  # /fc3/Gemm
                  return %output
                """, GraphPrinter.print(g));
        for (int set = 0; set < 3; set++) {
            assertMatchesTestData("mlp", g, set);
        }
    }

    @Test
    void importsTheMnistCnnKeepingTheBatchSymbolicThroughReshape() {
        Graph g = OnnxImporter.load(SharedModels.model("mnist_cnn"));
        assertEquals(8, g.initializers().size());
        String text = GraphPrinter.print(g);
        assertTrue(text.contains("%/Reshape_output_0: f32[batch,320] = Reshape(%/Relu_1_output_0, %/Constant_output_0)"),
                text);
        assertTrue(text.contains("%output: f32[batch,10] = LogSoftmax(%/fc2/Gemm_output_0) {axis=1}"), text);
        assertMatchesTestData("mnist_cnn", g, 0);
    }

    @ParameterizedTest
    @ValueSource(strings = {"cifar_cnn", "gru", "lstm"})
    void importsTheOtherReferenceModels(String name) {
        Graph g = OnnxImporter.load(SharedModels.model(name));
        assertEquals(List.of("output"), g.outputs().stream().map(Value::name).toList());
        assertEquals("f32[batch,10]", g.outputs().get(0).type().toString());
        assertMatchesTestData(name, g, 0);
    }

    @Test
    void inputsThatAreAlsoInitializersBecomeConstants() {
        Graph g = model(9).input("x", DType.FLOAT32, "N", 2L).input("w", DType.FLOAT32, 2L)
                .init("w", Tensor.ofFloats(new int[] {2}, 1, 2))
                .node("Add", List.of("x", "w"), List.of("y")).output("y").load();
        assertEquals(List.of("x"), g.inputs().stream().map(Value::name).toList());
        assertEquals("""
                graph test(%x: f32[N,2]) -> (%y: f32[N,2])
                  init %w: f32[2] = [1.0,2.0]
                  %y: f32[N,2] = Add(%x, %w)
                  return %y
                """, GraphPrinter.print(g));
    }

    @Test
    void symbolicDimsKeepTheirNamesAndMissingDimsBecomeUnknown() {
        Graph g = model(13).input("x", DType.FLOAT32, "batch", null, 3L)
                .node("Relu", List.of("x"), List.of("y")).output("y").load();
        Shape s = g.inputs().get(0).shape();
        assertEquals(Dim.sym("batch"), s.dim(0));
        assertTrue(s.dim(1).hasUnknown(), s.toString());
        assertEquals(Dim.of(3), s.dim(2));
        // Products written by Kiln's exporter read back as the same monomial.
        assertEquals(Dim.sym("N").times(320), OnnxImporter.symbolicDim("320*N"));
        assertEquals(Dim.sym("N").times(Dim.sym("N")), OnnxImporter.symbolicDim("N^2"));
        assertEquals(Dim.sym("seq len"), OnnxImporter.symbolicDim("seq len"));
    }

    @Test
    void absentOptionalInputsAndOutputsStayAbsent() {
        Graph g = model(13).input("x", DType.FLOAT32, 3L).init("hi", Tensor.scalarFloat(1f))
                .node("Clip", List.of("x", "", "hi"), List.of("y")).output("y").load();
        assertEquals("  %y: f32[3] = Clip(%x, _, %hi)", GraphPrinter.print(g).lines().toList().get(2));
        assertTrue(g.nodes().get(0).inputs().get(1).isAbsent());
        assertArrayEquals(new float[] {-5, 0.5f, 1}, ReferenceEvaluator.run(g,
                Map.of("x", Tensor.ofFloats(new int[] {3}, -5, 0.5f, 7))).get("y").toFloatArray());
        Graph d = model(13).input("x", DType.FLOAT32, 3L)
                .node("Dropout", List.of("x"), List.of("y", "")).output("y").load();
        assertTrue(d.nodes().get(0).outputs().get(1).isAbsent());
    }

    @Test
    void nodesOutOfOrderAreSortedTopologically() {
        Graph g = model(13).input("x", DType.FLOAT32, 2L)
                .node("Relu", List.of("a"), List.of("y"))
                .node("Neg", List.of("x"), List.of("a")).output("y").load();
        assertEquals(List.of("Neg", "Relu"), g.nodes().stream().map(n -> n.op()).toList());
    }

    /** The value a test-data tensor belongs to: the one it names, else the i-th (the shared data names files, not values). */
    private static String byNameOrPosition(String name, List<Value> values, int i) {
        return values.stream().anyMatch(v -> v.name().equals(name)) ? name : values.get(i).name();
    }

    /** Runs {@code g} on test_data_set_{set} of the shared model and compares with its expected outputs. */
    static void assertMatchesTestData(String model, Graph g, int set) {
        Map<String, Tensor> feeds = new HashMap<>();
        for (int i = 0; Files.exists(SharedModels.testData(model, set, "input_" + i + ".pb")); i++) {
            NamedTensor t = TensorProtos.read(SharedModels.testData(model, set, "input_" + i + ".pb"));
            feeds.put(byNameOrPosition(t.name(), g.inputs(), i), t.tensor());
        }
        Map<String, Tensor> out = ReferenceEvaluator.run(g, feeds);
        for (int i = 0; Files.exists(SharedModels.testData(model, set, "output_" + i + ".pb")); i++) {
            NamedTensor expected = TensorProtos.read(SharedModels.testData(model, set, "output_" + i + ".pb"));
            String name = byNameOrPosition(expected.name(), g.outputs(), i);
            Tensor got = out.get(name);
            assertArrayEquals(expected.tensor().shape(), got.shape(), model + " output " + name);
            double[] e = expected.tensor().toDoubleArray();
            double[] a = got.toDoubleArray();
            for (int k = 0; k < e.length; k++) {
                assertEquals(e[k], a[k], TOLERANCE * (1 + Math.abs(e[k])), model + " set " + set + " " + name + "[" + k + "]");
            }
        }
    }
}
