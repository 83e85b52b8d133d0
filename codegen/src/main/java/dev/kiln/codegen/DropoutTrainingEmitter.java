package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Node;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;

/**
 * Dropout in training mode and its gradient {@code dev.kiln.DropoutGrad(dY, mask, ratio, training_mode)}. The
 * mask is held as floats (1 kept, 0 dropped; the trainer plan retypes the BOOL mask) so that the backward reuses the
 * forward's draw: {@code Y = X * mask / (1 - ratio)}, {@code dX = dY * mask / (1 - ratio)}.
 *
 * <p>Randomness: step k's mask comes from a {@code SplittableRandom} seeded with the trainer's
 * {@code dropoutSeed} (the training spec's seed), k and the node, so a trainer is reproducible from its seed and
 * its masks do not depend on the thread count; the stream is not the reference evaluator's. An element is kept when
 * its uniform draw in [0, 1) is at least the ratio.
 */
final class DropoutTrainingEmitter implements KernelEmitter {
    /** The trainer's field holding the seed, and its step counter (the step being taken is one more). */
    static final String SEED_FIELD = "dropoutSeed";

    /** True for a Dropout whose training_mode is a constant true (a training graph's). */
    static boolean training(EmitContext ctx) {
        Node n = ctx.node;
        return n.hasInput(2) && ctx.isConstant(n.input(2)) && ctx.constant(n.input(2)).getBool(0);
    }

    /** The training forward: Y and the mask. */
    static CodeBlock forward(EmitContext ctx) {
        Node n = ctx.node;
        float ratio = ratio(ctx, n.hasInput(1) ? n.input(1) : Value.ABSENT);
        if (!n.hasOutput(1)) {
            throw ctx.unsupported("Dropout in training mode without its mask output");
        }
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        TensorRef mask = ctx.out(1);
        String rng = ctx.locals.newName("random");
        String i = ctx.locals.newName("i");
        String keep = ctx.locals.newName("keep");
        long nodeSalt = n.output(0).name().hashCode();
        return CodeBlock.builder()
                .addStatement("$T $N = new $T($L * 0x9E3779B97F4A7C15L + (stepCount + 1L) * 0xBF58476D1CE4E5B9L + $LL)",
                        java.util.SplittableRandom.class, rng, java.util.SplittableRandom.class, SEED_FIELD, nodeSalt)
                .beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, ctx.count(n.output(0)), i)
                .addStatement("boolean $N = $N.nextFloat() >= $Lf", keep, rng, ratio)
                .addStatement("$L = $N ? 1f : 0f", mask.at(CodeBlock.of("$N", i)), keep)
                .addStatement("$L = $N ? $L * $Lf : 0f", y.at(CodeBlock.of("$N", i)), keep, x.at(CodeBlock.of("$N", i)),
                        scale(ratio))
                .endControlFlow()
                .build();
    }

    /** DropoutGrad. */
    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        boolean training = n.hasInput(3) && ctx.isConstant(n.input(3)) && ctx.constant(n.input(3)).getBool(0);
        if (n.hasInput(3) && !ctx.isConstant(n.input(3))) {
            throw ctx.unsupported("DropoutGrad with a training_mode computed at run time");
        }
        float ratio = ratio(ctx, n.hasInput(2) ? n.input(2) : Value.ABSENT);
        float scale = training ? scale(ratio) : 1f;
        TensorRef dy = ctx.in(0);
        TensorRef mask = ctx.in(1);
        TensorRef dx = ctx.out(0);
        String i = ctx.locals.newName("i");
        return CodeBlock.builder()
                .beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, ctx.count(n.output(0)), i)
                .addStatement("$L = $L * $L * $Lf", dx.at(CodeBlock.of("$N", i)), dy.at(CodeBlock.of("$N", i)),
                        mask.at(CodeBlock.of("$N", i)), scale)
                .endControlFlow()
                .build();
    }

    private static float scale(float ratio) {
        return ratio == 0f ? 1f : 1f / (1f - ratio);
    }

    private static float ratio(EmitContext ctx, Value ratio) {
        if (ratio.isAbsent()) {
            return 0.5f;
        }
        if (!ctx.isConstant(ratio)) {
            throw ctx.unsupported(ctx.node.op() + " with a ratio computed at run time");
        }
        Tensor t = ctx.constant(ratio);
        float r = (float) t.getDouble(0);
        if (!(r >= 0f && r < 1f)) {
            throw ctx.unsupported(ctx.node.op() + " with ratio " + r + " (must be in [0, 1))");
        }
        return r;
    }
}
