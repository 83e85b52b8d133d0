package dev.kiln.passes;

import dev.kiln.ir.Attr;
import dev.kiln.ir.Attributes;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * Removes ops that do nothing at inference time (Identity, inference-mode Dropout, Reshape/Transpose/Cast
 * and friends that leave their input unchanged), merges adjacent Transposes, and reads the last step of a
 * recurrent op's Y from its Y_h, so later passes and code generation see only real work.
 */
public final class Simplification implements Pass {
    @Override
    public String name() { return "simplification"; }

    /** One local rewrite; returns true when it replaced the node (which is then dropped). */
    @FunctionalInterface
    interface Rule {
        boolean apply(Node n, Context ctx);
    }

    /**
     * What rules see: constants, which values are used, the rewriter, and the values whose shapes the model only
     * declares ({@link DeclaredShapes}: never proof that a node leaves its input's shape unchanged).
     */
    record Context(Rewriter rw, Map<Value, Tensor> constants, Set<Value> used, Map<Value, Node> producers,
                   Set<Value> declared) {
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
            r.put(op, (n, c) -> sameShape(n.input(0), n.output(0)) && !c.declared().contains(n.output(0))
                    && c.forward(n, n.input(0)));
        }
        // Tile(x, ones) -> x: equal shapes imply every repeat is 1 (or the tensor is empty)
        r.put("Tile", (n, c) -> sameShape(n.input(0), n.output(0)) && !c.declared().contains(n.output(0))
                && c.forward(n, n.input(0)));
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
        r.put("Slice", (n, c) -> sameShape(n.input(0), n.output(0)) && !c.declared().contains(n.output(0))
                && (!n.hasInput(4) || c.constant(n.input(4)).map(s -> allOnes(s)).orElse(false))
                && c.forward(n, n.input(0)));
        // LSTM/GRU/RNN(..., initial_h = zeros, initial_c = zeros) -> the same with the states absent (zero by spec)
        for (String op : List.of("LSTM", "GRU", "RNN")) {
            r.put(op, Simplification::dropZeroInitialStates);
        }
        // Transpose(x, identity) -> x;  Transpose(Transpose(x, p), q) -> Transpose(x, p[q])
        r.put("Transpose", Simplification::transpose);
        // Gather(Transpose/Squeeze*(Y of LSTM/GRU/RNN), last step) -> Y_h, squeezed as the gather's result is
        r.put("Gather", Simplification::lastStepOfRecurrence);
        return Collections.unmodifiableMap(r);
    }

    @Override
    public Graph apply(Graph g) {
        Rewriter rw = new Rewriter(g);
        Set<Value> used = g.readValues();
        Map<Value, Node> producers = new IdentityHashMap<>();
        Context ctx = new Context(rw, new IdentityHashMap<>(g.initializers()), used, producers, DeclaredShapes.of(g));
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

    /**
     * A gather of the step a one-direction recurrent op computed last (the final index going forward, index 0 in
     * reverse) from its Y [seq, 1, batch, hidden], seen through Transposes and Squeezes, is that op's Y_h
     * [1, batch, hidden] with the same elements: the op then need not write Y at all (a model that classifies a
     * sequence reads only its last step: lstm at batch 64 wrote 917 KB of Y and transposed it, per call). Taken
     * only when the gather's remaining axes keep batch before hidden, so Y_h's data order is the result's; without
     * sequence_lens (a shorter sequence's Y_h is an earlier step).
     */
    private static boolean lastStepOfRecurrence(Node n, Context c) {
        Optional<Tensor> index = c.constant(n.input(1));
        Value data = c.rw().map(n.input(0));
        int rank = data.type().rank();
        if (index.isEmpty() || index.get().shape().length != 0 || rank < 1) {
            return false;
        }
        int axis = Shape.normalizeAxis(n.attributes().get("axis").map(a -> ((Attr.Int) a).value()).orElse(0L), rank);
        // source[i]: the axis of the value reached so far that axis i of the gather's data comes from
        int[] source = new int[rank];
        for (int i = 0; i < rank; i++) {
            source[i] = i;
        }
        Value v = data;
        Node p = c.producers().get(v);
        while (p != null && p.domain().isEmpty() && (p.op().equals("Transpose") || p.op().equals("Squeeze"))) {
            Value u = c.rw().map(p.input(0));
            int[] from = p.op().equals("Transpose") ? Arrays.stream(perm(p, u.type().rank())).mapToInt(x -> (int) x)
                    .toArray() : keptAxes(p, u, c);
            if (from == null) {
                return false;
            }
            for (int i = 0; i < rank; i++) {
                source[i] = from[source[i]];
            }
            v = u;
            p = c.producers().get(v);
        }
        if (p == null || !p.domain().isEmpty() || !List.of("LSTM", "GRU", "RNN").contains(p.op())
                || p.outputs().isEmpty() || p.output(0) != v || !p.hasOutput(1) || p.hasInput(4)
                || p.attributes().get("layout").map(a -> ((Attr.Int) a).value() != 0).orElse(false)) {
            return false;
        }
        String direction = p.attributes().get("direction").map(a -> ((Attr.Str) a).value()).orElse("forward");
        Dim seq = v.shape().dim(0);
        long step = index.get().getLong(0);
        boolean last = direction.equals("forward") ? step == -1 || seq.isStatic() && step == seq.value() - 1
                : direction.equals("reverse") && (step == 0 || seq.isStatic() && step == -seq.value());
        if (!last || source[axis] != 0) {
            return false;
        }
        // The result's axes come from Y's axes 2 and 3 (batch, hidden) in order, with the direction axis 1 or not.
        StringBuilder kept = new StringBuilder();
        for (int i = 0; i < rank; i++) {
            if (i != axis) {
                kept.append(source[i]);
            }
        }
        Value yh = p.output(1);
        if (kept.toString().equals("123")) {
            return c.forward(n, yh);
        }
        if (!kept.toString().equals("23")) {
            return false;
        }
        Value axes = c.rw().addInitializer(n.output(0).name() + "_axes", Tensor.ofInt64s(0));
        Node squeeze = new Node("Squeeze", "", n.name(), List.of(yh, axes), n.outputs(), Attributes.EMPTY);
        c.rw().emit(squeeze);
        c.producers().put(n.output(0), squeeze);
        return true;
    }

    /** For a Squeeze of {@code u}: the axes of u its result keeps, in order; null when its axes are not known. */
    private static int[] keptAxes(Node squeeze, Value u, Context c) {
        int rank = u.type().rank();
        boolean[] drop = new boolean[rank];
        if (squeeze.hasInput(1)) {
            Optional<Tensor> axes = c.constant(squeeze.input(1));
            if (axes.isEmpty()) {
                return null;
            }
            for (int i = 0; i < axes.get().size(); i++) {
                drop[Shape.normalizeAxis(axes.get().getLong(i), rank)] = true;
            }
        } else {
            for (int i = 0; i < rank; i++) {
                Dim d = u.shape().dim(i);
                drop[i] = d.isStatic() && d.value() == 1;
            }
        }
        return IntStream.range(0, rank).filter(i -> !drop[i]).toArray();
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
