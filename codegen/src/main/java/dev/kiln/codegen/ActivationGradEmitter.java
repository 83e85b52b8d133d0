package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Node;

/**
 * Gradients of activations, {@code dX = f'(.) * dY}: ReluGrad and LeakyReluGrad as the runtime's vector kernels
 * ({@code DenseGrad}), SigmoidGrad and TanhGrad (from the forward output Y) as one loop each.
 */
final class ActivationGradEmitter implements KernelEmitter {
    static final ClassName DENSE_GRAD = ClassName.get("dev.kiln.runtime.train", "DenseGrad");

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        TensorRef dy = ctx.in(0);
        TensorRef saved = ctx.in(1);
        TensorRef dx = ctx.out(0);
        CodeBlock count = ctx.count(n.output(0));
        CodeBlock.Builder code = CodeBlock.builder();
        switch (n.op()) {
            case "ReluGrad" -> code.addStatement("$T.reluBackward($L, $N, $L, $N, $L, $N, $L, false)", DENSE_GRAD, count,
                    saved.array(), saved.offset(), dy.array(), dy.offset(), dx.array(), dx.offset());
            case "LeakyReluGrad" -> code.addStatement("$T.leakyReluBackward($L, $L, $N, $L, $N, $L, $N, $L, false)",
                    DENSE_GRAD, count, ElementwiseEmitter.literal(ctx.floatAttr("alpha")), saved.array(), saved.offset(),
                    dy.array(), dy.offset(), dx.array(), dx.offset());
            default -> {
                String i = ctx.locals.newName("i");
                String y = ctx.locals.newName("y");
                CodeBlock derivative = n.op().equals("SigmoidGrad") ? CodeBlock.of("$N * (1f - $N)", y, y)
                        : CodeBlock.of("1f - $N * $N", y, y);
                code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, count, i)
                        .addStatement("float $N = $L", y, saved.at(CodeBlock.of("$N", i)))
                        .addStatement("$L = $L * ($L)", dx.at(CodeBlock.of("$N", i)), dy.at(CodeBlock.of("$N", i)), derivative)
                        .endControlFlow();
            }
        }
        return code.build();
    }
}
