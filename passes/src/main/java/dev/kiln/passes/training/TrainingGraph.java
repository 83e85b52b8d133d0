package dev.kiln.passes.training;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Tensor;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A model ready for training: one graph computing the loss, every parameter's gradient and the next value of
 * every state tensor, plus the inference graph over the same parameters and state.
 *
 * <p>{@code graph}'s inputs are the model's data inputs, then {@link #LABELS}, then one input per parameter
 * (named as the ONNX initializer), then one per state tensor, then one per frozen parameter; its outputs are
 * {@link #LOSS}, then {@code grad.<parameter>} per parameter in the same order, then {@code <state>.next} per
 * state tensor. {@code evalGraph}'s inputs are the data inputs, then the parameters, then the state, then the
 * frozen parameters; its outputs are the model's outputs (eval mode: BatchNormalization with the running
 * statistics, no dropout).
 *
 * <p>Frozen parameters are inputs rather than constants so that a trainer reads them, like the trainable ones,
 * from the weights its inference class was loaded with (a pretrained backbone under a new head), and no pass
 * packs or folds them into something only the compile-time values would give.
 *
 * @param graph the training-mode forward, loss and backward
 * @param evalGraph the inference graph with parameters and state as inputs
 * @param parameters trainable parameters and their initial values, in ONNX initializer order
 * @param state tensors updated by the forward (BatchNormalization running mean and variance) and their initial values
 * @param frozen the spec's frozen float initializers and their values, in ONNX initializer order: read, never
 *     differentiated or updated
 * @param spec what the graph was built for
 */
public record TrainingGraph(Graph graph, Graph evalGraph, Map<String, Tensor> parameters, Map<String, Tensor> state,
                            Map<String, Tensor> frozen, TrainingSpec spec) {
    /** The name of the labels input (int64 class indices, or float targets for MSE). */
    public static final String LABELS = "labels";
    /** The name of the scalar loss output. */
    public static final String LOSS = "loss";

    public TrainingGraph {
        Objects.requireNonNull(graph, "graph");
        Objects.requireNonNull(evalGraph, "evalGraph");
        Objects.requireNonNull(spec, "spec");
        parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
        state = Collections.unmodifiableMap(new LinkedHashMap<>(state));
        frozen = Collections.unmodifiableMap(new LinkedHashMap<>(frozen));
    }

    /** Parameters, state and frozen parameters: every tensor the graphs take as an input besides data and labels. */
    public Map<String, Tensor> weights() {
        Map<String, Tensor> all = new LinkedHashMap<>(parameters);
        all.putAll(state);
        all.putAll(frozen);
        return all;
    }

    /** The output holding the gradient of {@code parameter}. */
    public static String gradName(String parameter) { return "grad." + parameter; }

    /** The output holding the next value of state tensor {@code state}. */
    public static String nextName(String state) { return state + ".next"; }
}
