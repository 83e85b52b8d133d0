package dev.kiln.passes;

import dev.kiln.ir.Attr;
import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.BlockedLayoutOps;
import dev.kiln.ir.ops.ConvGeometry;
import dev.kiln.ir.ops.FusedOps;
import dev.kiln.runtime.ConvShape;
import dev.kiln.runtime.Nchwc;
import dev.kiln.runtime.NchwcConv;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;

/**
 * Keeps the activations of a convolution chain in the blocked layout NCHWc (block = the runtime's vector width)
 * when the chain's convolutions are estimated to run faster blocked than in the NCHW kernels the runtime would pick,
 * conversions at the chain's ends included; converts with dev.kiln.ToBlocked / FromBlocked only where a chosen chain
 * meets NCHW code, and cancels inverse conversion pairs.
 *
 * <p>A chain is a connected set of nodes that can run blocked: group-1 2-D convolutions with constant weights
 * (dev.kiln.BlockedConv; channels filling blocks with at most 25 % padding), and what follows them inside conv
 * chains: elementwise ops (run unchanged on the blocked tensors, per-channel constants re-laid out; a
 * dev.kiln.BlockedZeroPadding after one with f(0) != 0 when the channels do not fill the last block), MaxPool,
 * AveragePool and GlobalAveragePool (their blocked twins). Every chain is priced both ways with
 * {@link LayoutCostModel} (measured per kernel family, docs/KERNELS.md) and runs blocked only when that is cheaper.
 */
public final class BlockedLayout implements Pass {
    private static final double MAX_PADDING_OVERHEAD = 1.25;

    /** How chains are chosen: by the cost model (each conv re-checked), by the cost model whole, or all. */
    private enum Mode { COST, WHOLE_CHAINS, ALWAYS }

    private final int block;
    private final Mode mode;

    /**
     * Names a block to compile for instead of this machine's ({@code -Dkiln.nchwc.block=16} compiles for
     * {@code -Dkiln.runtime.vectorBits=512}): blocked code runs only where the runtime's vector width is that block.
     */
    public static final String BLOCK_PROPERTY = "kiln.nchwc.block";

    /**
     * Blocks of the runtime's vector width on this machine, or of {@value #BLOCK_PROPERTY} when set (the contract
     * in docs/KERNELS.md).
     */
    public BlockedLayout() {
        this(Integer.getInteger(BLOCK_PROPERTY, Nchwc.block()));
    }

    public BlockedLayout(int block) {
        this(block, Mode.COST);
    }

    private BlockedLayout(int block, Mode mode) {
        if (block < 1) {
            throw new IllegalArgumentException("block must be positive: " + block);
        }
        this.block = block;
        this.mode = mode;
    }

    /** Blocks every chain it can, whatever the cost model says: for tests of the blocked kernels and ops. */
    public static BlockedLayout forced(int block) {
        return new BlockedLayout(block, Mode.ALWAYS);
    }

    /** Chooses chains by the cost model but blocks a chosen chain whole (no convolution left NCHW): to measure. */
    public static BlockedLayout wholeChains(int block) {
        return new BlockedLayout(block, Mode.WHOLE_CHAINS);
    }

    @Override
    public String name() { return "blocked-layout"; }

    /** Channels per block this pass lays out for. */
    int block() {
        return block;
    }

    /** What the rewrite does with one node of a chosen chain. */
    private enum Kind { CONV, ELEMENTWISE, POOL }

    /** A node that can run blocked: its kind, and for a convolution its shape. */
    private record Candidate(Node node, Kind kind, ConvShape conv) {}

    /**
     * The pass's decision for one chain, for tests: its convolutions, the estimated µs per image all NCHW and all
     * blocked, and the convolutions of a blocked chain left in NCHW (between conversions) because that is cheaper.
     */
    record ChainCost(List<String> convs, double nchwMicros, double blockedMicros, List<String> keptNchw) {
        boolean blocked() {
            return blockedMicros < nchwMicros;
        }
    }

    @Override
    public Graph apply(Graph g) {
        Set<Node> chosen = choose(g, null);
        return rewrite(g, chosen);
    }

    /** The chains of {@code g} with their estimated costs per image (for tests and docs). */
    List<ChainCost> costs(Graph g) {
        List<ChainCost> out = new ArrayList<>();
        choose(g, out);
        return out;
    }

    // ---- analysis: candidates, chains, costs ------------------------------------------------------------------

    private Set<Node> choose(Graph g, List<ChainCost> report) {
        Map<Node, Candidate> candidates = new LinkedHashMap<>();
        Map<Value, Node> producer = new IdentityHashMap<>();
        for (Node n : g.nodes()) {
            Optional<Candidate> c = candidate(n, g, producer, candidates);
            c.ifPresent(x -> candidates.put(n, x));
            for (Value o : n.outputs()) {
                producer.put(o, n);
            }
        }
        // Chains: candidates joined through the blocked values one produces and another reads.
        Map<Node, Node> parent = new IdentityHashMap<>();
        candidates.keySet().forEach(n -> parent.put(n, n));
        for (Node n : candidates.keySet()) {
            for (Value v : activationInputs(candidates.get(n), g)) {
                Node p = producer.get(v);
                if (p != null && candidates.containsKey(p)) {
                    parent.put(find(parent, n), find(parent, p));
                }
            }
        }
        Map<Node, List<Node>> chains = new LinkedHashMap<>();
        for (Node n : candidates.keySet()) {
            chains.computeIfAbsent(find(parent, n), r -> new ArrayList<>()).add(n);
        }
        Map<Value, Integer> readsOutside = outsideUses(g, candidates.keySet());
        Set<Node> chosen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (List<Node> chain : chains.values()) {
            ChainCost cost = cost(chain, candidates, g, producer, readsOutside, parent);
            List<String> kept = new ArrayList<>();
            if (mode == Mode.ALWAYS || cost.blocked()) {
                chosen.addAll(chain);
                if (mode == Mode.COST) {
                    keepCheaperConvsNchw(chain, candidates, producer, chosen, kept);
                }
            }
            if (report != null) {
                report.add(new ChainCost(cost.convs(), cost.nchwMicros(), cost.blockedMicros(), kept));
            }
        }
        return chosen;
    }

    /**
     * In a chain chosen blocked, leaves a convolution in NCHW when its NCHW kernel plus the conversions around it
     * (its input back to NCHW unless that exists anyway, its output to NCHWc) is estimated cheaper than its NCHWc
     * kernel: e.g. a 3x3 stride-1 layer that Winograd runs 2.25x fewer multiplies for, between blocked 1x1 layers.
     */
    private void keepCheaperConvsNchw(List<Node> chain, Map<Node, Candidate> candidates, Map<Value, Node> producer,
                                      Set<Node> chosen, List<String> kept) {
        for (Node n : chain) {
            Candidate c = candidates.get(n);
            if (c.kind() != Kind.CONV) {
                continue;
            }
            Value x = n.input(0);
            Value y = n.output(0);
            Node p = producer.get(x);
            boolean inputNchw = p == null || !chosen.contains(p);
            double nchw = LayoutCostModel.nchw(c.conv(), block)
                    + (inputNchw ? 0 : LayoutCostModel.conversion(c.conv().c(), c.conv().h(), c.conv().w(), block))
                    + LayoutCostModel.conversion(c.conv().m(), y.shape().dim(2).value(), y.shape().dim(3).value(),
                            block);
            if (nchw < LayoutCostModel.nchwc(c.conv(), block)) {
                chosen.remove(n);
                kept.add(n.name().isEmpty() ? y.name() : n.name());
            }
        }
    }

    private static Node find(Map<Node, Node> parent, Node n) {
        Node p = parent.get(n);
        while (p != n) {
            n = p;
            p = parent.get(n);
        }
        return n;
    }

    /** How many times each value is read by a node that is not a candidate, or is a graph output. */
    private static Map<Value, Integer> outsideUses(Graph g, Set<Node> candidates) {
        Map<Value, Integer> uses = new IdentityHashMap<>();
        for (Node n : g.nodes()) {
            if (!candidates.contains(n)) {
                n.inputs().forEach(v -> uses.merge(v, 1, Integer::sum));
            }
        }
        g.outputs().forEach(v -> uses.merge(v, 1, Integer::sum));
        return uses;
    }

    private ChainCost cost(List<Node> chain, Map<Node, Candidate> candidates, Graph g, Map<Value, Node> producer,
                           Map<Value, Integer> readsOutside, Map<Node, Node> parent) {
        double nchw = 0;
        double blocked = 0;
        List<String> convs = new ArrayList<>();
        Set<Value> entries = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Node n : chain) {
            Candidate c = candidates.get(n);
            if (c.kind() == Kind.CONV) {
                nchw += LayoutCostModel.nchw(c.conv(), block);
                blocked += LayoutCostModel.nchwc(c.conv(), block);
                convs.add(n.name().isEmpty() ? n.output(0).name() : n.name());
            } else {
                Shape y = n.output(0).shape();
                long c4 = y.dim(1).value();
                double floats = (double) c4 * y.dim(2).value() * y.dim(3).value();
                double paddedFloats = (double) Nchwc.blocks(Math.toIntExact(c4), block) * block * y.dim(2).value()
                        * y.dim(3).value();
                blocked += LayoutCostModel.stream(paddedFloats - floats);
                if (c.kind() == Kind.ELEMENTWISE && needsZeroPadding(n, g)) {
                    blocked += LayoutCostModel.stream(2 * paddedFloats);
                }
            }
            for (Value v : activationInputs(c, g)) {
                Node p = producer.get(v);
                if (p == null || !candidates.containsKey(p) || find(parent, p) != find(parent, n)) {
                    entries.add(v);
                }
            }
        }
        for (Value v : entries) {
            blocked += LayoutCostModel.conversion(v.shape().dim(1).value(), v.shape().dim(2).value(),
                    v.shape().dim(3).value(), block);
        }
        for (Node n : chain) {
            Value y = n.output(0);
            if (readsOutside.getOrDefault(y, 0) > 0) {
                blocked += LayoutCostModel.conversion(y.shape().dim(1).value(), y.shape().dim(2).value(),
                        y.shape().dim(3).value(), block);
            }
        }
        return new ChainCost(convs, nchw, blocked, List.of());
    }

    /** The non-constant inputs a candidate reads in the blocked layout. */
    private static List<Value> activationInputs(Candidate c, Graph g) {
        if (c.kind() != Kind.ELEMENTWISE) {
            return List.of(c.node().input(0));
        }
        return c.node().inputs().stream().filter(v -> !v.isAbsent() && !g.isInitializer(v)).toList();
    }

    /** The node as a candidate, given the candidates before it (their outputs can be blocked). */
    private Optional<Candidate> candidate(Node n, Graph g, Map<Value, Node> producer, Map<Node, Candidate> before) {
        boolean conv = (n.domain().isEmpty() && n.op().equals("Conv"))
                || (n.domain().equals(OpTable.KILN_DOMAIN) && n.op().equals(FusedOps.FUSED_CONV));
        if (conv) {
            return convShape(n, g).map(s -> new Candidate(n, Kind.CONV, s));
        }
        if (!n.domain().isEmpty() || n.outputs().size() != 1 || !n.hasInput(0) || !isNchw(n.output(0))) {
            return Optional.empty();
        }
        boolean blockedInput = false;
        for (Value v : n.inputs()) {
            Node p = v.isAbsent() ? null : producer.get(v);
            blockedInput |= p != null && before.containsKey(p) && isNchw(v);
        }
        if (!blockedInput) {
            return Optional.empty();
        }
        switch (n.op()) {
            case "MaxPool", "AveragePool" -> {
                Attributes a = n.attributes();
                boolean explicitPads = a.get("auto_pad").map(v -> ((Attr.Str) v).value()).orElse("NOTSET")
                        .equals("NOTSET");
                boolean pooled = before.containsKey(producer.get(n.input(0)));
                return explicitPads && pooled && n.attributes().get("kernel_shape").isPresent()
                        ? Optional.of(new Candidate(n, Kind.POOL, null)) : Optional.empty();
            }
            case "GlobalAveragePool" -> {
                return Optional.of(new Candidate(n, Kind.POOL, null));
            }
            default -> {
                return elementwise(n, g) ? Optional.of(new Candidate(n, Kind.ELEMENTWISE, null)) : Optional.empty();
            }
        }
    }

    /** A float NCHW activation with static channels and image size. */
    private static boolean isNchw(Value v) {
        return v.dtype() == DType.FLOAT32 && v.type().rank() == 4 && v.shape().dim(1).isStatic()
                && v.shape().dim(2).isStatic() && v.shape().dim(3).isStatic();
    }

    /**
     * An elementwise op whose output has the shape of its activation inputs and whose constant inputs broadcast
     * per channel, per pixel or as scalars (so they can be re-laid out); every input float32.
     */
    private static boolean elementwise(Node n, Graph g) {
        OpDef def = OpTable.get().find(n.domain(), n.op()).orElse(null);
        if (def == null || !def.has(OpProperty.ELEMENTWISE) || def.has(OpProperty.NONDETERMINISTIC)) {
            return false;
        }
        Shape y = n.output(0).shape();
        for (Value v : n.inputs()) {
            if (v.isAbsent()) {
                continue;
            }
            if (v.dtype() != DType.FLOAT32) {
                return false;
            }
            Tensor t = g.initializers().get(v);
            if (t == null ? !v.shape().equals(y) : constantLayout(t, y).isEmpty()) {
                return false;
            }
        }
        return true;
    }

    /**
     * The constant's broadcast dims right-aligned to [N, C, H, W]: present when N is 1 and each of C, H, W is 1 or
     * the activation's.
     */
    private static Optional<long[]> constantLayout(Tensor t, Shape y) {
        if (t.rank() > 4) {
            return Optional.empty();
        }
        long[] d = {1, 1, 1, 1};
        for (int i = 0; i < t.rank(); i++) {
            d[4 - t.rank() + i] = t.dim(i);
        }
        for (int i = 1; i < 4; i++) {
            if (d[i] != 1 && d[i] != y.dim(i).value()) {
                return Optional.empty();
            }
        }
        return d[0] == 1 ? Optional.of(d) : Optional.empty();
    }

    /** The value a per-channel constant takes in the padding channels: 1 for a divisor, else 0. */
    private static double paddingValue(Node n, int input) {
        return n.op().equals("Div") && input == 1 ? 1.0 : 0.0;
    }

    /**
     * True when running the elementwise op on blocked tensors would leave a non-zero value in the padding channels:
     * the channels do not fill the last block and f(padding inputs) != 0 (evaluated with the reference semantics).
     */
    private boolean needsZeroPadding(Node n, Graph g) {
        long c = n.output(0).shape().dim(1).value();
        if (c % block == 0) {
            return false;
        }
        List<Tensor> at = new ArrayList<>();
        for (int i = 0; i < n.inputs().size(); i++) {
            Value v = n.input(i);
            if (v.isAbsent()) {
                at.add(null);
                continue;
            }
            Tensor t = g.initializers().get(v);
            double x;
            if (t == null) {
                x = 0;
            } else if (t.size() == 1) {
                x = t.getDouble(0);
            } else if (constantLayout(t, n.output(0).shape()).orElseThrow()[1] != 1) {
                x = paddingValue(n, i);
            } else {
                return true; // a per-pixel constant shared by all channels: padding lanes see its varied values
            }
            at.add(Tensor.wrapDoubles(DType.FLOAT32, new int[] {1}, new double[] {x}));
        }
        try {
            return ReferenceEvaluator.evaluateNode(n, at, new Random(0)).get(0).getDouble(0) != 0.0;
        } catch (RuntimeException e) {
            return true;
        }
    }

    /** The shape of a convolution the NCHWc kernel can run, with channels that fill blocks well enough. */
    private Optional<ConvShape> convShape(Node n, Graph g) {
        Value x = n.input(0);
        Tensor w = g.initializers().get(n.input(1));
        if (w == null || w.rank() != 4 || w.dtype() != DType.FLOAT32 || !isNchw(x)
                || OpTable.get().intAttr(n, "group") != 1
                || (n.hasInput(2) && !g.isInitializer(n.input(2)))
                || !n.attributes().get("auto_pad").map(v -> ((Attr.Str) v).value()).orElse("NOTSET").equals("NOTSET")) {
            return Optional.empty();
        }
        long c = x.shape().dim(1).value();
        long m = w.dim(0);
        double padded = (double) Math.ceilDiv(c, block) * block * Math.ceilDiv(m, block) * block;
        if (c < block || padded > MAX_PADDING_OVERHEAD * c * m) {
            return Optional.empty();
        }
        long[] kernel = {w.dim(2), w.dim(3)};
        int[] spatial = {(int) x.shape().dim(2).value(), (int) x.shape().dim(3).value()};
        List<ConvGeometry.Axis> axes = ConvGeometry.axesOf(n, kernel, spatial);
        ConvGeometry.Axis h = axes.get(0);
        ConvGeometry.Axis wd = axes.get(1);
        return Optional.of(new ConvShape((int) c, h.in(), wd.in(), (int) m, h.kernel(), wd.kernel(), h.stride(),
                wd.stride(), h.padBegin(), wd.padBegin(), h.padEnd(), wd.padEnd(), h.dilation(), wd.dilation(), 1));
    }

    // ---- rewrite ----------------------------------------------------------------------------------------------

    private Graph rewrite(Graph g, Set<Node> chosen) {
        Rewriter rw = new Rewriter(g);
        Map<Value, Value> blockedOf = new IdentityHashMap<>();
        Map<Value, Boolean> hasNchw = new IdentityHashMap<>();
        Map<Value, Value> nchwOfBlocked = new IdentityHashMap<>();
        boolean changed = false;
        for (Node n : g.nodes()) {
            if (isConversion(n, BlockedLayoutOps.TO_BLOCKED) && nchwOfBlocked.containsKey(rw.map(n.input(0)))) {
                // ToBlocked(FromBlocked(y)) is y: the padding channels of a blocked value are zero.
                Value y = nchwOfBlocked.get(rw.map(n.input(0)));
                if (y.type().equals(n.output(0).type())) {
                    rw.replace(n.output(0), y);
                    changed = true;
                    continue;
                }
            }
            if (chosen.contains(n)) {
                emitBlocked(n, g, rw, blockedOf, hasNchw);
                changed = true;
                continue;
            }
            for (Value v : n.inputs()) {
                requireNchw(v, rw, blockedOf, hasNchw);
            }
            rw.keep(n);
            if (isConversion(n, BlockedLayoutOps.FROM_BLOCKED)) {
                nchwOfBlocked.put(n.output(0), rw.map(n.input(0)));
            }
        }
        for (Value o : g.outputs()) {
            requireNchw(o, rw, blockedOf, hasNchw);
        }
        return changed ? rw.finish() : g;
    }

    private void emitBlocked(Node n, Graph g, Rewriter rw, Map<Value, Value> blockedOf, Map<Value, Boolean> hasNchw) {
        Value y = n.output(0);
        Value yb = rw.newValue(y.name() + "_nchwc", blockedType(y));
        boolean conv = !n.domain().isEmpty() || n.op().equals("Conv");
        if (conv) {
            rw.emit(blockedConv(n, g, rw, blocked(n.input(0), rw, blockedOf, hasNchw), yb));
        } else if (n.op().equals("MaxPool") || n.op().equals("AveragePool") || n.op().equals("GlobalAveragePool")) {
            String op = switch (n.op()) {
                case "MaxPool" -> BlockedLayoutOps.BLOCKED_MAX_POOL;
                case "AveragePool" -> BlockedLayoutOps.BLOCKED_AVERAGE_POOL;
                default -> BlockedLayoutOps.BLOCKED_GLOBAL_AVERAGE_POOL;
            };
            Attributes a = n.op().equals("MaxPool") ? n.attributes().without("storage_order") : n.attributes();
            rw.emit(new Node(op, OpTable.KILN_DOMAIN, n.name(), List.of(blocked(n.input(0), rw, blockedOf, hasNchw)),
                    List.of(yb), a));
        } else {
            List<Value> in = new ArrayList<>();
            for (int i = 0; i < n.inputs().size(); i++) {
                Value v = n.input(i);
                Tensor t = v.isAbsent() ? null : g.initializers().get(v);
                in.add(v.isAbsent() ? v : t != null ? blockedConstant(n, i, t, rw) : blocked(v, rw, blockedOf, hasNchw));
            }
            if (needsZeroPadding(n, g)) {
                // f(0) != 0 and a partial last block: restore the zero padding channels after the op.
                Value raw = rw.newValue(y.name() + "_nchwc_raw", blockedType(y));
                rw.emit(new Node(n.op(), n.domain(), n.name(), in, List.of(raw), n.attributes()));
                rw.emit(new Node(BlockedLayoutOps.BLOCKED_ZERO_PADDING, OpTable.KILN_DOMAIN, "", List.of(raw),
                        List.of(yb), Attributes.builder().i("channels", y.shape().dim(1).value()).build()));
            } else {
                rw.emit(new Node(n.op(), n.domain(), n.name(), in, List.of(yb), n.attributes()));
            }
        }
        blockedOf.put(y, yb);
        hasNchw.put(y, false);
    }

    /** The blocked form of an activation, converting it with ToBlocked (once) when it exists only in NCHW. */
    private Value blocked(Value x, Rewriter rw, Map<Value, Value> blockedOf, Map<Value, Boolean> hasNchw) {
        Value xb = blockedOf.get(x);
        if (xb == null) {
            xb = rw.newValue(x.name() + "_nchwc", blockedType(x));
            rw.emit(new Node(BlockedLayoutOps.TO_BLOCKED, OpTable.KILN_DOMAIN, "", List.of(x), List.of(xb),
                    Attributes.builder().i("block", block).build()));
            blockedOf.put(x, xb);
            hasNchw.put(x, true);
        }
        return xb;
    }

    /**
     * A constant operand in the blocked layout: per-channel constants become [1, Cb, H|1, W|1, block] with the
     * padding channels at {@link #paddingValue}; constants shared by all channels get a channel axis of 1 at the
     * end; scalars stay as they are.
     */
    private Value blockedConstant(Node n, int input, Tensor t, Rewriter rw) {
        Value v = n.input(input);
        if (t.size() == 1) {
            return v;
        }
        long[] d = constantLayout(t, n.output(0).shape()).orElseThrow();
        int c = (int) d[1];
        int h = (int) d[2];
        int w = (int) d[3];
        int cb = c == 1 ? 1 : Nchwc.blocks(c, block);
        int lanes = c == 1 ? 1 : block;
        double pad = paddingValue(n, input);
        double[] src = t.doubles();
        double[] out = new double[cb * h * w * lanes];
        for (int b = 0; b < cb; b++) {
            for (int p = 0; p < h * w; p++) {
                for (int j = 0; j < lanes; j++) {
                    int ch = b * lanes + j;
                    out[(b * h * w + p) * lanes + j] = ch < c ? src[ch * h * w + p] : pad;
                }
            }
        }
        return rw.addInitializer(v.name() + "_nchwc",
                Tensor.wrapDoubles(DType.FLOAT32, new int[] {1, cb, h, w, lanes}, out));
    }

    /** Emits FromBlocked for a value that so far exists only blocked, producing the original value itself. */
    private void requireNchw(Value v, Rewriter rw, Map<Value, Value> blockedOf, Map<Value, Boolean> hasNchw) {
        if (v.isAbsent() || hasNchw.getOrDefault(v, true)) {
            return;
        }
        rw.emit(new Node(BlockedLayoutOps.FROM_BLOCKED, OpTable.KILN_DOMAIN, "", List.of(blockedOf.get(v)), List.of(v),
                Attributes.builder().i("channels", v.shape().dim(1).value()).build()));
        hasNchw.put(v, true);
    }

    private static boolean isConversion(Node n, String op) {
        return n.domain().equals(OpTable.KILN_DOMAIN) && n.op().equals(op);
    }

    private Node blockedConv(Node n, Graph g, Rewriter rw, Value xb, Value yb) {
        Tensor w = g.initializers().get(n.input(1));
        ConvShape shape = convShape(n, g).orElseThrow();
        float[] packed = NchwcConv.packWeights(w.toFloatArray(), shape, block);
        List<Value> inputs = new ArrayList<>(List.of(xb, rw.addInitializer(n.input(1).name() + "_nchwc",
                Tensor.ofFloats(new int[] {packed.length}, packed))));
        if (n.hasInput(2)) {
            inputs.add(n.input(2));
        }
        Attributes.Builder attrs = Attributes.builder().i("m", shape.m())
                .set("kernel_shape", Attr.Ints.of(new long[] {shape.kh(), shape.kw()}))
                .set("pads", Attr.Ints.of(new long[] {shape.padTop(), shape.padLeft(), shape.padBottom(),
                    shape.padRight()}))
                .set("strides", Attr.Ints.of(new long[] {shape.strideH(), shape.strideW()}))
                .set("dilations", Attr.Ints.of(new long[] {shape.dilationH(), shape.dilationW()}));
        for (String epilogue : List.of("activation", "activation_alpha", "activation_beta")) {
            n.attributes().get(epilogue).ifPresent(v -> attrs.set(epilogue, v));
        }
        return new Node(BlockedLayoutOps.BLOCKED_CONV, OpTable.KILN_DOMAIN, n.name(), inputs, List.of(yb),
                attrs.build());
    }

    private TensorType blockedType(Value nchw) {
        Shape s = nchw.shape();
        return new TensorType(DType.FLOAT32, BlockedLayoutOps.blocked(s, block));
    }
}
