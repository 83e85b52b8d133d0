package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import java.util.List;

/**
 * A Cast to float of an integer value that is a function of the batch alone (e.g. {@code Size(x)} with x
 * {@code [batch, 784]}): each element written from {@code batch} as its dim says, {@code (float) (784 * batch)}.
 */
final class BatchScalars {
    private BatchScalars() {}

    static CodeBlock emit(EmitContext ctx) {
        List<Dim> dims = ctx.batchValue(ctx.node.input(0)).orElseThrow();
        TensorRef y = ctx.out(0);
        CodeBlock.Builder code = CodeBlock.builder();
        for (int i = 0; i < dims.size(); i++) {
            code.addStatement("$L = (float) ($L)", y.at(CodeBlock.of("$L", i)), ctx.dim(dims.get(i)));
        }
        return code.build();
    }
}
