package dev.kiln.ir;

import java.util.List;
import java.util.Optional;

/**
 * Computes the value of a small integer "shape tensor" output (0-D or 1-D) as dims, when its inputs' values
 * are known as dims: how {@code Shape -> Gather -> Unsqueeze -> Concat} chains keep the batch symbolic.
 * Only data-movement and shape ops declare one.
 */
@FunctionalInterface
public interface SymbolicRule {
    /** The elements of output 0 as dims, or empty when they cannot be expressed. */
    Optional<List<Dim>> apply(ShapeContext ctx);
}
