package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Node;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.ConvGeometry;
import java.util.Arrays;
import java.util.List;

/**
 * 2-D ConvTranspose as a scatter: the output starts as the bias, and every input element adds its product with
 * each kernel tap to the output cell that tap lands on ({@code in * stride + tap * dilation - padBegin}), taps
 * falling outside the output skipped. The window (pads from pads, auto_pad or output_shape) is the op table's.
 */
final class ConvTransposeEmitter implements KernelEmitter {
    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Value x = n.input(0);
        Value w = n.input(1);
        if (!WindowGeometry.supportedRank(x)) {
            throw ctx.unsupported("ConvTranspose over " + (x.type().rank() - 2) + " spatial dims (1-D and 2-D only)");
        }
        int group = Math.toIntExact(ctx.intAttr("group"));
        int cin = ctx.staticDim(x, 1);
        int cinG = cin / group;
        int coutG = ctx.staticDim(w, 1);
        int cout = coutG * group;
        boolean lifted = x.type().rank() == 3;
        int kh = lifted ? 1 : ctx.staticDim(w, 2);
        int kw = ctx.staticDim(w, lifted ? 2 : 3);
        List<ConvGeometry.Axis> axes = WindowGeometry.transposedAxes(ctx, lifted ? new long[] {kw} : new long[] {kh, kw});
        ConvGeometry.Axis ah = axes.get(0);
        ConvGeometry.Axis aw = axes.get(1);
        int h = ah.in();
        int wd = aw.in();
        int oh = ah.out();
        int ow = aw.out();
        TensorRef xr = ctx.in(0);
        TensorRef wr = ctx.in(1);
        TensorRef yr = ctx.out(0);
        String b = ctx.locals.newName("n");
        String g = ctx.locals.newName("g");
        String ci = ctx.locals.newName("ci");
        String co = ctx.locals.newName("co");
        String ih = ctx.locals.newName("ih");
        String iw = ctx.locals.newName("iw");
        String th = ctx.locals.newName("th");
        String tw = ctx.locals.newName("tw");
        String yh = ctx.locals.newName("yh");
        String yw = ctx.locals.newName("yw");
        String xv = ctx.locals.newName("xv");
        String yPlane = ctx.locals.newName("yPlane");
        String wBase = ctx.locals.newName("wBase");
        String c = ctx.locals.newName("c");
        CodeBlock.Builder code = CodeBlock.builder();
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", b, b, ctx.dim(x.shape().dim(0)), b);
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", c, c, cout, c);
        CodeBlock plane = yr.plus(CodeBlock.of("($N * $L + $N) * $L", b, cout, c, oh * ow));
        CodeBlock init = n.hasInput(2) ? ctx.in(2).at(CodeBlock.of("$N", c)) : CodeBlock.of("0f");
        code.addStatement("$T.fill($N, $L, $L + $L, $L)", Arrays.class, yr.array(), plane, plane, oh * ow, init);
        code.endControlFlow();
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", g, g, group, g);
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", ci, ci, cinG, ci);
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", ih, ih, h, ih);
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", iw, iw, wd, iw);
        code.addStatement("float $N = $L", xv, xr.at(CodeBlock.of("(($N * $L + $N * $L + $N) * $L + $N) * $L + $N", b, cin, g,
                cinG, ci, h, ih, wd, iw)));
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", co, co, coutG, co);
        code.addStatement("int $N = $L", yPlane, yr.plus(CodeBlock.of("($N * $L + $N * $L + $N) * $L", b, cout, g, coutG, co, oh * ow)));
        code.addStatement("int $N = $L", wBase, wr.plus(CodeBlock.of("(($N * $L + $N) * $L + $N) * $L", g, cinG, ci, coutG, co, kh * kw)));
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", th, th, kh, th);
        code.addStatement("int $N = $N * $L + $N * $L - $L", yh, ih, ah.stride(), th, ah.dilation(), ah.padBegin());
        code.beginControlFlow("if ($N < 0 || $N >= $L)", yh, yh, oh).addStatement("continue").endControlFlow();
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", tw, tw, kw, tw);
        code.addStatement("int $N = $N * $L + $N * $L - $L", yw, iw, aw.stride(), tw, aw.dilation(), aw.padBegin());
        code.beginControlFlow("if ($N >= 0 && $N < $L)", yw, yw, ow);
        code.addStatement("$N[$N + $N * $L + $N] += $N * $N[$N + $N * $L + $N]", yr.array(), yPlane, yh, ow, yw, xv,
                wr.array(), wBase, th, kw, tw);
        code.endControlFlow();
        for (int i = 0; i < 8; i++) {
            code.endControlFlow();
        }
        return code.build();
    }
}
