package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Attr;
import dev.kiln.ir.DType;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.ConvGeometry;
import java.util.ArrayList;
import java.util.List;

/**
 * Pooling over any number of spatial dims and any numeric type, as scalar loops: LpPool, and MaxPool/AveragePool
 * where the runtime's 2-D kernels do not apply (3-D windows, non-float32 elements, MaxPool's Indices output, in either storage_order).
 * The window of each output cell is resolved by the op table's {@link ConvGeometry}; a tap on the padding counts
 * for AveragePool's count_include_pad, a tap past the padding (ceil_mode) never does, as in the reference.
 */
final class WindowPoolEmitter implements KernelEmitter {
    @Override
    public boolean typed(Node n) {
        DType t = n.input(0).dtype();
        return t.isNumeric() && t != DType.UINT64 && (t.isFloat() || n.op().equals("MaxPool"));
    }

    /** True when this emitter, not the runtime's 2-D kernels, handles a pooling node. */
    static boolean handles(Node n) {
        Value x = n.input(0);
        return n.op().equals("LpPool") || !WindowGeometry.supportedRank(x) || x.dtype() != DType.FLOAT32
                || (n.outputs().size() > 1 && n.hasOutput(1));
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Value x = n.input(0);
        if (!typed(n)) {
            throw ctx.unsupported(n.op() + " of " + x.type());
        }
        boolean indices = n.outputs().size() > 1 && n.hasOutput(1);
        // storage_order 1: Indices count the spatial cells with the spatial axes laid out column major.
        boolean columnMajor = indices && ctx.intAttr("storage_order") != 0;
        Shape s = x.shape();
        int spatial = s.rank() - 2;
        int[] in = new int[spatial];
        for (int d = 0; d < spatial; d++) {
            in[d] = ctx.staticDim(x, d + 2);
        }
        long[] kernel = ((Attr.Ints) n.attributes().get("kernel_shape").orElseThrow()).toArray();
        List<ConvGeometry.Axis> axes = ConvGeometry.axesOf(n, kernel, in);
        int inSize = 1;
        for (int v : in) {
            inSize *= v;
        }
        String op = n.op();
        ElementType t = EmitContext.type(n.output(0));
        TensorRef xr = ctx.in(0);
        TensorRef yr = ctx.out(0);
        CodeBlock.Builder b = CodeBlock.builder();
        String plane = ctx.locals.newName("plane");
        String o = ctx.locals.newName("o");
        b.addStatement("int $N = 0", o);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", plane, plane, ctx.dim(s.dim(0).times(s.dim(1))), plane);
        List<String> oi = new ArrayList<>();
        for (int d = 0; d < spatial; d++) {
            String v = ctx.locals.newName("o" + d);
            oi.add(v);
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", v, v, axes.get(d).out(), v);
        }
        String acc = ctx.locals.newName("acc");
        String count = ctx.locals.newName("count");
        String best = ctx.locals.newName("bestCell");
        b.addStatement("double $N = $L", acc, op.equals("MaxPool") ? CodeBlock.of("$T.NEGATIVE_INFINITY", Double.class)
                : CodeBlock.of("0"));
        b.addStatement("int $N = 0", count);
        if (op.equals("MaxPool")) {
            b.addStatement("int $N = -1", best);
        }
        List<String> pi = new ArrayList<>();
        for (int d = 0; d < spatial; d++) {
            ConvGeometry.Axis a = axes.get(d);
            String k = ctx.locals.newName("k" + d);
            String p = ctx.locals.newName("p" + d);
            pi.add(p);
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", k, k, a.kernel(), k);
            b.addStatement("int $N = $N * $L - $L + $N * $L", p, oi.get(d), a.stride(), a.padBegin(), k, a.dilation());
            // Past the padding (ceil_mode's extra window): the tap does not exist.
            b.beginControlFlow("if ($N >= $L)", p, a.in() + a.padEnd()).addStatement("continue").endControlFlow();
        }
        List<CodeBlock> outside = new ArrayList<>();
        List<CodeBlock> cell = new ArrayList<>();
        int stride = 1;
        for (int d = spatial - 1; d >= 0; d--) {
            outside.add(0, CodeBlock.of("$N < 0 || $N >= $L", pi.get(d), pi.get(d), in[d]));
            cell.add(0, stride == 1 ? CodeBlock.of("$N", pi.get(d)) : CodeBlock.of("$N * $L", pi.get(d), stride));
            stride *= in[d];
        }
        List<CodeBlock> columnCell = new ArrayList<>();
        int columnStride = 1;
        for (int d = 0; d < spatial; d++) {
            columnCell.add(columnStride == 1 ? CodeBlock.of("$N", pi.get(d)) : CodeBlock.of("$N * $L", pi.get(d), columnStride));
            columnStride *= in[d];
        }
        b.beginControlFlow("if ($L)", CodeBlock.join(outside, " || "));
        if (op.equals("AveragePool") && ctx.intAttr("count_include_pad") != 0) {
            b.addStatement("$N++", count);
        }
        b.addStatement("continue").endControlFlow();
        String c = ctx.locals.newName("cell");
        String v = ctx.locals.newName("v");
        b.addStatement("int $N = $L", c, CodeBlock.join(cell, " + "));
        b.addStatement("double $N = $L", v, xr.at(CodeBlock.of("$N * $L + $N", plane, inSize, c)));
        switch (op) {
            case "MaxPool" -> b.beginControlFlow("if ($N > $N || ($N < 0 && !$T.isNaN($N)))", v, acc, best, Double.class, v)
                    .addStatement("$N = $N", acc, v)
                    .addStatement("$N = $L", best, columnMajor ? CodeBlock.join(columnCell, " + ") : CodeBlock.of("$N", c))
                    .endControlFlow();
            case "AveragePool" -> b.addStatement("$N += $N", acc, v).addStatement("$N++", count);
            default -> b.addStatement("$N += $T.pow($T.abs($N), $L)", acc, Math.class, Math.class, v,
                    (double) ctx.intAttr("p"));
        }
        for (int d = 0; d < spatial; d++) {
            b.endControlFlow();
        }
        CodeBlock result = switch (op) {
            case "MaxPool" -> CodeBlock.of("$N", acc);
            case "AveragePool" -> CodeBlock.of("$N / $N", acc, count);
            default -> CodeBlock.of("$T.pow($N, $L)", Math.class, acc, 1.0 / ctx.intAttr("p"));
        };
        CodeBlock stored = n.output(0).dtype().isFloat() ? LossEmitter.store(t, result)
                : t.narrow(CodeBlock.of("(long) ($L)", result));
        if (indices) {
            b.addStatement("$L = (long) $N * $L + $T.max($N, 0)", ctx.out(1).at(CodeBlock.of("$N", o)), plane, inSize,
                    Math.class, best);
        }
        b.addStatement("$L = $L", yr.at(CodeBlock.of("$N++", o)), stored);
        for (int d = 0; d < spatial; d++) {
            b.endControlFlow();
        }
        b.endControlFlow();
        return b.build();
    }
}
