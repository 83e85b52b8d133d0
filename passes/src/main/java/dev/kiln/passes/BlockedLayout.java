package dev.kiln.passes;

import dev.kiln.ir.Attr;
import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.BlockedLayoutOps;
import dev.kiln.ir.ops.ConvGeometry;
import dev.kiln.ir.ops.FusedOps;
import dev.kiln.runtime.Conv2d;
import dev.kiln.runtime.ConvShape;
import dev.kiln.runtime.Nchwc;
import dev.kiln.runtime.NchwcConv;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Keeps the activations of convolution chains (conv, Relu, MaxPool, conv ...) in the blocked layout NCHWc when
 * their convolutions are wide enough to fill vectors (dev.kiln.BlockedConv / BlockedMaxPool), converting with
 * dev.kiln.ToBlocked / FromBlocked only where a chain meets NCHW code and cancelling inverse conversion pairs.
 *
 * <p>Decision rule, per convolution (measured, docs/KERNELS.md): blocked when the NCHW runtime would run it as
 * im2col + GEMM (the direct NCHW kernel, for rows of 8+ pixels or small reductions, was measured faster than the
 * NCHWc kernel), its input has at least one block of channels, and padding input and output channels up to whole
 * blocks adds at most 25 % to its multiply-adds (a 1- or 3-channel image convolution would multiply its work by
 * the block). Relu and MaxPool follow their input's layout; every other op reads NCHW.
 */
public final class BlockedLayout implements Pass {
    private static final double MAX_PADDING_OVERHEAD = 1.25;

    private final int block;

    /** Blocks of the runtime's vector width on this machine (the contract in docs/KERNELS.md). */
    public BlockedLayout() {
        this(Nchwc.block());
    }

    public BlockedLayout(int block) {
        if (block < 1) {
            throw new IllegalArgumentException("block must be positive: " + block);
        }
        this.block = block;
    }

    @Override
    public String name() { return "blocked-layout"; }

    @Override
    public Graph apply(Graph g) {
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
            Optional<Node> blocked = blockedTwin(n, g, rw, blockedOf);
            if (blocked.isPresent()) {
                Value x = n.input(0);
                if (!blockedOf.containsKey(x)) {
                    Value xb = rw.newValue(x.name() + "_nchwc", blockedType(x));
                    rw.emit(new Node(BlockedLayoutOps.TO_BLOCKED, OpTable.KILN_DOMAIN, "", List.of(x), List.of(xb),
                            Attributes.builder().i("block", block).build()));
                    blockedOf.put(x, xb);
                    hasNchw.put(x, true);
                }
                Node twin = blocked.get().withInputs(replaceFirst(blocked.get().inputs(), blockedOf.get(x)));
                rw.emit(twin);
                blockedOf.put(n.output(0), twin.output(0));
                hasNchw.put(n.output(0), false);
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

    /** The node's blocked twin (X still the NCHW input), when the decision rule blocks it. */
    private Optional<Node> blockedTwin(Node n, Graph g, Rewriter rw, Map<Value, Value> blockedOf) {
        boolean conv = (n.domain().isEmpty() && n.op().equals("Conv"))
                || (n.domain().equals(OpTable.KILN_DOMAIN) && n.op().equals(FusedOps.FUSED_CONV));
        if (conv) {
            return blockedConv(n, g, rw);
        }
        if (!n.domain().isEmpty() || !n.hasInput(0) || !blockedOf.containsKey(n.input(0))) {
            return Optional.empty();
        }
        if (n.op().equals("Relu")) {
            Value y = n.output(0);
            return Optional.of(new Node("Relu", "", n.name(), n.inputs(),
                    List.of(rw.newValue(y.name() + "_nchwc", blockedType(y))), n.attributes()));
        }
        if (n.op().equals("MaxPool") && !n.hasOutput(1)) {
            Attributes a = n.attributes();
            if (a.has("auto_pad") && !a.get("auto_pad").map(v -> ((Attr.Str) v).value()).orElse("NOTSET").equals("NOTSET")
                    || n.input(0).type().rank() != 4 || !n.output(0).shape().dim(1).isStatic()) {
                return Optional.empty();
            }
            Value y = n.output(0);
            return Optional.of(new Node(BlockedLayoutOps.BLOCKED_MAX_POOL, OpTable.KILN_DOMAIN, n.name(), n.inputs(),
                    List.of(rw.newValue(y.name() + "_nchwc", blockedType(y))), a.without("storage_order")));
        }
        return Optional.empty();
    }

    private Optional<Node> blockedConv(Node n, Graph g, Rewriter rw) {
        Value x = n.input(0);
        Tensor w = g.initializers().get(n.input(1));
        if (w == null || w.rank() != 4 || w.dtype() != DType.FLOAT32 || x.dtype() != DType.FLOAT32
                || x.type().rank() != 4 || !x.shape().dim(1).isStatic() || !x.shape().dim(2).isStatic()
                || !x.shape().dim(3).isStatic() || OpTable.get().intAttr(n, "group") != 1
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
        ConvShape shape = new ConvShape((int) c, h.in(), wd.in(), (int) m, h.kernel(), wd.kernel(), h.stride(),
                wd.stride(), h.padBegin(), wd.padBegin(), h.padEnd(), wd.padEnd(), h.dilation(), wd.dilation(), 1);
        if (Conv2d.algorithm(shape) == Conv2d.Algorithm.DIRECT) {
            return Optional.empty();
        }
        float[] packed = NchwcConv.packWeights(w.toFloatArray(), shape, block);
        List<Value> inputs = new ArrayList<>(List.of(x, rw.addInitializer(n.input(1).name() + "_nchwc",
                Tensor.ofFloats(new int[] {packed.length}, packed))));
        if (n.hasInput(2)) {
            inputs.add(n.input(2));
        }
        Attributes.Builder attrs = Attributes.builder().i("m", m).set("kernel_shape", Attr.Ints.of(kernel))
                .set("pads", Attr.Ints.of(new long[] {h.padBegin(), wd.padBegin(), h.padEnd(), wd.padEnd()}))
                .set("strides", Attr.Ints.of(new long[] {h.stride(), wd.stride()}))
                .set("dilations", Attr.Ints.of(new long[] {h.dilation(), wd.dilation()}));
        for (String epilogue : List.of("activation", "activation_alpha", "activation_beta")) {
            n.attributes().get(epilogue).ifPresent(v -> attrs.set(epilogue, v));
        }
        Value y = n.output(0);
        return Optional.of(new Node(BlockedLayoutOps.BLOCKED_CONV, OpTable.KILN_DOMAIN, n.name(), inputs,
                List.of(rw.newValue(y.name() + "_nchwc", blockedType(y))), attrs.build()));
    }

    private TensorType blockedType(Value nchw) {
        Shape s = nchw.shape();
        return new TensorType(DType.FLOAT32, BlockedLayoutOps.blocked(s, block));
    }

    private static List<Value> replaceFirst(List<Value> inputs, Value first) {
        List<Value> in = new ArrayList<>(inputs);
        in.set(0, first);
        return in;
    }
}
