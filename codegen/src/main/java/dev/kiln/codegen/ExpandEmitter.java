package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import java.util.ArrayList;
import java.util.List;

/**
 * Expand (broadcast to the output's shape) and Tile (repeat along each axis) as strided copies: a broadcast
 * axis reads with stride 0, so a repeated innermost element becomes an {@code Arrays.fill} and repeated rows
 * become arraycopies. The target shape and repeats are the output's dims, known at generation time; when the
 * shape or repeats input is read at run time, the step first checks that it gives those dims.
 */
final class ExpandEmitter implements KernelEmitter {
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
        Shape out = n.output(0).shape();
        List<Dim> inStrides = StridedCopy.strides(in);
        List<Dim> outStrides = StridedCopy.strides(out);
        List<StridedCopy.Axis> axes = new ArrayList<>();
        if (n.op().equals("Tile")) {
            // Output axis d is (repeat r, element i) with index r * in_d + i: two loops, the outer one re-reading.
            for (int d = 0; d < in.rank(); d++) {
                Dim repeats = out.dim(d).dividedBy(in.dim(d)).orElseThrow(() -> ctx.unsupported("Tile of a batch-sized axis"));
                axes.add(new StridedCopy.Axis(repeats, inStrides.get(d), 0, in.dim(d).times(outStrides.get(d))));
                axes.add(new StridedCopy.Axis(in.dim(d), inStrides.get(d), 1, outStrides.get(d)));
            }
        } else {
            int lead = out.rank() - in.rank();
            for (int d = 0; d < out.rank(); d++) {
                int j = d - lead;
                boolean broadcast = j < 0 || (StridedCopy.isOne(in.dim(j)) && !StridedCopy.isOne(out.dim(d)));
                axes.add(new StridedCopy.Axis(out.dim(d), broadcast ? Dim.of(0) : inStrides.get(j), broadcast ? 0 : 1,
                        outStrides.get(d)));
            }
        }
        CodeBlock.Builder b = CodeBlock.builder();
        if (RunTimeShapes.atRunTime(ctx, 1)) {
            TensorRef values = RunTimeShapes.longs(ctx, b, 1);
            b.addStatement("$T.$L($L, $L, $N, $L, $L, $N, $N, batch)", RunTimeShapes.SHAPE_CHECKS,
                    ModelPlan.lower(n.op()), RunTimeShapes.node(ctx), RunTimeShapes.name(ctx, 1), values.array(), values.offset(),
                    RunTimeShapes.length(ctx, 1), RunTimeShapes.dims(ctx, n.input(0)),
                    RunTimeShapes.dims(ctx, n.output(0)));
        }
        StridedCopy.emit(ctx, b, axes, ctx.in(0), CodeBlock.of("0"), ctx.out(0), CodeBlock.of("0"));
        return b.build();
    }
}
