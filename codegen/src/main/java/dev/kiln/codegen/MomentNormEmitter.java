package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.TypeName;
import dev.kiln.ir.Attr;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import java.util.ArrayList;
import java.util.List;

/**
 * GroupNormalization, MeanVarianceNormalization and BatchNormalization in training mode (or with its running
 * statistics as outputs) on any floating type: for each group of elements (a channel group of one sample; the
 * elements sharing the kept axes; a channel over the batch), mean and variance in double over two passes, then
 * each element normalized in a third, rounded once to the output type as the reference evaluator does.
 */
final class MomentNormEmitter implements KernelEmitter {
    @Override
    public boolean typed(Node n) {
        return true;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        return switch (ctx.node.op()) {
            case "GroupNormalization" -> groupNorm(ctx);
            case "BatchNormalization" -> batchNorm(ctx);
            default -> meanVarianceNorm(ctx);
        };
    }

    /**
     * BatchNormalization in training mode (statistics of the batch, per channel over N and the spatial dims) or
     * with its running_mean/running_var outputs: running = input * momentum + batch * (1 - momentum) in training
     * mode, the inputs unchanged otherwise.
     */
    private static CodeBlock batchNorm(EmitContext ctx) {
        Node n = ctx.node;
        Shape s = n.input(0).shape();
        int channels = ctx.staticDim(n.input(0), 1);
        boolean training = ctx.intAttr("training_mode") != 0;
        Dim cells = Dim.of(1);
        for (int d = 2; d < s.rank(); d++) {
            cells = cells.times(s.dim(d));
        }
        CodeBlock cellCount = ctx.dim(cells);
        CodeBlock count = ctx.dim(cells.times(s.dim(0)));
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        String c = ctx.locals.newName("c");
        String r = ctx.locals.newName("r");
        String at = ctx.locals.newName("at");
        CodeBlock cv = CodeBlock.of("$N", c);
        CodeBlock element = x.at(CodeBlock.of("($N / ($L) * $L + $N) * ($L) + $N % ($L)", r, cellCount, channels, c, cellCount, r,
                cellCount));
        CodeBlock.Builder b = CodeBlock.builder();
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", c, c, channels, c);
        String mean;
        String var;
        if (training) {
            String[] m = moments(ctx, b, r, count, element);
            mean = m[0];
            var = m[1];
        } else {
            mean = ctx.locals.newName("mean");
            var = ctx.locals.newName("var");
            b.addStatement("double $N = $L", mean, ctx.in(3).at(cv));
            b.addStatement("double $N = $L", var, ctx.in(4).at(cv));
        }
        String inv = ctx.locals.newName("inv");
        b.addStatement("double $N = 1.0 / $T.sqrt($N + $L)", inv, Math.class, var, (double) ctx.floatAttr("epsilon"));
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", r, r, count, r);
        b.addStatement("int $N = ($N / ($L) * $L + $N) * ($L) + $N % ($L)", at, r, cellCount, channels, c, cellCount, r, cellCount);
        b.addStatement("$L = $L", y.at(CodeBlock.of("$N", at)), store(ctx, 0, CodeBlock.of("($L - $N) * $N * $L + $L",
                x.at(CodeBlock.of("$N", at)), mean, inv, ctx.in(1).at(cv), ctx.in(2).at(cv))));
        b.endControlFlow();
        double momentum = ctx.floatAttr("momentum");
        for (int o = 1; o <= 2; o++) {
            if (n.hasOutput(o)) {
                CodeBlock input = ctx.in(o + 2).at(cv);
                CodeBlock value = training
                        ? CodeBlock.of("$L * $L + $N * $L", input, momentum, o == 1 ? mean : var, 1 - momentum)
                        : CodeBlock.of("$L", input);
                b.addStatement("$L = $L", ctx.out(o).at(cv), store(ctx, o, value));
            }
        }
        b.endControlFlow();
        return b.build();
    }

    private static CodeBlock groupNorm(EmitContext ctx) {
        Node n = ctx.node;
        Shape s = n.input(0).shape();
        int channels = ctx.staticDim(n.input(0), 1);
        int groups = (int) ctx.intAttr("num_groups");
        Dim cells = Dim.of(1);
        for (int d = 2; d < s.rank(); d++) {
            cells = cells.times(s.dim(d));
        }
        CodeBlock cellCount = ctx.dim(cells);
        CodeBlock groupSize = ctx.dim(cells.times(Dim.of(channels / groups)));
        TensorRef x = ctx.in(0);
        TensorRef scale = ctx.in(1);
        TensorRef bias = ctx.in(2);
        TensorRef y = ctx.out(0);
        String g = ctx.locals.newName("g");
        String base = ctx.locals.newName("base");
        String i = ctx.locals.newName("i");
        String ch = ctx.locals.newName("ch");
        CodeBlock.Builder b = CodeBlock.builder();
        b.beginControlFlow("for (int $N = 0; $N < $L * $L; $N++)", g, g, ctx.dim(s.dim(0)), groups, g);
        b.addStatement("int $N = $N * ($L)", base, g, groupSize);
        String[] m = moments(ctx, b, i, groupSize, x.at(CodeBlock.of("$N + $N", base, i)));
        String inv = ctx.locals.newName("inv");
        b.addStatement("double $N = 1.0 / $T.sqrt($N + $L)", inv, Math.class, m[1], (double) ctx.floatAttr("epsilon"));
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, groupSize, i);
        b.addStatement("int $N = $N % $L * $L + $N / ($L)", ch, g, groups, channels / groups, i, cellCount);
        CodeBlock value = CodeBlock.of("($L - $N) * $N * $L + $L", x.at(CodeBlock.of("$N + $N", base, i)), m[0], inv,
                scale.at(CodeBlock.of("$N", ch)), bias.at(CodeBlock.of("$N", ch)));
        b.addStatement("$L = $L", y.at(CodeBlock.of("$N + $N", base, i)), store(ctx, value));
        b.endControlFlow();
        b.endControlFlow();
        return b.build();
    }

    private static CodeBlock meanVarianceNorm(EmitContext ctx) {
        Node n = ctx.node;
        Shape s = n.input(0).shape();
        int rank = s.rank();
        boolean[] reduced = new boolean[rank];
        for (long a : ((Attr.Ints) n.attributes().get("axes").orElse(Attr.Ints.of(0, 2, 3))).values()) {
            reduced[(int) (a < 0 ? a + rank : a)] = true;
        }
        List<Integer> kept = new ArrayList<>();
        List<Integer> over = new ArrayList<>();
        for (int d = 0; d < rank; d++) {
            (reduced[d] ? over : kept).add(d);
        }
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        String g = ctx.locals.newName("g");
        String base = ctx.locals.newName("base");
        String r = ctx.locals.newName("r");
        String at = ctx.locals.newName("at");
        CodeBlock.Builder b = CodeBlock.builder();
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", g, g, ctx.dim(product(s, kept)), g);
        b.addStatement("int $N = $L", base, offset(ctx, s, kept, g));
        CodeBlock element = x.at(CodeBlock.of("$N + $L", base, offset(ctx, s, over, r)));
        CodeBlock count = ctx.dim(product(s, over));
        String[] m = moments(ctx, b, r, count, element);
        String inv = ctx.locals.newName("inv");
        b.addStatement("double $N = 1.0 / ($T.sqrt($N) + 1e-9)", inv, Math.class, m[1]);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", r, r, count, r);
        b.addStatement("int $N = $N + $L", at, base, offset(ctx, s, over, r));
        b.addStatement("$L = $L", y.at(CodeBlock.of("$N", at)),
                store(ctx, CodeBlock.of("($L - $N) * $N", x.at(CodeBlock.of("$N", at)), m[0], inv)));
        b.endControlFlow();
        b.endControlFlow();
        return b.build();
    }

    private static Dim product(Shape s, List<Integer> axes) {
        Dim d = Dim.of(1);
        for (int a : axes) {
            d = d.times(s.dim(a));
        }
        return d;
    }

    /** The row-major offset of the element whose coordinates along {@code axes} are the flat index {@code flat}. */
    private static CodeBlock offset(EmitContext ctx, Shape s, List<Integer> axes, String flat) {
        List<CodeBlock> terms = new ArrayList<>();
        Dim inner = Dim.of(1);
        for (int k = axes.size() - 1; k >= 0; k--) {
            int a = axes.get(k);
            Dim stride = Dim.of(1);
            for (int d = a + 1; d < s.rank(); d++) {
                stride = stride.times(s.dim(d));
            }
            terms.add(0, CodeBlock.of("$N / ($L) % ($L) * ($L)", flat, ctx.dim(inner), ctx.dim(s.dim(a)), ctx.dim(stride)));
            inner = inner.times(s.dim(a));
        }
        return terms.isEmpty() ? CodeBlock.of("0") : CodeBlock.join(terms, " + ");
    }

    /** Mean and (biased) variance in double of {@code count} elements read as {@code element(i)}; their local names. */
    private static String[] moments(EmitContext ctx, CodeBlock.Builder b, String i, CodeBlock count, CodeBlock element) {
        String sum = ctx.locals.newName("sum");
        String mean = ctx.locals.newName("mean");
        String var = ctx.locals.newName("var");
        String dev = ctx.locals.newName("dev");
        b.addStatement("double $N = 0", sum);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, count, i);
        b.addStatement("$N += $L", sum, element);
        b.endControlFlow();
        b.addStatement("double $N = $N / ($L)", mean, sum, count);
        b.addStatement("double $N = 0", var);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, count, i);
        b.addStatement("double $N = $L - $N", dev, element, mean);
        b.addStatement("$N += $N * $N", var, dev, dev);
        b.endControlFlow();
        b.addStatement("$N /= $L", var, count);
        return new String[] {mean, var};
    }

    /** A double expression as a value of the output's element type. */
    static CodeBlock store(EmitContext ctx, CodeBlock value) {
        return store(ctx, 0, value);
    }

    /** A double expression as a value of output {@code output}'s element type. */
    static CodeBlock store(EmitContext ctx, int output, CodeBlock value) {
        ElementType t = EmitContext.type(ctx.node.output(output));
        return t.element().equals(TypeName.FLOAT) ? t.narrow(CodeBlock.of("(float) ($L)", value)) : value;
    }
}
