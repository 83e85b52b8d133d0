package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Node;

/**
 * Dropout in inference (no training_mode, or a constant false one): the output is a copy of the input. In training
 * mode (a trainer's), see {@link DropoutTrainingEmitter}.
 */
final class DropoutEmitter implements KernelEmitter {
    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        if (DropoutTrainingEmitter.training(ctx)) {
            return DropoutTrainingEmitter.forward(ctx);
        }
        if (n.outputs().size() > 1 && n.hasOutput(1)) {
            throw ctx.unsupported("Dropout's mask output");
        }
        if (n.hasInput(2) && !(ctx.isConstant(n.input(2)) && !ctx.constant(n.input(2)).getBool(0))) {
            throw ctx.unsupported("Dropout in training mode");
        }
        return new CopyEmitter().emit(ctx);
    }
}
