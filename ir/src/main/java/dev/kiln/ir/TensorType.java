package dev.kiln.ir;

/**
 * The static type of a value: element type and shape.
 *
 * @param dtype element type
 * @param shape dims, possibly symbolic
 */
public record TensorType(DType dtype, Shape shape) {
    public TensorType {
        java.util.Objects.requireNonNull(dtype, "dtype");
        java.util.Objects.requireNonNull(shape, "shape");
    }

    public static TensorType of(DType dtype, long... dims) {
        return new TensorType(dtype, Shape.of(dims));
    }

    public int rank() { return shape.rank(); }

    /** {@code f32[N,784]}. */
    @Override
    public String toString() { return dtype.shortName() + shape; }
}
