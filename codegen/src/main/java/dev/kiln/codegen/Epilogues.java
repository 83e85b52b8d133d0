package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Attr;
import dev.kiln.ir.Node;
import dev.kiln.ir.ops.Activation;
import java.util.Optional;

/** The runtime {@code Epilogue} constant for a fused node's activation, as a shared static field. */
final class Epilogues {
    static final ClassName EPILOGUE = ClassName.get("dev.kiln.runtime", "Epilogue");

    private Epilogues() {}

    /** The field holding the node's epilogue ({@code Epilogue.none()} when it is not fused). */
    static String field(EmitContext ctx, boolean fused) {
        Node n = ctx.node;
        Activation act = fused ? Activation.parse(ctx.stringAttr("activation")) : Activation.NONE;
        Optional<Float> alpha = floatAttr(n, "activation_alpha");
        Optional<Float> beta = floatAttr(n, "activation_beta");
        CodeBlock init = switch (act) {
            case NONE -> CodeBlock.of("$T.none()", EPILOGUE);
            case RELU -> CodeBlock.of("$T.relu()", EPILOGUE);
            case SIGMOID -> CodeBlock.of("$T.sigmoid()", EPILOGUE);
            case TANH -> CodeBlock.of("$T.tanh()", EPILOGUE);
            case LEAKY_RELU -> CodeBlock.of("$T.leakyRelu($L)", EPILOGUE, literal(alpha.orElse(0.01f)));
            case ELU -> CodeBlock.of("$T.elu($L)", EPILOGUE, literal(alpha.orElse(1f)));
            case HARD_SIGMOID -> CodeBlock.of("$T.hardSigmoid($L, $L)", EPILOGUE, literal(alpha.orElse(0.2f)),
                    literal(beta.orElse(0.5f)));
            case CLIP -> CodeBlock.of("$T.clip($L, $L)", EPILOGUE, literal(alpha.orElse(Float.NEGATIVE_INFINITY)),
                    literal(beta.orElse(Float.POSITIVE_INFINITY)));
        };
        String key = "epilogue:" + init;
        String hint = act == Activation.NONE ? "NO_EPILOGUE" : act.name() + "_EPILOGUE";
        return ctx.staticField(key, EPILOGUE, hint, init);
    }

    private static CodeBlock literal(float f) {
        return ElementwiseEmitter.literal(f);
    }

    private static Optional<Float> floatAttr(Node n, String name) {
        return n.attributes().get(name).map(a -> ((Attr.Float) a).value());
    }
}
