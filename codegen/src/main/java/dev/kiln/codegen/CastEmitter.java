package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.DType;
import dev.kiln.ir.Node;

/**
 * Cast and CastLike outside a fused chain: code generation holds float32 only, so an accepted cast is float32 to
 * float32, a copy (CastLike's second input only names the type and is not read).
 */
final class CastEmitter implements KernelEmitter {
    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        if (ctx.batchValue(n.input(0)).isPresent()) {
            return BatchScalars.emit(ctx);
        }
        if (n.input(0).dtype() != DType.FLOAT32 || n.output(0).dtype() != DType.FLOAT32) {
            throw ctx.unsupported(n.op() + " from " + n.input(0).type() + " to " + n.output(0).type());
        }
        return new CopyEmitter().emit(ctx);
    }
}
