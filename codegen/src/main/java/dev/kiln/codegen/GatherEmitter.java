package dev.kiln.codegen;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.TypeName;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;

/**
 * Gather with constant indices (e.g. the last time step of an RNN's output): for every block before the axis,
 * one {@code System.arraycopy} per index of the contiguous slice after it.
 */
final class GatherEmitter implements KernelEmitter {
    /** Moves elements without arithmetic, so any element type. */
    @Override
    public boolean typed(Node n) {
        return true;
    }

    /** Copies references, so strings too. */
    @Override
    public boolean strings(Node n) {
        return true;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Value data = n.input(0);
        Value indices = n.input(1);
        if (!ctx.isConstant(indices)) {
            return runtimeIndices(ctx);
        }
        Shape s = data.shape();
        int axis = Shape.normalizeAxis(ctx.intAttr("axis"), s.rank());
        int axisDim = ctx.staticDim(data, axis);
        Tensor t = ctx.constant(indices);
        StringBuilder key = new StringBuilder("indices:");
        int[] idx = new int[t.size()];
        for (int i = 0; i < idx.length; i++) {
            long v = t.getLong(i);
            idx[i] = (int) (v < 0 ? v + axisDim : v);
            key.append(idx[i]).append(',');
        }
        Dim outer = s.product(0, axis);
        Dim inner = s.product(axis + 1, s.rank());
        CodeBlock.Builder init = CodeBlock.builder().add("{");
        for (int i = 0; i < idx.length; i++) {
            init.add(i == 0 ? "$L" : ", $L", idx[i]);
        }
        String field = ctx.staticField(key.toString(), ArrayTypeName.of(TypeName.INT),
                Identifiers.method(n).toUpperCase(java.util.Locale.ROOT) + "_INDICES", init.add("}").build());
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        String o = ctx.locals.newName("o");
        String j = ctx.locals.newName("j");
        CodeBlock innerCode = ctx.dim(inner);
        return CodeBlock.builder()
                .beginControlFlow("for (int $N = 0; $N < $L; $N++)", o, o, ctx.dim(outer), o)
                .beginControlFlow("for (int $N = 0; $N < $N.length; $N++)", j, j, field, j)
                .addStatement("$T.arraycopy($N, $L, $N, $L, $L)", System.class, x.array(),
                        x.plus(CodeBlock.of("($N * $L + $N[$N]) * $L", o, axisDim, field, j, innerCode)), y.array(),
                        y.plus(CodeBlock.of("($N * $N.length + $N) * $L", o, field, j, innerCode)), innerCode)
                .endControlFlow()
                .endControlFlow()
                .build();
    }

    /**
     * Indices read at run time: for every block before the axis and every index (negative counts from the end,
     * out of range is an {@code IndexOutOfBoundsException} naming the node), one copy of the slice after it.
     */
    private static CodeBlock runtimeIndices(EmitContext ctx) {
        Node n = ctx.node;
        Shape s = n.input(0).shape();
        int axis = Shape.normalizeAxis(ctx.intAttr("axis"), s.rank());
        int axisDim = ctx.staticDim(n.input(0), axis);
        Dim outer = s.product(0, axis);
        Dim inner = s.product(axis + 1, s.rank());
        TensorRef x = ctx.in(0);
        TensorRef idx = ctx.in(1);
        TensorRef y = ctx.out(0);
        String o = ctx.locals.newName("o");
        String j = ctx.locals.newName("j");
        String k = ctx.locals.newName("k");
        CodeBlock count = ctx.count(n.input(1));
        CodeBlock innerCode = ctx.dim(inner);
        return CodeBlock.builder()
                .beginControlFlow("for (int $N = 0; $N < $L; $N++)", o, o, ctx.dim(outer), o)
                .beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, count, j)
                .addStatement("long $N = $L", k, idx.at(CodeBlock.of("$N", j)))
                .beginControlFlow("if ($N < 0)", k).addStatement("$N += $L", k, axisDim).endControlFlow()
                .beginControlFlow("if ($N < 0 || $N >= $L)", k, k, axisDim)
                .addStatement("throw new $T($S + $L + $S)", IndexOutOfBoundsException.class,
                        ModelPlan.describe(n) + ": index ", idx.at(CodeBlock.of("$N", j)),
                        " is out of bounds for axis " + axis + " of size " + axisDim)
                .endControlFlow()
                .addStatement("$T.arraycopy($N, $L, $N, $L, $L)", System.class, x.array(),
                        x.plus(CodeBlock.of("($N * $L + (int) $N) * $L", o, axisDim, k, innerCode)), y.array(),
                        y.plus(CodeBlock.of("($N * $L + $N) * $L", o, count, j, innerCode)), innerCode)
                .endControlFlow()
                .endControlFlow()
                .build();
    }
}
