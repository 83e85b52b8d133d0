package dev.kiln.passes;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.RnnActivation;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Replaces every ONNX {@code RNN} node whose sequence length is static by its steps written out in ops that have
 * gradient rules and training kernels, so that training differentiates it like any other chain of ops. Per direction
 * d, with {@code W_d}, {@code R_d}, {@code Wb_d + Rb_d} taken from W, R and B by Split and Squeeze:
 *
 * <pre>
 *   Xp   = Gemm(Reshape(X, [-1, I]), W_d, transB=1) + (Wb_d + Rb_d)     all steps' input projections at once
 *   H_t  = f(clip(Xp_t + Gemm(H_prev, R_d, transB=1)))                 each step t (Split and Squeeze of Xp)
 * </pre>
 *
 * the forward direction walking t = 0..T-1, the reverse one T-1..0, from initial_h's slice (or from zeros, where
 * the first step is just {@code f(clip(Xp_t))}). Y is the steps' states Unsqueezed and Concatenated into
 * [T, D, N, H] (layout 1: [N, T, D, H]), Y_h the last state of each direction into [D, N, H] ([N, D, H]); the
 * nodes producing them write the node's own output values, so every reader is unchanged. The activation f of each
 * direction is its op (Tanh, Relu, Sigmoid, LeakyRelu, HardSigmoid, Elu, Softsign, Softplus with their alpha and
 * beta), or for those the recurrent spec defines beyond ONNX's ops: Affine {@code alpha x + beta}, ScaledTanh
 * {@code alpha tanh(beta x)} and ThresholdedRelu as that spec reads it ({@code x if x >= alpha}, the op has
 * {@code >}), a Where. {@code clip} is a Clip to [-clip, clip]. W, R and B stay the node's inputs (the trained
 * initializers, under their ONNX names); the scalars the rewrite adds are Constant nodes, never parameters.
 *
 * <p>Left as it is: a node with sequence_lens, a sequence or hidden size that is not static, or no steps; the op
 * table's gradient rule of RNN then says why it cannot train. Not in any {@link Pipeline} level: only training
 * runs it ({@code KilnCompiler.simplifyForTraining}), after the passes that fold, so no folding turns the
 * Squeeze of a trained weight into a constant. Inference keeps RNN nodes and their recurrent kernel.
 */
public final class RnnUnrolling implements Pass {

    @Override
    public String name() { return "rnn-unrolling"; }

    @Override
    public Graph apply(Graph g) {
        if (g.nodes().stream().noneMatch(RnnUnrolling::unrollable)) {
            return g;
        }
        Set<Value> read = g.readValues();
        Rewriter rw = new Rewriter(g);
        Map<String, Value> longs = new HashMap<>();
        for (Node n : g.nodes()) {
            if (unrollable(n)) {
                new Unroller(rw, n, read, longs).emit();
            } else {
                rw.keep(n);
            }
        }
        return rw.finish();
    }

    /**
     * True for an RNN node this pass rewrites: no sequence_lens, and X of rank 3 whose sequence length (at least 1)
     * and input size are static, with a static hidden size.
     */
    private static boolean unrollable(Node n) {
        if (!n.domain().isEmpty() || !n.op().equals("RNN") || n.hasInput(4) || n.inputs().size() < 3) {
            return false;
        }
        Shape x = n.input(0).shape();
        Shape r = n.input(2).shape();
        if (x.rank() != 3 || r.rank() != 3 || !x.dim(2).isStatic() || !r.dim(2).isStatic()) {
            return false;
        }
        boolean batchFirst = n.attributes().get("layout")
                .map(a -> ((dev.kiln.ir.Attr.Int) a).value() != 0).orElse(false);
        Dim seq = x.dim(batchFirst ? 1 : 0);
        return seq.isStatic() && seq.value() > 0;
    }

    /** The rewrite of one node. */
    private static final class Unroller {
        private final Rewriter rw;
        private final Node n;
        private final Set<Value> read;
        private final Map<String, Value> longs;
        private final NodeContext ctx;
        private final String base;
        private final DType dtype;
        private final boolean batchFirst;
        private final int dirs;
        private final int seq;
        private final long input;
        private final long hidden;
        private final Dim batch;
        private final Map<String, Value> floats = new HashMap<>();

        Unroller(Rewriter rw, Node n, Set<Value> read, Map<String, Value> longs) {
            this.rw = rw;
            this.n = n;
            this.read = read;
            this.longs = longs;
            this.ctx = new Context(n);
            String out = n.outputs().stream().filter(v -> !v.isAbsent()).map(Value::name).findFirst().orElse("rnn");
            this.base = n.name().isEmpty() ? out : n.name();
            Value x = n.input(0);
            this.dtype = x.dtype();
            this.batchFirst = ctx.attrInt("layout") != 0;
            this.dirs = ctx.attrString("direction").equals("bidirectional") ? 2 : 1;
            this.seq = Math.toIntExact(x.shape().dim(batchFirst ? 1 : 0).value());
            this.batch = x.shape().dim(batchFirst ? 0 : 1);
            this.input = x.shape().dim(2).value();
            this.hidden = ctx.isSet("hidden_size") ? ctx.attrInt("hidden_size") : n.input(2).shape().dim(2).value();
        }

        void emit() {
            boolean reverseOnly = ctx.attrString("direction").equals("reverse");
            List<RnnActivation> acts = RnnActivation.forNode(ctx, List.of("Tanh"), dirs);
            Value x = rw.map(n.input(0));
            Value w = rw.map(n.input(1));
            Value r = rw.map(n.input(2));
            // [T*N, I] (layout 1: [N*T, I]): one GEMM projects every step.
            Value x2 = node("Reshape", "x_rows", Attributes.EMPTY, type(batch.times(seq), Dim.of(input)),
                    x, longs("shape", -1, input));
            List<Value> bias = null;
            if (n.hasInput(3)) {
                // B [D, 2H] = [Wb | Rb]: Wb + Rb [D, H], per direction [H]
                List<Value> halves = split(rw.map(n.input(3)), "B", 1, 2, type(Dim.of(dirs), Dim.of(hidden)));
                Value sum = node("Add", "bias", Attributes.EMPTY, type(Dim.of(dirs), Dim.of(hidden)), halves.get(0),
                        halves.get(1));
                bias = perDirection(sum, "bias", 0, type(Dim.of(hidden)));
            }
            List<Value> ws = perDirection(w, "W", 0, type(Dim.of(hidden), Dim.of(input)));
            List<Value> rs = perDirection(r, "R", 0, type(Dim.of(hidden), Dim.of(hidden)));
            List<Value> h0 = n.hasInput(5)
                    ? perDirection(rw.map(n.input(5)), "initial_h", batchFirst ? 1 : 0, type(batch, Dim.of(hidden))) : null;
            TensorType state = type(batch, Dim.of(hidden));
            List<Value[]> states = new ArrayList<>();
            for (int d = 0; d < dirs; d++) {
                String dir = dirs == 2 ? (d == 0 ? "forward" : "backward") : reverseOnly ? "backward" : "forward";
                boolean reverse = dir.equals("backward");
                Value xp = node("Gemm", dir + "/input_projection", Attributes.builder().i("transB", 1).build(),
                        type(batch.times(seq), Dim.of(hidden)), x2, ws.get(d));
                if (bias != null) {
                    xp = node("Add", dir + "/input_bias", Attributes.EMPTY, xp.type(), xp, bias.get(d));
                }
                Value xp3 = node("Reshape", dir + "/steps", Attributes.EMPTY, batchFirst
                                ? type(batch, Dim.of(seq), Dim.of(hidden)) : type(Dim.of(seq), batch, Dim.of(hidden)),
                        xp, batchFirst ? longs("shape", -1, seq, hidden) : longs("shape", seq, -1, hidden));
                List<Value> steps = split(xp3, dir + "/steps", batchFirst ? 1 : 0, seq, null);
                Value[] h = new Value[seq];
                Value prev = h0 == null ? null : h0.get(d);
                for (int k = 0; k < seq; k++) {
                    int t = reverse ? seq - 1 - k : k;
                    String at = dir + "/t" + t;
                    Value pre = node("Squeeze", at + "/input", Attributes.EMPTY, state, steps.get(t),
                            longs("axes", batchFirst ? 1 : 0));
                    if (prev != null) {
                        Value rec = node("Gemm", at + "/recurrence", Attributes.builder().i("transB", 1).build(), state,
                                prev, rs.get(d));
                        pre = node("Add", at + "/gates", Attributes.EMPTY, state, pre, rec);
                    }
                    if (ctx.isSet("clip")) {
                        double c = ctx.attrFloat("clip");
                        pre = node("Clip", at + "/clip", Attributes.EMPTY, state, pre, scalar(-c), scalar(c));
                    }
                    h[t] = activation(acts.get(d), pre, at);
                    prev = h[t];
                }
                states.add(h);
            }
            if (n.hasOutput(0) && read.contains(n.output(0))) {
                // Each direction's steps [T, N, H] ([N, T, H]), then the directions' axis: Y [T, D, N, H] ([N, T, D, H])
                int timeAxis = batchFirst ? 1 : 0;
                int dirAxis = batchFirst ? 2 : 1;
                List<Value> perDir = new ArrayList<>();
                for (int d = 0; d < dirs; d++) {
                    String dir = "y" + d;
                    List<Value> steps = new ArrayList<>();
                    TensorType one = batchFirst ? type(batch, Dim.of(1), Dim.of(hidden))
                            : type(Dim.of(1), batch, Dim.of(hidden));
                    for (int t = 0; t < seq; t++) {
                        steps.add(node("Unsqueeze", dir + "/t" + t, Attributes.EMPTY, one, states.get(d)[t],
                                longs("axes", timeAxis)));
                    }
                    TensorType all = batchFirst ? type(batch, Dim.of(seq), Dim.of(hidden))
                            : type(Dim.of(seq), batch, Dim.of(hidden));
                    Value ys = seq == 1 ? steps.get(0) : node("Concat", dir + "/steps",
                            Attributes.builder().i("axis", timeAxis).build(), all, steps.toArray(Value[]::new));
                    Value target = dirs == 1 ? n.output(0) : null;
                    perDir.add(nodeInto(target, "Unsqueeze", dir + "/direction", Attributes.EMPTY, batchFirst
                                    ? type(batch, Dim.of(seq), Dim.of(1), Dim.of(hidden))
                                    : type(Dim.of(seq), Dim.of(1), batch, Dim.of(hidden)), ys,
                            longs("axes", dirAxis)));
                }
                if (dirs == 2) {
                    nodeInto(n.output(0), "Concat", "y", Attributes.builder().i("axis", dirAxis).build(), null,
                            perDir.toArray(Value[]::new));
                }
            }
            if (n.hasOutput(1) && read.contains(n.output(1))) {
                int dirAxis = batchFirst ? 1 : 0;
                List<Value> last = new ArrayList<>();
                for (int d = 0; d < dirs; d++) {
                    boolean reverse = dirs == 2 ? d == 1 : reverseOnly;
                    Value target = dirs == 1 ? n.output(1) : null;
                    last.add(nodeInto(target, "Unsqueeze", "y_h" + d, Attributes.EMPTY, batchFirst
                                    ? type(batch, Dim.of(1), Dim.of(hidden)) : type(Dim.of(1), batch, Dim.of(hidden)),
                            states.get(d)[reverse ? 0 : seq - 1], longs("axes", dirAxis)));
                }
                if (dirs == 2) {
                    nodeInto(n.output(1), "Concat", "y_h", Attributes.builder().i("axis", dirAxis).build(), null,
                            last.toArray(Value[]::new));
                }
            }
        }

        /** f(x) for one of the functions the recurrent ops name, in ONNX ops. */
        private Value activation(RnnActivation f, Value x, String at) {
            TensorType t = x.type();
            String name = at + "/" + f.function().onnxName();
            return switch (f.function()) {
                case RELU, TANH, SIGMOID, SOFTSIGN, SOFTPLUS ->
                        node(f.function().onnxName(), name, Attributes.EMPTY, t, x);
                case LEAKY_RELU, ELU -> node(f.function().onnxName(), name,
                        Attributes.builder().f("alpha", (float) f.alpha()).build(), t, x);
                case HARD_SIGMOID -> node("HardSigmoid", name,
                        Attributes.builder().f("alpha", (float) f.alpha()).f("beta", (float) f.beta()).build(), t, x);
                case AFFINE -> node("Add", name, Attributes.EMPTY, t,
                        node("Mul", name + "_scale", Attributes.EMPTY, t, x, scalar(f.alpha())), scalar(f.beta()));
                case SCALED_TANH -> node("Mul", name, Attributes.EMPTY, t, node("Tanh", name + "_tanh",
                        Attributes.EMPTY, t, node("Mul", name + "_scale", Attributes.EMPTY, t, x, scalar(f.beta()))),
                        scalar(f.alpha()));
                case THRESHOLDED_RELU -> {
                    Value keep = node("GreaterOrEqual", name + "_keep", Attributes.EMPTY,
                            new TensorType(DType.BOOL, t.shape()), x, scalar(f.alpha()));
                    yield node("Where", name, Attributes.EMPTY, t, keep, x, scalar(0));
                }
            };
        }

        /** v's slice of each direction along {@code axis}, that axis removed. */
        private List<Value> perDirection(Value v, String hint, int axis, TensorType each) {
            if (dirs == 1) {
                return List.of(node("Squeeze", hint + "_d0", Attributes.EMPTY, each, v, longs("axes", axis)));
            }
            List<Value> parts = split(v, hint, axis, dirs, null);
            List<Value> out = new ArrayList<>();
            for (int d = 0; d < dirs; d++) {
                out.add(node("Squeeze", hint + "_d" + d, Attributes.EMPTY, each, parts.get(d),
                        longs("axes", axis)));
            }
            return out;
        }

        /**
         * v split into {@code parts} equal parts along {@code axis} (static), typed {@code each} or, when null, like
         * v with that axis divided.
         */
        private List<Value> split(Value v, String hint, int axis, int parts, TensorType each) {
            Shape s = v.shape();
            if (each == null) {
                Dim[] dims = s.dims().toArray(Dim[]::new);
                dims[axis] = Dim.of(s.dim(axis).value() / parts);
                each = new TensorType(v.dtype(), Shape.of(dims));
            }
            long[] sizes = new long[parts];
            Arrays.fill(sizes, s.dim(axis).value() / parts);
            List<Value> outs = new ArrayList<>();
            for (int i = 0; i < parts; i++) {
                outs.add(rw.newValue(base + "/" + hint + "_part" + i, each));
            }
            rw.emit(new Node("Split", "", outs.get(0).name() + "/Split", List.of(v, longs("split", sizes)), outs,
                    Attributes.builder().i("axis", axis).build()));
            return outs;
        }

        private Value node(String op, String hint, Attributes attrs, TensorType type, Value... inputs) {
            return nodeInto(null, op, hint, attrs, type, inputs);
        }

        /** Emits {@code op(inputs)} producing {@code target}, or a new value of {@code type} when it is null. */
        private Value nodeInto(Value target, String op, String hint, Attributes attrs, TensorType type,
                               Value... inputs) {
            Value out = target != null ? target : rw.newValue(base + "/" + hint, type);
            String path = target != null ? base + "/" + hint : out.name();
            rw.emit(new Node(op, "", path + "/" + op, List.of(inputs), List.of(out), attrs));
            return out;
        }

        /** A scalar of X's element type, as a Constant node (so it never becomes a trained parameter). */
        private Value scalar(double v) {
            return floats.computeIfAbsent(Double.toString(v), k -> {
                Value out = rw.newValue(base + "/const", new TensorType(dtype, Shape.SCALAR));
                rw.emit(new Node("Constant", "", out.name() + "/Constant", List.of(), List.of(out),
                        Attributes.builder().tensor("value", Tensor.wrapDoubles(dtype, new int[0], new double[] {v}))
                                .build()));
                return out;
            });
        }

        /** An int64 initializer holding {@code values} (one per distinct contents in the graph). */
        private Value longs(String hint, long... values) {
            return longs.computeIfAbsent(hint + Arrays.toString(values), k -> rw.addInitializer(
                    "rnn_" + hint + "_" + Arrays.toString(values).replaceAll("[^0-9-]+", "_"), Tensor.ofInt64s(values)));
        }

        private TensorType type(Dim... dims) {
            return new TensorType(dtype, Shape.of(dims));
        }
    }

    /** The node's attributes read with RNN's declared defaults, for {@link RnnActivation#forNode}. */
    private static final class Context extends NodeContext {
        private final Node node;

        Context(Node node) {
            super(OpTable.get().require("", "RNN", node.describe()), node.describe(), node.attributes());
            this.node = node;
        }

        @Override
        public int inputCount() { return node.inputs().size(); }

        @Override
        public boolean hasInput(int i) { return node.hasInput(i); }

        @Override
        public int outputCount() { return node.outputs().size(); }

        @Override
        protected String describeInputs() {
            return node.inputs().stream().map(v -> v.isAbsent() ? "-" : v.name() + ": " + v.type())
                    .reduce((a, b) -> a + ", " + b).orElse("");
        }
    }
}
