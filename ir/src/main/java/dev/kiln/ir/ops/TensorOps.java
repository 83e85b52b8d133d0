package dev.kiln.ir.ops;

import dev.kiln.ir.OpTable;

/**
 * Data-movement and shape ops, declared by family in {@link ShapeOps} (create or reshape), {@link SliceOps}
 * (join, split, slice, pad, rearrange), {@link IndexingOps} (gather, scatter, select, sort) and
 * {@link ResizeOp} (resampling).
 */
public final class TensorOps {
    private TensorOps() {}

    public static void register(OpTable.Registrar r) {
        ShapeOps.register(r);
        SliceOps.register(r);
        IndexingOps.register(r);
        ResizeOp.register(r);
    }
}
