package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Node;
import dev.kiln.ir.Value;

/**
 * Classification losses and their gradients as calls of the runtime's {@code Losses}, which computes loss and
 * gradient in one pass: SoftmaxCrossEntropyLoss and NegativeLogLikelihoodLoss (scores [N, C], integer labels
 * [N] that generated code takes as an {@code int[]}, mean or sum reduction) write the scalar loss;
 * {@code dev.kiln.SoftmaxCrossEntropyLossGrad} and {@code NegativeLogLikelihoodLossGrad} write the gradient
 * of the scores, scaled by the incoming loss gradient unless that is the constant 1 of a training graph's seed.
 */
final class LossEmitter implements KernelEmitter {
    static final ClassName LOSSES = ClassName.get("dev.kiln.runtime.train", "Losses");
    static final ClassName REDUCTION = ClassName.get("dev.kiln.runtime.train", "Reduction");

    @Override
    public CodeBlock emit(EmitContext ctx) {
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
        if (x.type().rank() != 2) {
            throw ctx.unsupported(n.op() + " on scores of rank " + x.type().rank() + " (only [N, C])");
        }
        String reduction = ctx.stringAttr("reduction");
        if (!reduction.equals("mean") && !reduction.equals("sum")) {
            throw ctx.unsupported(n.op() + " with reduction '" + reduction + "'");
        }
        TensorRef labelRef = ctx.ref(labels);
        if (!labels.dtype().isInteger() || labelRef.array().equals("this.arena")) {
            throw ctx.unsupported(n.op() + " with labels '" + labels.name() + "' that are not the int[] labels input");
        }
        boolean crossEntropy = n.op().startsWith("SoftmaxCrossEntropy");
        CodeBlock rows = ctx.dim(x.shape().dim(0));
        int classes = ctx.staticDim(x, 1);
        TensorRef in = ctx.in(scores);
        TensorRef out = ctx.out(0);
        CodeBlock mode = CodeBlock.of("$T.$L", REDUCTION, reduction.equals("mean") ? "MEAN" : "SUM");
        CodeBlock.Builder code = CodeBlock.builder();
        if (!grad) {
            // Cross-entropy needs n x C floats of working space for its log-softmax even when only the loss is wanted.
            CodeBlock work = crossEntropy ? CodeBlock.of("this.$N, 0", ctx.batchScratch(classes)) : CodeBlock.of("null, 0");
            return code.addStatement("$L = $T.$N($L, $L, $N, $L, $N, $L, $L, $L)", out.at(CodeBlock.of("0")), LOSSES,
                    crossEntropy ? "softmaxCrossEntropy" : "nll", rows, classes, in.array(), in.offset(),
                    labelRef.array(), labelRef.offset(), mode, work).build();
        }
        code.addStatement("$T.$N($L, $L, $N, $L, $N, $L, $L, $N, $L)", LOSSES, crossEntropy ? "softmaxCrossEntropy" : "nll",
                rows, classes, in.array(), in.offset(), labelRef.array(), labelRef.offset(), mode, out.array(), out.offset());
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
}
