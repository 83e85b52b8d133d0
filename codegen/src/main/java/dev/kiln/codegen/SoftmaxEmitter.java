package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;

/** Softmax and LogSoftmax over the last axis, as rows of the runtime's vectorized {@code Softmax}. */
final class SoftmaxEmitter implements KernelEmitter {
    static final ClassName SOFTMAX = ClassName.get("dev.kiln.runtime", "Softmax");

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Shape s = n.input(0).shape();
        int axis = Shape.normalizeAxis(ctx.intAttr("axis"), s.rank());
        if (axis != s.rank() - 1) {
            throw ctx.unsupported(n.op() + " over an axis other than the last");
        }
        Dim rows = Dim.of(1);
        for (int i = 0; i < s.rank() - 1; i++) {
            rows = rows.times(s.dim(i));
        }
        TensorRef in = ctx.in(0);
        TensorRef out = ctx.out(0);
        String kernel = n.op().equals("Softmax") ? "softmax" : "logSoftmax";
        return CodeBlock.builder().addStatement("$T.$N($L, $L, $N, $L, $N, $L)", SOFTMAX, kernel, ctx.dim(rows),
                ctx.staticDim(n.input(0), s.rank() - 1), in.array(), in.offset(), out.array(), out.offset()).build();
    }
}
