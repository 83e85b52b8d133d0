package dev.kiln.ir.builder;

/**
 * Options of a fully connected layer ({@code nn.Linear}): {@code y = x W^T + b} with {@code W} of shape
 * {@code [units, in]} named {@code <name>.weight} and {@code b} of shape {@code [units]} named {@code <name>.bias}.
 *
 * @param name the layer name, empty for the next free {@code fc<k>}
 * @param units output features
 * @param bias whether the layer has a bias
 * @param activation applied to the output, {@link Activation#NONE} for none
 */
public record Dense(String name, int units, boolean bias, Activation activation) {

    public Dense {
        if (units <= 0) {
            throw new IllegalArgumentException("dense layer needs units > 0, got " + units);
        }
        java.util.Objects.requireNonNull(name, "name");
        java.util.Objects.requireNonNull(activation, "activation");
    }

    /** {@code units} outputs, with bias, no activation, default name. */
    public static Dense of(int units) {
        return new Dense("", units, true, Activation.NONE);
    }

    public Dense named(String n) { return new Dense(n, units, bias, activation); }

    public Dense bias(boolean b) { return new Dense(name, units, b, activation); }

    public Dense activation(Activation a) { return new Dense(name, units, bias, a); }
}
