package dev.kiln.ir.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.GradContext;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;

/**
 * Finite-difference check of one op's gradient rule, in double precision through the reference evaluator.
 * The loss is {@code L = sum over the chosen outputs o of <dY_o, Y_o>} with random fixed cotangents dY_o; the
 * rule's gradient graph (built by a one-node {@link GradContext} over a {@link GraphBuilder}) is evaluated and
 * compared, element by element, with central differences {@code (L(x + h) - L(x - h)) / 2h}.
 */
final class GradCheck {
    /** Step of the central differences; the truncation error is O(h^2) ~ 1e-10 for these smooth functions. */
    static final double STEP = 1e-5;

    private final String op;
    private final Attributes attrs;
    private final List<Tensor> inputs;
    private final int outputs;
    private Set<Integer> wrt = Set.of(0);
    private Set<Integer> lossOutputs = Set.of(0);
    private Set<Integer> constants = Set.of();
    private double tolerance = 1e-6;
    private long seed = 1;

    private GradCheck(String op, Attributes attrs, int outputs, List<Tensor> inputs) {
        this.op = op;
        this.attrs = attrs;
        this.outputs = outputs;
        this.inputs = inputs;
    }

    /** A check of {@code op} with {@code outputs} outputs on {@code inputs} ({@code null}: absent). */
    static GradCheck of(String op, Attributes attrs, int outputs, Tensor... inputs) {
        return new GradCheck(op, attrs, outputs, Arrays.asList(inputs));
    }

    /** The inputs whose gradients are asked for (needsGrad) and checked; input 0 by default. */
    GradCheck wrt(Integer... inputIndices) {
        this.wrt = Set.of(inputIndices);
        return this;
    }

    /** Inputs given as initializers, so the rule sees their values (axes, pads, repeats); graph inputs by default. */
    GradCheck constants(Integer... inputIndices) {
        this.constants = Set.of(inputIndices);
        return this;
    }

    /** The outputs that reach the loss; output 0 by default. The others' gradients are absent. */
    GradCheck loss(Integer... outputIndices) {
        this.lossOutputs = Set.of(outputIndices);
        return this;
    }

    /** Accepted error: |analytic - numeric| <= tolerance * max(1, |numeric|). */
    GradCheck tolerance(double t) {
        this.tolerance = t;
        return this;
    }

    GradCheck seed(long s) {
        this.seed = s;
        return this;
    }

    /** Runs the check; returns the rule's gradients by input index, for further assertions. */
    Map<Integer, Tensor> run() {
        List<Tensor> y = forward(inputs);
        Random random = new Random(seed);
        Map<Integer, Tensor> cotangents = new LinkedHashMap<>();
        for (int o : lossOutputs) {
            cotangents.put(o, randomLike(y.get(o), random));
        }
        Map<Integer, Tensor> analytic = analytic(cotangents);
        assertEquals(wrt, analytic.keySet(), op + ": the rule set gradients for inputs " + analytic.keySet());
        for (int i : wrt) {
            Tensor a = analytic.get(i);
            Tensor x = inputs.get(i);
            assertEquals(x.type(), a.type(), op + ": gradient of input " + i + " has the wrong type");
            double[] base = x.doubles();
            for (int e = 0; e < base.length; e++) {
                double numeric = (loss(i, e, base[e] + STEP, cotangents) - loss(i, e, base[e] - STEP, cotangents))
                        / (2 * STEP);
                double got = a.getDouble(e);
                if (!(Math.abs(got - numeric) <= tolerance * Math.max(1, Math.abs(numeric)))) {
                    fail(op + ": d loss / d input " + i + "[" + e + "] is " + got + " but central differences give "
                            + numeric);
                }
            }
        }
        return analytic;
    }

    /**
     * The rule's gradients for cotangents of all ones, without a numeric comparison: for a pointwise op these are
     * the slopes themselves, to pin down the one-sided choice at a kink where differences cannot decide.
     */
    Map<Integer, Tensor> slopes() {
        List<Tensor> y = forward(inputs);
        Map<Integer, Tensor> ones = new LinkedHashMap<>();
        for (int o : lossOutputs) {
            double[] v = new double[y.get(o).size()];
            Arrays.fill(v, 1);
            ones.put(o, Tensor.wrapDoubles(y.get(o).dtype(), y.get(o).shape(), v));
        }
        return analytic(ones);
    }

    private double loss(int input, int element, double value, Map<Integer, Tensor> cotangents) {
        List<Tensor> moved = new ArrayList<>(inputs);
        double[] v = inputs.get(input).doubles().clone();
        v[element] = value;
        moved.set(input, Tensor.wrapDoubles(inputs.get(input).dtype(), inputs.get(input).shape(), v));
        List<Tensor> y = forward(moved);
        double l = 0;
        for (Map.Entry<Integer, Tensor> c : cotangents.entrySet()) {
            double[] yo = y.get(c.getKey()).doubles();
            double[] dy = c.getValue().doubles();
            for (int k = 0; k < yo.length; k++) {
                l += yo[k] * dy[k];
            }
        }
        return l;
    }

    private List<Tensor> forward(List<Tensor> in) {
        GraphBuilder b = new GraphBuilder("forward");
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        List<Value> values = feed(b, in, feeds, constants);
        List<Value> outs = b.op(op).inputs(values).attrs(attrs).outputCount(outputs).build();
        outs.forEach(b::output);
        Map<String, Tensor> result = ReferenceEvaluator.run(b.build(), feeds);
        return outs.stream().map(v -> result.get(v.name())).toList();
    }

    private static List<Value> feed(GraphBuilder b, List<Tensor> in, Map<String, Tensor> feeds, Set<Integer> constants) {
        List<Value> values = new ArrayList<>();
        for (int i = 0; i < in.size(); i++) {
            Tensor t = in.get(i);
            if (t == null) {
                values.add(Value.ABSENT);
            } else if (constants.contains(i)) {
                values.add(b.initializer("x" + i, t));
            } else {
                values.add(b.input("x" + i, t.dtype(), Shape.of(t.shape())));
                feeds.put("x" + i, t);
            }
        }
        return values;
    }

    private Map<Integer, Tensor> analytic(Map<Integer, Tensor> cotangents) {
        GraphBuilder b = new GraphBuilder("backward");
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        List<Value> values = feed(b, inputs, feeds, constants);
        List<Value> outs = b.op(op).inputs(values).attrs(attrs).outputCount(outputs).build();
        Map<Integer, Value> dy = new LinkedHashMap<>();
        cotangents.forEach((o, t) -> {
            dy.put(o, b.input("dy" + o, t.dtype(), Shape.of(t.shape())));
            feeds.put("dy" + o, t);
        });
        Node node = new Node(op, "", "", values, outs, attrs);
        Harness ctx = new Harness(OpTable.get().require("", op, op), node, b, dy, wrt);
        ctx.def().gradRule().orElseThrow(() -> new AssertionError(op + " has no gradient rule")).apply(ctx);
        List<Integer> order = new ArrayList<>(ctx.grads.keySet());
        for (int i : order) {
            b.output(ctx.grads.get(i));
        }
        Graph g = b.build();
        Map<String, Tensor> result = ReferenceEvaluator.run(g, feeds);
        Map<Integer, Tensor> out = new LinkedHashMap<>();
        for (int i : order) {
            out.put(i, result.get(ctx.grads.get(i).name()));
        }
        return out;
    }

    /** Builds the rule's gradient graph for symbolic or static input types without evaluating it. */
    static Map<Integer, Value> typedGradients(String op, Attributes attrs, int outputs, List<Value> forwardInputTypes,
                                              Set<Integer> lossOutputs, Set<Integer> wrt) {
        GraphBuilder b = new GraphBuilder("typed");
        List<Value> values = new ArrayList<>();
        for (int i = 0; i < forwardInputTypes.size(); i++) {
            Value v = forwardInputTypes.get(i);
            values.add(v.isAbsent() ? Value.ABSENT : b.input("x" + i, v.dtype(), v.shape()));
        }
        List<Value> outs = b.op(op).inputs(values).attrs(attrs).outputCount(outputs).build();
        Map<Integer, Value> dy = new LinkedHashMap<>();
        for (int o : lossOutputs) {
            dy.put(o, b.input("dy" + o, outs.get(o).dtype(), outs.get(o).shape()));
        }
        Harness ctx = new Harness(OpTable.get().require("", op, op), new Node(op, "", "", values, outs, attrs), b, dy, wrt);
        ctx.def().gradRule().orElseThrow().apply(ctx);
        ctx.grads.values().forEach(b::output);
        b.build();
        for (Map.Entry<Integer, Value> e : ctx.grads.entrySet()) {
            assertEquals(values.get(e.getKey()).type(), e.getValue().type(), op + ": type of gradient " + e.getKey());
        }
        return ctx.grads;
    }

    /** Random values in [-1, 1) shaped like t, in double. */
    static Tensor randomLike(Tensor t, Random random) {
        return random(random, t.shape());
    }

    static Tensor random(Random random, int... shape) {
        double[] v = new double[Tensor.sizeOf(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = random.nextDouble() * 2 - 1;
        }
        return Tensor.wrapDoubles(DType.FLOAT64, shape, v);
    }

    /** The one-node GradContext of this check: emission goes straight into the builder. */
    private static final class Harness extends GradContext {
        private final GraphBuilder b;
        private final Map<Integer, Value> dy;
        private final Set<Integer> wrt;
        final Map<Integer, Value> grads = new LinkedHashMap<>();

        Harness(OpDef def, Node node, GraphBuilder b, Map<Integer, Value> dy, Set<Integer> wrt) {
            super(def, node);
            this.b = b;
            this.dy = dy;
            this.wrt = wrt;
        }

        @Override
        public Value outputGrad(int i) { return dy.getOrDefault(i, Value.ABSENT); }

        @Override
        public boolean needsGrad(int i) { return wrt.contains(i); }

        @Override
        public void setInputGrad(int i, Value grad) {
            assertTrue(wrt.contains(i), "rule set a gradient for input " + i + " that was not asked for");
            assertTrue(grads.put(i, grad) == null, "rule set the gradient of input " + i + " twice");
        }

        @Override
        public List<Value> emitMulti(String domain, String op, Attributes attrs, int outputs, Value... inputs) {
            return b.op(op).domain(domain).inputs(inputs).attrs(attrs).outputCount(outputs).build();
        }

        @Override
        public Value constant(Tensor value) { return b.initializer(b.freshName("c"), value); }

        @Override
        public Optional<Tensor> constantValue(Value v) { return b.constantValue(v); }
    }
}
