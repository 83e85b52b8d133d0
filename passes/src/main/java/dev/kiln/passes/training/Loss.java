package dev.kiln.passes.training;

import java.util.Locale;

/** The loss a training graph minimizes, applied to the model's first output. */
public enum Loss {
    /** Softmax cross-entropy on logits (N, C, d1..) with integer class labels (N, d1..). */
    CROSS_ENTROPY("ce"),
    /** Negative log-likelihood on log-probabilities (N, C, d1..) with integer class labels (N, d1..). */
    NLL("nll"),
    /** Mean (or summed) squared error against float targets shaped like the output. */
    MSE("mse");

    private final String cliName;

    Loss(String cliName) { this.cliName = cliName; }

    /** The command line's name: {@code ce}, {@code nll} or {@code mse}. */
    public String cliName() { return cliName; }

    /** The loss named {@code ce|nll|mse} (also the enum names, any case). */
    public static Loss parse(String text) {
        for (Loss l : values()) {
            if (l.cliName.equalsIgnoreCase(text) || l.name().equalsIgnoreCase(text)) {
                return l;
            }
        }
        throw new IllegalArgumentException("unknown loss '" + text + "' (expected ce, nll or mse)");
    }

    /** True when the labels are integer class indices rather than float targets. */
    public boolean classLabels() { return this != MSE; }

    @Override
    public String toString() { return name().toLowerCase(Locale.ROOT); }
}
