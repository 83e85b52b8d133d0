package dev.kiln.ir;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The oracle: runs any graph node by node with each op's reference semantics from the op table. Plain and
 * slow by design; constant folding, {@code --verify} and every test of generated code compare against it.
 */
public final class ReferenceEvaluator {
    /** Sees every value as it is computed (for pass verification and debugging). */
    @FunctionalInterface
    public interface Observer {
        void onValue(Value value, Tensor tensor);
    }

    private final long seed;
    private final Observer observer;

    private ReferenceEvaluator(long seed, Observer observer) {
        this.seed = seed;
        this.observer = observer;
    }

    /** Evaluates {@code g} on {@code feeds} (input name -> tensor); returns output name -> tensor in graph order. */
    public static Map<String, Tensor> run(Graph g, Map<String, Tensor> feeds) {
        return new ReferenceEvaluator(0, (v, t) -> { }).evaluate(g, feeds);
    }

    /** As {@link #run}, with a seed for random ops and an observer of every intermediate value. */
    public static Map<String, Tensor> run(Graph g, Map<String, Tensor> feeds, long seed, Observer observer) {
        return new ReferenceEvaluator(seed, observer).evaluate(g, feeds);
    }

    private Map<String, Tensor> evaluate(Graph g, Map<String, Tensor> feeds) {
        Map<Value, Tensor> env = new IdentityHashMap<>();
        bindInputs(g, feeds, env);
        env.putAll(g.initializers());
        Map<Value, Integer> lastUse = lastUses(g);
        Random random = new Random(seed);
        List<Node> nodes = g.nodes();
        for (int idx = 0; idx < nodes.size(); idx++) {
            Node n = nodes.get(idx);
            List<Tensor> in = new ArrayList<>();
            for (Value v : n.inputs()) {
                in.add(v.isAbsent() ? null : env.get(v));
            }
            List<Tensor> out = evaluateNode(n, in, random);
            for (int i = 0; i < n.outputs().size(); i++) {
                Value v = n.outputs().get(i);
                if (v.isAbsent()) {
                    continue;
                }
                Tensor t = i < out.size() ? out.get(i) : null;
                if (t == null) {
                    throw new IllegalStateException(n.describe() + ": evaluator produced no value for output " + i);
                }
                if (v.type().isOptional() && !t.type().isOptional() && Subgraphs.hasBody(n)) {
                    // Control flow joins a value with its optional's type (Subgraphs.join): the optional, present.
                    t = Tensor.optionalOf(t);
                }
                if (!v.type().admits(t.type())) {
                    throw new IllegalStateException(n.describe() + ": evaluator produced " + t.type()
                            + " for output '" + v.name() + "' of type " + v.type());
                }
                env.put(v, t);
                observer.onValue(v, t);
            }
            for (Value v : n.inputs()) {
                if (!v.isAbsent() && lastUse.getOrDefault(v, -1) == idx && !g.isInitializer(v)) {
                    env.remove(v);
                }
            }
        }
        Map<String, Tensor> result = new LinkedHashMap<>();
        for (Value v : g.outputs()) {
            result.put(v.name(), env.get(v));
        }
        return result;
    }

    /**
     * Evaluates one node on concrete inputs ({@code null} for absent optional ones) with its op's reference
     * semantics; one tensor per output.
     */
    public static List<Tensor> evaluateNode(Node n, List<Tensor> inputs, Random random) {
        OpDef def = OpTable.get().require(n.domain(), n.op(), n.describe());
        EvalContext ctx = new EvalContext(def, n.describe(), n.attributes(), inputs, n.outputs().size(), random);
        return def.evalRule().evaluate(ctx);
    }

    private static Map<Value, Integer> lastUses(Graph g) {
        Map<Value, Integer> last = new IdentityHashMap<>();
        for (int i = 0; i < g.nodes().size(); i++) {
            for (Value v : g.nodes().get(i).inputs()) {
                last.put(v, i);
            }
        }
        for (Value v : g.outputs()) {
            last.put(v, Integer.MAX_VALUE);
        }
        return last;
    }

    /** Checks each feed against the declared input type, binding symbolic dims consistently. */
    private static void bindInputs(Graph g, Map<String, Tensor> feeds, Map<Value, Tensor> env) {
        Map<String, Long> symbols = new HashMap<>();
        for (String name : feeds.keySet()) {
            if (g.inputs().stream().noneMatch(v -> v.name().equals(name))) {
                throw new InputException("graph '" + g.name() + "' has no input '" + name + "'; its inputs are "
                        + g.inputs().stream().map(Value::name).toList());
            }
        }
        for (Value v : g.inputs()) {
            Tensor t = feeds.get(v.name());
            if (t == null) {
                throw new InputException("input '" + v.name() + "' (" + v.type() + ") is missing");
            }
            if (!v.type().admits(t.type())) {
                throw new InputException("input '" + v.name() + "' expects " + v.type() + " but got " + t.type());
            }
            if (!t.isPlain()) {
                env.put(v, t); // a sequence's or optional's tensors may differ in shape; their dims bind nothing
                continue;
            }
            for (int i = 0; i < t.rank(); i++) {
                Dim d = v.shape().dim(i);
                long actual = t.dim(i);
                if (d.isStatic()) {
                    if (d.value() != actual) {
                        throw new InputException("input '" + v.name() + "' expects " + v.type() + " but got " + t.type());
                    }
                } else if (d.coefficient() == 1 && d.symbols().size() == 1 && d.symbols().values().iterator().next() == 1) {
                    String sym = d.symbols().firstKey();
                    Long prev = symbols.putIfAbsent(sym, actual);
                    if (prev != null && prev != actual) {
                        throw new InputException("input '" + v.name() + "' has " + sym + "=" + actual
                                + " but another input bound " + sym + "=" + prev);
                    }
                }
            }
            env.put(v, t);
        }
    }
}
