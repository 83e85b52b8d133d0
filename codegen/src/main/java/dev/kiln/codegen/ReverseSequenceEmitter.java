package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;

/**
 * ReverseSequence: for each batch entry b, the first {@code sequence_lens[b]} elements along the time axis in
 * reverse order, the rest copied; any element type (it only moves elements).
 */
final class ReverseSequenceEmitter implements KernelEmitter {
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
        Shape s = n.input(0).shape();
        int batchAxis = (int) ctx.intAttr("batch_axis");
        int timeAxis = (int) ctx.intAttr("time_axis");
        // Row-major strides of the time and batch axes (both among the first two), as code over the batch.
        CodeBlock timeStride = ctx.dim(tail(s, timeAxis + 1));
        CodeBlock batchStride = ctx.dim(tail(s, batchAxis + 1));
        CodeBlock times = ctx.dim(s.dim(timeAxis));
        CodeBlock batches = ctx.dim(s.dim(batchAxis));
        TensorRef x = ctx.in(0);
        TensorRef lens = ctx.in(1);
        TensorRef y = ctx.out(0);
        String f = ctx.locals.newName("f");
        String t = ctx.locals.newName("t");
        String len = ctx.locals.newName("len");
        String src = ctx.locals.newName("src");
        CodeBlock.Builder b = CodeBlock.builder();
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", f, f, ctx.count(n.output(0)), f);
        b.addStatement("int $N = $N / ($L) % ($L)", t, f, timeStride, times);
        boolean ints = EmitContext.type(n.input(1)).element().equals(com.palantir.javapoet.TypeName.INT);
        b.addStatement("int $N = $L$L", len, ints ? "" : "(int) ", lens.at(CodeBlock.of("$N / ($L) % ($L)", f, batchStride, batches)));
        b.addStatement("int $N = $N < $N ? $N + ($N - 1 - 2 * $N) * ($L) : $N", src, t, len, f, len, t, timeStride, f);
        b.addStatement("$L = $L", y.at(CodeBlock.of("$N", f)), x.at(CodeBlock.of("$N", src)));
        b.endControlFlow();
        return b.build();
    }

    /** The product of the dims from {@code from} on. */
    private static dev.kiln.ir.Dim tail(Shape s, int from) {
        dev.kiln.ir.Dim d = dev.kiln.ir.Dim.of(1);
        for (int i = from; i < s.rank(); i++) {
            d = d.times(s.dim(i));
        }
        return d;
    }
}
