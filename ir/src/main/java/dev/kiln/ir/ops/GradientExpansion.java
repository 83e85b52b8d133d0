package dev.kiln.ir.ops;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.GradContext;
import dev.kiln.ir.GradRule;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * ONNX's {@code Gradient} (domain {@code ai.onnx.preview.training}): the gradient of the tensor named {@code y} with
 * respect to the tensors named {@code xs}, the tensors named {@code zs} (and every other value y depends on) held
 * constant. Gradient names tensors of its enclosing graph rather than consuming them, so it is not an op of the
 * table: the importer expands it, where it stands, into the backward nodes the op table's gradient rules emit for
 * the nodes between xs and y, so the reference evaluator and generated code run it as ordinary ops. For a y that is
 * not a scalar the backward starts from ones, i.e. it gives the gradient of the sum of y's elements, as ONNX's
 * Gradient test cases expect.
 */
public final class GradientExpansion {
    public static final String OP = "Gradient";

    private GradientExpansion() {}

    /**
     * Emits into {@code b}, after the nodes already there, the gradients of {@code y} with respect to each of
     * {@code xs}, typed as they are; {@code what} names the Gradient node in messages. An x that y does not depend
     * on gets zeros.
     */
    public static List<Value> expand(GraphBuilder b, String what, List<Value> xs, Set<Value> zs, Value y) {
        for (Value x : xs) {
            if (!x.dtype().isFloat()) {
                throw new UnsupportedOpException(what + ": xs entry '" + x.name() + "' is " + x.type()
                        + "; only floating tensors have gradients");
            }
            if (zs.contains(x)) {
                throw new UnsupportedOpException(what + ": '" + x.name() + "' is in both xs and zs");
            }
        }
        if (!y.dtype().isFloat()) {
            throw new UnsupportedOpException(what + ": y '" + y.name() + "' is " + y.type() + ", not a floating tensor");
        }
        List<Node> forward = List.copyOf(b.nodes());
        Set<Value> needsGrad = between(forward, xs, y);
        Map<Value, List<Value>> contributions = new IdentityHashMap<>();
        Value seed = y.shape().isStatic()
                ? b.initializer(b.freshName(y.name() + "_grad_seed"), ones(y))
                : b.op("ConstantOfShape").inputs(b.op("Shape").inputs(y).output())
                        .attr("value", new dev.kiln.ir.Attr.TensorValue(
                                Tensor.wrapDoubles(y.dtype(), new int[] {1}, new double[] {1})))
                        .output();
        contributions.computeIfAbsent(y, k -> new ArrayList<>()).add(seed);
        for (int i = forward.size() - 1; i >= 0; i--) {
            backward(b, forward.get(i), needsGrad, contributions);
        }
        List<Value> grads = new ArrayList<>();
        for (Value x : xs) {
            grads.add(contributions.containsKey(x) ? sum(b, contributions.get(x)) : zeros(b, x));
        }
        return grads;
    }

    /** Float values computed from xs (through float values) that y is computed from: those needing a gradient. */
    private static Set<Value> between(List<Node> nodes, List<Value> xs, Value y) {
        Set<Value> active = Collections.newSetFromMap(new IdentityHashMap<>());
        active.addAll(xs);
        for (Node n : nodes) {
            if (n.inputs().stream().anyMatch(active::contains)) {
                n.outputs().stream().filter(o -> !o.isAbsent() && o.dtype().isFloat()).forEach(active::add);
            }
        }
        Set<Value> reach = Collections.newSetFromMap(new IdentityHashMap<>());
        reach.add(y);
        for (int i = nodes.size() - 1; i >= 0; i--) {
            Node n = nodes.get(i);
            if (n.outputs().stream().anyMatch(reach::contains)) {
                Optional<OpDef> def = OpTable.get().find(n.domain(), n.op());
                for (int k = 0; k < n.inputs().size(); k++) {
                    Value v = n.inputs().get(k);
                    if (!v.isAbsent() && v.dtype().isFloat() && (def.isEmpty() || def.get().isDifferentiable(k))) {
                        reach.add(v);
                    }
                }
            }
        }
        reach.retainAll(active);
        return reach;
    }

    /** Applies n's gradient rule when one of its outputs has a gradient and one of its inputs needs one. */
    private static void backward(GraphBuilder b, Node n, Set<Value> needsGrad, Map<Value, List<Value>> contributions) {
        boolean wanted = n.inputs().stream().anyMatch(needsGrad::contains);
        List<Value> outGrads = new ArrayList<>();
        for (Value o : n.outputs()) {
            outGrads.add(o.isAbsent() || !contributions.containsKey(o) ? Value.ABSENT : sum(b, contributions.get(o)));
        }
        if (!wanted || outGrads.stream().allMatch(Value::isAbsent)) {
            return;
        }
        OpDef def = OpTable.get().require(n.domain(), n.op(), n.describe());
        GradRule rule = def.gradRule().orElseThrow(() -> new UnsupportedOpException(n.describe() + ": op " + def
                + " has no gradient rule, but Gradient differentiates through it"));
        Context ctx = new Context(def, n, b, outGrads, needsGrad);
        rule.apply(ctx);
        ctx.given.forEach((i, g) -> contributions.computeIfAbsent(n.input(i), k -> new ArrayList<>()).add(g));
    }

    /** The one contribution, or the sum of several (a value used more than once); the sum replaces the list. */
    private static Value sum(GraphBuilder b, List<Value> parts) {
        Value total = parts.get(0);
        for (int i = 1; i < parts.size(); i++) {
            total = b.op("Add").inputs(total, parts.get(i)).output();
        }
        parts.clear();
        parts.add(total);
        return total;
    }

    private static Tensor ones(Value like) {
        double[] v = new double[Math.toIntExact(like.shape().elementCount().value())];
        java.util.Arrays.fill(v, 1);
        return Tensor.wrapDoubles(like.dtype(), like.shape().toIntArray(), v);
    }

    private static Value zeros(GraphBuilder b, Value like) {
        if (like.shape().isStatic()) {
            return b.initializer(b.freshName(like.name() + "_grad_zero"), Tensor.zeros(like.dtype(),
                    like.shape().toIntArray()));
        }
        return b.op("ConstantOfShape").inputs(b.op("Shape").inputs(like).output())
                .attr("value", new dev.kiln.ir.Attr.TensorValue(Tensor.wrapDoubles(like.dtype(), new int[] {1},
                        new double[] {0})))
                .output();
    }

    /** A gradient rule's view of one forward node, emitting straight into the builder. */
    private static final class Context extends GradContext {
        private final GraphBuilder b;
        private final List<Value> outGrads;
        private final Set<Value> needsGrad;
        final Map<Integer, Value> given = new java.util.TreeMap<>();

        Context(OpDef def, Node node, GraphBuilder b, List<Value> outGrads, Set<Value> needsGrad) {
            super(def, node);
            this.b = b;
            this.outGrads = outGrads;
            this.needsGrad = needsGrad;
        }

        @Override
        public Value outputGrad(int i) { return i < outGrads.size() ? outGrads.get(i) : Value.ABSENT; }

        @Override
        public boolean needsGrad(int i) { return hasInput(i) && needsGrad.contains(input(i)); }

        @Override
        public void setInputGrad(int i, Value grad) {
            if (needsGrad(i)) {
                given.merge(i, grad, (a, c) -> b.op("Add").inputs(a, c).output());
            }
        }

        @Override
        public List<Value> emitMulti(String domain, String op, Attributes attrs, int outputs, Value... inputs) {
            return b.op(op).domain(domain).inputs(inputs).attrs(attrs).outputCount(outputs).build();
        }

        @Override
        public Value constant(Tensor value) { return b.initializer(b.freshName("grad_const"), value); }

        @Override
        public Optional<Tensor> constantValue(Value v) { return b.constantValue(v); }
    }
}
