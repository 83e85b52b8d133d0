package dev.kiln.ir;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * Fixes symbolic dims of a graph to sizes: every value's type (inputs, node outputs, the values inside bodies) has
 * those symbols replaced by their sizes. Generated code takes one dynamic dim, the batch; a model exported with
 * others (a sequence length, an image size) is compiled for sizes chosen here ({@code kiln compile --dim S=128},
 * or the sizes of the inputs {@code kiln run} is given).
 */
public final class DimBinding {
    private DimBinding() {}

    /**
     * The symbol generated code takes as its batch: the first symbolic dim of the first input that has one (the
     * memory plan lays buffers out linear in it).
     */
    public static Optional<String> batchSymbol(Graph g) {
        for (Value v : g.inputs()) {
            for (Dim d : v.shape().dims()) {
                if (!d.isStatic() && !d.hasUnknown()) {
                    return Optional.of(d.symbols().firstKey());
                }
            }
        }
        return Optional.empty();
    }

    /** The symbols of the graph inputs' dims, in the order the inputs declare them. */
    public static Set<String> inputSymbols(Graph g) {
        Set<String> symbols = new LinkedHashSet<>();
        for (Value v : g.inputs()) {
            for (Dim d : v.shape().dims()) {
                d.symbols().keySet().stream().filter(s -> !s.startsWith(Dim.UNKNOWN_PREFIX)).forEach(symbols::add);
            }
        }
        return symbols;
    }

    /**
     * {@code g} with the symbols of {@code sizes} fixed. Each must be a symbol of the graph's inputs and each size at
     * least 1; otherwise {@link IllegalArgumentException} names the symbol and the ones the inputs have.
     */
    public static Graph bind(Graph g, Map<String, Long> sizes) {
        if (sizes.isEmpty()) {
            return g;
        }
        Set<String> known = inputSymbols(g);
        for (Map.Entry<String, Long> e : sizes.entrySet()) {
            if (!known.contains(e.getKey())) {
                throw new IllegalArgumentException("the model's inputs have no symbolic dim '" + e.getKey() + "' ("
                        + (known.isEmpty() ? "they have none" : "they have " + String.join(", ", known)) + ")");
            }
            if (e.getValue() < 1) {
                throw new IllegalArgumentException("dim " + e.getKey() + " must be at least 1, got " + e.getValue());
            }
        }
        return new Substitution(sizes).graph(g);
    }

    /**
     * The sizes {@code feeds} give the symbols of the graph inputs' dims, the batch symbol excepted when {@code
     * keepBatch}. A symbol two inputs give different sizes is left out (running the model reports the mismatch).
     */
    public static Map<String, Long> fromFeeds(Graph g, Map<String, Tensor> feeds, boolean keepBatch) {
        Optional<String> batch = keepBatch ? batchSymbol(g) : Optional.empty();
        Map<String, Long> sizes = new LinkedHashMap<>();
        Set<String> conflicting = new LinkedHashSet<>();
        for (Value v : g.inputs()) {
            Tensor t = feeds.get(v.name());
            if (t == null || !v.type().isTensor() || t.rank() != v.type().rank()) {
                continue;
            }
            for (int i = 0; i < t.rank(); i++) {
                Dim d = v.shape().dim(i);
                if (d.coefficient() != 1 || d.symbols().size() != 1 || d.hasUnknown()) {
                    continue;
                }
                String symbol = d.symbols().firstKey();
                if (d.symbols().get(symbol) != 1 || batch.filter(symbol::equals).isPresent()) {
                    continue;
                }
                Long before = sizes.putIfAbsent(symbol, (long) t.dim(i));
                if (before != null && before != t.dim(i)) {
                    conflicting.add(symbol);
                }
            }
        }
        conflicting.forEach(sizes::remove);
        sizes.values().removeIf(size -> size < 1);
        return sizes;
    }

    /** One binding applied to a graph and, recursively, its bodies: each value replaced once, by identity. */
    private static final class Substitution {
        private final Map<String, Long> sizes;
        private final Map<Value, Value> values = new IdentityHashMap<>();

        Substitution(Map<String, Long> sizes) {
            this.sizes = sizes;
        }

        Graph graph(Graph g) {
            List<Value> inputs = g.inputs().stream().map(this::value).toList();
            Map<Value, Tensor> initializers = new LinkedHashMap<>();
            g.initializers().forEach((v, t) -> initializers.put(value(v), t));
            List<Node> nodes = new ArrayList<>(g.nodes().size());
            for (Node n : g.nodes()) {
                nodes.add(new Node(n.op(), n.domain(), n.name(), n.inputs().stream().map(this::value).toList(),
                        n.outputs().stream().map(this::value).toList(), attributes(n.attributes())));
            }
            return new Graph(g.name(), inputs, initializers, nodes, g.outputs().stream().map(this::value).toList());
        }

        private Attributes attributes(Attributes attributes) {
            Attributes out = attributes;
            for (Map.Entry<String, Attr> e : attributes.asMap().entrySet()) {
                if (e.getValue() instanceof Attr.GraphValue body) {
                    out = out.with(e.getKey(), new Attr.GraphValue(graph(body.value())));
                }
            }
            return out;
        }

        private Value value(Value v) {
            if (v.isAbsent()) {
                return v;
            }
            return values.computeIfAbsent(v, old -> {
                TensorType t = type(old.type());
                return t.equals(old.type()) ? old : new Value(old.name(), t);
            });
        }

        private TensorType type(TensorType t) {
            List<Dim> dims = new ArrayList<>(t.rank());
            for (Dim d : t.shape().dims()) {
                dims.add(dim(d));
            }
            return new TensorType(t.dtype(), new Shape(dims), t.kind(), t.ranked());
        }

        private Dim dim(Dim d) {
            long coefficient = d.coefficient();
            TreeMap<String, Integer> rest = new TreeMap<>();
            for (Map.Entry<String, Integer> e : d.symbols().entrySet()) {
                Long size = sizes.get(e.getKey());
                if (size == null) {
                    rest.put(e.getKey(), e.getValue());
                } else {
                    for (int i = 0; i < e.getValue(); i++) {
                        coefficient = Math.multiplyExact(coefficient, size);
                    }
                }
            }
            return rest.size() == d.symbols().size() ? d : new Dim(coefficient, rest);
        }
    }
}
