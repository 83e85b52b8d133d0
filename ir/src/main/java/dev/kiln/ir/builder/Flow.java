package dev.kiln.ir.builder;

import dev.kiln.ir.DType;
import dev.kiln.ir.Shape;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.List;

/**
 * A handle on one value of a model under construction, with the layers as fluent methods: each call adds
 * nodes to the owning {@link ModelBuilder} and returns a new handle, so {@code x.dense(64).relu()} chains
 * and a handle kept in a variable can feed several layers (residual and multi-branch graphs).
 */
public final class Flow {
    private final ModelBuilder owner;
    private final Value value;

    Flow(ModelBuilder owner, Value value) {
        this.owner = owner;
        this.value = value;
    }

    /** The IR value this handle stands for. */
    public Value value() { return value; }

    public TensorType type() { return value.type(); }

    public Shape shape() { return value.shape(); }

    public DType dtype() { return value.dtype(); }

    // ---- layers with parameters ----

    /** {@code nn.Linear(in, units)}, layer named {@code fc<k>}. */
    public Flow dense(int units) { return dense(Dense.of(units)); }

    public Flow dense(int units, Activation activation) { return dense(Dense.of(units).activation(activation)); }

    /** {@code nn.Linear(in, units)} with parameters {@code name.weight}, {@code name.bias}. */
    public Flow dense(String name, int units) { return dense(Dense.of(units).named(name)); }

    public Flow dense(String name, int units, Activation activation) {
        return dense(Dense.of(units).named(name).activation(activation));
    }

    public Flow dense(Dense spec) {
        BuildContext c = owner.context();
        return spec.activation().apply(next(Layers.dense(c, value, spec)));
    }

    /** The same as {@link #dense(int)}, under PyTorch's name. */
    public Flow linear(int units) { return dense(units); }

    public Flow linear(String name, int units) { return dense(name, units); }

    /** {@code nn.Conv2d(in, filters, kernel)}: stride 1, no padding, layer named {@code conv<k>}. */
    public Flow conv2d(int filters, int kernel) { return conv2d(Conv2d.of(filters, kernel)); }

    public Flow conv2d(String name, int filters, int kernel) { return conv2d(Conv2d.of(filters, kernel).named(name)); }

    public Flow conv2d(Conv2d spec) { return next(Layers.conv2d(owner.context(), value, spec)); }

    /** {@code nn.BatchNorm1d/2d(C)} in eval mode (epsilon 1e-5), layer named {@code bn<k>}. */
    public Flow batchNorm() { return batchNorm(""); }

    public Flow batchNorm(String name) { return next(Layers.batchNorm(owner.context(), value, name, 1e-5)); }

    /** {@code nn.LayerNorm(last dim)}: LayerNormalization over the last axis; parameters {@code lnK.weight/bias}. */
    public Flow layerNorm() { return layerNorm(""); }

    public Flow layerNorm(String name) { return next(Layers.layerNorm(owner.context(), value, name, 1e-5)); }

    /**
     * {@code nn.LSTM(in, hidden, batch_first=batchFirst)}: returns the outputs of every time step,
     * {@code [batch, seq, hidden]} when batch first, else {@code [seq, batch, hidden]}. Layer named {@code lstm<k>}.
     */
    public Flow lstm(int hidden, boolean batchFirst) { return lstm("", hidden, batchFirst); }

    public Flow lstm(String name, int hidden, boolean batchFirst) {
        return next(RecurrentLayers.lstm(owner.context(), value, name, hidden, batchFirst));
    }

    /** {@code nn.GRU(in, hidden, batch_first=batchFirst)}, shaped as {@link #lstm(int, boolean)}. */
    public Flow gru(int hidden, boolean batchFirst) { return gru("", hidden, batchFirst); }

    public Flow gru(String name, int hidden, boolean batchFirst) {
        return next(RecurrentLayers.gru(owner.context(), value, name, hidden, batchFirst));
    }

    // ---- pooling, shape and regularization ----

    /** {@code F.max_pool2d(x, kernel)}: stride = kernel, no padding. */
    public Flow maxPool2d(int kernel) { return maxPool2d(kernel, kernel, 0); }

    public Flow maxPool2d(int kernel, int stride, int padding) {
        return next(Layers.maxPool2d(owner.context(), value, kernel, stride, padding));
    }

    /** {@code F.avg_pool2d(x, kernel)}: stride = kernel, no padding. */
    public Flow avgPool2d(int kernel) { return avgPool2d(kernel, kernel, 0); }

    public Flow avgPool2d(int kernel, int stride, int padding) {
        return next(Layers.avgPool2d(owner.context(), value, kernel, stride, padding));
    }

    /** {@code nn.AdaptiveAvgPool2d(1)}: the mean over all spatial positions, keeping 1x1 dims. */
    public Flow globalAvgPool() { return next(Layers.globalAvgPool(owner.context(), value)); }

    /** {@code nn.Dropout(p)}: absent from inference graphs unless {@link ModelBuilder#keepDropout(boolean)}. */
    public Flow dropout(double p) { return next(Layers.dropout(owner.context(), value, p)); }

    /** {@code torch.flatten(x, 1)}. */
    public Flow flatten() { return next(Layers.flatten(owner.context(), value)); }

    /** {@code x.view(shape)}; {@code -1} infers one dim (use it for the batch). */
    public Flow reshape(long... shape) { return next(Layers.reshape(owner.context(), value, shape)); }

    /** {@code x.permute(perm)}: Transpose. */
    public Flow transpose(long... perm) { return next(Layers.transpose(owner.context(), value, perm)); }

    /** {@code x.select(axis, index)}, e.g. {@code select(1, -1)} for the last time step of a batch-first RNN. */
    public Flow select(int axis, long index) { return next(Layers.select(owner.context(), value, axis, index)); }

    // ---- activations ----

    public Flow relu() { return unary("Relu"); }

    public Flow sigmoid() { return unary("Sigmoid"); }

    public Flow tanh() { return unary("Tanh"); }

    public Flow selu() { return unary("Selu"); }

    /** {@code F.softplus} with beta 1. */
    public Flow softplus() { return unary("Softplus"); }

    /** {@code F.leaky_relu} with PyTorch's default slope 0.01. */
    public Flow leakyRelu() { return leakyRelu(0.01); }

    public Flow leakyRelu(double alpha) { return next(Nonlinearities.leakyRelu(owner.context(), value, alpha)); }

    public Flow elu() { return elu(1.0); }

    public Flow elu(double alpha) { return next(Nonlinearities.elu(owner.context(), value, alpha)); }

    /** Exact (erf) GELU. */
    public Flow gelu() { return next(Nonlinearities.gelu(owner.context(), value)); }

    /** SiLU / swish. */
    public Flow silu() { return next(Nonlinearities.silu(owner.context(), value)); }

    /** Softmax along the last axis. */
    public Flow softmax() { return softmax(-1); }

    public Flow softmax(int axis) { return next(Nonlinearities.softmax(owner.context(), "Softmax", value, axis)); }

    /** Log-softmax along the last axis. */
    public Flow logSoftmax() { return logSoftmax(-1); }

    public Flow logSoftmax(int axis) {
        return next(Nonlinearities.softmax(owner.context(), "LogSoftmax", value, axis));
    }

    public Flow apply(Activation activation) { return activation.apply(this); }

    // ---- combining handles ----

    /** Elementwise sum with broadcasting (a residual connection). */
    public Flow add(Flow other) { return next(Layers.add(owner.context(), value, owner.own(other))); }

    /** Elementwise product with broadcasting. */
    public Flow mul(Flow other) { return next(Layers.mul(owner.context(), value, owner.own(other))); }

    /** {@code torch.matmul(this, other)}: MatMul (batched, numpy broadcasting). */
    public Flow matmul(Flow other) { return next(Layers.matmul(owner.context(), value, owner.own(other))); }

    /** {@code x / divisor} (attention's {@code / sqrt(d)}): Div by a scalar Constant. */
    public Flow div(double divisor) { return next(Layers.div(owner.context(), value, divisor)); }

    /** {@code torch.cat([this, others...], axis)}. */
    public Flow concat(int axis, Flow... others) {
        List<Value> all = new ArrayList<>();
        all.add(value);
        for (Flow f : others) {
            all.add(owner.own(f));
        }
        return next(Layers.concat(owner.context(), axis, all));
    }

    /** Marks this value as a graph output named {@code name}; returns this handle. */
    public Flow output(String name) {
        owner.output(this, name);
        return this;
    }

    private Flow unary(String op) { return next(Nonlinearities.unary(owner.context(), op, value)); }

    private Flow next(Value v) { return v == value ? this : new Flow(owner, v); }

    ModelBuilder owner() { return owner; }

    /** {@code %name: f32[N,10]}. */
    @Override
    public String toString() { return value.toString(); }
}
