package dev.kiln.passes;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * What a local fusion rule sees while a pass sweeps the graph: the rewriter, constant values, and how many
 * times each value is used (a producer can be merged into its consumer only when nothing else reads it).
 */
final class FusionContext {
    private final Rewriter rw;
    private final Map<Value, Tensor> constants;
    private final Map<Value, Integer> uses = new IdentityHashMap<>();

    FusionContext(Graph g, Rewriter rw) {
        this.rw = rw;
        this.constants = new IdentityHashMap<>(g.initializers());
        for (Node n : g.nodes()) {
            for (Value v : n.inputs()) {
                if (!v.isAbsent()) {
                    uses.merge(v, 1, Integer::sum);
                }
            }
        }
        for (Value v : g.outputs()) {
            uses.merge(v, 2, Integer::sum); // a graph output is never private to one consumer
        }
    }

    Rewriter rw() { return rw; }

    Optional<Tensor> constant(Value v) {
        return v.isAbsent() ? Optional.empty() : Optional.ofNullable(constants.get(rw.map(v)));
    }

    /** A new initializer (folded weights), registered as a constant for later rules. */
    Value addConstant(String hint, Tensor t) {
        Value v = rw.addInitializer(hint, t);
        constants.put(v, t);
        return v;
    }

    /** The emitted producer of {@code v} if {@code v} has exactly one use (the current node). */
    Optional<Node> soleProducer(Value v, String op) {
        if (uses.getOrDefault(v, 0) != 1) {
            return Optional.empty();
        }
        return rw.producer(v).filter(p -> p.op().equals(op) && p.outputs().size() >= 1 && p.output(0) == rw.map(v)
                && p.outputs().stream().skip(1).allMatch(Value::isAbsent));
    }
}
