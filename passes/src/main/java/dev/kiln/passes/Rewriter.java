package dev.kiln.passes;

import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphException;
import dev.kiln.ir.Node;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Rebuilds a graph for a pass: walk the old nodes, {@link #keep} or {@link #emit} new ones, and
 * {@link #replace} a value by another; uses downstream are redirected. On {@link #finish}, a graph output
 * whose value was replaced keeps its public name: the replacing value's producer is re-emitted under that
 * name, or an Identity is added when the value is an input, an initializer or another output.
 */
final class Rewriter {
    private final Graph old;
    private final Map<Value, Value> replacement = new IdentityHashMap<>();
    private final List<Node> nodes = new ArrayList<>();
    private final Map<Value, Tensor> initializers = new LinkedHashMap<>();
    private final Set<String> names = new HashSet<>();
    private final Map<String, Integer> suffixes = new HashMap<>();
    private final Map<Value, Node> producers = new IdentityHashMap<>();

    Rewriter(Graph old) {
        this.old = old;
        initializers.putAll(old.initializers());
        old.inputs().forEach(v -> names.add(v.name()));
        old.initializers().keySet().forEach(v -> names.add(v.name()));
        for (Node n : old.nodes()) {
            n.outputs().forEach(v -> names.add(v.name()));
        }
    }

    /** The value that now stands for {@code v}. */
    Value map(Value v) {
        Value r = replacement.get(v);
        while (r != null) {
            v = r;
            r = replacement.get(v);
        }
        return v;
    }

    /** Uses of {@code from} become uses of {@code to} (same type expected). */
    void replace(Value from, Value to) {
        if (from != to) {
            replacement.put(from, to);
        }
    }

    /** Re-emits an old node with its inputs redirected. */
    void keep(Node n) {
        emit(n);
    }

    /** Appends a node, redirecting its inputs through the current replacements. */
    void emit(Node n) {
        List<Value> in = new ArrayList<>(n.inputs().size());
        boolean changed = false;
        for (Value v : n.inputs()) {
            Value m = v.isAbsent() ? v : map(v);
            changed |= m != v;
            in.add(m);
        }
        Node emitted = changed ? n.withInputs(in) : n;
        nodes.add(emitted);
        for (Value o : emitted.outputs()) {
            if (!o.isAbsent()) {
                producers.put(o, emitted);
            }
        }
    }

    /** The emitted node producing {@code v} (after mapping), if a node does. */
    java.util.Optional<Node> producer(Value v) {
        return java.util.Optional.ofNullable(producers.get(map(v)));
    }

    /** Drops an emitted node whose outputs nothing reads any more (a producer merged into its consumer). */
    void removeEmitted(Node emitted) {
        if (!nodes.removeIf(n -> n == emitted)) {
            throw new IllegalStateException("node not emitted: " + emitted.describe());
        }
        emitted.outputs().forEach(producers::remove);
    }

    /**
     * Puts {@code replacement} where {@code emitted} stands (so it runs at the producer's position). Its
     * inputs must be defined there; the values it produces replace the old node's for later lookups.
     */
    void replaceEmitted(Node emitted, Node replacement) {
        for (int i = 0; i < nodes.size(); i++) {
            if (nodes.get(i) == emitted) {
                nodes.set(i, replacement);
                emitted.outputs().forEach(producers::remove);
                for (Value o : replacement.outputs()) {
                    if (!o.isAbsent()) {
                        producers.put(o, replacement);
                    }
                }
                return;
            }
        }
        throw new IllegalStateException("node not emitted: " + emitted.describe());
    }

    /** A new initializer with a fresh name derived from {@code hint}. */
    Value addInitializer(String hint, Tensor t) {
        Value v = new Value(freshName(hint), t.type());
        initializers.put(v, t);
        return v;
    }

    /** Makes an existing value (a folded node's output) an initializer holding {@code t}. */
    void addInitializer(Value v, Tensor t) {
        initializers.put(v, t);
    }

    /** A new value of the given type with a fresh name derived from {@code hint}. */
    Value newValue(String hint, TensorType type) {
        return new Value(freshName(hint), type);
    }

    String freshName(String hint) {
        String base = hint.isEmpty() ? "t" : hint;
        if (names.add(base)) {
            return base;
        }
        int k = suffixes.getOrDefault(base, 1);
        while (!names.add(base + "_" + k)) {
            k++;
        }
        suffixes.put(base, k + 1);
        return base + "_" + k;
    }

    /** The old graph's initializer set, as kept so far (passes may remove from it via {@link #dropInitializer}). */
    void dropInitializer(Value v) {
        initializers.remove(v);
    }

    /** The new graph; graph outputs keep their names and order. */
    Graph finish() {
        List<Value> outs = new ArrayList<>();
        Set<Value> claimed = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        for (Value o : old.outputs()) {
            Value m = map(o);
            if (m == o) {
                outs.add(o);
                claimed.add(o);
            }
        }
        for (Value o : old.outputs()) {
            Value m = map(o);
            if (m == o) {
                continue;
            }
            if (!m.type().equals(o.type()) && !m.type().dtype().equals(o.type().dtype())) {
                throw new GraphException("pass replaced output '" + o.name() + "' by a value of another type");
            }
            if (m.name().equals(o.name())) {
                // A refined copy of the output under its own name (e.g. from shape inference).
                claimed.add(m);
                outs.add(m);
                continue;
            }
            Value named = new Value(o.name(), m.type());
            int producer = producerIndex(m);
            if (producer >= 0 && !claimed.contains(m) && !isOldOutput(m)) {
                Node p = nodes.get(producer);
                List<Value> newOuts = new ArrayList<>(p.outputs());
                newOuts.set(newOuts.indexOf(m), named);
                nodes.set(producer, new Node(p.op(), p.domain(), p.name(), p.inputs(), newOuts, p.attributes()));
                redirectUses(m, named, producer + 1);
            } else {
                nodes.add(new Node("Identity", "", "", List.of(m), List.of(named), dev.kiln.ir.Attributes.EMPTY));
            }
            claimed.add(named);
            outs.add(named);
        }
        // Restore the original output order.
        List<Value> ordered = new ArrayList<>();
        for (Value o : old.outputs()) {
            for (Value v : outs) {
                if (v.name().equals(o.name())) {
                    ordered.add(v);
                    break;
                }
            }
        }
        return new Graph(old.name(), old.inputs(), initializers, nodes, ordered);
    }

    private boolean isOldOutput(Value v) {
        for (Value o : old.outputs()) {
            if (o == v) {
                return true;
            }
        }
        return false;
    }

    private int producerIndex(Value v) {
        for (int i = 0; i < nodes.size(); i++) {
            if (nodes.get(i).outputs().contains(v)) {
                return i;
            }
        }
        return -1;
    }

    private void redirectUses(Value from, Value to, int start) {
        for (int i = start; i < nodes.size(); i++) {
            Node n = nodes.get(i);
            if (n.inputs().contains(from)) {
                List<Value> in = new ArrayList<>(n.inputs());
                in.replaceAll(v -> v == from ? to : v);
                nodes.set(i, n.withInputs(in));
            }
        }
    }
}
