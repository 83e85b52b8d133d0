package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Node;

/**
 * Dropout. When it drops nothing (no training_mode, a constant false one, or a constant ratio of 0) the output is
 * a copy of the input and the optional mask is all true. In training mode with a seed, the mask comes from numpy's
 * generator seeded afresh on every call ({@code NumpyRandom}), kept elements are scaled by 1 / (1 - ratio), as the
 * reference evaluator does; ratio and training_mode may be read at run time.
 * A trainer's Dropout (training mode without a seed: a fresh mask every step) is {@link DropoutTrainingEmitter}'s.
 */
final class DropoutEmitter implements KernelEmitter {
    private static final ClassName NUMPY_RANDOM = ClassName.get("dev.kiln.runtime", "NumpyRandom");

    /** Copies elements and fills a bool mask, so any element type (training mode: floating types). */
    @Override
    public boolean typed(Node n) {
        return true;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        if (DropoutTrainingEmitter.training(ctx) && n.attributes().get("seed").isEmpty()) {
            return DropoutTrainingEmitter.forward(ctx);
        }
        boolean constantMode = !n.hasInput(2) || ctx.isConstant(n.input(2));
        boolean training = n.hasInput(2) && !(ctx.isConstant(n.input(2)) && !ctx.constant(n.input(2)).getBool(0));
        boolean noDrops = n.hasInput(1) && ctx.isConstant(n.input(1)) && ctx.constant(n.input(1)).getDouble(0) == 0;
        boolean maskOut = n.outputs().size() > 1 && n.hasOutput(1);
        CodeBlock.Builder copy = CodeBlock.builder().add(new CopyEmitter().emit(ctx));
        if (maskOut) {
            TensorRef mask = ctx.out(1);
            copy.addStatement("$T.fill($N, $L, $L, true)", java.util.Arrays.class, mask.array(), mask.offset(),
                    mask.plus(ctx.count(n.output(1))));
        }
        if (!training || noDrops) {
            return copy.build();
        }
        if (n.attributes().get("seed").isEmpty() || !n.input(0).dtype().isFloat()) {
            throw ctx.unsupported("Dropout in training mode without a seed (its mask cannot match any reference)");
        }
        CodeBlock.Builder b = CodeBlock.builder();
        String ratio = ctx.locals.newName("ratio");
        b.addStatement("double $N = $L", ratio, !n.hasInput(1) ? CodeBlock.of("0.5")
                : ctx.isConstant(n.input(1)) ? ElementType.doubleLiteral(ctx.constant(n.input(1)).getDouble(0))
                : ctx.in(1).at(CodeBlock.of("0")));
        CodeBlock dropping = CodeBlock.of("$N != 0", ratio);
        if (!constantMode) {
            dropping = CodeBlock.of("$L && $L", ctx.in(2).at(CodeBlock.of("0")), dropping);
        }
        b.beginControlFlow("if (!($L))", dropping).add(copy.build()).addStatement("return").endControlFlow();
        b.beginControlFlow("if (!($N >= 0 && $N < 1))", ratio, ratio)
                .addStatement("throw new $T($S + $N)", IllegalArgumentException.class,
                        ModelPlan.describe(n) + ": ratio must be in [0, 1), not ", ratio)
                .endControlFlow();
        String random = ctx.locals.newName("random");
        String scale = ctx.locals.newName("scale");
        String i = ctx.locals.newName("i");
        String keep = ctx.locals.newName("keep");
        b.addStatement("$T $N = new $T($LL)", NUMPY_RANDOM, random, NUMPY_RANDOM, ctx.intAttr("seed"));
        b.addStatement("double $N = 1 / (1 - $N)", scale, ratio);
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        ElementType t = EmitContext.type(n.output(0));
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, ctx.count(n.output(0)), i);
        b.addStatement("boolean $N = $N.nextDouble() >= $N", keep, random, ratio);
        if (maskOut) {
            b.addStatement("$L = $N", ctx.out(1).at(CodeBlock.of("$N", i)), keep);
        }
        b.addStatement("$L = $N ? $L : $L", y.at(CodeBlock.of("$N", i)), keep,
                LossEmitter.store(t, CodeBlock.of("$L * $N", x.at(CodeBlock.of("$N", i)), scale)), t.zero());
        b.endControlFlow();
        return b.build();
    }
}
