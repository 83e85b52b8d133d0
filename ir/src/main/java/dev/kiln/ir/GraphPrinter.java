package dev.kiln.ir;

import java.util.List;
import java.util.stream.Collectors;

/**
 * The deterministic text form of a graph, used by tests (golden before/after of passes) and
 * {@code kiln inspect}:
 *
 * <pre>
 * graph mlp(%x: f32[N,784]) -> (%y: f32[N,10])
 *   init %w: f32[512,784]
 *   %h: f32[N,512] = Gemm(%x, %w, %b) {transB=1}  # fc1
 *   return %y
 * </pre>
 *
 * Initializers with at most 8 elements print their values, so folded constants show in goldens.
 */
public final class GraphPrinter {
    private static final int SMALL_CONSTANT = 8;

    private GraphPrinter() {}

    public static String print(Graph g) {
        return print(g, "");
    }

    /**
     * The text form indented by {@code indent}. A control-flow node's bodies follow it on lines of their own, one
     * level deeper, each headed by its attribute name ({@code then_branch: graph ...}).
     */
    private static String print(Graph g, String indent) {
        StringBuilder sb = new StringBuilder(indent);
        sb.append("graph ").append(g.name()).append('(')
                .append(g.inputs().stream().map(Value::toString).collect(Collectors.joining(", ")))
                .append(") -> (")
                .append(g.outputs().stream().map(Value::toString).collect(Collectors.joining(", ")))
                .append(")\n");
        g.initializers().forEach((v, t) -> {
            sb.append(indent).append("  init ").append(v);
            if (t.size() <= SMALL_CONSTANT) {
                sb.append(" = ").append(values(t));
            }
            sb.append('\n');
        });
        for (Node n : g.nodes()) {
            if (!n.domain().isEmpty() || !Subgraphs.hasBody(n)) {
                sb.append(indent).append("  ").append(printNode(n)).append('\n');
                continue;
            }
            Attributes plain = n.attributes();
            for (String body : Subgraphs.of(n.attributes()).keySet()) {
                plain = plain.without(body);
            }
            sb.append(indent).append("  ").append(printNode(new Node(n.op(), n.domain(), n.name(), n.inputs(),
                    n.outputs(), plain))).append('\n');
            Subgraphs.of(n.attributes()).forEach((name, body) -> {
                String nested = print(body, indent + "    ");
                sb.append(indent).append("    ").append(name).append(": ").append(nested.substring(indent.length() + 4));
            });
        }
        sb.append(indent).append("  return ").append(g.outputs().stream().map(v -> "%" + v.name()).collect(Collectors.joining(", ")))
                .append('\n');
        return sb.toString();
    }

    /**
     * A nested graph (a fused op's body) on one line:
     * {@code graph(%a: f32[N,8], %b: f32[8]) { %t = Add(%a, %b); %y = Relu(%t) }}.
     */
    public static String printInline(Graph g) {
        StringBuilder sb = new StringBuilder("graph(");
        sb.append(g.inputs().stream().map(Value::toString).collect(Collectors.joining(", "))).append(") { ");
        List<String> parts = new java.util.ArrayList<>();
        g.initializers().forEach((v, t) -> parts.add("init %" + v.name() + (t.size() <= SMALL_CONSTANT ? " = " + values(t) : "")));
        for (Node n : g.nodes()) {
            String outs = n.outputs().stream().map(v -> v.isAbsent() ? "_" : "%" + v.name()).collect(Collectors.joining(", "));
            String ins = n.inputs().stream().map(v -> v.isAbsent() ? "_" : "%" + v.name()).collect(Collectors.joining(", "));
            parts.add(outs + " = " + n.qualifiedOp() + "(" + ins + ")"
                    + (n.attributes().isEmpty() ? "" : " " + n.attributes()));
        }
        parts.add("return " + g.outputs().stream().map(v -> "%" + v.name()).collect(Collectors.joining(", ")));
        return sb.append(String.join("; ", parts)).append(" }").toString();
    }

    /** {@code %h: f32[N,512] = Gemm(%x, %w, %b) {transB=1}  # fc1}. */
    public static String printNode(Node n) {
        StringBuilder sb = new StringBuilder();
        List<Value> outs = n.outputs();
        sb.append(outs.stream().map(Value::toString).collect(Collectors.joining(", ")));
        sb.append(" = ").append(n.qualifiedOp()).append('(')
                .append(n.inputs().stream().map(v -> v.isAbsent() ? "_" : "%" + v.name()).collect(Collectors.joining(", ")))
                .append(')');
        if (!n.attributes().isEmpty()) {
            sb.append(' ').append(n.attributes());
        }
        if (!n.name().isEmpty()) {
            sb.append("  # ").append(n.name());
        }
        return sb.toString();
    }

    /**
     * {@link #printNode}, with each body of a control-flow node named rather than printed:
     * {@code %y: f32[4] = Loop(%m, _, %x) {captures=1} body=graph loop_body}; for comments in generated code.
     */
    public static String printNodeSummary(Node n) {
        if (!n.domain().isEmpty()) {
            return printNode(n); // a fused chain is short and says what the kernel computes
        }
        Attributes plain = n.attributes();
        StringBuilder bodies = new StringBuilder();
        for (java.util.Map.Entry<String, Graph> e : Subgraphs.of(n.attributes()).entrySet()) {
            plain = plain.without(e.getKey());
            bodies.append(' ').append(e.getKey()).append("=graph ").append(e.getValue().name());
        }
        if (bodies.isEmpty()) {
            return printNode(n);
        }
        Node shown = new Node(n.op(), n.domain(), "", n.inputs(), n.outputs(), plain);
        return printNode(shown) + bodies + (n.name().isEmpty() ? "" : "  # " + n.name());
    }

    private static String values(Tensor t) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < t.size(); i++) {
            if (i > 0) {
                sb.append(',');
            }
            sb.append(switch (t.dtype().kind()) {
                case FLOAT -> Float.toString((float) t.getDouble(i));
                case INTEGER -> Long.toString(t.getLong(i));
                case BOOL -> Boolean.toString(t.getBool(i));
                case STRING -> '"' + t.strings()[i] + '"';
            });
        }
        return sb.append(']').toString();
    }
}
