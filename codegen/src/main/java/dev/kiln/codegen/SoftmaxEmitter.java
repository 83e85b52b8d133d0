package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;

/**
 * Softmax, LogSoftmax and Hardmax. Over the last axis, Softmax and LogSoftmax are rows of the runtime's
 * vectorized {@code Softmax}; over another axis (and Hardmax everywhere) a loop over outer x inner positions
 * reduces along the axis with stride {@code inner}. Softmax and LogSoftmax on float16, bfloat16 and float64 take
 * that loop in double, each result rounded once to the output type as the reference evaluator does.
 */
final class SoftmaxEmitter implements KernelEmitter {
    static final ClassName SOFTMAX = ClassName.get("dev.kiln.runtime", "Softmax");

    /** Softmax and LogSoftmax on any floating type; Hardmax float32 only. */
    @Override
    public boolean typed(Node n) {
        return !n.op().equals("Hardmax") && n.output(0).dtype() != dev.kiln.ir.DType.FLOAT32;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Shape s = n.input(0).shape();
        int axis = Shape.normalizeAxis(ctx.intAttr("axis"), s.rank());
        Dim outer = s.product(0, axis);
        Dim inner = s.product(axis + 1, s.rank());
        TensorRef in = ctx.in(0);
        TensorRef out = ctx.out(0);
        int len = ctx.staticDim(n.input(0), axis);
        if (typed(n)) {
            return typedSoftmax(ctx, ctx.dim(outer), len, ctx.dim(inner), in, out);
        }
        if (StridedCopy.isOne(inner) && !n.op().equals("Hardmax")) {
            String kernel = n.op().equals("Softmax") ? "softmax" : "logSoftmax";
            return CodeBlock.builder().addStatement("$T.$N($L, $L, $N, $L, $N, $L)", SOFTMAX, kernel, ctx.dim(outer), len,
                    in.array(), in.offset(), out.array(), out.offset()).build();
        }
        CodeBlock innerCode = ctx.dim(inner);
        CodeBlock.Builder b = CodeBlock.builder();
        String o = ctx.locals.newName("o");
        String k = ctx.locals.newName("k");
        String base = ctx.locals.newName("base");
        String a = ctx.locals.newName("a");
        String max = ctx.locals.newName("max");
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", o, o, ctx.dim(outer), o);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", k, k, innerCode, k);
        b.addStatement("int $N = $N * $L + $N", base, o, StridedCopy.isOne(inner) ? CodeBlock.of("$L", len)
                : CodeBlock.of("$L * $L", len, innerCode), k);
        CodeBlock at = StridedCopy.isOne(inner) ? CodeBlock.of("$N + $N", base, a) : CodeBlock.of("$N + $N * $L", base, a, innerCode);
        CodeBlock x = in.at(at);
        CodeBlock y = out.at(at);
        if (n.op().equals("Hardmax")) {
            // The first index of the largest element gets 1, every other 0.
            String best = ctx.locals.newName("best");
            b.addStatement("int $N = 0", best);
            b.beginControlFlow("for (int $N = 1; $N < $L; $N++)", a, a, len, a);
            b.beginControlFlow("if ($L > $L)", x, in.at(StridedCopy.isOne(inner) ? CodeBlock.of("$N + $N", base, best)
                    : CodeBlock.of("$N + $N * $L", base, best, innerCode)));
            b.addStatement("$N = $N", best, a);
            b.endControlFlow();
            b.endControlFlow();
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", a, a, len, a);
            b.addStatement("$L = $N == $N ? 1f : 0f", y, a, best);
            b.endControlFlow();
        } else {
            String sum = ctx.locals.newName("sum");
            String e = ctx.locals.newName("e");
            b.addStatement("float $N = $T.NEGATIVE_INFINITY", max, Float.class);
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", a, a, len, a);
            b.addStatement("$N = $T.max($N, $L)", max, Math.class, max, x);
            b.endControlFlow();
            b.addStatement("double $N = 0", sum);
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", a, a, len, a);
            if (n.op().equals("Softmax")) {
                b.addStatement("float $N = (float) $T.exp($L - $N)", e, Math.class, x, max);
                b.addStatement("$L = $N", y, e);
                b.addStatement("$N += $N", sum, e);
            } else {
                b.addStatement("$N += $T.exp($L - $N)", sum, Math.class, x, max);
            }
            b.endControlFlow();
            if (n.op().equals("Softmax")) {
                String scale = ctx.locals.newName("scale");
                b.addStatement("float $N = (float) (1.0 / $N)", scale, sum);
                b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", a, a, len, a);
                b.addStatement("$L *= $N", y, scale);
            } else {
                String shift = ctx.locals.newName("shift");
                b.addStatement("float $N = $N + (float) $T.log($N)", shift, max, Math.class, sum);
                b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", a, a, len, a);
                b.addStatement("$L = $L - $N", y, x, shift);
            }
            b.endControlFlow();
        }
        b.endControlFlow();
        b.endControlFlow();
        return b.build();
    }

    /** Softmax or LogSoftmax along an axis of {@code len} elements with stride {@code inner}, in double. */
    private static CodeBlock typedSoftmax(EmitContext ctx, CodeBlock outer, int len, CodeBlock inner, TensorRef in, TensorRef out) {
        boolean log = ctx.node.op().equals("LogSoftmax");
        CodeBlock.Builder b = CodeBlock.builder();
        String o = ctx.locals.newName("o");
        String k = ctx.locals.newName("k");
        String base = ctx.locals.newName("base");
        String a = ctx.locals.newName("a");
        String max = ctx.locals.newName("max");
        String sum = ctx.locals.newName("sum");
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", o, o, outer, o);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", k, k, inner, k);
        b.addStatement("int $N = $N * $L * ($L) + $N", base, o, len, inner, k);
        CodeBlock at = CodeBlock.of("$N + $N * ($L)", base, a, inner);
        CodeBlock x = in.at(at);
        b.addStatement("double $N = $T.NEGATIVE_INFINITY", max, Double.class);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", a, a, len, a);
        b.addStatement("$N = $T.max($N, $L)", max, Math.class, max, x);
        b.endControlFlow();
        b.addStatement("double $N = 0", sum);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", a, a, len, a);
        b.addStatement("$N += $T.exp($L - $N)", sum, Math.class, x, max);
        b.endControlFlow();
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", a, a, len, a);
        CodeBlock value = log ? CodeBlock.of("$L - $N - $T.log($N)", x, max, Math.class, sum)
                : CodeBlock.of("$T.exp($L - $N) / $N", Math.class, x, max, sum);
        b.addStatement("$L = $L", out.at(at), MomentNormEmitter.store(ctx, value));
        b.endControlFlow();
        b.endControlFlow();
        b.endControlFlow();
        return b.build();
    }
}
