package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;

/**
 * {@code dev.kiln.GatherGrad(dY, indices, shape)} with constant indices (an RNN classifier's last time step): dX
 * zeroed, then each index's slice of dY added at its place along the axis (repeated indices add up). The shape
 * input is read from dX's static type.
 */
final class GatherGradEmitter implements KernelEmitter {
    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Value indices = n.input(1);
        if (!ctx.isConstant(indices)) {
            throw ctx.unsupported("GatherGrad with indices computed at run time");
        }
        Value dx = n.output(0);
        Shape s = dx.shape();
        int axis = Shape.normalizeAxis(ctx.intAttr("axis"), s.rank());
        int axisDim = ctx.staticDim(dx, axis);
        Tensor t = ctx.constant(indices);
        Dim outer = Dim.of(1);
        for (int d = 0; d < axis; d++) {
            outer = outer.times(s.dim(d));
        }
        Dim inner = Dim.of(1);
        for (int d = axis + 1; d < s.rank(); d++) {
            inner = inner.times(s.dim(d));
        }
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
}
