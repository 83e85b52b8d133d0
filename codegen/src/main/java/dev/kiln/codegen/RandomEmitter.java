package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Node;

/**
 * RandomUniform, RandomNormal, RandomUniformLike, RandomNormalLike and Bernoulli through the runtime's
 * {@code NumpyRandom}, drawing in row-major order as the reference evaluator does. A node with a seed makes its
 * generator afresh on every call (so every call gives ONNX's reference values, as a seeded Dropout does); one
 * without draws from a per-instance generator seeded once when the instance is made, so each call gives new values.
 */
final class RandomEmitter implements KernelEmitter {
    private static final ClassName NUMPY_RANDOM = ClassName.get("dev.kiln.runtime", "NumpyRandom");

    /** Any floating input (Bernoulli's probabilities) and any numeric or bool output, through {@link ElementType}. */
    @Override
    public boolean typed(Node n) {
        return true;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        CodeBlock.Builder b = CodeBlock.builder();
        String random;
        if (n.attributes().get("seed").isPresent()) {
            // The shape rule checked that the seed is one numpy takes.
            long seed = (long) ctx.floatAttr("seed");
            random = ctx.locals.newName("random");
            b.addStatement("$T $N = new $T($LL)", NUMPY_RANDOM, random, NUMPY_RANDOM, seed);
        } else {
            random = "this." + ctx.derivedField("random:" + n.output(0).name(), NUMPY_RANDOM,
                    Identifiers.method(n) + "Random", CodeBlock.of("new $T($T.current().nextLong(1L << 32))",
                            NUMPY_RANDOM, java.util.concurrent.ThreadLocalRandom.class));
        }
        ElementType t = EmitContext.type(n.output(0));
        TensorRef y = ctx.out(0);
        String i = ctx.locals.newName("i");
        CodeBlock value = switch (n.op()) {
            case "Bernoulli" -> {
                CodeBlock draw = CodeBlock.of("$N.nextBernoulli($L)", random, ctx.in(0).at(CodeBlock.of("$N", i)));
                yield t.dtype() == dev.kiln.ir.DType.BOOL ? CodeBlock.of("$L == 1", draw)
                        : CodeBlock.of("$L == 1 ? $L : $L", draw, t.elementLiteral(1), t.elementLiteral(0));
            }
            case "RandomUniform", "RandomUniformLike" -> LossEmitter.store(t, CodeBlock.of("$N.nextDouble() * $L + $L",
                    random, ElementType.doubleLiteral((double) ctx.floatAttr("high") - ctx.floatAttr("low")),
                    ElementType.doubleLiteral(ctx.floatAttr("low"))));
            default -> LossEmitter.store(t, CodeBlock.of("$N.nextGaussian() * $L + $L", random,
                    ElementType.doubleLiteral(ctx.floatAttr("scale")), ElementType.doubleLiteral(ctx.floatAttr("mean"))));
        };
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, ctx.count(n.output(0)), i);
        b.addStatement("$L = $L", y.at(CodeBlock.of("$N", i)), value);
        b.endControlFlow();
        return b.build();
    }
}
