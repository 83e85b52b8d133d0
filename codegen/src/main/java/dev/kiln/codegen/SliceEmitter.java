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
 * Bounds read at run time are clamped and checked against the compiled (declared) output shape by the runtime's
 * {@code ShapeChecks}, then a loop nest copies with the run-time first indices and steps.
 */
final class SliceEmitter implements KernelEmitter {
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
        Value data = n.input(0);
        Shape in = data.shape();
        Shape out = n.output(0).shape();
        int rank = in.rank();
        for (int i = 1; i < n.inputs().size(); i++) {
            if (n.hasInput(i) && !ctx.isConstant(n.input(i))) {
                return atRunTime(ctx);
            }
        }
        if (ctx.isDynamic(data) || ctx.isDynamic(n.output(0))) {
            return atRunTime(ctx);
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

    /**
     * Slice whose starts, ends, axes or steps are read at run time: {@code ShapeChecks.slice} clamps them as the
     * spec says into a window (per axis: first index, step, count) and checks the counts against the compiled
     * output; the copy then walks the output in order, each axis from its run-time first index by its step.
     */
    private static CodeBlock atRunTime(EmitContext ctx) {
        Node n = ctx.node;
        Shape in = n.input(0).shape();
        Shape out = n.output(0).shape();
        int rank = in.rank();
        CodeBlock.Builder b = CodeBlock.builder();
        List<String> names = new ArrayList<>();
        List<CodeBlock> args = new ArrayList<>();
        for (int i = 1; i <= 4; i++) {
            if (n.hasInput(i)) {
                TensorRef v = RunTimeShapes.longs(ctx, b, i);
                names.add("'" + n.input(i).name() + "'");
                args.add(CodeBlock.of("$N, $L", v.array(), v.offset()));
            } else {
                args.add(CodeBlock.of("$T.ABSENT, 0", RunTimeShapes.SHAPE_CHECKS));
            }
        }
        String window = RunTimeShapes.window(ctx, 3 * rank);
        if (ctx.isDynamic(n.output(0))) {
            // The counts are this run's: the runtime writes them into the output's dims field.
            b.addStatement("$T.slice($L, $S, $L, $L, $N, $N, batch, this.$N, $N)", RunTimeShapes.DYNAMIC_TENSORS,
                    RunTimeShapes.node(ctx), String.join(", ", names), CodeBlock.join(args, ", "),
                    RunTimeShapes.length(ctx, 1), RunTimeShapes.dims(ctx, n.input(0)),
                    RunTimeShapes.compiledDims(ctx, n.output(0)), window, ctx.dimsField(n.output(0)));
            ctx.defineDims(b, 0);
        } else {
            CodeBlock dims = CodeBlock.of("$N, $N", RunTimeShapes.dims(ctx, n.input(0)),
                    RunTimeShapes.dims(ctx, n.output(0)));
            b.addStatement("$T.slice($L, $S, $L, $L, $L, batch, this.$N)", RunTimeShapes.SHAPE_CHECKS,
                    RunTimeShapes.node(ctx), String.join(", ", names), CodeBlock.join(args, ", "),
                    RunTimeShapes.length(ctx, 1), dims, window);
        }
        if (out.dims().stream().anyMatch(StridedCopy::isZero)) {
            return b.build();
        }
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        List<Dim> strides = StridedCopy.strides(in);
        String o = ctx.locals.newName("o");
        b.addStatement("int $N = $L", o, y.offset());
        String[] first = new String[rank];
        String[] step = new String[rank];
        for (int d = 0; d < rank; d++) {
            first[d] = ctx.locals.newName("first" + d);
            step[d] = ctx.locals.newName("step" + d);
            b.addStatement("int $N = (int) this.$N[$L]", first[d], window, d);
            b.addStatement("int $N = (int) this.$N[$L]", step[d], window, rank + d);
        }
        String row = null;
        for (int d = 0; d < rank; d++) {
            String i = ctx.locals.newName("i" + d);
            String r = ctx.locals.newName("r" + d);
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, ctx.dim(out.dim(d)), i);
            CodeBlock index = CodeBlock.of("($N + $N * $N)", first[d], i, step[d]);
            Dim stride = strides.get(d);
            CodeBlock term = StridedCopy.isOne(stride) ? index : CodeBlock.of("$L * $L", index, ctx.dim(stride));
            b.addStatement("int $N = $L", r, row == null ? x.plus(term) : CodeBlock.of("$N + $L", row, term));
            row = r;
        }
        b.addStatement("$N[$N++] = $N[$N]", y.array(), o, x.array(), row);
        for (int d = 0; d < rank; d++) {
            b.endControlFlow();
        }
        return b.build();
    }
}
