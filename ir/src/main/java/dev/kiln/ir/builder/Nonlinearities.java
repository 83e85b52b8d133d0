package dev.kiln.ir.builder;

import dev.kiln.ir.Value;

/**
 * Activation functions and the softmax family, as PyTorch's opset-13 export writes them: one ONNX op where
 * ONNX has it, the exporter's decomposition where it has not (GELU, SiLU).
 */
final class Nonlinearities {
    private Nonlinearities() {}

    /** A one-input op with no attributes: Relu, Sigmoid, Tanh, Selu, Softplus. */
    static Value unary(BuildContext c, String op, Value x) {
        Layers.requireFloat(x, op);
        return c.node("", op, x).output();
    }

    static Value leakyRelu(BuildContext c, Value x, double alpha) {
        Layers.requireFloat(x, "LeakyRelu");
        return c.node("", "LeakyRelu", x).attr("alpha", (float) alpha).output();
    }

    static Value elu(BuildContext c, Value x, double alpha) {
        Layers.requireFloat(x, "Elu");
        return c.node("", "Elu", x).attr("alpha", (float) alpha).output();
    }

    /** Exact GELU, {@code x * (1 + erf(x / sqrt 2)) * 0.5}, in the exporter's five nodes. */
    static Value gelu(BuildContext c, Value x) {
        Layers.requireFloat(x, "gelu");
        Value scaled = c.node("", "Div", x, c.scalar("", x.dtype(), Math.sqrt(2))).output();
        Value erf = c.node("", "Erf", scaled).output();
        Value onePlus = c.node("", "Add", erf, c.scalar("", x.dtype(), 1)).output();
        Value prod = c.node("", "Mul", x, onePlus).output();
        return c.node("", "Mul", prod, c.scalar("", x.dtype(), 0.5)).output();
    }

    /** SiLU (swish), {@code x * sigmoid(x)}. */
    static Value silu(BuildContext c, Value x) {
        Layers.requireFloat(x, "silu");
        Value s = c.node("", "Sigmoid", x).output();
        return c.node("", "Mul", x, s).output();
    }

    /** Softmax or LogSoftmax along {@code axis}. */
    static Value softmax(BuildContext c, String op, Value x, int axis) {
        Layers.requireFloat(x, op);
        return c.node("", op, x).attr("axis", axis).output();
    }
}
