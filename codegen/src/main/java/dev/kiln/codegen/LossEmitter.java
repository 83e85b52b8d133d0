package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.TypeName;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;

/**
 * NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss forward over (N, C, d1..dk) scores and (N, d1..dk) labels:
 * one pass over the samples, in double, with optional class weights, an ignored label and none/sum/mean
 * reduction (the mean divides by the sum of the samples' weights). SoftmaxCrossEntropyLoss takes each sample's
 * max and log-sum-exp over the classes on the fly, so it needs no scratch, and writes log_prob when asked.
 *
 * <p>In a training graph (float32 (N, C, d1..dk) scores, the {@code int[]} labels input, no class weights or
 * ignored label) the forward and the Kiln-domain gradients {@code SoftmaxCrossEntropyLossGrad} and
 * {@code NegativeLogLikelihoodLossGrad} call the runtime's vectorized {@code Losses} instead, which computes loss
 * and gradient in one pass over [rows, C] (scores with positions are transposed to (N, d1..dk, C) first, and the
 * gradient back); the gradient is scaled by the incoming loss gradient unless that is the constant 1 of a training
 * graph's seed.
 */
final class LossEmitter implements KernelEmitter {
    static final ClassName LOSSES = ClassName.get("dev.kiln.runtime.train", "Losses");
    static final ClassName REDUCTION = ClassName.get("dev.kiln.runtime.train", "Reduction");

    /** Scores of any floating type (computed in double), labels of any integer type. */
    @Override
    public boolean typed(Node n) {
        int scores = isGradient(n) ? 1 : 0;
        return n.input(scores).dtype().isFloat() && n.input(scores + 1).dtype().isInteger();
    }

    private static boolean isGradient(Node n) {
        return n.op().endsWith("Grad");
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        if (isGradient(n) || runtimeApplies(ctx)) {
            return runtimeLoss(ctx);
        }
        if (!typed(n)) {
            throw ctx.unsupported(n.op() + " on " + n.input(0).type() + " scores and " + n.input(1).type() + " labels");
        }
        boolean softmax = n.op().equals("SoftmaxCrossEntropyLoss");
        Shape s = n.input(0).shape();
        Dim inner = s.product(2, s.rank());
        int classes = ctx.staticDim(n.input(0), 1);
        String reduction = ctx.stringAttr("reduction");
        boolean hasIgnore = n.attributes().get("ignore_index").isPresent();
        ElementType type = EmitContext.type(n.output(0));
        TensorRef x = ctx.in(0);
        TensorRef label = ctx.in(1);
        TensorRef y = ctx.out(0);
        CodeBlock.Builder b = CodeBlock.builder();
        String lossSum = ctx.locals.newName("lossSum");
        String weightSum = ctx.locals.newName("weightSum");
        String i = ctx.locals.newName("i");
        String j = ctx.locals.newName("j");
        String sample = ctx.locals.newName("sample");
        String base = ctx.locals.newName("base");
        String target = ctx.locals.newName("label");
        String w = ctx.locals.newName("w");
        String loss = ctx.locals.newName("loss");
        b.addStatement("double $N = 0", lossSum).addStatement("double $N = 0", weightSum);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, ctx.dim(s.dim(0)), i);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, ctx.dim(inner), j);
        b.addStatement("int $N = $N * $L + $N", sample, i, ctx.dim(inner), j);
        // The first score of this sample: class k is at base + k * inner.
        b.addStatement("int $N = $N * $L + $N", base, i, ctx.dim(inner.times(Dim.of(classes))), j);
        String logSum = null;
        if (softmax) {
            String max = ctx.locals.newName("max");
            String sum = ctx.locals.newName("sum");
            String k = ctx.locals.newName("k");
            b.addStatement("double $N = $T.NEGATIVE_INFINITY", max, Double.class);
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", k, k, classes, k)
                    .addStatement("$N = $T.max($N, $L)", max, Math.class, max, x.at(CodeBlock.of("$N + $N * $L", base, k, ctx.dim(inner))))
                    .endControlFlow();
            b.addStatement("double $N = 0", sum);
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", k, k, classes, k)
                    .addStatement("$N += $T.exp($L - $N)", sum, Math.class, x.at(CodeBlock.of("$N + $N * $L", base, k, ctx.dim(inner))), max)
                    .endControlFlow();
            logSum = ctx.locals.newName("shift");
            b.addStatement("double $N = $N + $T.log($N)", logSum, max, Math.class, sum);
            if (n.outputs().size() > 1 && n.hasOutput(1)) {
                TensorRef lp = ctx.out(1);
                ElementType lpType = EmitContext.type(n.output(1));
                CodeBlock at = CodeBlock.of("$N + $N * $L", base, k, ctx.dim(inner));
                b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", k, k, classes, k)
                        .addStatement("$L = $L", lp.at(at), store(lpType, CodeBlock.of("$L - $N", x.at(at), logSum)))
                        .endControlFlow();
            }
        }
        b.addStatement("long $N = $L", target, label.at(CodeBlock.of("$N", sample)));
        if (hasIgnore) {
            b.beginControlFlow("if ($N == $LL)", target, OpTable.get().intAttr(n, "ignore_index"));
            if (reduction.equals("none")) {
                b.addStatement("$L = $L", y.at(CodeBlock.of("$N", sample)), type.zero());
            }
            b.addStatement("continue").endControlFlow();
        }
        b.beginControlFlow("if ($N < 0 || $N >= $L)", target, target, classes)
                .addStatement("throw new $T($S + $N + $S + $N + $S)", IllegalArgumentException.class,
                        ModelPlan.describe(n) + ": label ", target, " of sample ", sample, " is outside [0, " + classes + ")")
                .endControlFlow();
        CodeBlock weight = n.hasInput(2) ? ctx.in(2).at(CodeBlock.of("(int) $N", target)) : CodeBlock.of("1");
        b.addStatement("double $N = $L", w, weight);
        CodeBlock picked = x.at(CodeBlock.of("$N + (int) $N * $L", base, target, ctx.dim(inner)));
        b.addStatement("double $N = -($L) * $N", loss, softmax ? CodeBlock.of("$L - $N", picked, logSum) : picked, w);
        if (reduction.equals("none")) {
            b.addStatement("$L = $L", y.at(CodeBlock.of("$N", sample)), store(type, CodeBlock.of("$N", loss)));
        }
        b.addStatement("$N += $N", lossSum, loss).addStatement("$N += $N", weightSum, w);
        b.endControlFlow().endControlFlow();
        switch (reduction) {
            case "sum" -> b.addStatement("$L = $L", y.at(CodeBlock.of("0")), store(type, CodeBlock.of("$N", lossSum)));
            case "mean" -> b.addStatement("$L = $L", y.at(CodeBlock.of("0")),
                    store(type, CodeBlock.of("$N / $N", lossSum, weightSum)));
            default -> { }
        }
        return b.build();
    }

    /** True for the training graph's case that the runtime's {@code Losses} computes. */
    private static boolean runtimeApplies(EmitContext ctx) {
        Node n = ctx.node;
        return n.input(0).dtype() == dev.kiln.ir.DType.FLOAT32 && n.input(0).type().rank() >= 2
                && ctx.isIntInput(n.input(1)) && !(n.inputs().size() > 2 && n.hasInput(2))
                && n.attributes().get("ignore_index").isEmpty() && !(n.outputs().size() > 1 && n.hasOutput(1))
                && (ctx.stringAttr("reduction").equals("mean") || ctx.stringAttr("reduction").equals("sum"));
    }

    private static CodeBlock runtimeLoss(EmitContext ctx) {
        Node n = ctx.node;
        boolean grad = n.op().endsWith("Grad");
        int scores = grad ? 1 : 0;
        Value x = n.input(scores);
        Value labels = n.input(scores + 1);
        if (n.inputs().size() > scores + 2 && n.hasInput(scores + 2)) {
            throw ctx.unsupported(n.op() + " with class weights");
        }
        if (n.attributes().get("ignore_index").isPresent()) {
            throw ctx.unsupported(n.op() + " with ignore_index");
        }
        if (!grad && n.outputs().size() > 1 && n.hasOutput(1)) {
            throw ctx.unsupported(n.op() + "'s log_prob output");
        }
        String reduction = ctx.stringAttr("reduction");
        if (!reduction.equals("mean") && !reduction.equals("sum")) {
            throw ctx.unsupported(n.op() + " with reduction '" + reduction + "'");
        }
        TensorRef labelRef = ctx.ref(labels);
        if (!labels.dtype().isInteger() || !ctx.isIntInput(labels)) {
            throw ctx.unsupported(n.op() + " with labels '" + labels.name() + "' that are not the int[] labels input");
        }
        boolean crossEntropy = n.op().startsWith("SoftmaxCrossEntropy");
        int classes = ctx.staticDim(x, 1);
        // Scores (N, C, d1..dk) are N*D rows of C classes once transposed to (N, D, C), D = d1*..*dk; the labels
        // (N, d1..dk) are those rows' labels in order, and the mean over N*D is the mean PyTorch takes.
        long positions = 1;
        for (int d = 2; d < x.type().rank(); d++) {
            positions *= ctx.staticDim(x, d);
        }
        boolean spatial = x.type().rank() > 2;
        CodeBlock rows = ctx.dim(x.shape().dim(0).times(Dim.of(positions)));
        TensorRef in = ctx.in(scores);
        TensorRef out = ctx.out(0);
        CodeBlock mode = CodeBlock.of("$T.$L", REDUCTION, reduction.equals("mean") ? "MEAN" : "SUM");
        CodeBlock.Builder code = CodeBlock.builder();
        CodeBlock rowsIn = CodeBlock.of("$N, $L", in.array(), in.offset());
        long perSample = positions * classes;
        if (spatial) {
            // [rows x C] of class-major rows, then (forward) cross-entropy's working space after them.
            String scratch = ctx.batchScratch(perSample * (grad || !crossEntropy ? 1 : 2));
            transpose(code, ctx, in.array(), in.offset(), "this." + scratch, CodeBlock.of("0"), ctx.dim(x.shape().dim(0)),
                    CodeBlock.of("$L", classes), CodeBlock.of("$L", positions));
            rowsIn = CodeBlock.of("this.$N, 0", scratch);
        }
        if (!grad) {
            // Cross-entropy needs n x C floats of working space for its log-softmax even when only the loss is wanted.
            CodeBlock work = !crossEntropy ? CodeBlock.of("null, 0") : spatial
                    ? CodeBlock.of("this.$N, $L", ctx.batchScratch(2 * perSample), rows + " * " + classes)
                    : CodeBlock.of("this.$N, 0", ctx.batchScratch(classes));
            return code.addStatement("$L = $T.$N($L, $L, $L, $N, $L, $L, $L)", out.at(CodeBlock.of("0")), LOSSES,
                    crossEntropy ? "softmaxCrossEntropy" : "nll", rows, classes, rowsIn, labelRef.array(),
                    labelRef.offset(), mode, work).build();
        }
        if (spatial) {
            // The gradient rows overwrite the transposed scores in place, then go back to (N, C, d1..dk).
            String scratch = ctx.batchScratch(perSample);
            code.addStatement("$T.$N($L, $L, this.$N, 0, $N, $L, $L, this.$N, 0)", LOSSES,
                    crossEntropy ? "softmaxCrossEntropy" : "nll", rows, classes, scratch, labelRef.array(),
                    labelRef.offset(), mode, scratch);
            transpose(code, ctx, "this." + scratch, CodeBlock.of("0"), out.array(), out.offset(), ctx.dim(x.shape().dim(0)),
                    CodeBlock.of("$L", positions), CodeBlock.of("$L", classes));
        } else {
            code.addStatement("$T.$N($L, $L, $L, $N, $L, $L, $N, $L)", LOSSES, crossEntropy ? "softmaxCrossEntropy" : "nll",
                    rows, classes, rowsIn, labelRef.array(), labelRef.offset(), mode, out.array(), out.offset());
        }
        Value dLoss = n.input(0);
        boolean unitSeed = ctx.isConstant(dLoss) && ctx.constant(dLoss).size() == 1 && ctx.constant(dLoss).getDouble(0) == 1;
        if (!unitSeed) {
            String scale = ctx.locals.newName("dLoss");
            String i = ctx.locals.newName("i");
            code.addStatement("float $N = $L", scale, ctx.in(0).at(CodeBlock.of("0")));
            code.beginControlFlow("for (int $N = 0; $N < $L * $L; $N++)", i, i, rows, classes, i)
                    .addStatement("$L *= $N", out.at(CodeBlock.of("$N", i)), scale)
                    .endControlFlow();
        }
        return code.build();
    }

    /** {@code to[n][j][i] = from[n][i][j]} for {@code n < count}, {@code i < a}, {@code j < b}. */
    private static void transpose(CodeBlock.Builder code, EmitContext ctx, String from, CodeBlock fromOff, String to,
                                  CodeBlock toOff, CodeBlock count, CodeBlock a, CodeBlock b) {
        String n = ctx.locals.newName("n");
        String i = ctx.locals.newName("i");
        String j = ctx.locals.newName("j");
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", n, n, count, n)
                .beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, a, i)
                .beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, b, j)
                .addStatement("$N[$L + ($N * $L + $N) * $L + $N] = $N[$L + ($N * $L + $N) * $L + $N]", to, toOff, n, b, j,
                        a, i, from, fromOff, n, a, i, b, j)
                .endControlFlow().endControlFlow().endControlFlow();
    }

    /** A double expression stored as a floating element type. */
    static CodeBlock store(ElementType t, CodeBlock doubleExpr) {
        return t.compute().equals(TypeName.DOUBLE) ? doubleExpr : t.narrow(CodeBlock.of("(float) ($L)", doubleExpr));
    }
}
