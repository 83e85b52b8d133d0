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
 * Pad with constant pads (read at generation time; negative pads crop) and a constant or run-time fill value. Constant mode fills the output with the
 * value and copies the input into its interior; reflect, edge and wrap walk the output in order, mapping each
 * index back into the input one axis at a time.
 */
final class PadEmitter implements KernelEmitter {
    /** Moves elements and fills with the constant value, so any element type. */
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
            // The fill value may come at run time (read from its one-element input); pads and axes fix the shape.
            if (i != 2 && n.hasInput(i) && !ctx.isConstant(n.input(i))) {
                throw ctx.unsupported("Pad with " + List.of("pads", "constant_value", "axes").get(i - 1)
                        + " computed at run time");
            }
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
        String mode = ctx.stringAttr("mode");
        CodeBlock.Builder b = CodeBlock.builder();
        switch (mode) {
            case "constant" -> constant(ctx, b, begin, end);
            case "reflect", "edge", "wrap" -> mapped(ctx, b, begin, mode);
            default -> throw ctx.unsupported("Pad mode '" + mode + "'");
        }
        return b.build();
    }

    private static void constant(EmitContext ctx, CodeBlock.Builder b, long[] begin, long[] end) {
        Node n = ctx.node;
        Shape in = n.input(0).shape();
        Shape out = n.output(0).shape();
        ElementType t = EmitContext.type(n.output(0));
        CodeBlock value = !n.hasInput(2) ? t.elementLiteral(0)
                : ctx.isConstant(n.input(2)) ? t.elementLiteral(ctx.constant(n.input(2)), 0) : ctx.in(2).at(CodeBlock.of("0"));
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

    /** One loop per output axis; the source index of each axis is folded back into [0, dim) by the mode. */
    private static void mapped(EmitContext ctx, CodeBlock.Builder b, long[] begin, String mode) {
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
            if (begin[d] == 0 && out.dim(d).equals(in.dim(d))) {
                b.addStatement("int $N = $N", s, i);
            } else {
                long dim = ctx.staticDim(n.input(0), d);
                b.addStatement("int $N = $N - $L", s, i, begin[d]);
                switch (mode) {
                    case "reflect" -> b.addStatement("$N = $N < 0 ? -$N : ($N >= $L ? $L - $N : $N)", s, s, s, s, dim,
                            2 * dim - 2, s, s);
                    case "edge" -> b.addStatement("$N = $T.clamp($N, 0, $L)", s, Math.class, s, dim - 1);
                    default -> b.addStatement("$N = $T.floorMod($N, $L)", s, Math.class, s, dim);
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
