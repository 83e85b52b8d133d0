package dev.kiln.ir.ops;

import dev.kiln.ir.OpTable;

/** Op family declarations (filled in by the op-table work). */
public final class ConvPoolOps {
    private ConvPoolOps() {}

    public static void register(OpTable.Registrar r) {
    }
}
