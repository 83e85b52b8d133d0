package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;

/**
 * LpNormalization: each line along the axis divided by its L1 or L2 norm (taken in double); an all-zero line
 * stays zero, as in the reference evaluator.
 */
final class LpNormalizationEmitter implements KernelEmitter {
    @Override
    public boolean typed(Node n) {
        return n.input(0).dtype().isFloat();
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Shape s = n.input(0).shape();
        int axis = Shape.normalizeAxis(ctx.intAttr("axis"), s.rank());
        int length = ctx.staticDim(n.input(0), axis);
        Dim inner = s.product(axis + 1, s.rank());
        Dim outer = s.product(0, axis);
        boolean l1 = ctx.intAttr("p") == 1;
        ElementType t = EmitContext.type(n.output(0));
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        String o = ctx.locals.newName("o");
        String i = ctx.locals.newName("i");
        String k = ctx.locals.newName("k");
        String base = ctx.locals.newName("base");
        String norm = ctx.locals.newName("norm");
        String v = ctx.locals.newName("v");
        CodeBlock at = CodeBlock.of("$N + $N * $L", base, k, ctx.dim(inner));
        CodeBlock.Builder b = CodeBlock.builder();
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", o, o, ctx.dim(outer), o);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, ctx.dim(inner), i);
        b.addStatement("int $N = $N * $L + $N", base, o, ctx.dim(inner.times(Dim.of(length))), i);
        b.addStatement("double $N = 0", norm);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", k, k, length, k);
        b.addStatement("double $N = $L", v, x.at(at));
        b.addStatement(l1 ? "$N += $T.abs($N)" : "$N += $N * $N", l1 ? new Object[] {norm, Math.class, v}
                : new Object[] {norm, v, v});
        b.endControlFlow();
        if (!l1) {
            b.addStatement("$N = $T.sqrt($N)", norm, Math.class, norm);
        }
        b.beginControlFlow("if ($N == 0)", norm).addStatement("$N = 1", norm).endControlFlow();
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", k, k, length, k);
        b.addStatement("$L = $L", y.at(at), LossEmitter.store(t, CodeBlock.of("$L / $N", x.at(at), norm)));
        b.endControlFlow();
        b.endControlFlow().endControlFlow();
        return b.build();
    }
}
