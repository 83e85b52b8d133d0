package dev.kiln.onnx;

import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TypeInference;
import dev.kiln.ir.Value;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The value names visible while one ONNX graph is imported: its own, and for a body (a graph attribute of If, Loop or
 * Scan) those of its enclosing graphs, as ONNX's scoping rules allow. A body's graph is closed in Kiln's IR, so the
 * first use of an outer name becomes a capture: a new input of the body, with the outer value as the node's operand
 * ({@link #captures}). A small outer constant is copied into the body instead, as an initializer, so the body's own
 * inference and code generation see it as the constant it is.
 */
final class ImportScope {
    /** Outer constants up to this many elements are copied into a body rather than captured. */
    static final int MAX_COPIED_CONSTANT = TypeInference.MAX_TRACKED_CONSTANT_ELEMENTS;

    private final ImportScope parent;
    private final GraphBuilder builder;
    private final Map<String, Value> values = new HashMap<>();
    private final Map<Value, Value> captures = new LinkedHashMap<>();

    ImportScope(ImportScope parent, GraphBuilder builder) {
        this.parent = parent;
        this.builder = builder;
    }

    GraphBuilder builder() { return builder; }

    /** True for a body's scope (one with an enclosing graph). */
    boolean isBody() { return parent != null; }

    /** Defines a value of this graph under its name. */
    void define(String name, Value v) {
        values.put(name, v);
    }

    /** True when this graph itself (not an enclosing one) defines the name. */
    boolean definesLocally(String name) {
        return values.containsKey(name);
    }

    /** The value a name denotes here, capturing it from an enclosing graph on first use; empty when none defines it. */
    Optional<Value> resolve(String name) {
        Value local = values.get(name);
        if (local != null) {
            return Optional.of(local);
        }
        if (parent == null) {
            return Optional.empty();
        }
        Optional<Value> outer = parent.resolve(name);
        if (outer.isEmpty()) {
            return Optional.empty();
        }
        Value o = outer.get();
        Optional<Tensor> constant = parent.builder.constantValue(o);
        Value inner;
        if (constant.isPresent() && constant.get().size() <= MAX_COPIED_CONSTANT) {
            inner = builder.initializer(name, constant.get());
        } else {
            inner = builder.input(name, o.type());
            captures.put(o, inner);
        }
        values.put(name, inner);
        return Optional.of(inner);
    }

    /** The outer values this body captured (in order of first use), each with the body input that receives it. */
    Map<Value, Value> captures() { return captures; }
}
