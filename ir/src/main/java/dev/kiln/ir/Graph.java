package dev.kiln.ir;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A model as an immutable SSA graph: inputs, initializers (named constant tensors), nodes in topological
 * order, and outputs. Build one with {@link GraphBuilder}; check one with {@link GraphVerifier}.
 */
public final class Graph {
    private final String name;
    private final List<Value> inputs;
    private final Map<Value, Tensor> initializers;
    private final List<Node> nodes;
    private final List<Value> outputs;
    private Map<Value, Node> producers;

    /**
     * @param initializers in declaration order; keys are the initializer values (not graph inputs)
     */
    public Graph(String name, List<Value> inputs, Map<Value, Tensor> initializers, List<Node> nodes,
                 List<Value> outputs) {
        this.name = Objects.requireNonNull(name);
        this.inputs = List.copyOf(inputs);
        this.initializers = Collections.unmodifiableMap(new LinkedHashMap<>(initializers));
        this.nodes = List.copyOf(nodes);
        this.outputs = List.copyOf(outputs);
    }

    public String name() { return name; }

    /** Graph inputs that callers feed (initializers are not among them). */
    public List<Value> inputs() { return inputs; }

    public Map<Value, Tensor> initializers() { return initializers; }

    public List<Node> nodes() { return nodes; }

    public List<Value> outputs() { return outputs; }

    public boolean isInitializer(Value v) { return initializers.containsKey(v); }

    /** The values some node reads or the graph returns (by identity): what a rewrite must keep computing. */
    public java.util.Set<Value> readValues() {
        java.util.Set<Value> read = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        nodes.forEach(n -> read.addAll(n.inputs()));
        read.addAll(outputs);
        return read;
    }

    /** The node producing {@code v}, empty for inputs and initializers. */
    public Optional<Node> producer(Value v) {
        if (producers == null) {
            Map<Value, Node> m = new IdentityHashMap<>();
            for (Node n : nodes) {
                for (Value o : n.outputs()) {
                    if (!o.isAbsent()) {
                        m.put(o, n);
                    }
                }
            }
            producers = m;
        }
        return Optional.ofNullable(producers.get(v));
    }

    /** Input or output or initializer or node output with this name. */
    public Optional<Value> findValue(String valueName) {
        for (Value v : inputs) {
            if (v.name().equals(valueName)) {
                return Optional.of(v);
            }
        }
        for (Value v : initializers.keySet()) {
            if (v.name().equals(valueName)) {
                return Optional.of(v);
            }
        }
        for (Node n : nodes) {
            for (Value v : n.outputs()) {
                if (!v.isAbsent() && v.name().equals(valueName)) {
                    return Optional.of(v);
                }
            }
        }
        return Optional.empty();
    }

    /** A copy with other nodes and outputs (same name, inputs, initializers). */
    public Graph withNodes(List<Node> newNodes, List<Value> newOutputs) {
        return new Graph(name, inputs, initializers, newNodes, newOutputs);
    }

    /** The text form of {@link GraphPrinter}. */
    @Override
    public String toString() { return GraphPrinter.print(this); }
}
