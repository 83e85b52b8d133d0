package dev.kiln.ir.ops;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The activations a fused Conv/Gemm can run in its epilogue, with their parameters as {@code alpha} and
 * {@code beta} (LeakyRelu and Elu: alpha; HardSigmoid: alpha, beta; Clip: min = alpha, max = beta, either
 * may be absent). Semantics are the ONNX op's own, taken from the op table.
 */
public enum Activation {
    NONE(""), RELU("Relu"), LEAKY_RELU("LeakyRelu"), SIGMOID("Sigmoid"), TANH("Tanh"),
    HARD_SIGMOID("HardSigmoid"), CLIP("Clip"), ELU("Elu");

    private final String onnxOp;

    Activation(String onnxOp) { this.onnxOp = onnxOp; }

    /** The ONNX op this activation is ({@code ""} for NONE). */
    public String onnxOp() { return onnxOp; }

    /** The activation named by an ONNX op, if it is one a kernel epilogue can run. */
    public static Optional<Activation> ofOnnxOp(String op) {
        for (Activation a : values()) {
            if (a != NONE && a.onnxOp.equals(op)) {
                return Optional.of(a);
            }
        }
        return Optional.empty();
    }

    /** Parses the {@code activation} attribute of a fused node. */
    public static Activation parse(String name) {
        if (name.isEmpty()) {
            return NONE;
        }
        return ofOnnxOp(name).orElseThrow(() -> new IllegalArgumentException(
                "unknown fused activation '" + name + "'"));
    }

    /** The ONNX op's attributes for the given parameters (absent parameters keep the op's defaults). */
    public Attributes onnxAttributes(Optional<Float> alpha, Optional<Float> beta) {
        Attributes.Builder b = Attributes.builder();
        switch (this) {
            case LEAKY_RELU, ELU -> alpha.ifPresent(a -> b.f("alpha", a));
            case HARD_SIGMOID -> {
                alpha.ifPresent(a -> b.f("alpha", a));
                beta.ifPresent(x -> b.f("beta", x));
            }
            default -> { }
        }
        return b.build();
    }

    /** Applies the activation to {@code y} with the ONNX op's reference semantics. */
    public Tensor apply(EvalContext fused, Tensor y, Optional<Float> alpha, Optional<Float> beta) {
        if (this == NONE) {
            return y;
        }
        OpDef def = OpTable.get().require("", onnxOp, fused.nodeDescription());
        List<Tensor> in = new ArrayList<>();
        in.add(y);
        if (this == CLIP) {
            in.add(alpha.map(a -> Tensor.ofDoubles(y.dtype(), new int[0], a)).orElse(null));
            in.add(beta.map(x -> Tensor.ofDoubles(y.dtype(), new int[0], x)).orElse(null));
        }
        EvalContext ctx = new EvalContext(def, fused.nodeDescription(), onnxAttributes(alpha, beta), in, 1,
                fused.random());
        return def.evalRule().evaluate(ctx).get(0);
    }

    @Override
    public String toString() { return name().toLowerCase(Locale.ROOT); }
}
