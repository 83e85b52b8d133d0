package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.List;

/** Concat as one strided copy per input into its slab of the output (one arraycopy per outer block). */
final class ConcatEmitter implements KernelEmitter {
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
        Shape out = n.output(0).shape();
        int axis = Shape.normalizeAxis(ctx.intAttr("axis"), out.rank());
        List<Dim> outStrides = StridedCopy.strides(out);
        CodeBlock.Builder b = CodeBlock.builder();
        Dim start = Dim.of(0);
        for (Value in : n.inputs()) {
            Shape s = in.shape();
            List<Dim> inStrides = StridedCopy.strides(s);
            List<StridedCopy.Axis> axes = new ArrayList<>();
            for (int d = 0; d < s.rank(); d++) {
                axes.add(new StridedCopy.Axis(s.dim(d), inStrides.get(d), 1, outStrides.get(d)));
            }
            CodeBlock base = StridedCopy.isZero(start) ? CodeBlock.of("0") : ctx.dim(start.times(outStrides.get(axis)));
            StridedCopy.emit(ctx, b, axes, ctx.ref(in), CodeBlock.of("0"), ctx.out(0), base);
            Dim next = start;
            start = StridedCopy.isZero(start) ? s.dim(axis) : start.plus(s.dim(axis))
                    .orElseThrow(() -> ctx.unsupported("Concat along an axis mixing static and batch-sized inputs ("
                            + next + " + " + s.dim(axis) + ")"));
        }
        return b.build();
    }
}
