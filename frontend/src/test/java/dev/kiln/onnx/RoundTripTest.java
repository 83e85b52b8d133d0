package dev.kiln.onnx;

import static dev.kiln.onnx.TestModels.ints;
import static dev.kiln.onnx.TestModels.model;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.GraphPrinter;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** import -> export -> import gives the same printed graph and the same evaluator outputs. */
class RoundTripTest {
    @TempDir
    Path tmp;

    private static Graph reimport(Graph g) {
        return OnnxImporter.load(OnnxExporter.toBytes(g), "roundtrip.onnx", Path.of("."));
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny_relu", "mlp", "mnist_cnn", "cifar_cnn", "gru", "lstm"})
    void sharedModelsSurviveARoundTrip(String name) {
        Graph g = OnnxImporter.load(SharedModels.model(name));
        Graph back = reimport(g);
        assertEquals(GraphPrinter.print(g), GraphPrinter.print(back));
        assertEquals(g.initializers().values().stream().toList(), back.initializers().values().stream().toList());
        OnnxImporterTest.assertMatchesTestData(name, back, 0);
    }

    @Test
    void evaluatorOutputsAreIdenticalAfterARoundTrip() {
        Graph g = OnnxImporter.load(SharedModels.model("mnist_cnn"));
        NamedTensor in = TensorProtos.read(SharedModels.testData("mnist_cnn", 1, "input_0.pb"));
        Map<String, Tensor> before = ReferenceEvaluator.run(g, Map.of("input", in.tensor()));
        Map<String, Tensor> after = ReferenceEvaluator.run(reimport(g), Map.of("input", in.tensor()));
        assertEquals(before, after);
    }

    @Test
    void builtGraphWithManyAttributeKindsSurvivesARoundTrip() {
        GraphBuilder b = new GraphBuilder("built");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,2,3"));
        Value w = b.initializer("w", TestModels.iota(0.5f, 3, 4));
        Value shape = b.op("Constant").attr("value", new dev.kiln.ir.Attr.TensorValue(Tensor.ofInt64s(-1, 3)))
                .outputNames("shape").output();
        Value flat = b.op("Reshape").inputs(x, shape).outputNames("flat").output();
        Value mm = b.op("MatMul").name("mm").inputs(flat, w).outputNames("mm").output();
        Value act = b.op("LeakyRelu").inputs(mm).attr("alpha", 0.25f).outputNames("act").output();
        Value t = b.op("Transpose").inputs(act).attr("perm", new long[] {1, 0}).outputNames("t").output();
        List<Value> parts = b.op("Split").inputs(t).attr("axis", 0L).attr("num_outputs", 2L)
                .outputNames("p0", "p1").build();
        Value c = b.op("Cast").inputs(parts.get(1)).attr("to", (long) DType.INT64.onnxCode()).outputNames("c").output();
        Value eq = b.op("Equal").inputs(c, c).outputNames("eq").output();
        b.output(parts.get(0)).output(eq);
        Graph g = b.build();
        Graph back = reimport(g);
        assertEquals(GraphPrinter.print(g), GraphPrinter.print(back));
        Tensor in = TestModels.iota(-3, 2, 2, 3);
        assertEquals(ReferenceEvaluator.run(g, Map.of("x", in)), ReferenceEvaluator.run(back, Map.of("x", in)));
    }

    @Test
    void adaptedOldOpsetModelsExportInCanonicalForm() {
        Graph g = model(11).input("x", DType.FLOAT32, "N", 1L, 3L)
                .node("Squeeze", List.of("x"), List.of("y"), ints("axes", 1)).output("y").load();
        Graph back = reimport(g);
        assertEquals(GraphPrinter.print(g), GraphPrinter.print(back));
    }

    @Test
    void exportsAtTheCanonicalOpset() throws Exception {
        Graph mlp = OnnxImporter.load(SharedModels.model("mlp"));
        assertEquals(OnnxExporter.MIN_EXPORT_OPSET, OnnxExporter.canonicalOpset(mlp), "Gemm and Relu are older");
        ModelProto m = ModelProto.parseFrom(OnnxExporter.toBytes(mlp));
        assertEquals(1, m.getOpsetImportCount());
        assertEquals("", m.getOpsetImport(0).getDomain());
        assertEquals(OnnxExporter.MIN_EXPORT_OPSET, m.getOpsetImport(0).getVersion());
        assertEquals(10, m.getIrVersion());
        assertEquals("kiln", m.getProducerName());
        assertEquals("batch", m.getGraph().getInput(0).getType().getTensorType().getShape().getDim(0).getDimParam());
        // Intermediate values carry their inferred types for other tools.
        assertEquals(Set.of("/fc1/Gemm_output_0", "/Relu_output_0", "/fc2/Gemm_output_0", "/Relu_1_output_0"),
                m.getGraph().getValueInfoList().stream().map(v -> v.getName()).collect(Collectors.toSet()));
    }

    @Test
    void aRecentOpRaisesTheExportedOpsetToItsVersion() throws Exception {
        GraphBuilder b = new GraphBuilder("recent");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,4"));
        Value axis = b.initializer("axis", Tensor.ofInt64s(1));
        Value y = b.op("CumProd").inputs(x, axis).outputNames("y").output();
        b.output(b.op("Relu").inputs(y).outputNames("r").output());
        Graph g = b.build();
        int cumProd = OpTable.get().find("", "CumProd").map(OpDef::sinceVersion).orElseThrow();
        assertEquals(cumProd, OnnxExporter.canonicalOpset(g));
        ModelProto m = ModelProto.parseFrom(OnnxExporter.toBytes(g));
        assertEquals(cumProd, m.getOpsetImport(0).getVersion());
        assertEquals(13, m.getIrVersion(), "ONNX pairs IR 13 with opsets 25 and later");
        assertEquals(GraphPrinter.print(g), GraphPrinter.print(reimport(g)));
    }

    @Test
    void saveWritesTheWholeFileAndNoTemporaryOnes() throws IOException {
        Graph g = OnnxImporter.load(SharedModels.model("mlp"));
        Path out = tmp.resolve("out/mlp.onnx");
        OnnxExporter.save(g, out);
        OnnxExporter.save(g, out); // replacing an existing file
        try (Stream<Path> files = Files.list(out.getParent())) {
            assertEquals(List.of("mlp.onnx"), files.map(p -> p.getFileName().toString()).toList());
        }
        assertArrayEquals(OnnxExporter.toBytes(g), Files.readAllBytes(out));
        assertEquals(GraphPrinter.print(g), GraphPrinter.print(OnnxImporter.load(out)));
    }

    @Test
    void unknownDimsAreWrittenAsNeitherValueNorParam() throws Exception {
        Graph g = model(13).input("x", DType.FLOAT32, null, 2L).node("Relu", List.of("x"), List.of("y"))
                .output("y").load();
        ModelProto m = ModelProto.parseFrom(OnnxExporter.toBytes(g));
        var dim = m.getGraph().getInput(0).getType().getTensorType().getShape().getDim(0);
        assertTrue(!dim.hasDimValue() && !dim.hasDimParam(), dim.toString());
    }
}
