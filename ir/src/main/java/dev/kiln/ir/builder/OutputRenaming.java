package dev.kiln.ir.builder;

import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphException;
import dev.kiln.ir.GraphVerifier;
import dev.kiln.ir.Node;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Gives graph outputs their user-chosen names once the graph is complete: a layer does not know, when it
 * adds its node, that its value will end the model, and a copy through Identity would make the graph differ
 * from an export (where the last node writes {@code output} directly).
 */
final class OutputRenaming {
    private OutputRenaming() {}

    /** {@code g} with {@code outputs.get(i)} renamed to {@code names.get(i)} everywhere, verified. */
    static Graph rename(Graph g, List<Value> outputs, List<String> names) {
        Map<Value, Value> renamed = new IdentityHashMap<>();
        for (int i = 0; i < outputs.size(); i++) {
            Value v = outputs.get(i);
            String n = names.get(i);
            if (v.name().equals(n)) {
                continue;
            }
            g.findValue(n).ifPresent(other -> {
                throw new GraphException("graph '" + g.name() + "': output name '" + n
                        + "' is already the name of another value (" + other + ")");
            });
            renamed.put(v, new Value(n, v.type()));
        }
        if (renamed.isEmpty()) {
            return g;
        }
        List<Node> nodes = new ArrayList<>(g.nodes().size());
        for (Node node : g.nodes()) {
            nodes.add(new Node(node.op(), node.domain(), node.name(), substitute(node.inputs(), renamed),
                    substitute(node.outputs(), renamed), node.attributes()));
        }
        Graph result = new Graph(g.name(), g.inputs(), g.initializers(), nodes, substitute(g.outputs(), renamed));
        GraphVerifier.verify(result);
        return result;
    }

    private static List<Value> substitute(List<Value> values, Map<Value, Value> renamed) {
        List<Value> out = new ArrayList<>(values.size());
        for (Value v : values) {
            out.add(renamed.getOrDefault(v, v));
        }
        return out;
    }
}
