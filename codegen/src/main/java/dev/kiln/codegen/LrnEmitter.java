package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;

/**
 * LRN across channels: each element is divided by {@code (bias + alpha / size * sum of squares)^beta}, the sum
 * over the {@code size} neighbouring channels at the same position (clipped at the ends).
 */
final class LrnEmitter implements KernelEmitter {
    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Shape s = n.input(0).shape();
        int channels = ctx.staticDim(n.input(0), 1);
        Dim plane = Dim.of(1);
        for (int d = 2; d < s.rank(); d++) {
            plane = plane.times(s.dim(d));
        }
        long size = ctx.intAttr("size");
        long before = (size - 1) / 2;
        long after = size - 1 - before;
        CodeBlock p = ctx.dim(plane);
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        String n0 = ctx.locals.newName("n");
        String c = ctx.locals.newName("c");
        String i = ctx.locals.newName("i");
        String j = ctx.locals.newName("j");
        String base = ctx.locals.newName("base");
        String sum = ctx.locals.newName("sum");
        String v = ctx.locals.newName("v");
        CodeBlock.Builder b = CodeBlock.builder();
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", n0, n0, ctx.dim(s.dim(0)), n0);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", c, c, channels, c);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, p, i);
        b.addStatement("int $N = $N * $L * $L + $N", base, n0, channels, p, i);
        b.addStatement("double $N = 0", sum);
        b.beginControlFlow("for (int $N = $T.max(0, $N - $L); $N <= $T.min($L, $N + $L); $N++)", j, Math.class, c, before, j,
                Math.class, channels - 1, c, after, j);
        b.addStatement("float $N = $L", v, x.at(CodeBlock.of("$N + $N * $L", base, j, p)));
        b.addStatement("$N += $N * $N", sum, v, v);
        b.endControlFlow();
        CodeBlock at = CodeBlock.of("$N + $N * $L", base, c, p);
        b.addStatement("$L = (float) ($L / $T.pow($L + $L * $N, $L))", y.at(at), x.at(at), Math.class,
                (double) ctx.floatAttr("bias"), (double) ctx.floatAttr("alpha") / size, sum, (double) ctx.floatAttr("beta"));
        b.endControlFlow();
        b.endControlFlow();
        b.endControlFlow();
        return b.build();
    }
}
