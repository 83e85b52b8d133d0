package dev.kiln.runtime.train;

/** How a loss combines its per-sample terms, as PyTorch's {@code reduction} argument: mean (the default) or sum. */
public enum Reduction {
    MEAN,
    SUM
}
