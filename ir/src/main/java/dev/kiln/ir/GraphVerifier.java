package dev.kiln.ir;

import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks a graph's invariants: every value named, defined once and before use (SSA, hence acyclic), every op
 * known with legal arity and attributes, and every recorded type equal to what the op table infers. Bodies (graph
 * attributes) are verified as graphs of their own: they are closed, so they use only their own values.
 * Runs after import, after the builder, and after every pass in tests.
 */
public final class GraphVerifier {
    private GraphVerifier() {}

    /** Throws {@link GraphException} (or the op's {@link ShapeException}) on the first violation. */
    public static void verify(Graph g) {
        Map<Value, String> defined = new IdentityHashMap<>();
        Set<String> names = new HashSet<>();
        TypeInference inference = new TypeInference();
        for (Value v : g.inputs()) {
            define(g, v, "graph input", defined, names);
        }
        for (Map.Entry<Value, Tensor> e : g.initializers().entrySet()) {
            Value v = e.getKey();
            define(g, v, "initializer", defined, names);
            if (!e.getValue().isPlain()) {
                throw new GraphException("graph '" + g.name() + "': initializer '" + v.name() + "' is a "
                        + e.getValue().type() + "; initializers are tensors");
            }
            if (!v.type().equals(e.getValue().type())) {
                throw new GraphException("graph '" + g.name() + "': initializer '" + v.name() + "' is declared "
                        + v.type() + " but holds " + e.getValue().type());
            }
            inference.addConstant(v, e.getValue());
        }
        for (Node n : g.nodes()) {
            for (Value in : n.inputs()) {
                if (!in.isAbsent() && !defined.containsKey(in)) {
                    throw new GraphException("graph '" + g.name() + "': " + n.describe() + " uses '" + in.name()
                            + "' before it is defined (dangling input or cycle)");
                }
            }
            OpDef def = OpTable.get().require(n.domain(), n.op(), n.describe());
            for (Map.Entry<String, Graph> body : Subgraphs.of(n.attributes()).entrySet()) {
                try {
                    verify(body.getValue());
                } catch (GraphException e) {
                    throw new GraphException("graph '" + g.name() + "': " + n.describe() + ", " + body.getKey() + ": "
                            + e.getMessage());
                }
            }
            TypeInference.Result r = inference.infer(def, n.describe(), n.attributes(), n.inputs(), n.outputs().size());
            for (int i = 0; i < n.outputs().size(); i++) {
                Value out = n.outputs().get(i);
                if (out.isAbsent()) {
                    continue;
                }
                define(g, out, n.describe(), defined, names);
                TensorType inferred = r.types().get(i);
                if (!compatible(out.type(), inferred)) {
                    throw new GraphException("graph '" + g.name() + "': " + n.describe() + " output '" + out.name()
                            + "' is recorded as " + out.type() + " but the op infers " + inferred);
                }
            }
            inference.bind(n.outputs(), r);
        }
        for (Value out : g.outputs()) {
            if (!defined.containsKey(out)) {
                throw new GraphException("graph '" + g.name() + "': output '" + out.name() + "' is never defined");
            }
        }
    }

    private static void define(Graph g, Value v, String by, Map<Value, String> defined, Set<String> names) {
        if (v.isAbsent() || v.name().isEmpty()) {
            throw new GraphException("graph '" + g.name() + "': " + by + " defines an unnamed value");
        }
        if (defined.put(v, by) != null) {
            throw new GraphException("graph '" + g.name() + "': value '" + v.name() + "' is defined twice");
        }
        if (!names.add(v.name())) {
            throw new GraphException("graph '" + g.name() + "': two values are named '" + v.name() + "'");
        }
    }

    /**
     * Same kind and dtype; same rank unless a sequence's or optional's rank is unknown on either side; dims equal
     * unless either is unknown.
     */
    static boolean compatible(TensorType recorded, TensorType inferred) {
        if (recorded.kind() != inferred.kind() || recorded.dtype() != inferred.dtype()) {
            return false;
        }
        if (!recorded.ranked() || !inferred.ranked()) {
            return true;
        }
        if (recorded.rank() != inferred.rank()) {
            return false;
        }
        List<Dim> a = recorded.shape().dims();
        List<Dim> b = inferred.shape().dims();
        for (int i = 0; i < a.size(); i++) {
            if (!a.get(i).hasUnknown() && !b.get(i).hasUnknown() && !a.get(i).equals(b.get(i))) {
                return false;
            }
        }
        return true;
    }
}
