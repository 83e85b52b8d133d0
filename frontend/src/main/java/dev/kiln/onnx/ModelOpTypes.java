package dev.kiln.onnx;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.kiln.ir.ModelFormatException;
import dev.kiln.onnx.proto.Onnx.AttributeProto;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * The op types an ONNX model uses, read straight from the protobuf without importing it, so conformance reports
 * can name the ops of a model even when the import fails (an unsupported op, a shape error).
 */
public final class ModelOpTypes {
    private ModelOpTypes() {}

    /**
     * The op types of every node of {@code model}'s graph and of its subgraphs (If/Loop/Scan bodies); ops of a
     * domain other than ONNX's default are qualified by it, e.g. {@code com.microsoft.Gelu}.
     */
    public static SortedSet<String> of(Path model) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(model);
        } catch (IOException e) {
            throw new ModelFormatException("ONNX model " + model + " cannot be read: " + e, e);
        }
        ModelProto proto;
        try {
            proto = ModelProto.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new ModelFormatException("ONNX model " + model + " is not a valid ONNX protobuf: " + e.getMessage(), e);
        }
        SortedSet<String> ops = new TreeSet<>();
        collect(proto.getGraph(), ops);
        return ops;
    }

    private static void collect(GraphProto graph, SortedSet<String> ops) {
        for (NodeProto n : graph.getNodeList()) {
            String domain = n.getDomain();
            ops.add(domain.isEmpty() || domain.equals("ai.onnx") ? n.getOpType() : domain + "." + n.getOpType());
            for (AttributeProto a : n.getAttributeList()) {
                if (a.hasG()) {
                    collect(a.getG(), ops);
                }
                for (GraphProto g : a.getGraphsList()) {
                    collect(g, ops);
                }
            }
        }
    }
}
