package dev.kiln.passes.training;

import java.util.Locale;

/** How per-sample losses become the scalar loss: averaged over the samples (PyTorch's default) or summed. */
public enum Reduction {
    MEAN,
    SUM;

    /** The ONNX loss ops' attribute value: {@code mean} or {@code sum}. */
    public String onnxName() { return name().toLowerCase(Locale.ROOT); }
}
