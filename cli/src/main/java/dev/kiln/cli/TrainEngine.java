package dev.kiln.cli;

import java.util.List;
import java.util.Map;

/**
 * What runs {@code kiln train}: a trainer of one model, loss and optimizer, stepped on batches of row-major
 * floats. Two implementations: the generated {@code NetTrainer} compiled in process, and the reference trainer
 * (the oracle, plain and slow).
 */
interface TrainEngine {
    /**
     * One training step on {@code batch} samples; returns the loss before the update.
     *
     * @param labels class labels (when the loss takes them) or null
     * @param targets float targets (for MSE) or null
     */
    float step(float[] x, int[] labels, float[] targets, int batch);

    /** The model's first output in evaluation mode with the current weights, {@code batch} rows. */
    float[] predict(float[] x, int batch);

    /** The trainable parameters' ONNX names, in the optimizer's order. */
    List<String> parameterNames();

    /** Every trained parameter and state tensor (BatchNormalization running statistics) by ONNX name. */
    Map<String, float[]> weights();
}
