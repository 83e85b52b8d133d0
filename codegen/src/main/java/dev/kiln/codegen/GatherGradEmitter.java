package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;

/**
 * {@code dev.kiln.GatherGrad(dY, indices, shape)}: dX zeroed, then each index's slice of dY added at its place
 * along the axis (repeated indices add up). Constant indices (an RNN classifier's last time step) are unrolled;
 * indices read at run time (an embedding's token ids, int32 or int64) are a loop. The shape input is read from
 * dX's static type.
 */
final class GatherGradEmitter implements KernelEmitter {
    /** The indices may be int32 or int64 (dY and dX are float32). */
    @Override
    public boolean typed(Node n) {
        return true;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Value indices = n.input(1);
        if (n.output(0).dtype() != dev.kiln.ir.DType.FLOAT32) {
            throw ctx.unsupported("GatherGrad of " + n.output(0).type() + " (float32 gradients only)");
        }
        if (!ctx.isConstant(indices)) {
            return runtimeIndices(ctx);
        }
        Value dx = n.output(0);
        Shape s = dx.shape();
        int axis = Shape.normalizeAxis(ctx.intAttr("axis"), s.rank());
        int axisDim = ctx.staticDim(dx, axis);
        Tensor t = ctx.constant(indices);
        Dim outer = s.product(0, axis);
        Dim inner = s.product(axis + 1, s.rank());
        TensorRef g = ctx.in(0);
        TensorRef out = ctx.out(0);
        CodeBlock innerCode = ctx.dim(inner);
        String o = ctx.locals.newName("o");
        String i = ctx.locals.newName("i");
        CodeBlock.Builder code = CodeBlock.builder();
        code.addStatement("$T.fill($N, $L, $L, 0f)", java.util.Arrays.class, out.array(), out.offset(),
                out.plus(ctx.count(dx)));
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", o, o, ctx.dim(outer), o);
        for (int k = 0; k < t.size(); k++) {
            long v = t.getLong(k);
            int index = (int) (v < 0 ? v + axisDim : v);
            code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, innerCode, i)
                    .addStatement("$L += $L", out.at(CodeBlock.of("($N * $L + $L) * $L + $N", o, axisDim, index, innerCode, i)),
                            g.at(CodeBlock.of("($N * $L + $L) * $L + $N", o, t.size(), k, innerCode, i)))
                    .endControlFlow();
        }
        return code.endControlFlow().build();
    }

    /**
     * Indices read at run time: the forward Gather already refused any out of range, so each is only brought into
     * [0, axis) when negative.
     */
    private static CodeBlock runtimeIndices(EmitContext ctx) {
        Node n = ctx.node;
        Value dx = n.output(0);
        Shape s = dx.shape();
        int axis = Shape.normalizeAxis(ctx.intAttr("axis"), s.rank());
        int axisDim = ctx.staticDim(dx, axis);
        Dim outer = s.product(0, axis);
        Dim inner = s.product(axis + 1, s.rank());
        TensorRef g = ctx.in(0);
        TensorRef idx = ctx.in(1);
        TensorRef out = ctx.out(0);
        CodeBlock count = ctx.count(n.input(1));
        CodeBlock innerCode = ctx.dim(inner);
        String o = ctx.locals.newName("o");
        String j = ctx.locals.newName("j");
        String k = ctx.locals.newName("k");
        String to = ctx.locals.newName("to");
        String from = ctx.locals.newName("from");
        String i = ctx.locals.newName("i");
        return CodeBlock.builder()
                .addStatement("$T.fill($N, $L, $L, 0f)", java.util.Arrays.class, out.array(), out.offset(),
                        out.plus(ctx.count(dx)))
                .beginControlFlow("for (int $N = 0; $N < $L; $N++)", o, o, ctx.dim(outer), o)
                .beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, count, j)
                .addStatement("long $N = $L", k, idx.at(CodeBlock.of("$N", j)))
                .addStatement("int $N = $L", to, out.plus(CodeBlock.of("($N * $L + (int) ($N < 0 ? $N + $L : $N)) * $L",
                        o, axisDim, k, k, axisDim, k, innerCode)))
                .addStatement("int $N = $L", from, g.plus(CodeBlock.of("($N * $L + $N) * $L", o, count, j, innerCode)))
                .beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, innerCode, i)
                .addStatement("$N[$N + $N] += $N[$N + $N]", out.array(), to, i, g.array(), from, i)
                .endControlFlow()
                .endControlFlow()
                .endControlFlow()
                .build();
    }
}
