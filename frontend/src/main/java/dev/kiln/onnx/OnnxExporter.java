package dev.kiln.onnx;

import dev.kiln.ir.Attr;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.ControlFlowOps;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.OperatorSetIdProto;
import dev.kiln.onnx.proto.Onnx.TensorShapeProto;
import dev.kiln.onnx.proto.Onnx.TypeProto;
import dev.kiln.onnx.proto.Onnx.ValueInfoProto;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Writes a Kiln graph as an ONNX model at the graph's canonical opset (the newest {@code sinceVersion} among the
 * op table's declarations of the ONNX ops it uses, subgraphs included, at least {@value #MIN_EXPORT_OPSET}), so
 * every node is in the form its declaration follows and re-imports unchanged, and a model that uses no recent op
 * stays readable by tools that stop at an older opset. Ops of other domains (Kiln's own) get their own
 * opset_import entry.
 */
public final class OnnxExporter {
    /** The lowest opset Kiln writes, even when every op in the table is older. */
    public static final int MIN_EXPORT_OPSET = 21;

    private static final String PRODUCER = "kiln";
    private static final String PRODUCER_VERSION = "0.1.0";

    private OnnxExporter() {}

    /** The serialized model. */
    public static byte[] toBytes(Graph g) {
        return toModel(g).toByteArray();
    }

    /** Writes the model to {@code out} through a temporary file, so {@code out} is never half-written. */
    public static void save(Graph g, Path out) {
        FileIo.writeAtomically(out, toBytes(g));
    }

    /** The opset Kiln exports {@code g}'s default domain at. */
    public static int canonicalOpset(Graph g) {
        int opset = MIN_EXPORT_OPSET;
        for (Node n : g.nodes()) {
            if (n.domain().isEmpty() || n.domain().equals("ai.onnx")) {
                opset = Math.max(opset, OpTable.get().find("", n.op()).map(OpDef::sinceVersion).orElse(opset));
            }
            for (Attr a : n.attributes().asMap().values()) {
                if (a instanceof Attr.GraphValue sub) {
                    opset = Math.max(opset, canonicalOpset(sub.value()));
                }
            }
        }
        return opset;
    }

    static ModelProto toModel(Graph g) {
        int opset = canonicalOpset(g);
        ModelProto.Builder m = ModelProto.newBuilder()
                .setIrVersion(irVersion(opset))
                .setProducerName(PRODUCER)
                .setProducerVersion(PRODUCER_VERSION)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset));
        for (Map.Entry<String, Integer> e : otherDomains(g).entrySet()) {
            m.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(e.getKey()).setVersion(e.getValue()));
        }
        return m.setGraph(toGraph(g)).build();
    }

    /** The IR version ONNX pairs with an opset (IR 10 came with opset 21, 11 with 23, 12 with 24, 13 with 25). */
    private static long irVersion(int opset) {
        return opset <= 22 ? 10 : opset == 23 ? 11 : opset == 24 ? 12 : 13;
    }

    private static int maxSince(String domain) {
        int max = 1;
        for (OpDef def : OpTable.get().all()) {
            if (def.domain().equals(domain)) {
                max = Math.max(max, def.sinceVersion());
            }
        }
        return max;
    }

    /** Non-default domains used by the graph's nodes, each at the newest version its table ops follow. */
    private static Map<String, Integer> otherDomains(Graph g) {
        Map<String, Integer> domains = new TreeMap<>();
        for (Node n : g.nodes()) {
            String d = n.domain();
            if (!d.isEmpty() && !d.equals("ai.onnx")) {
                domains.computeIfAbsent(d, OnnxExporter::maxSince);
            }
        }
        return domains;
    }

    static GraphProto toGraph(Graph g) {
        GraphProto.Builder b = GraphProto.newBuilder().setName(g.name());
        for (Value v : g.inputs()) {
            b.addInput(valueInfo(v));
        }
        for (Map.Entry<Value, Tensor> e : g.initializers().entrySet()) {
            b.addInitializer(TensorProtos.toProto(e.getKey().name(), e.getValue()));
        }
        Set<Value> outputs = new HashSet<>(g.outputs());
        for (Node n : g.nodes()) {
            b.addNode(node(n));
            for (Value o : n.outputs()) {
                if (!o.isAbsent() && !outputs.contains(o)) {
                    b.addValueInfo(valueInfo(o));
                }
            }
        }
        for (Value v : g.outputs()) {
            b.addOutput(valueInfo(v));
        }
        return b.build();
    }

    private static NodeProto node(Node n) {
        if (isControlFlow(n)) {
            return controlFlowNode(n);
        }
        NodeProto.Builder b = NodeProto.newBuilder().setOpType(n.op());
        if (!n.name().isEmpty()) {
            b.setName(n.name());
        }
        if (!n.domain().isEmpty()) {
            b.setDomain(n.domain());
        }
        for (Value v : n.inputs()) {
            b.addInput(v.isAbsent() ? "" : v.name());
        }
        for (Value v : n.outputs()) {
            b.addOutput(v.isAbsent() ? "" : v.name());
        }
        n.attributes().asMap().forEach((name, value) ->
                b.addAttribute(AttributeProtos.toProto(name, value, OnnxExporter::toGraph)));
        return b.build();
    }

    private static boolean isControlFlow(Node n) {
        return n.domain().isEmpty() && java.util.List.of("If", "Loop", "Scan").contains(n.op());
    }

    /**
     * An If, Loop or Scan in ONNX's form: Kiln's captured operands (see {@code dev.kiln.ir.Subgraphs}) leave the node,
     * and each body refers to the outer values by name again, through an Identity where its input is named otherwise.
     */
    private static NodeProto controlFlowNode(Node n) {
        int captures = n.op().equals("If") ? n.inputs().size() - 1 : n.attributes().get(ControlFlowOps.CAPTURES)
                .map(a -> Math.toIntExact(((Attr.Int) a).value())).orElse(0);
        java.util.List<Value> captured = n.inputs().subList(n.inputs().size() - captures, n.inputs().size());
        NodeProto.Builder b = NodeProto.newBuilder().setOpType(n.op());
        if (!n.name().isEmpty()) {
            b.setName(n.name());
        }
        for (Value v : n.inputs().subList(0, n.inputs().size() - captures)) {
            b.addInput(v.isAbsent() ? "" : v.name());
        }
        for (Value v : n.outputs()) {
            b.addOutput(v.isAbsent() ? "" : v.name());
        }
        n.attributes().asMap().forEach((name, value) -> {
            if (name.equals(ControlFlowOps.CAPTURES)) {
                return;
            }
            b.addAttribute(AttributeProtos.toProto(name, value, body -> openBody(body, captured)));
        });
        return b.build();
    }

    /** A closed body as an ONNX body: its trailing inputs, which receive {@code captured}, become outer references. */
    private static GraphProto openBody(Graph body, java.util.List<Value> captured) {
        int formals = body.inputs().size() - captured.size();
        Graph open = new Graph(body.name(), body.inputs().subList(0, formals), body.initializers(), body.nodes(),
                body.outputs());
        GraphProto.Builder g = toGraph(open).toBuilder();
        for (int c = captured.size() - 1; c >= 0; c--) {
            Value inner = body.inputs().get(formals + c);
            if (!inner.name().equals(captured.get(c).name())) {
                g.addNode(0, NodeProto.newBuilder().setOpType("Identity").addInput(captured.get(c).name())
                        .addOutput(inner.name()).build());
            }
        }
        return g.build();
    }

    private static ValueInfoProto valueInfo(Value v) {
        TypeProto type = TypeProtos.toProto(v.type());
        return ValueInfoProto.newBuilder().setName(v.name()).setType(type).build();
    }
}
