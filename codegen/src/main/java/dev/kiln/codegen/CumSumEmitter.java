package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.TypeName;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;

/**
 * CumSum and CumProd along an axis that is a constant or read at run time: the tensor is (outer, length, inner)
 * around the axis; each of the outer x inner lines is accumulated from one end (optionally exclusive), floats in
 * double and integers in long, each output rounded or wrapped to the element type.
 */
final class CumSumEmitter implements KernelEmitter {
    /** Numeric elements of any type. */
    @Override
    public boolean typed(Node n) {
        return n.input(0).dtype().isNumeric() && n.input(0).dtype() != dev.kiln.ir.DType.UINT64;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        if (!typed(n)) {
            throw ctx.unsupported(n.op() + " of " + n.input(0).type());
        }
        Shape s = n.input(0).shape();
        boolean exclusive = ctx.intAttr("exclusive") != 0;
        boolean reverse = ctx.intAttr("reverse") != 0;
        ElementType t = EmitContext.type(n.output(0));
        boolean floating = n.input(0).dtype().isFloat();
        boolean product = n.op().equals("CumProd");
        String accumulate = product ? "*=" : "+=";
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        CodeBlock.Builder b = CodeBlock.builder();
        String dims = ctx.locals.newName("dims");
        String axis = ctx.locals.newName("axis");
        CodeBlock.Builder init = CodeBlock.builder().add("{");
        for (int d = 0; d < s.rank(); d++) {
            init.add(d == 0 ? "$L" : ", $L", ctx.dim(s.dim(d)));
        }
        b.addStatement("int[] $N = $L", dims, init.add("}").build());
        CodeBlock axisValue = ctx.isConstant(n.input(1)) ? CodeBlock.of("$L", ctx.constant(n.input(1)).getLong(0))
                : CodeBlock.of("$T.toIntExact($L)", Math.class, ctx.in(1).at(CodeBlock.of("0")));
        b.addStatement("int $N = $L", axis, axisValue);
        b.beginControlFlow("if ($N < 0)", axis).addStatement("$N += $L", axis, s.rank()).endControlFlow();
        String length = ctx.locals.newName("length");
        String inner = ctx.locals.newName("inner");
        String outer = ctx.locals.newName("outer");
        String d = ctx.locals.newName("d");
        b.addStatement("int $N = $N[$N]", length, dims, axis);
        b.addStatement("int $N = 1", inner);
        b.beginControlFlow("for (int $N = $N + 1; $N < $L; $N++)", d, axis, d, s.rank(), d)
                .addStatement("$N *= $N[$N]", inner, dims, d).endControlFlow();
        b.addStatement("int $N = $L / $T.max(1, $N * $N)", outer, ctx.dim(s.elementCount()), Math.class, length, inner);
        String o = ctx.locals.newName("o");
        String i = ctx.locals.newName("i");
        String step = ctx.locals.newName("step");
        String f = ctx.locals.newName("f");
        String sum = ctx.locals.newName("sum");
        b.beginControlFlow("for (int $N = 0; $N < $N; $N++)", o, o, outer, o);
        b.beginControlFlow("for (int $N = 0; $N < $N; $N++)", i, i, inner, i);
        b.addStatement("$T $N = $L", floating ? TypeName.DOUBLE : TypeName.LONG, sum, product ? 1 : 0);
        b.beginControlFlow("for (int $N = 0; $N < $N; $N++)", step, step, length, step);
        b.addStatement("int $N = ($N * $N + $L) * $N + $N", f, o, length,
                reverse ? CodeBlock.of("$N - 1 - $N", length, step) : CodeBlock.of("$N", step), inner, i);
        CodeBlock stored = floating ? LossEmitter.store(t, CodeBlock.of("$N", sum)) : t.narrow(CodeBlock.of("$N", sum));
        if (exclusive) {
            b.addStatement("$T v = $L", t.element(), x.at(CodeBlock.of("$N", f)));
            b.addStatement("$L = $L", y.at(CodeBlock.of("$N", f)), stored);
            b.addStatement("$N $L v", sum, accumulate);
        } else {
            b.addStatement("$N $L $L", sum, accumulate, x.at(CodeBlock.of("$N", f)));
            b.addStatement("$L = $L", y.at(CodeBlock.of("$N", f)), stored);
        }
        b.endControlFlow().endControlFlow().endControlFlow();
        return b.build();
    }
}
