package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Shape;
import java.util.ArrayList;
import java.util.List;

/**
 * A nest of scalar loops, one per dim of a shape, for kernels that address each element by its coordinates
 * (GatherElements, ScatterElements, Trilu, CumSum, ...): open it, build offsets from the index variables with any
 * tensor's strides, close it.
 */
final class IndexLoops {
    private final EmitContext ctx;
    private final CodeBlock.Builder b;
    final List<String> idx = new ArrayList<>();

    private IndexLoops(EmitContext ctx, CodeBlock.Builder b) {
        this.ctx = ctx;
        this.b = b;
    }

    /** Opens one loop per dim of {@code s}, skipping the dims in {@code skip} (their index is null). */
    static IndexLoops open(EmitContext ctx, CodeBlock.Builder b, Shape s, int... skip) {
        IndexLoops l = new IndexLoops(ctx, b);
        for (int d = 0; d < s.rank(); d++) {
            final int dim = d;
            if (java.util.Arrays.stream(skip).anyMatch(k -> k == dim)) {
                l.idx.add(null);
                continue;
            }
            String i = ctx.locals.newName("i" + d);
            l.idx.add(i);
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, ctx.dim(s.dim(d)), i);
        }
        return l;
    }

    void close() {
        idx.stream().filter(java.util.Objects::nonNull).forEach(i -> b.endControlFlow());
    }

    /**
     * The row-major offset in a tensor of shape {@code s} of the current coordinates, with {@code replaced}
     * (when not null) standing for the coordinate of dim {@code axis}.
     */
    CodeBlock offset(Shape s, int axis, CodeBlock replaced) {
        List<Dim> strides = StridedCopy.strides(s);
        List<CodeBlock> terms = new ArrayList<>();
        for (int d = 0; d < s.rank(); d++) {
            CodeBlock coord = d == axis && replaced != null ? replaced : idx.get(d) == null ? null : CodeBlock.of("$N", idx.get(d));
            boolean fixed = d != axis || replaced == null;
            if (coord == null || (fixed && s.dim(d).isStatic() && s.dim(d).value() == 1)) {
                continue;
            }
            terms.add(StridedCopy.isOne(strides.get(d)) ? coord : CodeBlock.of("$L * $L", coord, ctx.dim(strides.get(d))));
        }
        return terms.isEmpty() ? CodeBlock.of("0") : CodeBlock.join(terms, " + ");
    }

    CodeBlock offset(Shape s) {
        return offset(s, -1, null);
    }

    /** The stride of dim {@code axis} of shape s as code. */
    CodeBlock stride(Shape s, int axis) {
        return ctx.dim(StridedCopy.strides(s).get(axis));
    }
}
