package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Node;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.ConvGeometry;
import dev.kiln.ir.ops.DeformConvOps;
import java.util.List;

/**
 * DeformConv and its gradient {@code dev.kiln.DeformConvGrad} over float32, through the runtime's {@code DeformConv}:
 * the geometry (resolved here with the op table's {@code ConvGeometry}, as shape inference did) is a
 * {@code static final} shape, the sampled columns live in per-instance scratch; the batch may be dynamic.
 */
final class DeformConvEmitter implements KernelEmitter {
    private static final ClassName DEFORM_CONV = ClassName.get("dev.kiln.runtime", "DeformConv");
    private static final ClassName SHAPE = DEFORM_CONV.nestedClass("Shape");
    private static final ClassName SCRATCH = DEFORM_CONV.nestedClass("Scratch");

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        boolean backward = n.op().equals(DeformConvOps.DEFORM_CONV_GRAD);
        int first = backward ? 1 : 0;
        Value x = n.input(first);
        Value w = n.input(first + 1);
        int rank = x.shape().rank() - 2;
        int[] in = new int[rank];
        long[] kernel = new long[rank];
        for (int d = 0; d < rank; d++) {
            in[d] = ctx.staticDim(x, d + 2);
            kernel[d] = ctx.staticDim(w, d + 2);
        }
        List<ConvGeometry.Axis> axes = ConvGeometry.axesOf(n, kernel, in);
        int[] k = new int[rank];
        int[] strides = new int[rank];
        int[] dilations = new int[rank];
        int[] pads = new int[rank];
        int[] out = new int[rank];
        for (int d = 0; d < rank; d++) {
            ConvGeometry.Axis a = axes.get(d);
            k[d] = a.kernel();
            strides[d] = a.stride();
            dilations[d] = a.dilation();
            pads[d] = a.padBegin();
            out[d] = a.out();
        }
        String method = Identifiers.method(n);
        String key = "deformConv:" + n.output(0).name();
        String constant = method.replaceAll("([a-z])([A-Z])", "$1_$2").toUpperCase(java.util.Locale.ROOT) + "_SHAPE";
        String shape = ctx.staticField(key + ".shape", SHAPE, constant,
                CodeBlock.of("new $T($L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", SHAPE, ctx.staticDim(x, 1),
                        ctx.staticDim(w, 0), ctx.intAttr("group"), ctx.intAttr("offset_group"), ints(in), ints(k),
                        ints(strides), ints(dilations), ints(pads), ints(out)));
        String scratch = "this." + ctx.derivedField(key + ".scratch", SCRATCH, method + "Scratch",
                CodeBlock.of("new $T($N, $L)", SCRATCH, shape, backward));
        CodeBlock batch = ctx.dim(x.shape().dim(0));
        TensorRef xr = ctx.in(first);
        TensorRef wr = ctx.in(first + 1);
        TensorRef offset = ctx.in(first + 2);
        CodeBlock mask = optional(ctx, 4);
        if (!backward) {
            TensorRef y = ctx.out(0);
            return CodeBlock.builder().addStatement("$T.forward($N, $L, $N, $L, $N, $L, $N, $L, $L, $L, $N, $L, $L)",
                    DEFORM_CONV, shape, batch, xr.array(), xr.offset(), wr.array(), wr.offset(), offset.array(),
                    offset.offset(), optional(ctx, 3), mask, y.array(), y.offset(), scratch).build();
        }
        TensorRef dy = ctx.in(0);
        TensorRef dx = ctx.out(0);
        TensorRef dw = ctx.out(1);
        TensorRef dOffset = ctx.out(2);
        CodeBlock dMask = n.outputs().size() > 3 && n.hasOutput(3)
                ? CodeBlock.of("$N, $L", ctx.out(3).array(), ctx.out(3).offset()) : CodeBlock.of("null, 0");
        return CodeBlock.builder().addStatement("$T.backward($N, $L, $N, $L, $N, $L, $N, $L, $N, $L, $L, $N, $L, $N, $L,"
                        + " $N, $L, $L, $L)", DEFORM_CONV, shape, batch, dy.array(), dy.offset(), xr.array(), xr.offset(),
                wr.array(), wr.offset(), offset.array(), offset.offset(), mask, dx.array(), dx.offset(), dw.array(),
                dw.offset(), dOffset.array(), dOffset.offset(), dMask, scratch).build();
    }

    private static CodeBlock ints(int[] v) {
        return CodeBlock.of("new int[] $L", SignalEmitter.ints(v));
    }

    /** {@code array, offset} of optional input i, or {@code null, 0} when it is absent. */
    private static CodeBlock optional(EmitContext ctx, int i) {
        if (!ctx.node.hasInput(i)) {
            return CodeBlock.of("null, 0");
        }
        TensorRef r = ctx.in(i);
        return CodeBlock.of("$N, $L", r.array(), r.offset());
    }
}
