package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Node;

/**
 * DynamicQuantizeLinear in float32, as the reference evaluator computes it: a pass for min(x, 0) and max(x, 0),
 * the scale and zero point that map them onto [0, 255], then a pass quantizing x; all zeros give scale 0, zero
 * point 0 and y 0.
 */
final class DynamicQuantizeEmitter implements KernelEmitter {
    /** y and y_zero_point are uint8. */
    @Override
    public boolean typed(Node n) {
        return true;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        CodeBlock.Builder b = CodeBlock.builder();
        String min = ctx.locals.newName("min");
        String max = ctx.locals.newName("max");
        String scale = ctx.locals.newName("scale");
        String zero = ctx.locals.newName("zero");
        String i = ctx.locals.newName("i");
        CodeBlock iv = CodeBlock.of("$N", i);
        CodeBlock count = ctx.count(n.input(0));
        CodeBlock x = ctx.in(0).at(iv);
        b.addStatement("float $N = 0f", min);
        b.addStatement("float $N = 0f", max);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, count, i);
        b.addStatement("$N = $T.min($N, $L)", min, Math.class, min, x);
        b.addStatement("$N = $T.max($N, $L)", max, Math.class, max, x);
        b.endControlFlow();
        b.addStatement("float $N = ($N - $N) / 255f", scale, max, min);
        b.addStatement("int $N = $N == 0f ? 0 : (int) $T.rint($T.max(0f, $T.min(255f, 0f - $N / $N)))", zero, scale,
                Math.class, Math.class, Math.class, min, scale);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, count, i);
        b.addStatement("$L = $N == 0f ? 0 : (int) $T.max(0L, $T.min(255L, $T.rint($L / $N) + $N))", ctx.out(0).at(iv),
                scale, Math.class, Math.class, Math.class, x, scale, zero);
        b.endControlFlow();
        if (n.hasOutput(1)) {
            b.addStatement("$L = $N", ctx.out(1).at(CodeBlock.of("0")), scale);
        }
        if (n.hasOutput(2)) {
            b.addStatement("$L = $N", ctx.out(2).at(CodeBlock.of("0")), zero);
        }
        return b.build();
    }
}
