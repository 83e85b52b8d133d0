package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.DType;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;

/**
 * Ops whose output is determined by their input's shape alone: Shape (its dims as int64, the batch read from
 * {@code batch}) and EyeLike (ones on the k-th diagonal of a 2-D tensor, in any element type).
 */
final class GeneratorEmitter implements KernelEmitter {
    @Override
    public boolean typed(Node n) {
        return true;
    }

    /** Shape reads only its input's dims, whatever its elements. */
    @Override
    public boolean strings(Node n) {
        return n.op().equals("Shape");
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        return ctx.node.op().equals("Shape") ? shape(ctx) : eyeLike(ctx);
    }

    private static CodeBlock shape(EmitContext ctx) {
        Node n = ctx.node;
        Shape s = n.input(0).shape();
        int rank = s.rank();
        int start = clamp(ctx.intAttr("start"), rank);
        int end = n.attributes().get("end").isPresent() ? clamp(ctx.intAttr("end"), rank) : rank;
        TensorRef y = ctx.out(0);
        CodeBlock.Builder b = CodeBlock.builder();
        for (int d = start; d < end; d++) {
            b.addStatement("$L = $L", y.at(CodeBlock.of("$L", d - start)), widen(ctx.dim(s.dim(d))));
        }
        return b.build();
    }

    /** A dim's code as a long expression ({@code 3L}, {@code (long) batch}). */
    private static CodeBlock widen(CodeBlock dim) {
        String text = dim.toString();
        return text.chars().allMatch(Character::isDigit) ? CodeBlock.of("$LL", text) : CodeBlock.of("(long) ($L)", dim);
    }

    /** ONNX's clamping of Shape's start and end: negative counts from the end, then into [0, rank]. */
    private static int clamp(long v, int rank) {
        long r = v < 0 ? v + rank : v;
        return (int) Math.max(0, Math.min(rank, r));
    }

    private static CodeBlock eyeLike(EmitContext ctx) {
        Node n = ctx.node;
        Shape s = n.input(0).shape();
        CodeBlock rows = ctx.dim(s.dim(0));
        CodeBlock cols = ctx.dim(s.dim(1));
        long k = ctx.intAttr("k");
        ElementType t = EmitContext.type(n.output(0));
        CodeBlock one = t.dtype() == DType.BOOL ? CodeBlock.of("true") : t.elementLiteral(1.0);
        TensorRef y = ctx.out(0);
        String i = ctx.locals.newName("i");
        String j = ctx.locals.newName("j");
        CodeBlock.Builder b = CodeBlock.builder();
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, rows, i);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, cols, j);
        b.addStatement("$L = (long) $N - $N == $LL ? $L : $L", y.at(CodeBlock.of("$N * $L + $N", i, cols, j)), j, i, k, one,
                t.zero());
        b.endControlFlow();
        b.endControlFlow();
        return b.build();
    }
}
