package dev.kiln.codegen;

import dev.kiln.ir.DType;
import dev.kiln.passes.MemoryPlan.Linear;

/**
 * Where a tensor lives in generated code: an array expression plus an element offset linear in the batch.
 */
sealed interface Storage {
    /** A parameter of {@code run} (a graph input or output array), at offset 0. */
    record Param(String name) implements Storage {}

    /** A slice of the instance's scratch arena for element type {@code dtype}. */
    record Arena(DType dtype, Linear offset) implements Storage {}

    /**
     * A per-instance buffer of element type {@code dtype}, grown on demand, holding an intermediate whose dims are known
     * only at run time (see {@link DynamicValues}), at offset 0.
     */
    record Dynamic(DType dtype, String buffer) implements Storage {}

    /** An initializer, read from a weights field at offset 0; {@code key} is its name in the resource. */
    record Weight(String key) implements Storage {}
}
