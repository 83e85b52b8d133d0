package dev.kiln.onnx;

import static dev.kiln.onnx.TestModels.model;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.GraphException;
import dev.kiln.ir.KilnException;
import dev.kiln.ir.ModelFormatException;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.onnx.proto.Onnx.AttributeProto;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.StringStringEntryProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;
import dev.kiln.onnx.proto.Onnx.TypeProto;
import dev.kiln.onnx.proto.Onnx.ValueInfoProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** Every way a model can fail to import gives a Kiln exception naming the model file and what is wrong. */
class ImportErrorsTest {
    @TempDir
    Path tmp;

    /** Asserts {@code load} throws {@code type} whose message contains every fragment. */
    private static <T extends KilnException> T fails(Class<T> type, Executable load, String... fragments) {
        T e = assertThrows(type, load);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "message lacks '" + f + "': " + e.getMessage());
        }
        return e;
    }

    private static TestModels.Model reluModel(int opset) {
        return model(opset).input("x", DType.FLOAT32, "N", 4L).node("Relu", List.of("x"), List.of("y")).output("y");
    }

    @Test
    void missingFile() {
        Path p = tmp.resolve("absent.onnx");
        fails(ModelFormatException.class, () -> OnnxImporter.load(p), "ONNX model " + p + " does not exist");
    }

    @Test
    void directoryInsteadOfFile() {
        fails(ModelFormatException.class, () -> OnnxImporter.load(tmp), tmp + " is a directory");
    }

    @Test
    void unreadableFile() throws IOException {
        Path p = Files.write(tmp.resolve("locked.onnx"), reluModel(13).bytes());
        Assumptions.assumeTrue(p.toFile().setReadable(false) && !Files.isReadable(p), "running as root");
        fails(ModelFormatException.class, () -> OnnxImporter.load(p), "locked.onnx cannot be read");
    }

    @Test
    void truncatedRealModel() throws IOException {
        byte[] full = Files.readAllBytes(SharedModels.model("mlp"));
        Path half = Files.write(tmp.resolve("half.onnx"), Arrays.copyOf(full, full.length / 2));
        fails(ModelFormatException.class, () -> OnnxImporter.load(half),
                half + " is not a valid ONNX model (truncated or corrupt protobuf");
    }

    @Test
    void garbageBytes() throws IOException {
        byte[] garbage = new byte[4096];
        new Random(7).nextBytes(garbage);
        Path p = Files.write(tmp.resolve("garbage.onnx"), garbage);
        KilnException e = assertThrows(ModelFormatException.class, () -> OnnxImporter.load(p));
        assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
        Path text = Files.writeString(tmp.resolve("text.onnx"), "this is not a model\n");
        fails(ModelFormatException.class, () -> OnnxImporter.load(text), text.toString());
    }

    @Test
    void emptyFileAndEmptyGraph() throws IOException {
        Path empty = Files.write(tmp.resolve("empty.onnx"), new byte[0]);
        fails(ModelFormatException.class, () -> OnnxImporter.load(empty), "empty.onnx contains no graph");
        byte[] noNodes = model(13).input("x", DType.FLOAT32, 2L).output("x").bytes();
        fails(ModelFormatException.class, () -> OnnxImporter.load(noNodes, "nonodes.onnx", tmp),
                "nonodes.onnx: graph 'test' is empty (it has no nodes)");
        byte[] noOutputs = model(13).input("x", DType.FLOAT32, 2L).node("Relu", List.of("x"), List.of("y")).bytes();
        fails(ModelFormatException.class, () -> OnnxImporter.load(noOutputs, "noout.onnx", tmp), "declares no outputs");
    }

    @Test
    void unknownOpNamesOpDomainNodeOpsetAndFile() {
        byte[] m = model(17).input("x", DType.FLOAT32, 2L)
                .node(NodeProto.newBuilder().setOpType("FancyOp").setName("fancy1").addInput("x").addOutput("y").build())
                .output("y").bytes();
        UnsupportedOpException e = fails(UnsupportedOpException.class, () -> OnnxImporter.load(m, "net.onnx", tmp),
                "net.onnx", "'FancyOp'", "domain 'ai.onnx'", "opset 17", "node 'fancy1'");
        assertEquals("net.onnx: unsupported op 'FancyOp' (domain 'ai.onnx', opset 17) used by node 'fancy1' (FancyOp); "
                + "Kiln's op table has no such op", e.getMessage());
        TestModels.Model custom = model(17).input("x", DType.FLOAT32, 2L)
                .node(NodeProto.newBuilder().setOpType("Gelu").setDomain("com.microsoft").addInput("x").addOutput("y")
                        .build()).output("y");
        custom.model.addOpsetImport(dev.kiln.onnx.proto.Onnx.OperatorSetIdProto.newBuilder()
                .setDomain("com.microsoft").setVersion(1));
        fails(UnsupportedOpException.class, () -> OnnxImporter.load(custom.bytes(), "ms.onnx", tmp),
                "ms.onnx: unsupported op 'Gelu' (domain 'com.microsoft', opset 1) used by Gelu node producing 'y'");
    }

    @Test
    void danglingInputNamesNodeAndValue() {
        byte[] m = model(13).input("x", DType.FLOAT32, 2L)
                .node(NodeProto.newBuilder().setOpType("Add").setName("add1").addInput("x").addInput("bias")
                        .addOutput("y").build()).output("y").bytes();
        fails(GraphException.class, () -> OnnxImporter.load(m, "net.onnx", tmp),
                "net.onnx: node 'add1' (Add) uses 'bias', which no node, graph input or initializer defines");
    }

    @Test
    void undefinedGraphOutput() {
        byte[] m = reluModel(13).output("z").bytes();
        fails(GraphException.class, () -> OnnxImporter.load(m, "net.onnx", tmp), "graph output 'z' is not produced");
    }

    @Test
    void valueDefinedTwiceAndCycle() {
        byte[] twice = reluModel(13).node("Relu", List.of("x"), List.of("y")).bytes();
        fails(GraphException.class, () -> OnnxImporter.load(twice, "net.onnx", tmp), "value 'y' is produced twice");
        byte[] cycle = model(13).input("x", DType.FLOAT32, 2L)
                .node("Add", List.of("x", "b"), List.of("a"))
                .node("Relu", List.of("a"), List.of("b")).output("b").bytes();
        fails(GraphException.class, () -> OnnxImporter.load(cycle, "net.onnx", tmp), "net.onnx: the graph has a cycle");
    }

    @Test
    void unsupportedElementType() {
        byte[] input = model(13).input("x", DType.FLOAT32, 2L)
                .input(ValueInfoProto.newBuilder().setName("c").setType(TypeProto.newBuilder().setTensorType(
                        TypeProto.Tensor.newBuilder().setElemType(14))).build())
                .node("Relu", List.of("x"), List.of("y")).output("y").bytes();
        fails(UnsupportedModelException.class, () -> OnnxImporter.load(input, "net.onnx", tmp),
                "net.onnx: graph input 'c' has element type COMPLEX64 (code 14), which Kiln does not support");
        TestModels.Model init = reluModel(13);
        init.graph.addInitializer(TensorProto.newBuilder().setName("q").setDataType(15).addDims(1)
                .setRawData(com.google.protobuf.ByteString.copyFrom(new byte[16])));
        fails(UnsupportedModelException.class, () -> OnnxImporter.load(init.bytes(), "net.onnx", tmp),
                "net.onnx: tensor 'q' has element type COMPLEX128 (code 15)");
    }

    @Test
    void nonTensorGraphInputs() {
        TypeProto tensor = TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(1)).build();
        TypeProto sequence = TypeProto.newBuilder().setSequenceType(TypeProto.Sequence.newBuilder().setElemType(tensor))
                .build();
        TypeProto[] types = {
                TypeProto.newBuilder().setMapType(TypeProto.Map.newBuilder().setKeyType(7).setValueType(tensor)).build(),
                TypeProto.newBuilder().setOptionalType(TypeProto.Optional.newBuilder().setElemType(
                        TypeProto.newBuilder().setMapType(TypeProto.Map.newBuilder().setKeyType(7)
                                .setValueType(tensor)))).build()};
        String[] kinds = {"is a map; Kiln supports tensors, sequences of tensors and optionals",
                "is an optional of a map; Kiln supports optionals of tensors and of sequences of tensors"};
        for (int i = 0; i < types.length; i++) {
            byte[] m = reluModel(13).input(ValueInfoProto.newBuilder().setName("s").setType(types[i]).build()).bytes();
            fails(UnsupportedModelException.class, () -> OnnxImporter.load(m, "seq.onnx", tmp),
                    "seq.onnx: graph input 's' " + kinds[i]);
        }
        // Sequences and optionals of tensors import; their tensors' rank may be unknown.
        byte[] seq = reluModel(13).input(ValueInfoProto.newBuilder().setName("s").setType(sequence).build()).bytes();
        assertEquals("seq(f32[*])", OnnxImporter.load(seq, "seq.onnx", tmp).inputs().get(1).type().toString());
        byte[] opt = reluModel(13).input(ValueInfoProto.newBuilder().setName("o").setType(TypeProto.newBuilder()
                .setOptionalType(TypeProto.Optional.newBuilder().setElemType(sequence))).build()).bytes();
        assertEquals("opt(seq(f32[*]))", OnnxImporter.load(opt, "opt.onnx", tmp).inputs().get(1).type().toString());
        byte[] noShape = model(13).input(ValueInfoProto.newBuilder().setName("x").setType(tensor).build())
                .node("Relu", List.of("x"), List.of("y")).output("y").bytes();
        fails(UnsupportedModelException.class, () -> OnnxImporter.load(noShape, "r.onnx", tmp),
                "graph input 'x' has no shape (unknown rank)");
    }

    @Test
    void externalDataEscapingTheModelFolder() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("model"));
        Files.write(tmp.resolve("weights.bin"), new byte[16]);
        TestModels.Model m = model(13).input("x", DType.FLOAT32, 4L)
                .node("Add", List.of("x", "w"), List.of("y")).output("y");
        m.graph.addInitializer(TensorProto.newBuilder().setName("w").setDataType(1).addDims(4)
                .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue("../weights.bin")));
        Path file = Files.write(dir.resolve("model.onnx"), m.bytes());
        fails(ModelFormatException.class, () -> OnnxImporter.load(file), file.toString(),
                "tensor 'w': external data location '../weights.bin' escapes the model folder");
    }

    @Test
    void externalDataInsideTheModelFolderLoads() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("model"));
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(16).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putFloat(1).putFloat(2).putFloat(3).putFloat(4);
        Files.write(dir.resolve("weights.bin"), b.array());
        TestModels.Model m = model(13).input("x", DType.FLOAT32, 4L)
                .node("Add", List.of("x", "w"), List.of("y")).output("y");
        m.graph.addInitializer(TensorProto.newBuilder().setName("w").setDataType(1).addDims(4)
                .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue("weights.bin")));
        Path file = Files.write(dir.resolve("model.onnx"), m.bytes());
        dev.kiln.ir.Graph g = OnnxImporter.load(file);
        assertEquals(Tensor.ofFloats(new int[] {4}, 1, 2, 3, 4), g.initializers().values().iterator().next());
    }

    @Test
    void opsetOutsideTheSupportedRange() {
        fails(UnsupportedModelException.class, () -> OnnxImporter.load(reluModel(0).bytes(), "old.onnx", tmp),
                "old.onnx uses ONNX opset 0; Kiln imports opsets 1 to 28");
        fails(UnsupportedModelException.class, () -> OnnxImporter.load(reluModel(29).bytes(), "new.onnx", tmp),
                "new.onnx uses ONNX opset 29");
        TestModels.Model none = reluModel(13);
        none.model.clearOpsetImport().addOpsetImport(dev.kiln.onnx.proto.Onnx.OperatorSetIdProto.newBuilder()
                .setDomain("ai.onnx.ml").setVersion(3));
        fails(ModelFormatException.class, () -> OnnxImporter.load(none.bytes(), "ml.onnx", tmp),
                "ml.onnx: Relu node producing 'y' uses domain 'ai.onnx', for which the model imports no opset");
    }

    @Test
    void sparseInitializersAreRefused() {
        TestModels.Model m = reluModel(13);
        m.graph.addSparseInitializer(dev.kiln.onnx.proto.Onnx.SparseTensorProto.newBuilder()
                .setValues(TensorProto.newBuilder().setName("sp").setDataType(1).addDims(1).addFloatData(1))
                .setIndices(TensorProto.newBuilder().setDataType(7).addDims(1).addInt64Data(0)).addDims(4));
        fails(UnsupportedModelException.class, () -> OnnxImporter.load(m.bytes(), "sparse.onnx", tmp),
                "sparse.onnx: sparse initializer 'sp' is not supported");
    }

    @Test
    void oldSoftmaxAxisOutOfRange() {
        byte[] m = model(11).input("x", DType.FLOAT32, 3L).node(NodeProto.newBuilder().setOpType("Softmax")
                .setName("sm").addInput("x").addOutput("y").build()).output("y").bytes();
        fails(dev.kiln.ir.ShapeException.class, () -> OnnxImporter.load(m, "sm.onnx", tmp),
                "sm.onnx: node 'sm' (Softmax) (opset 11): axis 1 is out of range for input f32[3]");
    }

    @Test
    void subgraphsOutsideControlFlowAreRefused() {
        byte[] m = model(13).input("x", DType.FLOAT32, 2L).node(NodeProto.newBuilder().setOpType("Relu").setName("r1")
                .addInput("x").addOutput("y").addAttribute(AttributeProto.newBuilder().setName("g")
                        .setType(AttributeProto.AttributeType.GRAPH).setG(GraphProto.newBuilder().setName("t")))
                .build()).output("y").bytes();
        fails(UnsupportedModelException.class, () -> OnnxImporter.load(m, "g.onnx", tmp),
                "g.onnx: node 'r1' (Relu): attribute 'g' is a subgraph; Kiln imports subgraphs only as the bodies of "
                        + "If, Loop and Scan");
    }

    @Test
    void anIfNeedsBothBranches() {
        byte[] m = model(13).input("c", DType.BOOL).node(NodeProto.newBuilder().setOpType("If").setName("if1")
                .addInput("c").addOutput("y").addAttribute(AttributeProto.newBuilder().setName("then_branch")
                        .setType(AttributeProto.AttributeType.GRAPH).setG(GraphProto.newBuilder().setName("t")))
                .build()).output("y").bytes();
        fails(ModelFormatException.class, () -> OnnxImporter.load(m, "if.onnx", tmp),
                "if.onnx: node 'if1' (If): graph attribute 'else_branch' is missing");
    }

    @Test
    void shapeErrorsNameTheFile() {
        byte[] m = model(13).input("a", DType.FLOAT32, 2L).input("b", DType.FLOAT32, 3L)
                .node(NodeProto.newBuilder().setOpType("Add").setName("add1").addInput("a").addInput("b").addOutput("y")
                        .build()).output("y").bytes();
        fails(dev.kiln.ir.ShapeException.class, () -> OnnxImporter.load(m, "net.onnx", tmp),
                "net.onnx: ", "node 'add1' (Add)");
    }
}
