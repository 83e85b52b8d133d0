package dev.kiln.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.cli.Kiln;
import dev.kiln.ir.DType;
import dev.kiln.ir.Tensor;
import dev.kiln.onnx.Npy;
import dev.kiln.onnx.TensorProtos;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.OperatorSetIdProto;
import dev.kiln.onnx.proto.Onnx.TensorShapeProto;
import dev.kiln.onnx.proto.Onnx.TypeProto;
import dev.kiln.onnx.proto.Onnx.ValueInfoProto;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code kiln} command line, run in-process: outputs written, summary line, exit codes and error lines. */
class CliTest {
    @TempDir
    Path tmp;

    /** What one invocation printed and returned. */
    private record Result(int code, String out, String err) {
        List<String> outLines() { return out.lines().toList(); }

        List<String> errLines() { return err.lines().toList(); }
    }

    private static Result kiln(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            code = Kiln.execute(o, e, args);
        }
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static void assertOneLineError(Result r, String mustContain) {
        assertEquals(2, r.code(), "exit code; stderr: " + r.err());
        assertEquals(1, r.errLines().size(), "exactly one line on stderr: " + r.err());
        assertTrue(r.err().startsWith("kiln: ") && r.err().contains(mustContain), r.err());
    }

    private static Path mlp() {
        return SharedData.model("mlp");
    }

    @Test
    void runWritesEveryOutputAsNpyMatchingPyTorch() throws IOException {
        Path ds = mlp().resolve("test_data_set_0");
        Path outDir = tmp.resolve("out");
        Result r = kiln("run", mlp().resolve("model.onnx").toString(), "--input", ds.resolve("input_0.pb").toString(),
                "--output-dir", outDir.toString());
        assertEquals(0, r.code(), r.err());
        List<Path> written;
        try (Stream<Path> s = Files.list(outDir)) {
            written = s.toList();
        }
        assertEquals(1, written.size(), "one file per graph output: " + written);
        Tensor expected = TensorProtos.read(ds.resolve("output_0.pb")).tensor();
        Tensor actual = Npy.read(written.get(0));
        assertEquals(DType.FLOAT32, actual.dtype());
        assertArrayEquals(expected.shape(), actual.shape());
        for (int i = 0; i < expected.size(); i++) {
            assertEquals(expected.getDouble(i), actual.getDouble(i), 1e-4, "element " + i);
        }
        assertTrue(r.out().contains(written.get(0).getFileName().toString()), r.out());
    }

    @Test
    void runPrintsValuesAndPredictedClassOfTheBundledExample() {
        Path example = Path.of(System.getProperty("user.dir")).getParent().resolve("examples/digits");
        Result r = kiln("run", example.resolve("model.onnx").toString(), "--input",
                example.resolve("sample_input.npy").toString(), "--output-dir", tmp.resolve("ex").toString(), "--print");
        assertEquals(0, r.code(), r.err());
        Tensor logits = Npy.read(tmp.resolve("ex").resolve("logits.npy"));
        int best = 0;
        for (int c = 1; c < logits.size(); c++) {
            best = logits.getDouble(c) > logits.getDouble(best) ? c : best;
        }
        assertTrue(r.out().contains("logits = [" + String.format(java.util.Locale.ROOT, "%.5g", logits.getDouble(0))),
                r.out());
        assertTrue(r.out().contains("logits[0] arg-max: " + best), r.out());
    }

    @Test
    void compileWritesTheClassAndWeightsNamedAfterTheFile() throws IOException {
        Path model = tmp.resolve("mnist_cnn.onnx");
        Files.copy(SharedData.model("mnist_cnn").resolve("model.onnx"), model);
        Path out = tmp.resolve("gen");
        Result r = kiln("compile", model.toString(), "--out", out.toString(), "--package", "com.acme.models");
        assertEquals(0, r.code(), r.err());
        Path source = out.resolve("com/acme/models/MnistCnn.java");
        assertTrue(Files.readString(source).contains("public final class MnistCnn"), source.toString());
        assertTrue(Files.size(out.resolve("com/acme/models/MnistCnn.weights")) > 80_000);
        try (Stream<Path> all = Files.walk(out)) {
            assertEquals(List.of(), all.filter(p -> p.getFileName().toString().startsWith(".kiln")).toList(),
                    "no staging leftovers");
        }
    }

    @Test
    void compileFailureLeavesTheOutputFolderUntouched() throws IOException {
        Path out = tmp.resolve("untouched");
        Files.createDirectories(out);
        Files.writeString(out.resolve("keep.txt"), "x");
        // Cast to string has reference semantics but generated code refuses it: a clear error, nothing written.
        Path model = tmp.resolve("to_text.onnx");
        Files.write(model, castToStringModel().toByteArray());
        Result r = kiln("compile", model.toString(), "--out", out.toString());
        assertOneLineError(r, "node 'to_text' (Cast): code generation does not handle string tensors in Cast");
        try (Stream<Path> all = Files.list(out)) {
            assertEquals(List.of(out.resolve("keep.txt")), all.toList());
        }
    }

    @Test
    void runWithTheCodegenBackendMatchesPyTorch() throws IOException {
        Path ds = SharedData.model("cifar_cnn").resolve("test_data_set_2");
        Path outDir = tmp.resolve("cg");
        Result r = kiln("run", SharedData.model("cifar_cnn").resolve("model.onnx").toString(), "--input",
                ds.resolve("input_0.pb").toString(), "--output-dir", outDir.toString(), "--backend", "codegen");
        assertEquals(0, r.code(), r.err());
        Tensor expected = TensorProtos.read(ds.resolve("output_0.pb")).tensor();
        try (Stream<Path> s = Files.list(outDir)) {
            Tensor actual = Npy.read(s.findFirst().orElseThrow());
            for (int i = 0; i < expected.size(); i++) {
                assertEquals(expected.getDouble(i), actual.getDouble(i), 1e-4, "element " + i);
            }
        }
    }

    @Test
    void compileFixesSymbolicDimsOtherThanTheBatch() throws IOException {
        Path model = tmp.resolve("seq.onnx");
        Files.write(model, sequenceSoftmaxModel().toByteArray());
        Path out = tmp.resolve("seq-gen");
        // Generated code takes one dynamic dim: without --dim, the error says which dims are the problem.
        assertOneLineError(kiln("compile", model.toString(), "--out", out.toString()), "[N,S,3]");
        Result r = kiln("compile", model.toString(), "--out", out.toString(), "--dim", "S=7");
        assertEquals(0, r.code(), r.err());
        String source = Files.readString(out.resolve("Seq.java"));
        assertTrue(source.contains("input {@code x} (x): float32 [batch,7,4]"), source);
        assertOneLineError(kiln("compile", model.toString(), "--out", out.toString(), "--dim", "T=7"),
                "seq.onnx: cannot fix dims {T=7}: the model's inputs have no symbolic dim 'T' (they have N, S)");
        assertOneLineError(kiln("compile", model.toString(), "--out", out.toString(), "--dim", "S=0"),
                "dim S must be at least 1");
    }

    @Test
    void runWithTheCodegenBackendFixesDimsFromTheInputs() throws IOException {
        Path model = tmp.resolve("seq.onnx");
        Files.write(model, sequenceSoftmaxModel().toByteArray());
        Path x = tmp.resolve("x.npy");
        double[] values = new double[2 * 5 * 4];
        for (int i = 0; i < values.length; i++) {
            values[i] = Math.sin(i);
        }
        Npy.write(x, Tensor.fromDoubles(DType.FLOAT32, new int[] {2, 5, 4}, values));
        Result ref = kiln("run", model.toString(), "--input", x.toString(), "--output-dir", tmp.resolve("r").toString());
        assertEquals(0, ref.code(), ref.err());
        Result gen = kiln("run", model.toString(), "--input", x.toString(), "--output-dir", tmp.resolve("g").toString(),
                "--backend", "codegen");
        assertEquals(0, gen.code(), gen.err());
        Tensor expected = Npy.read(tmp.resolve("r/y.npy"));
        Tensor actual = Npy.read(tmp.resolve("g/y.npy"));
        assertArrayEquals(new int[] {2, 5, 3}, actual.shape());
        for (int i = 0; i < expected.size(); i++) {
            // MatMul over 4 products, bias, softmax over 3: float32 rounding of both backends, a few ulp
            assertEquals(expected.getDouble(i), actual.getDouble(i), 1e-6, "element " + i);
        }
    }

    @Test
    void runTakesNamedNpyInputs() throws IOException {
        Path ds = mlp().resolve("test_data_set_1");
        var input = TensorProtos.read(ds.resolve("input_0.pb"));
        Path npy = tmp.resolve("x.npy");
        Npy.write(npy, input.tensor());
        String inputName = dev.kiln.onnx.OnnxImporter.load(mlp().resolve("model.onnx")).inputs().get(0).name();
        Path outDir = tmp.resolve("named");
        Result r = kiln("run", mlp().resolve("model.onnx").toString(), "--input", inputName + "=" + npy,
                "--output-dir", outDir.toString());
        assertEquals(0, r.code(), r.err());
        Tensor expected = TensorProtos.read(ds.resolve("output_0.pb")).tensor();
        try (Stream<Path> s = Files.list(outDir)) {
            Tensor actual = Npy.read(s.findFirst().orElseThrow());
            for (int i = 0; i < expected.size(); i++) {
                assertEquals(expected.getDouble(i), actual.getDouble(i), 1e-4, "element " + i);
            }
        }
    }

    @Test
    void runSanitizesOutputFileNames() throws IOException {
        Path model = tmp.resolve("odd_names.onnx");
        Files.write(model, singleNodeModel("Relu", "in:0", "out/y:0").toByteArray());
        Path x = tmp.resolve("x.npy");
        Npy.write(x, Tensor.ofFloats(new int[] {2, 3}, -1, 2, -3, 4, -5, 6));
        Result r = kiln("run", model.toString(), "--input", x.toString(), "--output-dir", tmp.resolve("o").toString());
        assertEquals(0, r.code(), r.err());
        Tensor y = Npy.read(tmp.resolve("o").resolve("out_y_0.npy"));
        assertEquals(Tensor.ofFloats(new int[] {2, 3}, 0, 2, 0, 4, 0, 6), y);
    }

    @Test
    void testOnnxPrintsOneLinePerCaseAndTheSummaryLast() throws IOException {
        Path suite = tmp.resolve("suite");
        copyCase(SharedData.onnxSuite("node").resolve("test_relu"), suite.resolve("test_relu"));
        Result r = kiln("test-onnx", suite.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertEquals(List.of("PASS suite/test_relu", "1 passed, 0 failed, 0 skipped"), r.outLines());
    }

    @Test
    void testOnnxFailsOnAWrongExpectedOutputAndSkipsAnUnknownOp() throws IOException {
        Path suite = tmp.resolve("cases");
        Path wrong = suite.resolve("a_wrong");
        copyCase(SharedData.onnxSuite("node").resolve("test_relu"), wrong);
        Path out0 = wrong.resolve("test_data_set_0").resolve("output_0.pb");
        var expected = TensorProtos.read(out0);
        double[] bumped = expected.tensor().toDoubleArray();
        bumped[0] += 0.5;
        TensorProtos.write(out0, expected.name(), Tensor.fromDoubles(DType.FLOAT32, expected.tensor().shape(), bumped));
        Path unknown = suite.resolve("b_unknown");
        Files.createDirectories(unknown.resolve("test_data_set_0"));
        Files.write(unknown.resolve("model.onnx"), singleNodeModel("Frobnicate", "x", "y").toByteArray());
        TensorProtos.write(unknown.resolve("test_data_set_0").resolve("input_0.pb"), "x",
                Tensor.ofFloats(new int[] {2, 3}, 1, 2, 3, 4, 5, 6));

        Result r = kiln("test-onnx", suite.toString());
        assertEquals(1, r.code(), r.out() + r.err());
        List<String> lines = r.outLines();
        assertEquals(3, lines.size(), r.out());
        assertTrue(lines.get(0).startsWith("FAIL cases/a_wrong: test_data_set_0, output 0") && lines.get(0).contains("max abs error 0.500"),
                lines.get(0));
        assertTrue(lines.get(1).startsWith("SKIP cases/b_unknown: ") && lines.get(1).contains("Frobnicate"), lines.get(1));
        assertEquals("0 passed, 1 failed, 1 skipped", lines.get(2));
    }

    @Test
    void testOnnxWritesAReport() throws IOException {
        Path suite = tmp.resolve("suite");
        copyCase(SharedData.onnxSuite("node").resolve("test_relu"), suite.resolve("test_relu"));
        Path report = tmp.resolve("docs").resolve("CONFORMANCE.md");
        Result r = kiln("test-onnx", "--report", report.toString(), suite.toString());
        assertEquals(0, r.code(), r.err());
        String text = Files.readString(report);
        assertTrue(text.contains("kiln test-onnx --report " + report + " " + suite), text);
        assertTrue(text.contains("| `suite` | 1 | 1 | 0 | 0 |"), text);
        assertTrue(text.contains("| Relu | 1 / 1 | 0 | 0 |"), text);
    }

    @Test
    void missingModelFileIsABadInput() {
        assertOneLineError(kiln("inspect", tmp.resolve("nope.onnx").toString()), "nope.onnx");
        assertOneLineError(kiln("run", tmp.resolve("nope.onnx").toString(), "--output-dir", tmp.toString()), "nope.onnx");
    }

    @Test
    void corruptModelIsABadInput() throws IOException {
        Path model = tmp.resolve("corrupt.onnx");
        byte[] good = Files.readAllBytes(SharedData.onnxSuite("node").resolve("test_relu").resolve("model.onnx"));
        Files.write(model, java.util.Arrays.copyOf(good, good.length / 2));
        assertOneLineError(kiln("inspect", model.toString()), "corrupt.onnx");
        Files.writeString(model, "this is not protobuf at all\u0000\u00ff");
        assertOneLineError(kiln("inspect", model.toString()), "corrupt.onnx");
    }

    @Test
    void unknownOpIsABadInputNamingTheOp() throws IOException {
        Path model = tmp.resolve("unknown.onnx");
        Files.write(model, singleNodeModel("Frobnicate", "x", "y").toByteArray());
        assertOneLineError(kiln("inspect", model.toString()), "Frobnicate");
    }

    @Test
    void wrongInputShapeIsABadInput() throws IOException {
        Path model = tmp.resolve("relu.onnx");
        Files.write(model, singleNodeModel("Relu", "x", "y").toByteArray());
        Path x = tmp.resolve("x.npy");
        Npy.write(x, Tensor.zeros(DType.FLOAT32, new int[] {1, 10}));
        assertOneLineError(kiln("run", model.toString(), "--input", x.toString(),
                "--output-dir", tmp.resolve("o").toString()), "f32[1,10]");
        assertTrue(Files.notExists(tmp.resolve("o")) || isEmpty(tmp.resolve("o")), "nothing written on failure");
    }

    @Test
    void usageErrorsAreOneLineWithExitCode2() {
        assertOneLineError(kiln("run", mlp().resolve("model.onnx").toString()), "--output-dir");
        assertOneLineError(kiln("frobnicate"), "frobnicate");
        assertOneLineError(kiln("run", mlp().resolve("model.onnx").toString(), "--backend", "gpu", "--output-dir",
                tmp.resolve("gpu").toString()), "unknown backend 'gpu'");
        assertOneLineError(kiln("test-onnx", tmp.resolve("missing").toString()), "missing");
    }

    @Test
    void everyCommandHasHelp() {
        for (String cmd : List.of("inspect", "run", "test-onnx")) {
            Result r = kiln(cmd, "--help");
            assertEquals(0, r.code(), cmd);
            assertTrue(r.out().startsWith("Usage: kiln " + cmd), r.out());
        }
        Result top = kiln("--help");
        assertEquals(0, top.code());
        assertTrue(top.out().contains("test-onnx") && top.out().contains("inspect") && top.out().contains("run"), top.out());
    }

    @Test
    void inspectPrintsTheGraphAndWritesDot() throws IOException {
        Path dot = tmp.resolve("g.dot");
        Result r = kiln("inspect", mlp().resolve("model.onnx").toString(), "--dot", dot.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("graph ") && r.out().contains("= Gemm(") && r.out().contains("= Relu("), r.out());
        String text = Files.readString(dot);
        assertTrue(text.startsWith("digraph ") && text.contains("Gemm") && text.contains("->") && text.strip().endsWith("}"), text);
        Path svg = tmp.resolve("g.dot.svg");
        if (graphvizInstalled()) {
            assertTrue(Files.readString(svg).contains("<svg") && r.err().contains("wrote " + svg), r.err());
        } else {
            assertTrue(Files.notExists(svg), "no SVG without Graphviz");
        }
    }

    private static boolean graphvizInstalled() {
        try {
            return new ProcessBuilder("dot", "-V").redirectErrorStream(true).start().waitFor() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static boolean isEmpty(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static void copyCase(Path from, Path to) throws IOException {
        try (Stream<Path> walk = Files.walk(from)) {
            for (Path p : walk.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }

    /** A one-node opset-13 model {@code output = op(input)} over f32[2,3], written with the ONNX protobuf classes. */
    private static ModelProto singleNodeModel(String op, String input, String output) {
        TypeProto type = TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(1)
                .setShape(TensorShapeProto.newBuilder()
                        .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(2))
                        .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(3)))).build();
        GraphProto graph = GraphProto.newBuilder().setName("one_node")
                .addNode(NodeProto.newBuilder().setOpType(op).setName("the_node").addInput(input).addOutput(output))
                .addInput(ValueInfoProto.newBuilder().setName(input).setType(type))
                .addOutput(ValueInfoProto.newBuilder().setName(output).setType(type))
                .build();
        return ModelProto.newBuilder().setIrVersion(8).setProducerName("kiln-tests")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13))
                .setGraph(graph).build();
    }

    /** {@code y = Softmax(MatMul(x, W) + B)} with x: f32[N, S, 4], both N and S symbolic (as exporters name them). */
    private static ModelProto sequenceSoftmaxModel() {
        TensorShapeProto.Dimension n = TensorShapeProto.Dimension.newBuilder().setDimParam("N").build();
        TensorShapeProto.Dimension seq = TensorShapeProto.Dimension.newBuilder().setDimParam("S").build();
        TypeProto xType = TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(1)
                .setShape(TensorShapeProto.newBuilder().addDim(n).addDim(seq)
                        .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(4)))).build();
        TypeProto yType = TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(1)
                .setShape(TensorShapeProto.newBuilder().addDim(n).addDim(seq)
                        .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(3)))).build();
        float[] w = new float[12];
        for (int i = 0; i < w.length; i++) {
            w[i] = 0.1f * (i % 7) - 0.3f;
        }
        GraphProto graph = GraphProto.newBuilder().setName("seq")
                .addNode(NodeProto.newBuilder().setOpType("MatMul").addInput("x").addInput("W").addOutput("m"))
                .addNode(NodeProto.newBuilder().setOpType("Add").addInput("m").addInput("B").addOutput("a"))
                .addNode(NodeProto.newBuilder().setOpType("Softmax").addInput("a").addOutput("y"))
                .addInitializer(TensorProtos.toProto("W", Tensor.ofFloats(new int[] {4, 3}, w)))
                .addInitializer(TensorProtos.toProto("B", Tensor.ofFloats(new int[] {3}, 0.5f, -0.25f, 0.125f)))
                .addInput(ValueInfoProto.newBuilder().setName("x").setType(xType))
                .addOutput(ValueInfoProto.newBuilder().setName("y").setType(yType))
                .build();
        return ModelProto.newBuilder().setIrVersion(8).setProducerName("kiln-tests")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13))
                .setGraph(graph).build();
    }

    /** {@code text = Cast(x, to=STRING)} over f32[2], a conversion generated code refuses. */
    private static ModelProto castToStringModel() {
        TensorShapeProto two = TensorShapeProto.newBuilder()
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(2)).build();
        GraphProto graph = GraphProto.newBuilder().setName("to_text")
                .addNode(NodeProto.newBuilder().setOpType("Cast").setName("to_text").addInput("x").addOutput("text")
                        .addAttribute(dev.kiln.onnx.proto.Onnx.AttributeProto.newBuilder().setName("to")
                                .setType(dev.kiln.onnx.proto.Onnx.AttributeProto.AttributeType.INT)
                                .setI(DType.STRING.onnxCode())))
                .addInput(ValueInfoProto.newBuilder().setName("x").setType(TypeProto.newBuilder().setTensorType(
                        TypeProto.Tensor.newBuilder().setElemType(DType.FLOAT32.onnxCode()).setShape(two))))
                .addOutput(ValueInfoProto.newBuilder().setName("text").setType(TypeProto.newBuilder().setTensorType(
                        TypeProto.Tensor.newBuilder().setElemType(DType.STRING.onnxCode()).setShape(two))))
                .build();
        return ModelProto.newBuilder().setIrVersion(8).setProducerName("kiln-tests")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13))
                .setGraph(graph).build();
    }
}
