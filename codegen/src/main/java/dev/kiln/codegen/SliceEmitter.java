package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.List;

/**
 * Slice with constant starts, axes and steps (read at generation time; the output's dims give the counts) as
 * one strided copy: negative steps walk the input backwards, unit-step runs on the last axis are arraycopies.
 */
final class SliceEmitter implements KernelEmitter {
    /** Moves elements without arithmetic, so any element type. */
    @Override
    public boolean typed(Node n) {
        return true;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Value data = n.input(0);
        Shape in = data.shape();
        Shape out = n.output(0).shape();
        int rank = in.rank();
        for (int i = 1; i < n.inputs().size(); i++) {
            if (n.hasInput(i) && !ctx.isConstant(n.input(i))) {
                throw ctx.unsupported("Slice with " + List.of("starts", "ends", "axes", "steps").get(i - 1)
                        + " computed at run time");
            }
        }
        Tensor starts = ctx.constant(n.input(1));
        long[] start = new long[rank];
        long[] step = new long[rank];
        java.util.Arrays.fill(step, 1);
        for (int k = 0; k < starts.size(); k++) {
            int axis = n.hasInput(3) ? Shape.normalizeAxis(ctx.constant(n.input(3)).getLong(k), rank) : k;
            long st = n.hasInput(4) ? ctx.constant(n.input(4)).getLong(k) : 1;
            long dim = ctx.staticDim(data, axis);
            long s = starts.getLong(k);
            if (s < 0) {
                s += dim;
            }
            s = st > 0 ? Math.clamp(s, 0, dim) : Math.clamp(s, 0, dim - 1);
            start[axis] = s;
            step[axis] = st;
        }
        List<Dim> inStrides = StridedCopy.strides(in);
        List<Dim> outStrides = StridedCopy.strides(out);
        List<StridedCopy.Axis> axes = new ArrayList<>();
        for (int d = 0; d < rank; d++) {
            axes.add(new StridedCopy.Axis(out.dim(d), inStrides.get(d), step[d], outStrides.get(d)));
        }
        CodeBlock.Builder b = CodeBlock.builder();
        StridedCopy.emit(ctx, b, axes, ctx.in(0), StridedCopy.offset(ctx, start, inStrides), ctx.out(0), CodeBlock.of("0"));
        return b.build();
    }
}
