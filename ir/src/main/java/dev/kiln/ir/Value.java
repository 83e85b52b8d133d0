package dev.kiln.ir;

import java.util.Objects;

/**
 * An SSA value: produced once (by a node, or as a graph input or initializer), typed, immutable.
 * Identity is object identity; the name is unique within a graph and is what the printer and ONNX use.
 */
public final class Value {
    /**
     * Stands in for an omitted optional input or output (ONNX's empty name), so node input lists need no
     * nulls. It is never produced by a node, listed in a graph, or given to the evaluator.
     */
    public static final Value ABSENT = new Value("", new TensorType(DType.FLOAT32, Shape.SCALAR));

    private final String name;
    private final TensorType type;

    public Value(String name, TensorType type) {
        this.name = Objects.requireNonNull(name, "name");
        this.type = Objects.requireNonNull(type, "type");
    }

    public String name() { return name; }

    public TensorType type() { return type; }

    public DType dtype() { return type.dtype(); }

    public Shape shape() { return type.shape(); }

    public boolean isAbsent() { return this == ABSENT; }

    /** {@code %name: f32[N,784]}. */
    @Override
    public String toString() { return isAbsent() ? "_" : "%" + name + ": " + type; }
}
