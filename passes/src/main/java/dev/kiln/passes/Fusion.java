package dev.kiln.passes;

import dev.kiln.ir.Attr;
import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.Activation;
import dev.kiln.ir.ops.FusedOps;
import dev.kiln.ir.ops.Pointwise;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Merges a producer into its only consumer where one kernel can do both: MatMul+Add becomes Gemm, a
 * constant bias Add joins the Conv/Gemm before it, inference BatchNormalization is folded into the weights
 * of the Conv/Gemm before it, a zero Pad joins the Conv after it, and a pointwise activation runs in the
 * epilogue of the Conv/Gemm before it. One forward sweep: rules look back at already-rewritten producers,
 * so Conv -> BatchNorm -> Relu ends as one FusedConv.
 */
public final class Fusion implements Pass {
    @Override
    public String name() { return "fusion"; }

    /** One local rewrite at a consumer; true when it emitted the fused node in the consumer's place. */
    @FunctionalInterface
    interface Rule {
        boolean apply(Node consumer, FusionContext ctx);
    }

    static final Map<String, List<Rule>> RULES = rules();

    private static Map<String, List<Rule>> rules() {
        Map<String, List<Rule>> r = new LinkedHashMap<>();
        // Add(MatMul(x, W), b) -> Gemm(x, W, b);  Add(Conv(x, W, B), b) -> Conv(x, W, B + b);  Add(Gemm(x, W, C), b) -> Gemm(x, W, beta*C + b)
        r.put("Add", List.of(Fusion::matMulAdd, Fusion::convBias, Fusion::gemmBias));
        // BatchNormalization(Conv(x, W, B)) -> Conv(x, W*s, (B - mean)*s + bias), s = scale / sqrt(var + eps); same for Gemm
        r.put("BatchNormalization", List.of(BatchNormFolding::intoConv, BatchNormFolding::intoGemm));
        // Conv(Pad(x, p, 0)) -> Conv(x, pads + p)
        r.put("Conv", List.of(Fusion::padIntoConv));
        // Act(Conv(x, W, B)) -> FusedConv(x, W, B){activation=Act};  Act(Gemm(...)) -> FusedGemm(...){activation=Act}
        // Act(MaxPool(Conv(...))) -> MaxPool(FusedConv(...){activation=Act}) for non-decreasing Act
        for (Activation a : Activation.values()) {
            if (a != Activation.NONE) {
                r.put(a.onnxOp(), List.of(Fusion::activation));
            }
        }
        return Collections.unmodifiableMap(r);
    }

    @Override
    public Graph apply(Graph g) {
        Rewriter rw = new Rewriter(g);
        FusionContext ctx = new FusionContext(g, rw);
        boolean changed = false;
        for (Node n : g.nodes()) {
            boolean fused = false;
            if (n.domain().isEmpty()) {
                for (Rule rule : RULES.getOrDefault(n.op(), List.of())) {
                    if (rule.apply(n, ctx)) {
                        fused = true;
                        break;
                    }
                }
            }
            if (fused) {
                changed = true;
            } else {
                rw.keep(n);
            }
        }
        return changed ? rw.finish() : g;
    }

    /** Emits {@code op(inputs){attrs}} producing the consumer's output and drops the merged producer. */
    static boolean fuse(FusionContext ctx, Node producer, Node consumer, String domain, String op, List<Value> inputs,
                        Attributes attrs) {
        ctx.rw().removeEmitted(producer);
        String name = producer.name().isEmpty() ? consumer.name() : producer.name();
        ctx.rw().emit(new Node(op, domain, name, inputs, List.of(consumer.output(0)), attrs));
        return true;
    }

    private static boolean matMulAdd(Node add, FusionContext ctx) {
        for (int side = 0; side < 2; side++) {
            Value product = add.input(side);
            Value bias = add.input(1 - side);
            Optional<Node> mm = ctx.soleProducer(product, "MatMul").filter(p -> p.domain().isEmpty());
            if (mm.isEmpty() || ctx.constant(bias).isEmpty()) {
                continue;
            }
            Value x = mm.get().input(0);
            Value w = mm.get().input(1);
            if (x.type().rank() != 2 || w.type().rank() != 2 || !x.dtype().isFloat()
                    || !Simplification.sameShape(mm.get().output(0), add.output(0))) {
                continue;
            }
            return fuse(ctx, mm.get(), add, "", "Gemm", List.of(x, w, bias), Attributes.EMPTY);
        }
        return false;
    }

    private static boolean convBias(Node add, FusionContext ctx) {
        for (int side = 0; side < 2; side++) {
            Optional<Node> conv = ctx.soleProducer(add.input(side), "Conv").filter(p -> p.domain().isEmpty());
            Optional<Tensor> b = ctx.constant(add.input(1 - side));
            if (conv.isEmpty() || b.isEmpty() || !Simplification.sameShape(conv.get().output(0), add.output(0))) {
                continue;
            }
            if (!conv.get().output(0).shape().dim(1).isStatic()) {
                continue;
            }
            int channels = (int) conv.get().output(0).shape().dim(1).value();
            Optional<double[]> perChannel = perChannel(b.get(), conv.get().output(0).type().rank(), channels);
            if (perChannel.isEmpty()) {
                continue;
            }
            double[] sum = perChannel.get();
            Node c = conv.get();
            if (c.hasInput(2)) {
                Optional<Tensor> old = ctx.constant(c.input(2));
                if (old.isEmpty()) {
                    continue;
                }
                for (int i = 0; i < channels; i++) {
                    sum[i] += old.get().getDouble(i);
                }
            }
            Value bias = ctx.addConstant(name(c, "bias"), Tensor.wrapDoubles(add.output(0).dtype(), new int[] {channels}, sum));
            return fuse(ctx, c, add, "", "Conv", List.of(c.input(0), c.input(1), bias), c.attributes());
        }
        return false;
    }

    private static boolean gemmBias(Node add, FusionContext ctx) {
        for (int side = 0; side < 2; side++) {
            Optional<Node> gemm = ctx.soleProducer(add.input(side), "Gemm").filter(p -> p.domain().isEmpty());
            Optional<Tensor> b = ctx.constant(add.input(1 - side));
            if (gemm.isEmpty() || b.isEmpty() || !Simplification.sameShape(gemm.get().output(0), add.output(0))) {
                continue;
            }
            Node g = gemm.get();
            Tensor c = b.get();
            if (g.hasInput(2)) {
                Optional<Tensor> old = ctx.constant(g.input(2));
                if (old.isEmpty()) {
                    continue;
                }
                double beta = OpTable.get().floatAttr(g, "beta");
                Tensor scaled = Pointwise.binary(old.get(), Tensor.ofDoubles(old.get().dtype(), new int[0], beta),
                        (x, y) -> x * y, (x, y) -> x * y);
                c = Pointwise.binary(scaled, c, Double::sum, Long::sum);
            }
            Value bias = ctx.addConstant(name(g, "bias"), c);
            Attributes attrs = g.attributes().with("beta", new Attr.Float(1f));
            return fuse(ctx, g, add, "", "Gemm", List.of(g.input(0), g.input(1), bias), attrs);
        }
        return false;
    }

    private static boolean padIntoConv(Node conv, FusionContext ctx) {
        Optional<Node> pad = ctx.soleProducer(conv.input(0), "Pad").filter(p -> p.domain().isEmpty());
        if (pad.isEmpty() || !OpTable.get().stringAttr(conv, "auto_pad").equals("NOTSET")) {
            return false;
        }
        Node p = pad.get();
        String mode = OpTable.get().stringAttr(p, "mode");
        Optional<Tensor> pads = ctx.constant(p.input(1));
        boolean zeroValue = !p.hasInput(2) || ctx.constant(p.input(2)).map(t -> t.getDouble(0) == 0).orElse(false);
        if (!mode.equals("constant") || pads.isEmpty() || !zeroValue || p.hasInput(3)) {
            return false;
        }
        int rank = p.input(0).type().rank();
        long[] pv = pads.get().toLongArray();
        if (pv.length != 2 * rank || pv[0] != 0 || pv[1] != 0 || pv[rank] != 0 || pv[rank + 1] != 0) {
            return false;
        }
        int spatial = rank - 2;
        long[] convPads = conv.attributes().get("pads").map(a -> ((Attr.Ints) a).toArray()).orElse(new long[2 * spatial]);
        long[] merged = new long[2 * spatial];
        for (int i = 0; i < spatial; i++) {
            if (pv[2 + i] < 0 || pv[rank + 2 + i] < 0) {
                return false;
            }
            merged[i] = convPads[i] + pv[2 + i];
            merged[spatial + i] = convPads[spatial + i] + pv[rank + 2 + i];
        }
        List<Value> inputs = new ArrayList<>(conv.inputs());
        inputs.set(0, p.input(0));
        ctx.rw().removeEmitted(p);
        ctx.rw().emit(new Node("Conv", "", conv.name(), inputs, conv.outputs(),
                conv.attributes().with("pads", Attr.Ints.of(merged))));
        return true;
    }

    private static boolean activation(Node act, FusionContext ctx) {
        Activation kind = Activation.ofOnnxOp(act.op()).orElseThrow();
        Optional<Float> alpha = Optional.empty();
        Optional<Float> beta = Optional.empty();
        switch (kind) {
            case LEAKY_RELU, ELU -> alpha = act.attributes().get("alpha").map(a -> ((Attr.Float) a).value());
            case HARD_SIGMOID -> {
                alpha = act.attributes().get("alpha").map(a -> ((Attr.Float) a).value());
                beta = act.attributes().get("beta").map(a -> ((Attr.Float) a).value());
            }
            case CLIP -> {
                if ((act.hasInput(1) && ctx.constant(act.input(1)).isEmpty())
                        || (act.hasInput(2) && ctx.constant(act.input(2)).isEmpty())) {
                    return false;
                }
                alpha = act.hasInput(1) ? ctx.constant(act.input(1)).map(t -> (float) t.getDouble(0)) : Optional.empty();
                beta = act.hasInput(2) ? ctx.constant(act.input(2)).map(t -> (float) t.getDouble(0)) : Optional.empty();
            }
            default -> { }
        }
        if (act.input(0).dtype() != DType.FLOAT32 && act.input(0).dtype() != DType.FLOAT64) {
            return false;
        }
        if (commutesWithMax(kind, alpha) && activationThroughMaxPool(act, ctx, kind, alpha, beta)) {
            return true;
        }
        for (String[] pair : new String[][] {{"Conv", FusedOps.FUSED_CONV}, {"Gemm", FusedOps.FUSED_GEMM}}) {
            Optional<Node> base = ctx.soleProducer(act.input(0), pair[0]).filter(p -> p.domain().isEmpty());
            if (base.isPresent()) {
                Attributes attrs = epilogue(base.get().attributes(), kind, alpha, beta);
                return fuse(ctx, base.get(), act, OpTable.KILN_DOMAIN, pair[1], base.get().inputs(), attrs);
            }
        }
        return false;
    }

    /** Non-decreasing activations commute with max: f(max(a, b)) = max(f(a), f(b)). */
    private static boolean commutesWithMax(Activation kind, Optional<Float> alpha) {
        return switch (kind) {
            case RELU, SIGMOID, TANH, CLIP -> true;
            case LEAKY_RELU, ELU -> alpha.map(a -> a >= 0).orElse(true);
            case HARD_SIGMOID -> alpha.map(a -> a >= 0).orElse(true);
            case NONE -> false;
        };
    }

    // Act(MaxPool(Conv(x, W, B))) -> MaxPool(FusedConv(x, W, B){activation=Act}), Act non-decreasing
    private static boolean activationThroughMaxPool(Node act, FusionContext ctx, Activation kind,
                                                    Optional<Float> alpha, Optional<Float> beta) {
        Optional<Node> pool = ctx.soleProducer(act.input(0), "MaxPool").filter(p -> p.domain().isEmpty());
        if (pool.isEmpty()) {
            return false;
        }
        Optional<Node> conv = ctx.soleProducer(pool.get().input(0), "Conv").filter(p -> p.domain().isEmpty());
        if (conv.isEmpty()) {
            return false;
        }
        Node c = conv.get();
        Attributes attrs = epilogue(c.attributes(), kind, alpha, beta);
        ctx.rw().removeEmitted(pool.get());
        ctx.rw().removeEmitted(c);
        ctx.rw().emit(new Node(FusedOps.FUSED_CONV, OpTable.KILN_DOMAIN, c.name(), c.inputs(), c.outputs(), attrs));
        ctx.rw().emit(new Node("MaxPool", "", pool.get().name(), pool.get().inputs(), List.of(act.output(0)),
                pool.get().attributes()));
        return true;
    }

    private static Attributes epilogue(Attributes base, Activation kind, Optional<Float> alpha, Optional<Float> beta) {
        Attributes attrs = base.with("activation", new Attr.Str(kind.onnxOp()));
        if (alpha.isPresent()) {
            attrs = attrs.with("activation_alpha", new Attr.Float(alpha.get()));
        }
        if (beta.isPresent()) {
            attrs = attrs.with("activation_beta", new Attr.Float(beta.get()));
        }
        return attrs;
    }

    /** A constant broadcast against [N, C, ...] that varies only along C, as C values. */
    static Optional<double[]> perChannel(Tensor b, int outRank, int channels) {
        int[] s = b.shape();
        if (s.length > outRank) {
            return Optional.empty();
        }
        int channelAxis = 1 - (outRank - s.length);
        for (int i = 0; i < s.length; i++) {
            if (i != channelAxis && s[i] != 1) {
                return Optional.empty();
            }
        }
        double[] out = new double[channels];
        boolean scalar = channelAxis < 0 || s[channelAxis] == 1;
        if (!scalar && s[channelAxis] != channels) {
            return Optional.empty();
        }
        for (int i = 0; i < channels; i++) {
            out[i] = b.getDouble(scalar ? 0 : i);
        }
        return Optional.of(out);
    }

    static String name(Node n, String suffix) {
        String base = n.name().isEmpty() ? n.output(0).name() : n.name();
        return base + "_" + suffix;
    }
}
