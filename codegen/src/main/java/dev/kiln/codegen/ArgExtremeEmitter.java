package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.DType;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;

/**
 * ArgMax and ArgMin along one axis: for every other coordinate, a scan from the preferred end (the first index, or
 * the last with select_last_index) that moves only on a strict improvement, so ties keep that end; a NaN counts
 * as the extreme and stops the scan, as in the reference evaluator.
 */
final class ArgExtremeEmitter implements KernelEmitter {
    /** Any numeric input but uint64 (its order is unsigned); the output is int64. */
    @Override
    public boolean typed(Node n) {
        DType t = n.input(0).dtype();
        return t.isNumeric() && t != DType.UINT64;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        if (!typed(n)) {
            throw ctx.unsupported(n.op() + " of " + n.input(0).type());
        }
        Shape s = n.input(0).shape();
        int axis = Shape.normalizeAxis(ctx.intAttr("axis"), s.rank());
        int length = ctx.staticDim(n.input(0), axis);
        boolean last = ctx.intAttr("select_last_index") != 0;
        boolean max = n.op().equals("ArgMax");
        ElementType t = EmitContext.type(n.input(0));
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        CodeBlock.Builder b = CodeBlock.builder();
        String o = ctx.locals.newName("o");
        b.addStatement("int $N = 0", o);
        IndexLoops loops = IndexLoops.open(ctx, b, s, axis);
        String base = ctx.locals.newName("base");
        b.addStatement("int $N = $L", base, loops.offset(s));
        CodeBlock stride = loops.stride(s, axis);
        String best = ctx.locals.newName("best");
        String bestValue = ctx.locals.newName("bestValue");
        String step = ctx.locals.newName("step");
        String k = ctx.locals.newName("k");
        String v = ctx.locals.newName("v");
        b.addStatement("int $N = $L", best, last ? length - 1 : 0);
        b.addStatement("$T $N = $L", t.element(), bestValue, x.at(CodeBlock.of("$N + $N * $L", base, best, stride)));
        boolean floating = n.input(0).dtype().isFloat();
        b.beginControlFlow("for (int $N = 1; $N < $L$L; $N++)", step, step, length,
                floating ? CodeBlock.of(" && !$T.isNaN($N)", t.element().equals(com.palantir.javapoet.TypeName.DOUBLE)
                        ? Double.class : Float.class, bestValue) : CodeBlock.of(""), step);
        b.addStatement("int $N = $L", k, last ? CodeBlock.of("$L - $N", length - 1, step) : CodeBlock.of("$N", step));
        b.addStatement("$T $N = $L", t.element(), v, x.at(CodeBlock.of("$N + $N * $L", base, k, stride)));
        CodeBlock better = CodeBlock.of("$N $L $N", v, max ? ">" : "<", bestValue);
        if (floating) {
            better = CodeBlock.of("$L || $N != $N", better, v, v);
        }
        b.beginControlFlow("if ($L)", better).addStatement("$N = $N", best, k).addStatement("$N = $N", bestValue, v)
                .endControlFlow();
        b.endControlFlow();
        b.addStatement("$L = $N", y.at(CodeBlock.of("$N++", o)), best);
        loops.close();
        return b.build();
    }
}
