package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Node;
import java.util.List;

/**
 * A view (Reshape, Flatten, Squeeze, Unsqueeze, Identity) that cannot share storage because its result is a
 * caller's output array: a copy. Every other view costs nothing (see {@link ModelPlan}), unless its shape or
 * axes input is read at run time: then its step checks, through {@code ShapeChecks}, that the values give the
 * shape the code was compiled for, and copies only when the result is not the input's storage.
 */
final class CopyEmitter implements KernelEmitter {
    /** Moves elements without arithmetic, so any element type. */
    @Override
    public boolean typed(Node n) {
        return true;
    }

    /** Copies references, so strings too. */
    @Override
    public boolean strings(Node n) {
        return true;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        CodeBlock.Builder b = CodeBlock.builder();
        // Other emitters (Dropout's, a no-op Reduce's) copy through this one; their second inputs give no shape.
        boolean shaped = n.domain().isEmpty() && List.of("Reshape", "Squeeze", "Unsqueeze").contains(n.op());
        if (shaped && RunTimeShapes.atRunTime(ctx, 1)) {
            check(ctx, b);
        }
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        if (!x.array().equals(y.array()) || !x.offset().toString().equals(y.offset().toString())) {
            b.addStatement("$T.arraycopy($N, $L, $N, $L, $L)", System.class, x.array(), x.offset(), y.array(),
                    y.offset(), ctx.count(n.output(0)));
        }
        return b.build();
    }

    /** Reshape's target or Squeeze/Unsqueeze's axes, read at run time, must give the compiled output shape. */
    private static void check(EmitContext ctx, CodeBlock.Builder b) {
        Node n = ctx.node;
        TensorRef values = RunTimeShapes.longs(ctx, b, 1);
        String in = RunTimeShapes.dims(ctx, n.input(0));
        String out = RunTimeShapes.dims(ctx, n.output(0));
        CodeBlock common = CodeBlock.of("$L, $L, $N, $L, $L, $N, $N", RunTimeShapes.node(ctx),
                RunTimeShapes.name(ctx, 1), values.array(), values.offset(), RunTimeShapes.length(ctx, 1), in, out);
        switch (n.op()) {
            case "Reshape" -> b.addStatement("$T.reshape($L, $L, batch)", RunTimeShapes.SHAPE_CHECKS, common,
                    ctx.intAttr("allowzero") != 0);
            case "Squeeze" -> b.addStatement("$T.squeeze($L, batch)", RunTimeShapes.SHAPE_CHECKS, common);
            case "Unsqueeze" -> b.addStatement("$T.unsqueeze($L, batch)", RunTimeShapes.SHAPE_CHECKS, common);
            default -> throw new IllegalStateException(n.qualifiedOp() + " takes no shape");
        }
    }
}
