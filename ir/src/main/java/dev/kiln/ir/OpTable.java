package dev.kiln.ir;

import dev.kiln.ir.ops.ActivationOps;
import dev.kiln.ir.ops.AttentionGrads;
import dev.kiln.ir.ops.AttentionOps;
import dev.kiln.ir.ops.BlockedLayoutOps;
import dev.kiln.ir.ops.ControlFlowOps;
import dev.kiln.ir.ops.ConvPoolOps;
import dev.kiln.ir.ops.DeformConvOps;
import dev.kiln.ir.ops.DenseGradOps;
import dev.kiln.ir.ops.DetectionOps;
import dev.kiln.ir.ops.ElementwiseOps;
import dev.kiln.ir.ops.FusedOps;
import dev.kiln.ir.ops.LayoutOps;
import dev.kiln.ir.ops.LinearAlgebraOps;
import dev.kiln.ir.ops.QuantizationOps;
import dev.kiln.ir.ops.RandomOps;
import dev.kiln.ir.ops.LossOps;
import dev.kiln.ir.ops.MlOps;
import dev.kiln.ir.ops.NnGradOps;
import dev.kiln.ir.ops.NormalizationOps;
import dev.kiln.ir.ops.PreviewTrainingOps;
import dev.kiln.ir.ops.RecurrentOps;
import dev.kiln.ir.ops.SequenceOps;
import dev.kiln.ir.ops.GridSampleOps;
import dev.kiln.ir.ops.ReductionOps;
import dev.kiln.ir.ops.SignalOps;
import dev.kiln.ir.ops.StateSpaceOps;
import dev.kiln.ir.ops.StringOps;
import dev.kiln.ir.ops.TensorOps;
import java.util.Collection;
import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The one op table: every op Kiln knows, keyed by domain and name. Op families declare their ops in
 * {@code dev.kiln.ir.ops}; this class only collects them.
 */
public final class OpTable {
    /** Domain of Kiln's own ops (fused kernels, layout conversions) that ONNX does not define. */
    public static final String KILN_DOMAIN = "dev.kiln";

    private static final OpTable INSTANCE = new OpTable();

    private final Map<String, OpDef> ops = new TreeMap<>();

    /** Where an op family registers its declarations. */
    @FunctionalInterface
    public interface Registrar {
        void add(OpDef def);
    }

    private OpTable() {
        Registrar r = this::add;
        ElementwiseOps.register(r);
        ActivationOps.register(r);
        ReductionOps.register(r);
        TensorOps.register(r);
        LinearAlgebraOps.register(r);
        QuantizationOps.register(r);
        ConvPoolOps.register(r);
        DeformConvOps.register(r);
        NormalizationOps.register(r);
        RecurrentOps.register(r);
        AttentionOps.register(r);
        AttentionGrads.register(r);
        StateSpaceOps.register(r);
        LossOps.register(r);
        SignalOps.register(r);
        GridSampleOps.register(r);
        DetectionOps.register(r);
        StringOps.register(r);
        MlOps.register(r);
        RandomOps.register(r);
        SequenceOps.register(r);
        NnGradOps.register(r);
        DenseGradOps.register(r);
        PreviewTrainingOps.register(r);
        ControlFlowOps.register(r);
        // Kiln's fused ops are declared in terms of the ONNX ops above, so they register last.
        FusedOps.register(r, name -> find("", name).orElseThrow(
                () -> new IllegalStateException("fused ops need ONNX op " + name)));
        LayoutOps.register(r, name -> find("", name).orElseThrow(
                () -> new IllegalStateException("layout ops need ONNX op " + name)));
        BlockedLayoutOps.register(r, name -> find("", name).orElseThrow(
                () -> new IllegalStateException("blocked layout ops need ONNX op " + name)));
    }

    public static OpTable get() { return INSTANCE; }

    private void add(OpDef def) {
        String key = key(def.domain(), def.name());
        if (ops.putIfAbsent(key, def) != null) {
            throw new IllegalStateException("op " + key + " declared twice");
        }
    }

    private static String key(String domain, String name) {
        String d = domain.equals("ai.onnx") ? "" : domain;
        return d.isEmpty() ? name : d + "." + name;
    }

    /** The op with this domain ({@code ""} or {@code ai.onnx} for ONNX's default) and name. */
    public Optional<OpDef> find(String domain, String name) {
        return Optional.ofNullable(ops.get(key(domain, name)));
    }

    /** The op, or {@link UnsupportedOpException} naming it and the node that uses it. */
    public OpDef require(String domain, String name, String usedBy) {
        return find(domain, name).orElseThrow(() -> new UnsupportedOpException(
                "unsupported op '" + name + "' (domain '" + (domain.isEmpty() ? "ai.onnx" : domain) + "') used by "
                        + usedBy));
    }

    /** The node's attribute, or the default its op declares; empty when neither exists. */
    public Optional<Attr> attribute(Node n, String name) {
        Optional<Attr> set = n.attributes().get(name);
        if (set.isPresent()) {
            return set;
        }
        return find(n.domain(), n.op()).flatMap(d -> d.attribute(name)).flatMap(AttrSpec::defaultValue);
    }

    /** A FLOAT attribute of a node with its op's default applied. */
    public float floatAttr(Node n, String name) {
        return ((Attr.Float) attribute(n, name).orElseThrow(() -> missing(n, name))).value();
    }

    /** An INT attribute of a node with its op's default applied. */
    public long intAttr(Node n, String name) {
        return ((Attr.Int) attribute(n, name).orElseThrow(() -> missing(n, name))).value();
    }

    /** A STRING attribute of a node with its op's default applied. */
    public String stringAttr(Node n, String name) {
        return ((Attr.Str) attribute(n, name).orElseThrow(() -> missing(n, name))).value();
    }

    private static ShapeException missing(Node n, String name) {
        return new ShapeException(n.describe() + ": attribute '" + name + "' is not set and has no default");
    }

    /** All ops, ordered by qualified name. */
    public Collection<OpDef> all() { return Collections.unmodifiableCollection(ops.values()); }
}
