package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.DType;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.ConvGeometry;
import java.util.ArrayList;
import java.util.List;

/**
 * Conv as plain scalar loops reading the weights where they are, for what the runtime's packed 2-D kernel does
 * not take: a bias computed at run time into scratch space, 3-D windows, float16/bfloat16/float64 elements. One
 * double accumulator per output element (bias first, then every in-range tap of its group's channels). The
 * quantized convolutions ConvInteger and QLinearConv run the same loops on the operands minus their zero points,
 * summed in long; QLinearConv then requantizes each sum as the reference evaluator does.
 */
final class DirectConvEmitter implements KernelEmitter {
    @Override
    public boolean typed(Node n) {
        return n.op().equals("Conv") && n.input(0).dtype().isFloat() || quantized(n);
    }

    private static boolean quantized(Node n) {
        return n.op().equals("ConvInteger") || n.op().equals("QLinearConv");
    }

    /**
     * True when {@link ConvEmitter} hands the node to this emitter. Weights computed at run time (a trainer's
     * parameters, a graph input) stay with the packed kernel, which packs them on each call: far cheaper than these
     * loops (mnist_cnn's training forward convs took 70 % of its step here).
     */
    static boolean handles(Node n, EmitContext ctx) {
        return n.op().equals("Conv") && (!WindowGeometry.supportedRank(n.input(0)) || n.input(0).dtype() != DType.FLOAT32
                || (n.hasInput(2) && !ctx.isConstant(n.input(2)) && !ConvEmitter.wholeArray(ctx, n.input(2))));
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        if (!typed(n)) {
            throw ctx.unsupported(n.op() + " of " + n.input(0).type());
        }
        boolean requantize = n.op().equals("QLinearConv");
        int wi = requantize ? 3 : 1;
        int biasInput = n.op().equals("ConvInteger") ? -1 : requantize ? 8 : 2;
        Value x = n.input(0);
        Value w = n.input(wi);
        Shape xs = x.shape();
        int spatial = xs.rank() - 2;
        int[] in = new int[spatial];
        long[] kernel = new long[spatial];
        int kernelSize = 1;
        for (int d = 0; d < spatial; d++) {
            in[d] = ctx.staticDim(x, d + 2);
            kernel[d] = ctx.staticDim(w, d + 2);
            kernelSize *= (int) kernel[d];
        }
        int inSize = 1;
        for (int v : in) {
            inSize *= v;
        }
        List<ConvGeometry.Axis> axes = ConvGeometry.axesOf(n, kernel, in);
        int outSize = 1;
        for (ConvGeometry.Axis a : axes) {
            outSize *= a.out();
        }
        int group = Math.toIntExact(ctx.intAttr("group"));
        int channels = ctx.staticDim(x, 1);
        int m = ctx.staticDim(w, 0);
        int cg = channels / group;
        int mg = m / group;
        ElementType t = EmitContext.type(n.output(0));
        TensorRef xr = ctx.in(0);
        TensorRef wr = ctx.in(wi);
        TensorRef yr = ctx.out(0);
        CodeBlock.Builder b = CodeBlock.builder();
        String batch = ctx.locals.newName("b");
        String oc = ctx.locals.newName("oc");
        String o = ctx.locals.newName("o");
        b.addStatement("int $N = 0", o);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", batch, batch, ctx.dim(xs.dim(0)), batch);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", oc, oc, m, oc);
        List<String> oi = new ArrayList<>();
        for (int d = 0; d < spatial; d++) {
            String v = ctx.locals.newName("o" + d);
            oi.add(v);
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", v, v, axes.get(d).out(), v);
        }
        String acc = ctx.locals.newName("acc");
        b.addStatement("$L $N = $L", quantized(n) ? "long" : "double", acc,
                biasInput >= 0 && n.hasInput(biasInput) ? ctx.in(biasInput).at(CodeBlock.of("$N", oc)) : CodeBlock.of("0"));
        String c = ctx.locals.newName("c");
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", c, c, cg, c);
        String xPlane = ctx.locals.newName("xPlane");
        String wBase = ctx.locals.newName("wBase");
        b.addStatement("int $N = ($N * $L + $N / $L * $L + $N) * $L", xPlane, batch, channels, oc, mg, cg, c, inSize);
        b.addStatement("int $N = ($N * $L + $N) * $L", wBase, oc, cg, c, kernelSize);
        List<String> ki = new ArrayList<>();
        List<String> pi = new ArrayList<>();
        for (int d = 0; d < spatial; d++) {
            ConvGeometry.Axis a = axes.get(d);
            String k = ctx.locals.newName("k" + d);
            String p = ctx.locals.newName("p" + d);
            ki.add(k);
            pi.add(p);
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", k, k, a.kernel(), k);
            b.addStatement("int $N = $N * $L - $L + $N * $L", p, oi.get(d), a.stride(), a.padBegin(), k, a.dilation());
            b.beginControlFlow("if ($N < 0 || $N >= $L)", p, p, in[d]).addStatement("continue").endControlFlow();
        }
        List<CodeBlock> xCell = new ArrayList<>();
        List<CodeBlock> wCell = new ArrayList<>();
        int xStride = 1;
        int wStride = 1;
        for (int d = spatial - 1; d >= 0; d--) {
            xCell.add(0, CodeBlock.of("$N * $L", pi.get(d), xStride));
            wCell.add(0, CodeBlock.of("$N * $L", ki.get(d), wStride));
            xStride *= in[d];
            wStride *= (int) kernel[d];
        }
        CodeBlock xValue = xr.at(CodeBlock.of("$N + $L", xPlane, CodeBlock.join(xCell, " + ")));
        CodeBlock wValue = wr.at(CodeBlock.of("$N + $L", wBase, CodeBlock.join(wCell, " + ")));
        if (quantized(n)) {
            // A padded cell is x's zero point, (x - zero point) = 0: skipping it is the same sum.
            b.addStatement("$N += (long) ($L - $L) * ($L - $L)", acc, xValue, ActivationMatMulEmitter.zeroPoint(ctx, 2, "0"),
                    wValue, ActivationMatMulEmitter.zeroPoint(ctx, requantize ? 5 : 3, oc));
        } else {
            b.addStatement("$N += $L * $L", acc, xValue, wValue);
        }
        for (int d = 0; d < spatial; d++) {
            b.endControlFlow();
        }
        b.endControlFlow();
        CodeBlock result = requantize ? ActivationMatMulEmitter.requantized(ctx, acc, "0", oc, 1, 4)
                : quantized(n) ? t.narrow(CodeBlock.of("$N", acc)) : LossEmitter.store(t, CodeBlock.of("$N", acc));
        b.addStatement("$L = $L", yr.at(CodeBlock.of("$N++", o)), result);
        for (int d = 0; d < spatial; d++) {
            b.endControlFlow();
        }
        b.endControlFlow().endControlFlow();
        return b.build();
    }
}
