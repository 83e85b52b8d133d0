package dev.kiln.passes;

import dev.kiln.ir.Attr;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Removes ops that do nothing at inference time (Identity, inference-mode Dropout, Reshape/Transpose/Cast
 * and friends that leave their input unchanged) and merges adjacent Transposes, so later passes and code
 * generation see only real work.
 */
public final class Simplification implements Pass {
    @Override
    public String name() { return "simplification"; }

    /** One local rewrite; returns true when it replaced the node (which is then dropped). */
    @FunctionalInterface
    interface Rule {
        boolean apply(Node n, Context ctx);
    }

    /** What rules see: constants, which values are used, and the rewriter. */
    record Context(Rewriter rw, Map<Value, Tensor> constants, Set<Value> used, Map<Value, Node> producers) {
        Optional<Tensor> constant(Value v) {
            return v.isAbsent() ? Optional.empty() : Optional.ofNullable(constants.get(rw.map(v)));
        }

        boolean forward(Node n, Value to) {
            rw.replace(n.output(0), rw.map(to));
            return true;
        }
    }

    /** The rules, tried in order on every node. */
    static final Map<String, Rule> RULES = rules();

    private static Map<String, Rule> rules() {
        Map<String, Rule> r = new java.util.LinkedHashMap<>();
        // Identity(x) -> x
        r.put("Identity", (n, c) -> c.forward(n, n.input(0)));
        // Dropout(x, ratio, training_mode=false) -> x, when its mask is unused
        r.put("Dropout", (n, c) -> !(n.hasOutput(1) && c.used().contains(n.output(1)))
                && (!n.hasInput(2) || c.constant(n.input(2)).map(t -> !t.getBool(0)).orElse(false))
                && c.forward(n, n.input(0)));
        // Reshape/Flatten/Squeeze/Unsqueeze/Expand(x) -> x, when the result has x's shape (data order is unchanged)
        for (String op : List.of("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Expand")) {
            r.put(op, (n, c) -> sameShape(n.input(0), n.output(0)) && c.forward(n, n.input(0)));
        }
        // Tile(x, ones) -> x: equal shapes imply every repeat is 1 (or the tensor is empty)
        r.put("Tile", (n, c) -> sameShape(n.input(0), n.output(0)) && c.forward(n, n.input(0)));
        // Cast(x, to=dtype(x)) -> x
        r.put("Cast", (n, c) -> n.output(0).dtype() == n.input(0).dtype() && c.forward(n, n.input(0)));
        // CastLike(x, like) -> Cast(x, to=dtype(like)): like's elements are never read, so it stops being an operand
        r.put("CastLike", (n, c) -> {
            Node cast = new Node("Cast", "", n.name(), List.of(c.rw().map(n.input(0))), n.outputs(),
                    n.attributes().with("to", new Attr.Int(n.input(1).dtype().onnxCode())));
            c.rw().emit(cast);
            c.producers().put(n.output(0), cast);
            return true;
        });
        // Concat(x) -> x
        r.put("Concat", (n, c) -> n.inputs().size() == 1 && c.forward(n, n.input(0)));
        // Pad(x, zeros) -> x
        r.put("Pad", (n, c) -> c.constant(n.input(1)).map(p -> allZero(p)).orElse(false) && c.forward(n, n.input(0)));
        // Slice(x) -> x, when the result has x's shape and every step is 1
        r.put("Slice", (n, c) -> sameShape(n.input(0), n.output(0))
                && (!n.hasInput(4) || c.constant(n.input(4)).map(s -> allOnes(s)).orElse(false))
                && c.forward(n, n.input(0)));
        // LSTM/GRU/RNN(..., initial_h = zeros, initial_c = zeros) -> the same with the states absent (zero by spec)
        for (String op : List.of("LSTM", "GRU", "RNN")) {
            r.put(op, Simplification::dropZeroInitialStates);
        }
        // Transpose(x, identity) -> x;  Transpose(Transpose(x, p), q) -> Transpose(x, p[q])
        r.put("Transpose", Simplification::transpose);
        return Collections.unmodifiableMap(r);
    }

    @Override
    public Graph apply(Graph g) {
        Rewriter rw = new Rewriter(g);
        Set<Value> used = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Node n : g.nodes()) {
            used.addAll(n.inputs());
        }
        used.addAll(g.outputs());
        Map<Value, Node> producers = new IdentityHashMap<>();
        Context ctx = new Context(rw, new IdentityHashMap<>(g.initializers()), used, producers);
        boolean changed = false;
        for (Node n : g.nodes()) {
            Rule rule = n.domain().isEmpty() ? RULES.get(n.op()) : null;
            if (rule != null && rule.apply(n, ctx)) {
                changed = true;
                continue;
            }
            rw.keep(n);
            n.outputs().forEach(o -> producers.put(o, n));
        }
        return changed ? rw.finish() : g;
    }

    private static boolean transpose(Node n, Context c) {
        Value x = c.rw().map(n.input(0));
        long[] q = perm(n, x.type().rank());
        if (isIdentity(q)) {
            return c.forward(n, x);
        }
        Node inner = c.producers().get(x);
        if (inner == null || !inner.op().equals("Transpose") || !inner.domain().isEmpty()) {
            return false;
        }
        Value y = c.rw().map(inner.input(0));
        long[] p = perm(inner, y.type().rank());
        long[] combined = new long[q.length];
        for (int i = 0; i < q.length; i++) {
            combined[i] = p[(int) q[i]];
        }
        if (isIdentity(combined)) {
            return c.forward(n, y);
        }
        Node merged = new Node("Transpose", "", n.name(), List.of(y), n.outputs(),
                n.attributes().with("perm", Attr.Ints.of(combined)));
        c.rw().emit(merged);
        c.producers().put(n.output(0), merged);
        return true;
    }

    /** Initial hidden (input 5) and cell (input 6) states that are all zero, as ConstantOfShape(0) or a constant. */
    private static boolean dropZeroInitialStates(Node n, Context c) {
        List<dev.kiln.ir.Value> inputs = new java.util.ArrayList<>(n.inputs());
        boolean changed = false;
        for (int i = 5; i <= 6 && i < inputs.size(); i++) {
            if (n.hasInput(i) && isZeros(n.input(i), c)) {
                inputs.set(i, dev.kiln.ir.Value.ABSENT);
                changed = true;
            }
        }
        if (!changed) {
            return false;
        }
        while (!inputs.isEmpty() && inputs.get(inputs.size() - 1).isAbsent()) {
            inputs.remove(inputs.size() - 1);
        }
        Node stateless = n.withInputs(inputs);
        c.rw().emit(stateless);
        stateless.outputs().forEach(o -> c.producers().put(o, stateless));
        return true;
    }

    private static boolean isZeros(Value v, Context c) {
        Optional<Tensor> t = c.constant(v);
        if (t.isPresent()) {
            return allZero(t.get());
        }
        Node p = c.producers().get(c.rw().map(v));
        if (p == null || !p.op().equals("ConstantOfShape") || !p.domain().isEmpty()) {
            return false;
        }
        return p.attributes().get("value").map(a -> allZero(((Attr.TensorValue) a).value())).orElse(true);
    }

    private static long[] perm(Node n, int rank) {
        return n.attributes().get("perm").map(a -> ((Attr.Ints) a).toArray()).orElseGet(() -> {
            long[] p = new long[rank];
            for (int i = 0; i < rank; i++) {
                p[i] = rank - 1 - i;
            }
            return p;
        });
    }

    private static boolean isIdentity(long[] perm) {
        for (int i = 0; i < perm.length; i++) {
            if (perm[i] != i) {
                return false;
            }
        }
        return true;
    }

    /** Equal shapes with no unknown dims (symbolic dims compare by name). */
    static boolean sameShape(Value a, Value b) {
        Shape s = a.shape();
        Shape t = b.shape();
        if (s.rank() != t.rank() || a.dtype() != b.dtype()) {
            return false;
        }
        for (int i = 0; i < s.rank(); i++) {
            Dim x = s.dim(i);
            if (x.hasUnknown() || !x.equals(t.dim(i))) {
                return false;
            }
        }
        return true;
    }

    private static boolean allZero(Tensor t) {
        for (int i = 0; i < t.size(); i++) {
            if (t.getDouble(i) != 0) {
                return false;
            }
        }
        return true;
    }

    private static boolean allOnes(Tensor t) {
        for (int i = 0; i < t.size(); i++) {
            if (t.getLong(i) != 1) {
                return false;
            }
        }
        return true;
    }
}
