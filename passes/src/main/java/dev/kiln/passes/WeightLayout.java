package dev.kiln.passes;

import dev.kiln.ir.Attr;
import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.ConvGeometry;
import dev.kiln.ir.ops.FusedOps;
import dev.kiln.ir.ops.LayoutOps;
import dev.kiln.ir.ops.PanelLayout;
import dev.kiln.runtime.Conv2d;
import dev.kiln.runtime.ConvShape;
import dev.kiln.runtime.PackedMatrix;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Stores the constant weights of every 2-D Conv in the layout of the kernel the runtime picks for its shape
 * ({@code dev.kiln.PackedConv}), and those of every GEMM (Gemm, FusedGemm, MatMul with a constant matrix) in the
 * panel layout the runtime's GEMM kernel reads ({@code kiln.panel16.v1}, packed by the kernel's own {@code PackedMatrix.pack}),
 * with alpha folded into them and beta·C into a per-column bias, as a {@code dev.kiln.PackedGemm}: the layout
 * decision is made once, here, visible in the IR and checked by {@code --verify}, and code generation emits the
 * weights as they are. The layout does not depend on the vector width (see docs/KERNELS.md).
 *
 * <p>A 2x2 / stride-2 MaxPool that is the sole reader of such a conv's output goes into the PackedConv
 * ({@code max_pool = 1}) where the runtime's kernel for the shape fuses it ({@code Conv2d.fusesMaxPool}: the
 * Winograd kernels compute only the pooled pixels).
 */
public final class WeightLayout implements Pass {
    @Override
    public String name() { return "weight-layout"; }

    @Override
    public Graph apply(Graph g) {
        Rewriter rw = new Rewriter(g);
        boolean changed = false;
        java.util.Map<Node, Node> pools = fusablePools(g);
        java.util.Set<Node> fusedPools = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        fusedPools.addAll(pools.values());
        for (Node n : g.nodes()) {
            if (fusedPools.contains(n)) {
                continue;
            }
            Optional<Node> packed = pools.containsKey(n) ? packConv(n, g, rw, pools.get(n)) : pack(n, g, rw);
            if (packed.isPresent()) {
                rw.emit(packed.get());
                changed = true;
            } else {
                rw.keep(n);
            }
        }
        return changed ? rw.finish() : g;
    }

    private static Optional<Node> pack(Node n, Graph g, Rewriter rw) {
        return isConv(n) ? packConv(n, g, rw, null) : packGemm(n, g, rw);
    }

    private static boolean isConv(Node n) {
        return (n.domain().isEmpty() && n.op().equals("Conv"))
                || (n.domain().equals(OpTable.KILN_DOMAIN) && n.op().equals(FusedOps.FUSED_CONV));
    }

    /**
     * Conv nodes whose runtime kernel fuses the MaxPool that alone reads their output (not a graph output): 2x2
     * windows, stride 2, no padding or dilation, floor mode, no Indices output.
     */
    private static java.util.Map<Node, Node> fusablePools(Graph g) {
        java.util.Map<Value, Integer> uses = new java.util.IdentityHashMap<>();
        for (Node n : g.nodes()) {
            for (Value v : n.inputs()) {
                uses.merge(v, 1, Integer::sum);
            }
        }
        for (Value v : g.outputs()) {
            uses.merge(v, 1, Integer::sum);
        }
        java.util.Map<Node, Node> pools = new java.util.IdentityHashMap<>();
        for (Node pool : g.nodes()) {
            if (!pool.domain().isEmpty() || !pool.op().equals("MaxPool") || pool.hasOutput(1)
                    || uses.getOrDefault(pool.input(0), 0) != 1) {
                continue;
            }
            Optional<Node> conv = g.producer(pool.input(0)).filter(WeightLayout::isConv);
            Optional<ConvShape> shape = conv.flatMap(c -> convShape(c, g));
            if (shape.isEmpty() || !Conv2d.fusesMaxPool(shape.get()) || !pool.input(0).dtype().equals(DType.FLOAT32)) {
                continue;
            }
            ConvShape s = shape.get();
            List<ConvGeometry.Axis> axes = ConvGeometry.axesOf(pool, new long[] {2, 2}, new int[] {s.outH(), s.outW()});
            boolean plain = pool.attributes().get("kernel_shape").map(a -> java.util.Arrays.equals(((Attr.Ints) a).toArray(),
                    new long[] {2, 2})).orElse(false);
            for (ConvGeometry.Axis a : axes) {
                plain &= a.kernel() == 2 && a.stride() == 2 && a.padBegin() == 0 && a.padEnd() == 0 && a.dilation() == 1
                        && a.out() == a.in() / 2;
            }
            if (plain) {
                pools.put(conv.get(), pool);
            }
        }
        return pools;
    }

    /** The runtime shape of a 2-D Conv with constant float weights and static spatial input, if it is one. */
    private static Optional<ConvShape> convShape(Node n, Graph g) {
        Value x = n.input(0);
        Tensor w = g.initializers().get(n.input(1));
        if (w == null || w.rank() != 4 || w.dtype() != DType.FLOAT32 || x.type().rank() != 4
                || !x.shape().dim(1).isStatic() || !x.shape().dim(2).isStatic() || !x.shape().dim(3).isStatic()
                || (n.hasInput(2) && !g.isInitializer(n.input(2)))) {
            return Optional.empty();
        }
        long[] kernel = kernel(n, w);
        int[] spatial = {(int) x.shape().dim(2).value(), (int) x.shape().dim(3).value()};
        List<ConvGeometry.Axis> axes = ConvGeometry.axesOf(n, kernel, spatial);
        ConvGeometry.Axis h = axes.get(0);
        ConvGeometry.Axis wd = axes.get(1);
        return Optional.of(new ConvShape((int) x.shape().dim(1).value(), h.in(), wd.in(), w.dim(0), h.kernel(),
                wd.kernel(), h.stride(), wd.stride(), h.padBegin(), wd.padBegin(), h.padEnd(), wd.padEnd(), h.dilation(),
                wd.dilation(), (int) OpTable.get().intAttr(n, "group")));
    }

    private static long[] kernel(Node n, Tensor w) {
        return n.attributes().get("kernel_shape").map(a -> ((Attr.Ints) a).toArray())
                .orElse(new long[] {w.dim(2), w.dim(3)});
    }

    /**
     * A 2-D Conv's constant weights in the layout of the kernel algorithm the runtime picks for its shape, with
     * {@code pool} (a MaxPool {@link #fusablePools} found, or null) fused into it.
     */
    private static Optional<Node> packConv(Node n, Graph g, Rewriter rw, Node pool) {
        Optional<ConvShape> s = convShape(n, g);
        if (s.isEmpty()) {
            return Optional.empty();
        }
        Value x = n.input(0);
        Tensor w = g.initializers().get(n.input(1));
        long[] kernel = kernel(n, w);
        ConvShape shape = s.get();
        String layout = Conv2d.layout(shape);
        float[] packed = Conv2d.packWeights(w.toFloatArray(), shape);
        List<Value> inputs = new ArrayList<>(List.of(x, rw.addInitializer(n.input(1).name() + "_packed",
                Tensor.ofFloats(new int[] {packed.length}, packed))));
        if (n.hasInput(2)) {
            inputs.add(n.input(2));
        }
        Attributes attrs = n.attributes().with("m", new Attr.Int(w.dim(0))).with("layout", new Attr.Str(layout))
                .with("kernel_shape", Attr.Ints.of(kernel));
        if (pool != null) {
            attrs = attrs.with("max_pool", new Attr.Int(1));
        }
        return Optional.of(new Node(LayoutOps.PACKED_CONV, OpTable.KILN_DOMAIN, n.name(), inputs,
                pool == null ? n.outputs() : pool.outputs(), attrs));
    }

    private static Optional<Node> packGemm(Node n, Graph g, Rewriter rw) {
        boolean matMul = n.domain().isEmpty() && n.op().equals("MatMul");
        boolean gemm = (n.domain().isEmpty() && n.op().equals("Gemm"))
                || (n.domain().equals(OpTable.KILN_DOMAIN) && n.op().equals(FusedOps.FUSED_GEMM));
        if (!matMul && !gemm) {
            return Optional.empty();
        }
        Value a = n.input(0);
        Tensor b = g.initializers().get(n.input(1));
        if (b == null || b.rank() != 2 || b.dtype() != DType.FLOAT32 || a.dtype() != DType.FLOAT32
                || a.type().rank() < 2 || (gemm && (a.type().rank() != 2 || OpTable.get().intAttr(n, "transA") != 0))) {
            return Optional.empty();
        }
        boolean transB = gemm && OpTable.get().intAttr(n, "transB") != 0;
        float alpha = gemm ? OpTable.get().floatAttr(n, "alpha") : 1f;
        float beta = gemm ? OpTable.get().floatAttr(n, "beta") : 1f;
        int k = transB ? b.dim(1) : b.dim(0);
        int cols = transB ? b.dim(0) : b.dim(1);
        Optional<float[]> bias = Optional.empty();
        if (gemm && n.hasInput(2)) {
            Tensor c = g.initializers().get(n.input(2));
            bias = c == null ? Optional.empty() : perColumn(c, cols, beta);
            if (bias.isEmpty()) {
                return Optional.empty();
            }
        }
        float[] w = b.toFloatArray();
        if (alpha != 1f) {
            for (int i = 0; i < w.length; i++) {
                w[i] *= alpha;
            }
        }
        float[] panels = PackedMatrix.pack(w, 0, k, cols, transB).data();
        if (panels.length != PanelLayout.length(k, cols)) {
            throw new IllegalStateException("the runtime's panel layout no longer matches " + PanelLayout.NAME);
        }
        String base = n.input(1).name();
        List<Value> inputs = new ArrayList<>(List.of(a, rw.addInitializer(base + "_panels",
                Tensor.ofFloats(new int[] {panels.length}, panels))));
        if (bias.isPresent()) {
            Tensor c = g.initializers().get(n.input(2));
            boolean asIs = beta == 1f && c.rank() == 1 && c.size() == cols;
            inputs.add(asIs ? n.input(2) : rw.addInitializer(n.input(2).name() + "_columns",
                    Tensor.ofFloats(new int[] {cols}, bias.get())));
        }
        Attributes.Builder attrs = Attributes.builder().i("k", k).i("n", cols);
        for (String epilogue : List.of("activation", "activation_alpha", "activation_beta")) {
            n.attributes().get(epilogue).ifPresent(v -> attrs.set(epilogue, v));
        }
        return Optional.of(new Node(LayoutOps.PACKED_GEMM, OpTable.KILN_DOMAIN, n.name(), inputs, n.outputs(),
                attrs.build()));
    }

    /** A C that varies only along the columns ([], [1], [n], [1, n]) times beta, as n floats. */
    private static Optional<float[]> perColumn(Tensor c, int cols, float beta) {
        int[] s = c.shape();
        boolean ok = s.length == 0 || (s.length == 1 && (s[0] == 1 || s[0] == cols))
                || (s.length == 2 && s[0] == 1 && (s[1] == 1 || s[1] == cols));
        if (!ok) {
            return Optional.empty();
        }
        float[] out = new float[cols];
        for (int j = 0; j < cols; j++) {
            out[j] = (float) (beta * c.getDouble(c.size() == 1 ? 0 : j));
        }
        return Optional.of(out);
    }

}
