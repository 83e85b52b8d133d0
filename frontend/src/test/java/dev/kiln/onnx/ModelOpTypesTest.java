package dev.kiln.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.ModelFormatException;
import dev.kiln.onnx.proto.Onnx.AttributeProto;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SortedSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelOpTypesTest {
    @TempDir
    Path tmp;

    private static NodeProto node(String op, String domain) {
        return NodeProto.newBuilder().setOpType(op).setDomain(domain).addInput("x").addOutput("y").build();
    }

    @Test
    void listsOpsOfTheGraphAndItsSubgraphsQualifiedByDomain() throws IOException {
        GraphProto thenBranch = GraphProto.newBuilder().addNode(node("Gelu", "com.microsoft")).build();
        GraphProto elseBranch = GraphProto.newBuilder().addNode(node("Relu", "")).build();
        GraphProto loopBody = GraphProto.newBuilder().addNode(node("Tanh", "ai.onnx")).build();
        NodeProto ifNode = NodeProto.newBuilder().setOpType("If").addInput("c").addOutput("z")
                .addAttribute(AttributeProto.newBuilder().setName("then_branch").setType(AttributeProto.AttributeType.GRAPH)
                        .setG(thenBranch))
                .addAttribute(AttributeProto.newBuilder().setName("else_branch").setType(AttributeProto.AttributeType.GRAPH)
                        .setG(elseBranch))
                .build();
        NodeProto withGraphs = NodeProto.newBuilder().setOpType("Custom").setDomain("org.example")
                .addAttribute(AttributeProto.newBuilder().setName("bodies").setType(AttributeProto.AttributeType.GRAPHS)
                        .addGraphs(loopBody))
                .build();
        ModelProto model = ModelProto.newBuilder().setIrVersion(8)
                .setGraph(GraphProto.newBuilder().addNode(node("Add", "")).addNode(ifNode).addNode(withGraphs)
                        .addNode(node("Add", "")))
                .build();
        Path file = tmp.resolve("m.onnx");
        Files.write(file, model.toByteArray());
        SortedSet<String> ops = ModelOpTypes.of(file);
        assertEquals(List.of("Add", "If", "Relu", "Tanh", "com.microsoft.Gelu", "org.example.Custom"), List.copyOf(ops));
    }

    @Test
    void failsOnUnreadableOrCorruptFilesNamingThem() throws IOException {
        ModelFormatException missing = assertThrows(ModelFormatException.class, () -> ModelOpTypes.of(tmp.resolve("no.onnx")));
        assertTrue(missing.getMessage().contains("no.onnx"), missing.getMessage());
        Path junk = tmp.resolve("junk.onnx");
        Files.write(junk, new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x01, 0x02});
        ModelFormatException corrupt = assertThrows(ModelFormatException.class, () -> ModelOpTypes.of(junk));
        assertTrue(corrupt.getMessage().contains("junk.onnx"), corrupt.getMessage());
    }
}
