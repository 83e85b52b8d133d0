package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.List;

/**
 * Split as one strided copy per output from its slab of the input; the parts' sizes are the outputs' dims along
 * the axis (shape inference has already read {@code split} or {@code num_outputs}, or the model declares them
 * when {@code split} is read at run time: then the step first checks the sizes).
 */
final class SplitEmitter implements KernelEmitter {
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
        int axis = Shape.normalizeAxis(ctx.intAttr("axis"), in.rank());
        List<Dim> inStrides = StridedCopy.strides(in);
        CodeBlock.Builder b = CodeBlock.builder();
        if (RunTimeShapes.atRunTime(ctx, 1)) {
            long[] parts = new long[n.outputs().size()];
            for (int i = 0; i < parts.length; i++) {
                parts[i] = RunTimeShapes.encode(ctx, n.output(i).shape().dim(axis));
            }
            TensorRef values = RunTimeShapes.longs(ctx, b, 1);
            b.addStatement("$T.split($L, $L, $N, $L, $L, $L, $N, $N, batch)", RunTimeShapes.SHAPE_CHECKS,
                    RunTimeShapes.node(ctx), RunTimeShapes.name(ctx, 1), values.array(), values.offset(),
                    RunTimeShapes.length(ctx, 1), axis, RunTimeShapes.dims(ctx, n.input(0)),
                    RunTimeShapes.dims(ctx, parts, n.input(1).name() + "Parts"));
        }
        Dim start = Dim.of(0);
        for (Value out : n.outputs()) {
            if (out.isAbsent()) {
                throw ctx.unsupported("Split with an omitted output");
            }
            Shape s = out.shape();
            List<Dim> outStrides = StridedCopy.strides(s);
            List<StridedCopy.Axis> axes = new ArrayList<>();
            for (int d = 0; d < s.rank(); d++) {
                axes.add(new StridedCopy.Axis(s.dim(d), inStrides.get(d), 1, outStrides.get(d)));
            }
            CodeBlock base = StridedCopy.isZero(start) ? CodeBlock.of("0") : ctx.dim(start.times(inStrides.get(axis)));
            StridedCopy.emit(ctx, b, axes, ctx.in(0), base, ctx.ref(out), CodeBlock.of("0"));
            Dim next = start;
            start = StridedCopy.isZero(start) ? s.dim(axis) : start.plus(s.dim(axis))
                    .orElseThrow(() -> ctx.unsupported("Split along an axis mixing static and batch-sized parts ("
                            + next + " + " + s.dim(axis) + ")"));
        }
        return b.build();
    }
}
