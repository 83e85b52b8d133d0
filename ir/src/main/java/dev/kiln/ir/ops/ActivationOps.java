package dev.kiln.ir.ops;

import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import java.util.List;

/** Pointwise nonlinearities (Relu, Sigmoid, Tanh, ...) and the softmax family. */
public final class ActivationOps {
    private ActivationOps() {}

    public static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("Relu").since(14)
                .doc("max(x, 0) elementwise.")
                .inputs("X").outputs("Y")
                .properties(OpProperty.ELEMENTWISE, OpProperty.ACTIVATION, OpProperty.ZERO_PRESERVING)
                .shape(ctx -> {
                    Pointwise.requireFloat(ctx, 0);
                    return Pointwise.sameAsInput(ctx);
                })
                .eval(ctx -> List.of(Pointwise.unary(ctx, x -> x > 0 ? x : x == 0 ? 0 : Double.isNaN(x) ? x : 0)))
                .build());
    }
}
