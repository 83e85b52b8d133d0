package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Pad (negative pads crop) with a constant or run-time fill value. Constant mode fills the output with the value
 * and copies the input into its interior; reflect, edge and wrap walk the output in order, mapping each index back
 * into the input one axis at a time. Pads and axes are read at generation time when constant; read at run time,
 * they are checked against the compiled (declared) output shape by the runtime's {@code ShapeChecks} first.
 */
final class PadEmitter implements KernelEmitter {
    /** Moves elements and fills with the constant value, so any element type. */
    @Override
    public boolean typed(Node n) {
        return true;
    }

    /** Copies and fills references, so strings too (the default fill is the empty string, as ONNX says). */
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
        String mode = ctx.stringAttr("mode");
        if (!List.of("constant", "reflect", "edge", "wrap").contains(mode)) {
            throw ctx.unsupported("Pad mode '" + mode + "'");
        }
        // The fill value may come at run time (read from its one-element input); pads and axes fix the shape.
        if (!ctx.isConstant(n.input(1)) || n.hasInput(3) && !ctx.isConstant(n.input(3)) || ctx.isDynamic(data)
                || ctx.isDynamic(n.output(0))) {
            return atRunTime(ctx, mode);
        }
        Tensor pads = ctx.constant(n.input(1));
        long[] begin = new long[rank];
        long[] end = new long[rank];
        int count = pads.size() / 2;
        for (int k = 0; k < count; k++) {
            int axis = n.hasInput(3) ? Shape.normalizeAxis(ctx.constant(n.input(3)).getLong(k), rank) : k;
            begin[axis] = pads.getLong(k);
            end[axis] = pads.getLong(k + count);
        }
        CodeBlock.Builder b = CodeBlock.builder();
        if (mode.equals("constant")) {
            constant(ctx, b, begin, end);
        } else {
            CodeBlock[] shift = new CodeBlock[rank];
            CodeBlock[] keptStart = new CodeBlock[rank];
            CodeBlock[] kept = new CodeBlock[rank];
            boolean[] unchanged = new boolean[rank];
            for (int d = 0; d < rank; d++) {
                unchanged[d] = begin[d] == 0 && out.dim(d).equals(in.dim(d));
                boolean wrap = mode.equals("wrap") && !unchanged[d];
                shift[d] = CodeBlock.of("$L", wrap ? Math.max(begin[d], 0) : begin[d]);
                keptStart[d] = CodeBlock.of("$L", Math.max(-begin[d], 0));
                kept[d] = CodeBlock.of("$L", unchanged[d] ? 0
                        : ctx.staticDim(data, d) + Math.min(begin[d], 0) + Math.min(end[d], 0));
            }
            mapped(ctx, b, shift, keptStart, kept, unchanged, mode);
        }
        return b.build();
    }

    /** The fill value: 0 of the element type (the empty string for strings), the constant, or element 0 of the run-time input. */
    private static CodeBlock fillValue(EmitContext ctx) {
        Node n = ctx.node;
        ElementType t = EmitContext.type(n.output(0));
        return !n.hasInput(2) ? (t.isString() ? t.zero() : t.elementLiteral(0))
                : ctx.isConstant(n.input(2)) ? t.elementLiteral(ctx.constant(n.input(2)), 0)
                : ctx.in(2).at(CodeBlock.of("0"));
    }

    /**
     * Pad whose pads or axes are read at run time: {@code ShapeChecks.pad} resolves them into a window (per axis: pad
     * before, pad after) and checks the padded dims against the compiled (declared) output shape. Constant mode then
     * fills the output and copies the kept part of the input row by row; the other modes map each output index back.
     */
    private static CodeBlock atRunTime(EmitContext ctx, String mode) {
        Node n = ctx.node;
        Shape in = n.input(0).shape();
        Shape out = n.output(0).shape();
        int rank = in.rank();
        CodeBlock.Builder b = CodeBlock.builder();
        TensorRef pads = RunTimeShapes.longs(ctx, b, 1);
        CodeBlock axes = CodeBlock.of("$T.ABSENT, 0, 0", RunTimeShapes.SHAPE_CHECKS);
        if (n.hasInput(3)) {
            TensorRef a = RunTimeShapes.longs(ctx, b, 3);
            axes = CodeBlock.of("$N, $L, $L", a.array(), a.offset(), RunTimeShapes.length(ctx, 3));
        }
        String window = RunTimeShapes.window(ctx, 2 * rank);
        CodeBlock args = CodeBlock.of("$L, $L, $N, $L, $L, $L, $N", RunTimeShapes.node(ctx), RunTimeShapes.name(ctx, 1),
                pads.array(), pads.offset(), RunTimeShapes.length(ctx, 1), axes, RunTimeShapes.dims(ctx, n.input(0)));
        if (ctx.isDynamic(n.output(0))) {
            // The padded dims are this run's: the runtime writes them into the output's dims field.
            b.addStatement("$T.pad($L, $N, batch, this.$N, $N)", RunTimeShapes.DYNAMIC_TENSORS, args,
                    RunTimeShapes.compiledDims(ctx, n.output(0)), window, ctx.dimsField(n.output(0)));
            ctx.defineDims(b, 0);
        } else {
            b.addStatement("$T.pad($L, $N, batch, this.$N)", RunTimeShapes.SHAPE_CHECKS, args,
                    RunTimeShapes.dims(ctx, n.output(0)), window);
        }
        if (out.dims().stream().anyMatch(StridedCopy::isZero)) {
            return b.build();
        }
        CodeBlock[] before = new CodeBlock[rank];
        String[] after = new String[rank];
        for (int d = 0; d < rank; d++) {
            String p = ctx.locals.newName("before" + d);
            after[d] = ctx.locals.newName("after" + d);
            b.addStatement("int $N = (int) this.$N[$L]", p, window, d);
            b.addStatement("int $N = (int) this.$N[$L]", after[d], window, rank + d);
            before[d] = CodeBlock.of("$N", p);
        }
        if (mode.equals("constant")) {
            constantAtRunTime(ctx, b, before, after);
        } else {
            CodeBlock[] shift = new CodeBlock[rank];
            CodeBlock[] keptStart = new CodeBlock[rank];
            CodeBlock[] kept = new CodeBlock[rank];
            for (int d = 0; d < rank; d++) {
                boolean wrap = mode.equals("wrap");
                shift[d] = wrap ? CodeBlock.of("$T.max($L, 0)", Math.class, before[d]) : before[d];
                keptStart[d] = CodeBlock.of("$T.max(-$L, 0)", Math.class, before[d]);
                kept[d] = CodeBlock.of("($L + $T.min($L, 0) + $T.min($N, 0))", ctx.dim(in.dim(d)), Math.class,
                        before[d], Math.class, after[d]);
            }
            mapped(ctx, b, shift, keptStart, kept, new boolean[rank], mode);
        }
        return b.build();
    }

    /** Fills the output, then copies the input's kept part (cropped by negative pads) into place, rows by arraycopy. */
    private static void constantAtRunTime(EmitContext ctx, CodeBlock.Builder b, CodeBlock[] before, String[] after) {
        Node n = ctx.node;
        Shape in = n.input(0).shape();
        Shape out = n.output(0).shape();
        int rank = in.rank();
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        b.addStatement("$T.fill($N, $L, $L, $L)", Arrays.class, y.array(), y.offset(), y.plus(ctx.count(n.output(0))),
                fillValue(ctx));
        if (rank == 0) {
            b.addStatement("$L = $L", y.at(CodeBlock.of("0")), x.at(CodeBlock.of("0")));
            return;
        }
        List<Dim> inStrides = StridedCopy.strides(in);
        List<Dim> outStrides = StridedCopy.strides(out);
        String[] kept = new String[rank];
        for (int d = 0; d < rank; d++) {
            kept[d] = ctx.locals.newName("kept" + d);
            b.addStatement("int $N = $T.max(0, $L + $T.min($L, 0) + $T.min($N, 0))", kept[d], Math.class,
                    ctx.dim(in.dim(d)), Math.class, before[d], Math.class, after[d]);
        }
        String src = null;
        String dst = null;
        for (int d = 0; d < rank - 1; d++) {
            String i = ctx.locals.newName("i" + d);
            String r = ctx.locals.newName("r" + d);
            String w = ctx.locals.newName("w" + d);
            b.beginControlFlow("for (int $N = 0; $N < $N; $N++)", i, i, kept[d], i);
            CodeBlock read = CodeBlock.of("($T.max(-$L, 0) + $N) * $L", Math.class, before[d], i,
                    ctx.dim(inStrides.get(d)));
            CodeBlock write = CodeBlock.of("($T.max($L, 0) + $N) * $L", Math.class, before[d], i,
                    ctx.dim(outStrides.get(d)));
            b.addStatement("int $N = $L", r, src == null ? x.plus(read) : CodeBlock.of("$N + $L", src, read));
            b.addStatement("int $N = $L", w, dst == null ? y.plus(write) : CodeBlock.of("$N + $L", dst, write));
            src = r;
            dst = w;
        }
        int last = rank - 1;
        CodeBlock from = CodeBlock.of("$T.max(-$L, 0)", Math.class, before[last]);
        CodeBlock to = CodeBlock.of("$T.max($L, 0)", Math.class, before[last]);
        b.addStatement("$T.arraycopy($N, $L, $N, $L, $N)", System.class, x.array(),
                src == null ? x.plus(from) : CodeBlock.of("$N + $L", src, from), y.array(),
                dst == null ? y.plus(to) : CodeBlock.of("$N + $L", dst, to), kept[last]);
        for (int d = 0; d < rank - 1; d++) {
            b.endControlFlow();
        }
    }

    private static void constant(EmitContext ctx, CodeBlock.Builder b, long[] begin, long[] end) {
        Node n = ctx.node;
        Shape in = n.input(0).shape();
        Shape out = n.output(0).shape();
        CodeBlock value = fillValue(ctx);
        TensorRef y = ctx.out(0);
        if (Arrays.stream(begin).anyMatch(p -> p > 0) || Arrays.stream(end).anyMatch(p -> p > 0)) {
            b.addStatement("$T.fill($N, $L, $L, $L)", Arrays.class, y.array(), y.offset(),
                    y.plus(ctx.count(n.output(0))), value);
        }
        List<Dim> inStrides = StridedCopy.strides(in);
        List<Dim> outStrides = StridedCopy.strides(out);
        long[] srcStart = new long[in.rank()];
        long[] dstStart = new long[in.rank()];
        List<StridedCopy.Axis> axes = new ArrayList<>();
        for (int d = 0; d < in.rank(); d++) {
            srcStart[d] = Math.max(-begin[d], 0);
            dstStart[d] = Math.max(begin[d], 0);
            Dim extent = in.dim(d);
            if (begin[d] < 0 || end[d] < 0) {
                extent = Dim.of(Math.max(0, ctx.staticDim(n.input(0), d) + Math.min(begin[d], 0) + Math.min(end[d], 0)));
            }
            axes.add(new StridedCopy.Axis(extent, inStrides.get(d), 1, outStrides.get(d)));
        }
        StridedCopy.emit(ctx, b, axes, ctx.in(0), StridedCopy.offset(ctx, srcStart, inStrides), y,
                StridedCopy.offset(ctx, dstStart, outStrides));
    }

    /**
     * One loop per output axis; the source index of each axis is folded back into [0, dim) by the mode. Wrap repeats
     * the part negative pads keep ({@code kept} elements from {@code keptStart}), as cropping first then padding does.
     */
    private static void mapped(EmitContext ctx, CodeBlock.Builder b, CodeBlock[] begin, CodeBlock[] keptStart,
                               CodeBlock[] kept, boolean[] unchanged, String mode) {
        Node n = ctx.node;
        Shape in = n.input(0).shape();
        Shape out = n.output(0).shape();
        List<Dim> inStrides = StridedCopy.strides(in);
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        String o = ctx.locals.newName("o");
        b.addStatement("int $N = $L", o, y.offset());
        String row = null;
        for (int d = 0; d < in.rank(); d++) {
            String i = ctx.locals.newName("i" + d);
            String s = ctx.locals.newName("s" + d);
            String r = ctx.locals.newName("r" + d);
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, ctx.dim(out.dim(d)), i);
            if (unchanged[d]) {
                b.addStatement("int $N = $N", s, i);
            } else {
                // An input dim known only at run time is an int local; reflect and edge then fold with expressions.
                CodeBlock dim = ctx.dim(in.dim(d));
                boolean known = in.dim(d).isStatic();
                if (!known && !ctx.isDynamic(n.input(0))) {
                    ctx.staticDim(n.input(0), d);
                }
                CodeBlock lastIndex = known ? CodeBlock.of("$L", in.dim(d).value() - 1) : CodeBlock.of("($L - 1)", dim);
                CodeBlock mirror = known ? CodeBlock.of("$L", 2 * in.dim(d).value() - 2)
                        : CodeBlock.of("(2 * $L - 2)", dim);
                if (mode.equals("wrap")) {
                    CodeBlock wrapped = CodeBlock.of("$T.floorMod($N - $L, $L)", Math.class, i, begin[d], kept[d]);
                    b.addStatement("int $N = $L", s, keptStart[d].toString().equals("0") ? wrapped
                            : CodeBlock.of("$L + $L", keptStart[d], wrapped));
                } else {
                    b.addStatement("int $N = $N - $L", s, i, begin[d]);
                }
                switch (mode) {
                    case "reflect" -> b.addStatement("$N = $N < 0 ? -$N : ($N >= $L ? $L - $N : $N)", s, s, s, s, dim,
                            mirror, s, s);
                    case "edge" -> b.addStatement("$N = $T.clamp($N, 0, $L)", s, Math.class, s, lastIndex);
                    default -> { }
                }
            }
            Dim stride = inStrides.get(d);
            CodeBlock term = StridedCopy.isOne(stride) ? CodeBlock.of("$N", s) : CodeBlock.of("$N * $L", s, ctx.dim(stride));
            b.addStatement("int $N = $L", r, row == null ? x.plus(term) : CodeBlock.of("$N + $L", row, term));
            row = r;
        }
        b.addStatement("$N[$N++] = $N[$N]", y.array(), o, x.array(), row);
        for (int d = 0; d < in.rank(); d++) {
            b.endControlFlow();
        }
    }
}
