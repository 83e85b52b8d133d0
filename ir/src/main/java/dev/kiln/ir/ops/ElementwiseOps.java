package dev.kiln.ir.ops;

import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import java.util.List;

/** Arithmetic, math functions, comparisons and logic applied elementwise with numpy broadcasting. */
public final class ElementwiseOps {
    private ElementwiseOps() {}

    public static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("Add").since(14)
                .doc("Elementwise sum with numpy broadcasting.")
                .inputs("A", "B").outputs("C")
                .properties(OpProperty.ELEMENTWISE, OpProperty.COMMUTATIVE)
                .shape(Pointwise::broadcastSameType)
                .eval(ctx -> List.of(Pointwise.binary(ctx.input(0), ctx.input(1), Double::sum, Long::sum)))
                .build());
    }
}
