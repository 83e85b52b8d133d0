package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Node;

/**
 * Dropout that drops nothing (no training_mode, a constant false one, or a constant ratio of 0): the output is a
 * copy of the input and the optional mask is all true.
 */
final class DropoutEmitter implements KernelEmitter {
    /** Copies elements and fills a bool mask, so any element type. */
    @Override
    public boolean typed(Node n) {
        return true;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        boolean training = n.hasInput(2) && !(ctx.isConstant(n.input(2)) && !ctx.constant(n.input(2)).getBool(0));
        boolean noDrops = n.hasInput(1) && ctx.isConstant(n.input(1)) && ctx.constant(n.input(1)).getDouble(0) == 0;
        if (training && !noDrops) {
            throw ctx.unsupported("Dropout in training mode");
        }
        CodeBlock.Builder b = CodeBlock.builder();
        b.add(new CopyEmitter().emit(ctx));
        if (n.outputs().size() > 1 && n.hasOutput(1)) {
            TensorRef mask = ctx.out(1);
            b.addStatement("$T.fill($N, $L, $L, true)", java.util.Arrays.class, mask.array(), mask.offset(),
                    mask.plus(ctx.count(n.output(1))));
        }
        return b.build();
    }
}
