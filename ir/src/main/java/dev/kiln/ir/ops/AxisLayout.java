package dev.kiln.ir.ops;

/**
 * A row-major tensor seen as {@code [outer, axis, inner]} around one axis: element {@code (o, k, i)} is at
 * {@code (o * axisLength + k) * inner + i}. The evaluators of ops that work along one axis (Softmax, ArgMax)
 * loop over it.
 *
 * @param outer product of the dims before the axis
 * @param axisLength the axis's dim
 * @param inner product of the dims after the axis
 */
record AxisLayout(int outer, int axisLength, int inner) {
    /** The layout of {@code shape} around {@code axis} (already normalized to [0, rank)). */
    static AxisLayout of(int[] shape, int axis) {
        int outer = 1;
        for (int d = 0; d < axis; d++) {
            outer *= shape[d];
        }
        int inner = 1;
        for (int d = axis + 1; d < shape.length; d++) {
            inner *= shape[d];
        }
        return new AxisLayout(outer, shape[axis], inner);
    }

    /** Flat index of element k along the axis in lane (o, i). */
    int index(int o, int k, int i) {
        return (o * axisLength + k) * inner + i;
    }
}
