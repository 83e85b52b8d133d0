package dev.kiln.ir;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Builds a graph node by node, inferring every output's type through the op table as it goes, so a graph
 * under construction is always typed. The ONNX importer, the layer API ({@code dev.kiln.ir.builder.ModelBuilder}) and passes
 * that build new graphs all use it.
 *
 * <pre>{@code
 * GraphBuilder b = new GraphBuilder("mlp");
 * Value x = b.input("x", DType.FLOAT32, Shape.parse("N,784"));
 * Value w = b.initializer("w", weights);
 * Value y = b.op("Gemm").inputs(x, w).attr("transB", 1).output();
 * b.output(y);
 * Graph g = b.build();
 * }</pre>
 */
public final class GraphBuilder {
    private final String name;
    private final List<Value> inputs = new ArrayList<>();
    private final Map<Value, Tensor> initializers = new LinkedHashMap<>();
    private final List<Node> nodes = new ArrayList<>();
    private final List<Value> outputs = new ArrayList<>();
    private final Set<String> usedNames = new HashSet<>();
    private final Map<String, Integer> nextSuffix = new java.util.HashMap<>();
    private final TypeInference inference = new TypeInference();
    private final Map<String, Shape> declaredShapes = new java.util.HashMap<>();
    /** Unknown dims ({@code ?17}) a declaration has fixed, by symbol: values built earlier that carry them take them. */
    private final Map<String, Long> solvedUnknowns = new java.util.HashMap<>();

    public GraphBuilder(String name) {
        this.name = name;
    }

    /** A graph input (fed by the caller). */
    public Value input(String valueName, DType dtype, Shape shape) {
        return input(valueName, new TensorType(dtype, shape));
    }

    /** A graph input of any type (a tensor, a sequence, an optional). */
    public Value input(String valueName, TensorType type) {
        Value v = new Value(claim(valueName), type);
        inputs.add(v);
        return v;
    }

    /** A named constant tensor (weights). */
    public Value initializer(String valueName, Tensor value) {
        Value v = new Value(claim(valueName), value.type());
        initializers.put(v, value);
        inference.addConstant(v, value);
        return v;
    }

    /**
     * Records the shape a model declares for a value a node will compute (an ONNX graph output or value_info).
     * Where inference leaves a dim unknown (it depends on an input's values, e.g. a Reshape target fed as a graph
     * input), the declared static dim is taken instead, so code generation can size the tensor; the generated
     * code checks at run time that the values really give that shape. Inferred dims always win over declared
     * ones, and declarations of another rank are ignored: a declaration refines, it never overrides.
     */
    public GraphBuilder declareShape(String valueName, Shape declared) {
        declaredShapes.put(valueName, declared);
        return this;
    }

    private TensorType refined(String valueName, TensorType inferred) {
        Shape declared = declaredShapes.get(valueName);
        if (declared == null || !inferred.isTensor() || declared.rank() != inferred.rank()) {
            return inferred;
        }
        List<Dim> dims = new ArrayList<>(inferred.shape().dims());
        boolean changed = false;
        for (int i = 0; i < dims.size(); i++) {
            Dim d = declared.dims().get(i);
            if (dims.get(i).hasUnknown() && d.isStatic()) {
                Dim unknown = dims.get(i);
                if (unknown.coefficient() == 1 && unknown.symbols().size() == 1
                        && unknown.symbols().values().iterator().next() == 1) {
                    solvedUnknowns.putIfAbsent(unknown.symbols().firstKey(), d.value());
                }
                dims.set(i, d);
                changed = true;
            }
        }
        return changed ? inferred.withShape(new Shape(dims)) : inferred;
    }

    /** Starts a node of the default-domain op {@code op}. */
    public NodeSpec op(String op) {
        return new NodeSpec(op);
    }

    /** Marks {@code v} as a graph output (in call order). */
    public GraphBuilder output(Value v) {
        if (v.isAbsent()) {
            throw new GraphException("graph output cannot be absent");
        }
        outputs.add(v);
        return this;
    }

    /** A name not used yet in this graph, derived from {@code hint} ({@code hint}, {@code hint_1}, ...). */
    public String freshName(String hint) {
        String base = hint.isEmpty() ? "t" : hint;
        if (!usedNames.contains(base)) {
            return base;
        }
        int k = nextSuffix.getOrDefault(base, 1);
        while (usedNames.contains(base + "_" + k)) {
            k++;
        }
        nextSuffix.put(base, k + 1);
        return base + "_" + k;
    }

    private String claim(String valueName) {
        if (valueName.isEmpty()) {
            throw new GraphException("value names must not be empty");
        }
        if (!usedNames.add(valueName)) {
            throw new GraphException("value name '" + valueName + "' is defined twice in graph '" + name + "'");
        }
        return valueName;
    }

    /** The nodes added so far, in order (a read-only view). */
    public List<Node> nodes() {
        return java.util.Collections.unmodifiableList(nodes);
    }

    /** The constant value of {@code v} if known while building (initializer or all-constant subgraph). */
    public java.util.Optional<Tensor> constantValue(Value v) {
        return inference.constant(v);
    }

    /**
     * The graph as built so far, checked by {@link GraphVerifier}. When a declared shape fixed an unknown dim that
     * values computed earlier also carry (ReduceSum over axes fed as an input, then Sqrt, then a declared output:
     * the Sqrt's input and output share the ReduceSum's unknown dims), those values get the fixed dims too, as new
     * {@link Value}s in the returned graph.
     */
    public Graph build() {
        List<Node> built = nodes;
        List<Value> results = outputs;
        if (!solvedUnknowns.isEmpty()) {
            Map<Value, Value> replaced = new java.util.IdentityHashMap<>();
            built = new ArrayList<>();
            for (Node n : nodes) {
                List<Value> ins = n.inputs().stream().map(v -> replaced.getOrDefault(v, v)).toList();
                List<Value> outs = new ArrayList<>();
                for (Value v : n.outputs()) {
                    Value w = v.isAbsent() ? v : substituted(v);
                    if (w != v) {
                        replaced.put(v, w);
                    }
                    outs.add(w);
                }
                built.add(new Node(n.op(), n.domain(), n.name(), ins, outs, n.attributes()));
            }
            results = outputs.stream().map(v -> replaced.getOrDefault(v, v)).toList();
        }
        Graph g = new Graph(name, inputs, initializers, built, results);
        GraphVerifier.verify(g);
        return g;
    }

    private Value substituted(Value v) {
        List<Dim> dims = new ArrayList<>();
        boolean changed = false;
        for (Dim d : v.shape().dims()) {
            Long solved = d.symbols().size() == 1 && d.symbols().values().iterator().next() == 1
                    ? solvedUnknowns.get(d.symbols().firstKey()) : null;
            if (solved != null) {
                dims.add(Dim.of(d.coefficient() * solved));
                changed = true;
            } else {
                dims.add(d);
            }
        }
        return changed ? new Value(v.name(), v.type().withShape(new Shape(dims))) : v;
    }

    /** One node under construction. */
    public final class NodeSpec {
        private final String op;
        private String domain = "";
        private String nodeName = "";
        private final List<Value> nodeInputs = new ArrayList<>();
        private final Attributes.Builder attrs = Attributes.builder();
        private List<String> outputNames;
        private int outputCount = 1;

        private NodeSpec(String op) { this.op = op; }

        public NodeSpec domain(String d) { this.domain = d; return this; }

        /** The node's name (kept for messages and generated-code comments). */
        public NodeSpec name(String n) { this.nodeName = n; return this; }

        /** Inputs in order; use {@link Value#ABSENT} for an omitted optional input. */
        public NodeSpec inputs(Value... vs) {
            nodeInputs.addAll(List.of(vs));
            return this;
        }

        public NodeSpec inputs(List<Value> vs) {
            nodeInputs.addAll(vs);
            return this;
        }

        public NodeSpec attr(String n, long v) { attrs.i(n, v); return this; }

        public NodeSpec attr(String n, float v) { attrs.f(n, v); return this; }

        public NodeSpec attr(String n, String v) { attrs.s(n, v); return this; }

        public NodeSpec attr(String n, long[] v) { attrs.ints(n, v); return this; }

        public NodeSpec attr(String n, float[] v) { attrs.floats(n, v); return this; }

        public NodeSpec attr(String n, Attr v) { attrs.set(n, v); return this; }

        public NodeSpec attrs(Attributes a) {
            a.asMap().forEach(attrs::set);
            return this;
        }

        /** Names of the outputs; an empty name marks an omitted optional output. */
        public NodeSpec outputNames(String... names) {
            this.outputNames = List.of(names);
            this.outputCount = names.length;
            return this;
        }

        public NodeSpec outputNames(List<String> names) {
            return outputNames(names.toArray(String[]::new));
        }

        /** Number of outputs with generated names. */
        public NodeSpec outputCount(int n) {
            this.outputCount = n;
            this.outputNames = null;
            return this;
        }

        /** Adds the node; returns its outputs ({@link Value#ABSENT} for omitted ones). */
        public List<Value> build() {
            Attributes a = attrs.build();
            String description = describe();
            OpDef def = OpTable.get().require(domain, op, description);
            TypeInference.Result r = inference.infer(def, description, a, nodeInputs, outputCount);
            List<Value> outs = new ArrayList<>();
            for (int i = 0; i < outputCount; i++) {
                String n = outputNames != null ? outputNames.get(i) : freshName(hint(i, def));
                outs.add(n.isEmpty() ? Value.ABSENT : new Value(claim(n), refined(n, r.types().get(i))));
            }
            inference.bind(outs, r);
            nodes.add(new Node(op, domain, nodeName, nodeInputs, outs, a));
            return outs;
        }

        /** Adds the node and returns its single (first) output. */
        public Value output() {
            return build().get(0);
        }

        private String hint(int i, OpDef def) {
            String base = nodeName.isEmpty() ? op.toLowerCase(java.util.Locale.ROOT) : nodeName;
            return outputCount == 1 ? base : base + "_" + def.outputNames().get(Math.min(i, def.outputNames().size() - 1));
        }

        private String describe() {
            if (!nodeName.isEmpty()) {
                return "node '" + nodeName + "' (" + op + ")";
            }
            String first = outputNames != null && !outputNames.isEmpty() ? outputNames.get(0) : "";
            return first.isEmpty() ? op + " node #" + nodes.size() : op + " node producing '" + first + "'";
        }
    }
}
