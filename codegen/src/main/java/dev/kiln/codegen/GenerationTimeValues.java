package dev.kiln.codegen;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.Value;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Nodes that need no generated code because only shape arguments read their outputs: {@code Shape(y)} feeding
 * the target of a Reshape or an Expand (as autodiff emits for their gradients when the batch is symbolic). Both
 * emitters take the shape from their output's type, so the target is never read at run time.
 */
final class GenerationTimeValues {
    private GenerationTimeValues() {}

    static Set<Node> nodes(Graph g) {
        Set<Value> readAsData = new HashSet<>(g.outputs());
        for (Node n : g.nodes()) {
            for (int i = 0; i < n.inputs().size(); i++) {
                boolean shapeArgument = i == 1 && n.domain().isEmpty()
                        && (n.op().equals("Reshape") || n.op().equals("Expand"));
                if (!shapeArgument && n.hasInput(i)) {
                    readAsData.add(n.input(i));
                }
            }
        }
        Set<Node> out = new LinkedHashSet<>();
        for (Node n : g.nodes()) {
            if (n.domain().isEmpty() && n.op().equals("Shape") && !readAsData.contains(n.output(0))) {
                out.add(n);
            }
        }
        return out;
    }
}
