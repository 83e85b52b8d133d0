package dev.kiln.passes;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Removes nodes and initializers that no graph output depends on. */
public final class DeadCodeElimination implements Pass {
    @Override
    public String name() { return "dead-code-elimination"; }

    @Override
    public Graph apply(Graph g) {
        Set<Value> live = Collections.newSetFromMap(new IdentityHashMap<>());
        Deque<Value> work = new ArrayDeque<>(g.outputs());
        while (!work.isEmpty()) {
            Value v = work.pop();
            if (!live.add(v)) {
                continue;
            }
            g.producer(v).ifPresent(n -> n.inputs().stream().filter(x -> !x.isAbsent()).forEach(work::push));
        }
        List<Node> nodes = new ArrayList<>();
        for (Node n : g.nodes()) {
            if (n.outputs().stream().anyMatch(live::contains)) {
                nodes.add(n);
            }
        }
        Map<Value, Tensor> inits = new LinkedHashMap<>();
        g.initializers().forEach((v, t) -> {
            if (live.contains(v)) {
                inits.put(v, t);
            }
        });
        if (nodes.size() == g.nodes().size() && inits.size() == g.initializers().size()) {
            return g;
        }
        return new Graph(g.name(), g.inputs(), inits, nodes, g.outputs());
    }
}
