package dev.kiln.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.onnx.TensorProtos;
import dev.kiln.passes.Pass;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The runner on cases written here: y = Relu(x) on f32[2,3], with right or wrong expected outputs. */
class ConformanceRunnerTest {
    private static final Tensor X = Tensor.ofFloats(new int[] {2, 3}, -1, 2, -3, 4, -5, 6);
    private static final Tensor RELU_X = Tensor.ofFloats(new int[] {2, 3}, 0, 2, 0, 4, 0, 6);

    @TempDir
    Path tmp;

    private Path reluCase(String name, String inputFileName, Tensor expected) throws IOException {
        GraphBuilder b = new GraphBuilder("relu");
        Value x = b.input("x", DType.FLOAT32, Shape.of(2, 3));
        b.output(b.op("Relu").inputs(x).outputNames("y").output());
        Path dir = tmp.resolve("suite").resolve(name);
        Files.createDirectories(dir.resolve("test_data_set_0"));
        OnnxExporter.save(b.build(), dir.resolve("model.onnx"));
        TensorProtos.write(dir.resolve("test_data_set_0").resolve("input_0.pb"), inputFileName, X);
        TensorProtos.write(dir.resolve("test_data_set_0").resolve("output_0.pb"), "y", expected);
        return dir;
    }

    /** A broken "optimization": every Relu becomes Neg. */
    private static final Pass RELU_TO_NEG = new Pass() {
        @Override
        public String name() { return "relu-to-neg"; }

        @Override
        public Graph apply(Graph g) {
            List<Node> nodes = g.nodes().stream()
                    .map(n -> n.op().equals("Relu")
                            ? new Node("Neg", n.domain(), n.name(), n.inputs(), n.outputs(), n.attributes()) : n)
                    .toList();
            return g.withNodes(nodes, g.outputs());
        }
    };

    @Test
    void passesAMatchingCaseAndNamesItBySuite() throws IOException {
        Path dir = reluCase("test_relu", "x", RELU_X);
        CaseResult r = new ConformanceRunner(Tolerance.ONNX_BACKEND).run(dir);
        assertEquals(CaseResult.Status.PASS, r.status(), r.line());
        assertEquals("suite/test_relu", r.name());
        assertEquals("suite", r.suite());
        assertEquals(Set.of("Relu"), r.ops());
        assertEquals("PASS suite/test_relu", r.line());
    }

    @Test
    void bindsAnInputFileByPositionWhenItsNameIsNotAGraphInput() throws IOException {
        Path dir = reluCase("test_relu_positional", "some_other_name", RELU_X);
        assertEquals(CaseResult.Status.PASS, new ConformanceRunner(Tolerance.ONNX_BACKEND).run(dir).status());
    }

    @Test
    void failsAWrongOutputWithTheErrorFigures() throws IOException {
        Path dir = reluCase("test_relu_wrong", "x", Tensor.ofFloats(new int[] {2, 3}, 0, 2, 0, 4, 0, 6.01f));
        CaseResult r = new ConformanceRunner(Tolerance.ONNX_BACKEND).run(dir);
        assertEquals(CaseResult.Status.FAIL, r.status());
        assertTrue(r.detail().startsWith("test_data_set_0, output 0 'y': max abs error 0.0100, max rel error 0.00166; "
                + "worst at [1, 2]"), r.detail());
        assertTrue(r.detail().endsWith("(tolerance |actual - expected| <= 1e-7 + 0.001 * |expected|)"), r.detail());
    }

    @Test
    void verifyNamesThePassThatChangedAnOutput() throws IOException {
        Path dir = reluCase("test_relu_verify", "x", RELU_X);
        CaseResult verified = new ConformanceRunner(Tolerance.ONNX_BACKEND, List.of(RELU_TO_NEG), true).run(dir);
        assertEquals(CaseResult.Status.FAIL, verified.status());
        assertTrue(verified.detail().startsWith("--verify: pass 'relu-to-neg' changed the model's output 'y'"),
                verified.detail());
        CaseResult unverified = new ConformanceRunner(Tolerance.ONNX_BACKEND, List.of(RELU_TO_NEG), false).run(dir);
        assertEquals(CaseResult.Status.FAIL, unverified.status());
        assertTrue(unverified.detail().startsWith("test_data_set_0, output 0 'y'"), unverified.detail());
    }

    @Test
    void discoversCasesRecursivelyInNameOrder() throws IOException {
        reluCase("b", "x", RELU_X);
        reluCase("a", "x", RELU_X);
        Files.createDirectories(tmp.resolve("suite").resolve("not_a_case"));
        List<Path> cases = ConformanceRunner.discover(tmp);
        assertEquals(List.of(tmp.resolve("suite/a"), tmp.resolve("suite/b")), cases);
        assertEquals(List.of(tmp.resolve("suite/a")), ConformanceRunner.discover(tmp.resolve("suite/a")));
    }
}
