package dev.kiln.codegen;

import com.palantir.javapoet.NameAllocator;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The intermediates whose dims generated code learns only at run time: values with a dim type inference left unknown
 * (it depends on input values) and that the model does not declare. Each lives in a per-instance buffer grown on
 * demand, with its dims in a per-instance {@code long[]} its producer sets every run. A Pad or Slice whose output is
 * such a value defines its unknown dims from the values it reads (the runtime's {@code DynamicTensors}); after that,
 * every value carrying the same unknown symbol reads it from there. Elementwise ops (inputs of the output's shape or
 * single elements), Identity and Cast carry these dims through, Pad and Slice read them, Shape reports them; any other
 * node touching such a value, a producer of unknown dims other than Pad and Slice, and a graph output of unknown dims
 * are refused here, naming the node, the op and the shape.
 */
final class DynamicValues {
    /** The run-time home of an unknown dim symbol: dim {@code axis} of {@code value}'s dims field. */
    record Source(Value value, int axis) {}

    /** Buffer field per run-time-shaped value (an Identity view shares its input's). */
    final Map<Value, String> buffers = new IdentityHashMap<>();
    /** Dims field per run-time-shaped value. */
    final Map<Value, String> dimsFields = new IdentityHashMap<>();
    /** Per unknown symbol, the value and axis it is read from (the first value to carry it). */
    final Map<String, Source> symbols = new LinkedHashMap<>();
    /** Pad and Slice nodes whose emitters resolve their output's dims (the others get them from {@link #symbols}). */
    final Set<Node> definers = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
    /** The values with buffers of their own, in node order, for the class's fields. */
    final Map<Value, String> ownBuffers = new LinkedHashMap<>();

    private DynamicValues() {}

    /** True when a dim of v is unknown at generation time. */
    static boolean isDynamic(Value v) {
        return !v.isAbsent() && v.shape().dims().stream().anyMatch(Dim::hasUnknown);
    }

    /** The plan for the emitted nodes of g, or a refusal naming the first node that cannot handle such a value. */
    static DynamicValues of(Graph g, List<Node> emitted, NameAllocator names) {
        DynamicValues d = new DynamicValues();
        for (Node n : emitted) {
            boolean reads = n.inputs().stream().anyMatch(DynamicValues::isDynamic);
            boolean writes = n.outputs().stream().anyMatch(DynamicValues::isDynamic);
            if (!reads && !writes) {
                continue;
            }
            for (Value o : n.outputs()) {
                if (isDynamic(o) && g.outputs().contains(o)) {
                    throw refused(n, "output", o, "a graph output needs static dims apart from the batch");
                }
            }
            Role role = role(n);
            switch (role) {
                case REFUSED -> {
                    for (Value v : n.inputs()) {
                        if (isDynamic(v)) {
                            throw refused(n, "input", v, "code generation of " + n.qualifiedOp() + " needs static dims"
                                    + " apart from the batch");
                        }
                    }
                    throw refused(n, "output", n.outputs().stream().filter(DynamicValues::isDynamic).findFirst()
                            .orElseThrow(), "generated code needs static dims apart from the batch");
                }
                case READS -> {
                    if (writes) {
                        throw refused(n, "output", n.output(0), "generated code needs static dims apart from the batch");
                    }
                }
                case VIEW -> {
                    d.buffers.put(n.output(0), d.buffers.get(n.input(0)));
                    d.dimsFields.put(n.output(0), d.dimsFields.get(n.input(0)));
                }
                case DEFINES, CARRIES -> {
                    if (!writes) {
                        continue;
                    }
                    Value o = n.output(0);
                    String base = Identifiers.camel(o.name(), "value");
                    d.buffers.put(o, names.newName(base + "Buffer"));
                    d.ownBuffers.put(o, d.buffers.get(o));
                    d.dimsFields.put(o, names.newName(base + "Dims"));
                    if (role == Role.DEFINES) {
                        d.definers.add(n);
                        d.define(n, o);
                    }
                    d.requireKnown(n, o);
                }
            }
        }
        return d;
    }

    private enum Role { DEFINES, CARRIES, VIEW, READS, REFUSED }

    /** What a node may do with run-time-shaped values. */
    private static Role role(Node n) {
        if (!n.domain().isEmpty() && !(Emitters.forNode(n) instanceof ElementwiseEmitter)) {
            return Role.REFUSED;
        }
        KernelEmitter e = Emitters.forNode(n);
        if (e instanceof PadEmitter || e instanceof SliceEmitter) {
            return Role.DEFINES;
        }
        if (n.op().equals("Shape")) {
            return Role.READS;
        }
        if (n.op().equals("Identity") && n.output(0).shape().equals(n.input(0).shape())) {
            return Role.VIEW;
        }
        if (e instanceof ElementwiseEmitter && n.outputs().size() == 1) {
            Value out = n.output(0);
            for (int i = 0; i < n.inputs().size(); i++) {
                Value v = n.inputs().get(i);
                boolean typeOnly = i == 1 && n.op().equals("CastLike");
                boolean single = !v.isAbsent() && v.shape().elementCount().isStatic()
                        && v.shape().elementCount().value() == 1;
                if (!v.isAbsent() && !typeOnly && !single && !v.shape().equals(out.shape())) {
                    return Role.REFUSED;
                }
            }
            return Role.CARRIES;
        }
        return Role.REFUSED;
    }

    /** A Pad's or Slice's output: each dim that is a fresh unknown symbol is read from its dims field from now on. */
    private void define(Node n, Value o) {
        for (int a = 0; a < o.shape().rank(); a++) {
            Dim dim = o.shape().dim(a);
            if (dim.hasUnknown() && dim.coefficient() == 1 && dim.symbols().size() == 1
                    && dim.symbols().values().iterator().next() == 1 && !symbols.containsKey(dim.symbols().firstKey())) {
                symbols.put(dim.symbols().firstKey(), new Source(o, a));
            }
        }
    }

    /** Every unknown symbol of o must have a home by now. */
    private void requireKnown(Node n, Value o) {
        for (Dim dim : o.shape().dims()) {
            for (String s : dim.symbols().keySet()) {
                if (s.startsWith(Dim.UNKNOWN_PREFIX) && !symbols.containsKey(s)) {
                    throw refused(n, "output", o, "generated code needs static dims apart from the batch, or dims a Pad"
                            + " or Slice resolves at run time");
                }
            }
        }
    }

    /** True when dim {@code axis} of o is where its symbol is defined (o's producer resolves it). */
    boolean defines(Value o, int axis) {
        Dim dim = o.shape().dim(axis);
        if (!dim.hasUnknown() || dim.symbols().size() != 1) {
            return false;
        }
        Source s = symbols.get(dim.symbols().firstKey());
        return s != null && s.value() == o && s.axis() == axis;
    }

    private static UnsupportedOpException refused(Node n, String role, Value v, String why) {
        return new UnsupportedOpException(n.describe() + ": " + role + " '" + v.name() + "' has shape " + v.shape()
                + ", which depends on values known only at run time (a shape, axes, sizes or scales given as a graph"
                + " input); " + why);
    }
}
