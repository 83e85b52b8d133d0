package dev.kiln.passes;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Merges nodes that compute the same thing (same op, attributes and input values) and initializers with
 * identical contents, so the work and the weights are done and stored once. Random ops are never merged.
 */
public final class CommonSubexpressionElimination implements Pass {
    /** Larger initializers are not compared by content: weights are rarely duplicated and hashing them costs. */
    static final int MAX_DEDUPLICATED_INITIALIZER = 1 << 16;

    @Override
    public String name() { return "cse"; }

    private record Key(String op, String domain, Attributes attributes, List<Integer> inputs, int outputs) {}

    @Override
    public Graph apply(Graph g) {
        Rewriter rw = new Rewriter(g);
        Map<Value, Integer> ids = new IdentityHashMap<>();
        Map<Tensor, Value> seenConstants = new HashMap<>();
        boolean changed = false;
        for (Map.Entry<Value, Tensor> e : g.initializers().entrySet()) {
            Tensor t = e.getValue();
            if (t.size() <= MAX_DEDUPLICATED_INITIALIZER && !g.outputs().contains(e.getKey())) {
                Value first = seenConstants.putIfAbsent(t, e.getKey());
                if (first != null) {
                    rw.replace(e.getKey(), first);
                    rw.dropInitializer(e.getKey());
                    changed = true;
                }
            }
        }
        Map<Key, Node> seen = new HashMap<>();
        for (Node n : g.nodes()) {
            boolean random = OpTable.get().find(n.domain(), n.op())
                    .map(d -> d.has(OpProperty.NONDETERMINISTIC) || dev.kiln.ir.Subgraphs.hasBody(n)
                            && dev.kiln.ir.Subgraphs.nondeterministic(d, n.attributes()))
                    .orElse(true);
            if (random) {
                rw.keep(n);
                continue;
            }
            List<Integer> in = new ArrayList<>();
            for (Value v : n.inputs()) {
                in.add(v.isAbsent() ? -1 : ids.computeIfAbsent(rw.map(v), x -> ids.size()));
            }
            Key key = new Key(n.op(), n.domain(), n.attributes(), in, n.outputs().size());
            Node earlier = seen.putIfAbsent(key, n);
            if (earlier == null || !sameAbsentOutputs(earlier, n)) {
                rw.keep(n);
                continue;
            }
            for (int i = 0; i < n.outputs().size(); i++) {
                if (!n.outputs().get(i).isAbsent()) {
                    rw.replace(n.outputs().get(i), earlier.outputs().get(i));
                }
            }
            changed = true;
        }
        return changed ? rw.finish() : g;
    }

    private static boolean sameAbsentOutputs(Node a, Node b) {
        for (int i = 0; i < a.outputs().size(); i++) {
            if (b.outputs().get(i).isAbsent() != a.outputs().get(i).isAbsent()
                    && !b.outputs().get(i).isAbsent()) {
                return false;
            }
        }
        return true;
    }
}
