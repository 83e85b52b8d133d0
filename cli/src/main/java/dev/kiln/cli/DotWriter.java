package dev.kiln.cli;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.Value;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Renders a graph as Graphviz DOT: graph inputs and outputs as ellipses, nodes as boxes labelled with op, node
 * name and their initializer operands (weights stay inside the box, so the drawing shows the data flow), and
 * edges labelled with the value's name and type.
 */
final class DotWriter {
    private DotWriter() {}

    static String toDot(Graph g) {
        StringBuilder sb = new StringBuilder();
        sb.append("digraph ").append(quote(g.name())).append(" {\n");
        sb.append("  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n");
        Map<Value, String> source = new IdentityHashMap<>();
        for (int i = 0; i < g.inputs().size(); i++) {
            Value v = g.inputs().get(i);
            String id = "in" + i;
            source.put(v, id);
            sb.append("  ").append(id).append(" [shape=ellipse, style=filled, fillcolor=\"#dde8f5\", label=")
                    .append(quote(v.name() + "\n" + v.type())).append("];\n");
        }
        List<Node> nodes = g.nodes();
        for (int i = 0; i < nodes.size(); i++) {
            Node n = nodes.get(i);
            String id = "n" + i;
            StringBuilder label = new StringBuilder(n.qualifiedOp());
            if (!n.name().isEmpty()) {
                label.append("\n").append(n.name());
            }
            for (Value in : n.inputs()) {
                if (!in.isAbsent() && g.isInitializer(in)) {
                    label.append("\n").append(in.name()).append(": ").append(in.type());
                }
            }
            sb.append("  ").append(id).append(" [shape=box, style=rounded, label=").append(quote(label.toString()))
                    .append("];\n");
            for (Value in : n.inputs()) {
                String from = in.isAbsent() ? null : source.get(in);
                if (from != null) {
                    sb.append("  ").append(from).append(" -> ").append(id).append(" [label=")
                            .append(quote(in.name() + "\n" + in.type())).append("];\n");
                }
            }
            for (Value out : n.outputs()) {
                if (!out.isAbsent()) {
                    source.put(out, id);
                }
            }
        }
        for (int i = 0; i < g.outputs().size(); i++) {
            Value v = g.outputs().get(i);
            String id = "out" + i;
            sb.append("  ").append(id).append(" [shape=ellipse, style=filled, fillcolor=\"#e3f2dc\", label=")
                    .append(quote(v.name() + "\n" + v.type())).append("];\n");
            String from = source.get(v);
            if (from != null) {
                sb.append("  ").append(from).append(" -> ").append(id).append(";\n");
            }
        }
        return sb.append("}\n").toString();
    }

    /** A DOT string literal; newlines become DOT's centred line breaks. */
    private static String quote(String s) {
        return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + '"';
    }
}
