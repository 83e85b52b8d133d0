package dev.kiln.passes;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.FusedOps;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Fuses chains of floating-point elementwise ops (with broadcasting) into one {@code FusedElementwise} node
 * whose body is the chain, so code generation emits one loop instead of one pass over memory per op.
 * A producer joins its consumer's group only when the consumer is its sole user; each group is therefore
 * an in-tree ending at one node, and no other node can sit between two members. Scalar constants move
 * into the body, where code generation can inline them.
 */
public final class ElementwiseFusion implements Pass {
    @Override
    public String name() { return "elementwise-fusion"; }

    @Override
    public Graph apply(Graph g) {
        Map<Value, Integer> uses = new IdentityHashMap<>();
        for (Node n : g.nodes()) {
            n.inputs().stream().filter(v -> !v.isAbsent()).forEach(v -> uses.merge(v, 1, Integer::sum));
        }
        g.outputs().forEach(v -> uses.merge(v, 2, Integer::sum));
        // Each fusable node -> the root (sink) of its group; members listed per root in graph order.
        Map<Node, Node> rootOf = new IdentityHashMap<>();
        Map<Node, List<Node>> members = new IdentityHashMap<>();
        for (int i = g.nodes().size() - 1; i >= 0; i--) {
            Node n = g.nodes().get(i);
            if (!fusable(n)) {
                continue;
            }
            Node consumer = soleConsumer(g, n, uses);
            Node root = consumer != null && rootOf.containsKey(consumer) ? rootOf.get(consumer) : n;
            rootOf.put(n, root);
            members.computeIfAbsent(root, r -> new ArrayList<>()).add(0, n);
        }
        if (members.values().stream().noneMatch(m -> m.size() > 1)) {
            return g;
        }
        Rewriter rw = new Rewriter(g);
        for (Node n : g.nodes()) {
            Node root = rootOf.get(n);
            if (root == null || members.get(root).size() == 1) {
                rw.keep(n);
            } else if (root == n) {
                rw.emit(fuse(g, members.get(root)));
            }
        }
        return rw.finish();
    }

    private static boolean fusable(Node n) {
        if (!n.domain().isEmpty() || n.outputs().size() != 1) {
            return false;
        }
        OpDef def = OpTable.get().find(n.domain(), n.op()).orElse(null);
        if (def == null || !def.has(OpProperty.ELEMENTWISE) || def.has(OpProperty.NONDETERMINISTIC)
                || !n.output(0).dtype().isFloat()) {
            return false;
        }
        return n.inputs().stream().allMatch(v -> v.isAbsent() || v.dtype() == n.output(0).dtype());
    }

    /** The node reading n's output, when exactly one node reads it once and it is not a graph output. */
    private static Node soleConsumer(Graph g, Node n, Map<Value, Integer> uses) {
        Value out = n.output(0);
        if (uses.getOrDefault(out, 0) != 1) {
            return null;
        }
        for (Node m : g.nodes()) {
            if (m.inputs().contains(out)) {
                return m;
            }
        }
        return null;
    }

    private static Node fuse(Graph g, List<Node> group) {
        Set<Value> produced = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        group.forEach(n -> produced.add(n.output(0)));
        Set<Value> external = new LinkedHashSet<>();
        Map<Value, Tensor> inlined = new LinkedHashMap<>();
        for (Node n : group) {
            for (Value v : n.inputs()) {
                if (v.isAbsent() || produced.contains(v)) {
                    continue;
                }
                Tensor t = g.initializers().get(v);
                if (t != null && t.size() == 1) {
                    inlined.put(v, t);
                } else {
                    external.add(v);
                }
            }
        }
        Node last = group.get(group.size() - 1);
        Graph body = new Graph("fused_" + last.output(0).name(), List.copyOf(external), inlined, group,
                List.of(last.output(0)));
        String name = group.stream().map(Node::name).filter(s -> !s.isEmpty()).reduce((a, b) -> a + "+" + b)
                .orElse("");
        return new Node(FusedOps.FUSED_ELEMENTWISE, OpTable.KILN_DOMAIN, name, List.copyOf(external),
                List.of(last.output(0)), Attributes.builder().set("body", FusedOps.body(body)).build());
    }
}
