package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Node;

/**
 * A view (Reshape, Flatten, Squeeze, Unsqueeze, Identity) that cannot share storage because its result is a
 * caller's output array: a copy. Every other view costs nothing (see {@link ModelPlan}).
 */
final class CopyEmitter implements KernelEmitter {
    /** Moves elements without arithmetic, so any element type. */
    @Override
    public boolean typed(Node n) {
        return true;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        return CodeBlock.builder()
                .addStatement("$T.arraycopy($N, $L, $N, $L, $L)", System.class, x.array(), x.offset(), y.array(),
                        y.offset(), ctx.count(ctx.node.output(0)))
                .build();
    }
}
