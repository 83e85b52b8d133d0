package dev.kiln.ir.builder;

/**
 * A nonlinearity to pass where a layer takes one ({@code dense(128, Activation.RELU)}), or to
 * {@link Flow#apply}. Each is the same node(s) as the corresponding {@link Flow} method.
 */
@FunctionalInterface
public interface Activation {
    Flow apply(Flow x);

    Activation NONE = x -> x;
    Activation RELU = Flow::relu;
    Activation SIGMOID = Flow::sigmoid;
    Activation TANH = Flow::tanh;
    Activation GELU = Flow::gelu;
    Activation SILU = Flow::silu;
    Activation SELU = Flow::selu;
    Activation SOFTPLUS = Flow::softplus;

    static Activation leakyRelu(double alpha) { return x -> x.leakyRelu(alpha); }

    static Activation elu(double alpha) { return x -> x.elu(alpha); }
}
