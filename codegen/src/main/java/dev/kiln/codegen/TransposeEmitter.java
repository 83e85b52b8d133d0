package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Attr;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import java.util.ArrayList;
import java.util.List;

/**
 * Transpose as a loop nest over the output in order, reading the input through permuted strides; the
 * innermost output axis copies a contiguous run with {@code System.arraycopy} when the permutation keeps the
 * last axis in place.
 */
final class TransposeEmitter implements KernelEmitter {
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
        Shape in = n.input(0).shape();
        int rank = in.rank();
        long[] perm = n.attributes().get("perm").map(a -> ((Attr.Ints) a).toArray()).orElseGet(() -> {
            long[] p = new long[rank];
            for (int i = 0; i < rank; i++) {
                p[i] = rank - 1 - i;
            }
            return p;
        });
        List<Dim> strides = new ArrayList<>();
        Dim stride = Dim.of(1);
        for (int d = rank - 1; d >= 0; d--) {
            strides.add(0, stride);
            stride = stride.times(in.dim(d));
        }
        boolean lastKept = perm[rank - 1] == rank - 1;
        int loops = lastKept ? rank - 1 : rank;
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        CodeBlock.Builder b = CodeBlock.builder();
        String o = ctx.locals.newName("o");
        b.addStatement("int $N = $L", o, y.offset());
        List<String> idx = new ArrayList<>();
        for (int d = 0; d < loops; d++) {
            String i = ctx.locals.newName("i" + d);
            idx.add(i);
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, ctx.dim(in.dim((int) perm[d])), i);
        }
        List<CodeBlock> terms = new ArrayList<>();
        for (int d = 0; d < loops; d++) {
            Dim s = strides.get((int) perm[d]);
            terms.add(s.isStatic() && s.value() == 1 ? CodeBlock.of("$N", idx.get(d))
                    : CodeBlock.of("$N * $L", idx.get(d), ctx.dim(s)));
        }
        CodeBlock src = x.plus(terms.isEmpty() ? CodeBlock.of("0") : CodeBlock.join(terms, " + "));
        if (lastKept) {
            CodeBlock run = ctx.dim(in.dim(rank - 1));
            b.addStatement("$T.arraycopy($N, $L, $N, $N, $L)", System.class, x.array(), src, y.array(), o, run);
            b.addStatement("$N += $L", o, run);
        } else {
            b.addStatement("$N[$N++] = $N[$L]", y.array(), o, x.array(), src);
        }
        for (int d = 0; d < loops; d++) {
            b.endControlFlow();
        }
        return b.build();
    }
}
