package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Node;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.ConvGeometry;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * ConvTranspose. Over one or two spatial dims on float32, with pads that are not negative and an output_padding
 * below the stride, it is the input gradient of the Conv that maps Y's shape back to X's with the same W (ONNX
 * lays W out as [C_in, C_out/group, k..], the Conv's [M, C/group, k..]): one call of the runtime's
 * {@code ConvGrad.inputGrad} (GEMMs or the transposed direct convolution, threaded), then the bias. Otherwise, over
 * any number of spatial dims, a scatter: the output starts as the bias, and every input element adds its product
 * with each kernel tap to the output cell that tap lands on ({@code in * stride + tap * dilation - padBegin} per
 * axis), taps falling outside the output skipped. The window (pads from pads, auto_pad or output_shape) is the op
 * table's.
 */
final class ConvTransposeEmitter implements KernelEmitter {
    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Value x = n.input(0);
        Value w = n.input(1);
        int spatial = x.type().rank() - 2;
        if (spatial < 1) {
            throw ctx.unsupported("ConvTranspose of " + x.type());
        }
        int group = Math.toIntExact(ctx.intAttr("group"));
        int cin = ctx.staticDim(x, 1);
        int cinG = cin / group;
        int coutG = ctx.staticDim(w, 1);
        int cout = coutG * group;
        long[] kernel = new long[spatial];
        int[] in = new int[spatial];
        for (int d = 0; d < spatial; d++) {
            kernel[d] = ctx.staticDim(w, d + 2);
            in[d] = ctx.staticDim(x, d + 2);
        }
        List<ConvGeometry.Axis> axes = ConvGeometry.axesOf(n, kernel, in, true);
        CodeBlock gemm = asConvInputGradient(ctx, group, cin, cout, axes);
        if (gemm != null) {
            return gemm;
        }
        int inSize = 1;
        int outSize = 1;
        int kSize = 1;
        for (int d = 0; d < spatial; d++) {
            inSize *= in[d];
            outSize *= axes.get(d).out();
            kSize *= (int) kernel[d];
        }
        TensorRef xr = ctx.in(0);
        TensorRef wr = ctx.in(1);
        TensorRef yr = ctx.out(0);
        String b = ctx.locals.newName("n");
        String g = ctx.locals.newName("g");
        String ci = ctx.locals.newName("ci");
        String co = ctx.locals.newName("co");
        String xv = ctx.locals.newName("xv");
        String yPlane = ctx.locals.newName("yPlane");
        String wBase = ctx.locals.newName("wBase");
        String c = ctx.locals.newName("c");
        CodeBlock.Builder code = CodeBlock.builder();
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", b, b, ctx.dim(x.shape().dim(0)), b);
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", c, c, cout, c);
        CodeBlock plane = yr.plus(CodeBlock.of("($N * $L + $N) * $L", b, cout, c, outSize));
        CodeBlock init = n.hasInput(2) ? ctx.in(2).at(CodeBlock.of("$N", c)) : CodeBlock.of("0f");
        code.addStatement("$T.fill($N, $L, $L + $L, $L)", Arrays.class, yr.array(), plane, plane, outSize, init);
        code.endControlFlow();
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", g, g, group, g);
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", ci, ci, cinG, ci);
        List<String> iv = new ArrayList<>();
        for (int d = 0; d < spatial; d++) {
            String i = ctx.locals.newName("i" + d);
            iv.add(i);
            code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, in[d], i);
        }
        code.addStatement("float $N = $L", xv, xr.at(CodeBlock.of("($N * $L + $N * $L + $N) * $L + $L", b, cin, g, cinG, ci,
                inSize, flat(iv, in))));
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", co, co, coutG, co);
        code.addStatement("int $N = $L", yPlane, yr.plus(CodeBlock.of("($N * $L + $N * $L + $N) * $L", b, cout, g, coutG, co,
                outSize)));
        code.addStatement("int $N = $L", wBase, wr.plus(CodeBlock.of("(($N * $L + $N) * $L + $N) * $L", g, cinG, ci, coutG, co,
                kSize)));
        List<String> tv = new ArrayList<>();
        List<String> yv = new ArrayList<>();
        int[] outDims = new int[spatial];
        int[] kDims = new int[spatial];
        for (int d = 0; d < spatial; d++) {
            ConvGeometry.Axis a = axes.get(d);
            outDims[d] = a.out();
            kDims[d] = (int) kernel[d];
            String t = ctx.locals.newName("t" + d);
            String y = ctx.locals.newName("y" + d);
            tv.add(t);
            yv.add(y);
            code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", t, t, kernel[d], t);
            code.addStatement("int $N = $N * $L + $N * $L - $L", y, iv.get(d), a.stride(), t, a.dilation(), a.padBegin());
            code.beginControlFlow("if ($N < 0 || $N >= $L)", y, y, a.out()).addStatement("continue").endControlFlow();
        }
        code.addStatement("$N[$N + $L] += $N * $N[$N + $L]", yr.array(), yPlane, flat(yv, outDims), xv, wr.array(), wBase,
                flat(tv, kDims));
        for (int i = 0; i < 2 * spatial + 4; i++) {
            code.endControlFlow();
        }
        return code.build();
    }

    /** The row-major flat index of coordinates {@code v} in dims {@code dims}. */
    private static CodeBlock flat(List<String> v, int[] dims) {
        CodeBlock out = CodeBlock.of("$N", v.get(0));
        for (int d = 1; d < v.size(); d++) {
            out = CodeBlock.of("($L) * $L + $N", out, dims[d], v.get(d));
        }
        return out;
    }

    /** The GEMM form described above, or null where it does not apply. */
    private static CodeBlock asConvInputGradient(EmitContext ctx, int group, int cin, int cout,
                                                 List<ConvGeometry.Axis> axes) {
        Node n = ctx.node;
        boolean floats = n.inputs().stream().filter(v -> !v.isAbsent())
                .allMatch(v -> v.dtype() == dev.kiln.ir.DType.FLOAT32);
        if (!floats || axes.size() > 2 || n.hasInput(2) && !ConvEmitter.wholeArray(ctx, n.input(2))
                && !ctx.isConstant(n.input(2))) {
            return null;
        }
        List<ConvGeometry.Axis> conv = new ArrayList<>();
        if (axes.size() == 1) {
            conv.add(new ConvGeometry.Axis(1, 1, 1, 1, 0, 0, 1));
        }
        for (ConvGeometry.Axis a : axes) {
            if (a.padBegin() < 0 || a.padEnd() < 0) {
                return null;
            }
            conv.add(new ConvGeometry.Axis(a.out(), a.kernel(), a.stride(), a.dilation(), a.padBegin(), a.padEnd(),
                    a.in()));
        }
        dev.kiln.runtime.ConvShape s = ConvEmitter.shape(cout, cin, group, conv);
        if (s.outH() != conv.get(0).out() || s.outW() != conv.get(1).out()) {
            return null; // an output_padding of a stride or more: cells no Conv output reaches
        }
        String shape = ConvEmitter.shapeField(ctx, s);
        TensorRef x = ctx.in(0);
        TensorRef w = ctx.in(1);
        TensorRef y = ctx.out(0);
        CodeBlock batch = ctx.dim(n.input(0).shape().dim(0));
        CodeBlock.Builder code = CodeBlock.builder().addStatement("$T.inputGrad($N, $L, $N, $L, $N, $L, $N, $L, $L)",
                ConvGradEmitter.CONV_GRAD, shape, batch, x.array(), x.offset(), w.array(), w.offset(), y.array(),
                y.offset(), ctx.threaded() ? "this.workers" : "null");
        if (n.hasInput(2)) {
            TensorRef bias = ctx.in(2);
            int plane = s.h() * s.w();
            String i = ctx.locals.newName("i");
            String c = ctx.locals.newName("c");
            String p = ctx.locals.newName("p");
            code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, batch, i)
                    .beginControlFlow("for (int $N = 0; $N < $L; $N++)", c, c, cout, c)
                    .beginControlFlow("for (int $N = 0; $N < $L; $N++)", p, p, plane, p)
                    .addStatement("$L += $L", y.at(CodeBlock.of("($N * $L + $N) * $L + $N", i, cout, c, plane, p)),
                            bias.at(CodeBlock.of("$N", c)))
                    .endControlFlow().endControlFlow().endControlFlow();
        }
        return code.build();
    }
}
