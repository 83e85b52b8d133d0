package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;

/**
 * Trilu: keeps the upper (column - row >= k) or lower (column - row <= k) triangle of each matrix of the last two
 * dims and zeroes the rest; k is a constant or read from its input at run time.
 */
final class TriluEmitter implements KernelEmitter {
    /** Moves elements and writes zeros, so any element type. */
    @Override
    public boolean typed(Node n) {
        return true;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Shape s = n.input(0).shape();
        int rows = ctx.staticDim(n.input(0), s.rank() - 2);
        int cols = ctx.staticDim(n.input(0), s.rank() - 1);
        boolean upper = ctx.intAttr("upper") != 0;
        CodeBlock.Builder b = CodeBlock.builder();
        if (rows == 0 || cols == 0) {
            return b.build();
        }
        String k = ctx.locals.newName("k");
        if (!n.hasInput(1)) {
            b.addStatement("long $N = 0", k);
        } else if (ctx.isConstant(n.input(1))) {
            b.addStatement("long $N = $LL", k, ctx.constant(n.input(1)).getLong(0));
        } else {
            b.addStatement("long $N = $L", k, ctx.in(1).at(CodeBlock.of("0")));
        }
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        String f = ctx.locals.newName("f");
        String i = ctx.locals.newName("i");
        String j = ctx.locals.newName("j");
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", f, f, ctx.count(n.output(0)), f);
        b.addStatement("int $N = $N / $L % $L", i, f, cols, rows);
        b.addStatement("int $N = $N % $L", j, f, cols);
        b.addStatement("$L = $N - $N $L $N ? $L : $L", y.at(CodeBlock.of("$N", f)), j, i, upper ? ">=" : "<=", k,
                x.at(CodeBlock.of("$N", f)), EmitContext.type(n.output(0)).zero());
        b.endControlFlow();
        return b.build();
    }
}
