package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Node;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.ConvGeometry;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * ConvTranspose over any number of spatial dims as a scatter: the output starts as the bias, and every input
 * element adds its product with each kernel tap to the output cell that tap lands on
 * ({@code in * stride + tap * dilation - padBegin} per axis), taps falling outside the output skipped. The window
 * (pads from pads, auto_pad or output_shape) is the op table's.
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
}
