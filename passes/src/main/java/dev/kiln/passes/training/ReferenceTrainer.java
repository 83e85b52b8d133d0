package dev.kiln.passes.training;

import dev.kiln.ir.DType;
import dev.kiln.ir.InputException;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.runtime.train.Optimizer;
import dev.kiln.runtime.train.OptimizerState;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The oracle trainer: runs a {@link TrainingGraph} through the {@link ReferenceEvaluator} and applies one
 * optimizer update to float copies of the parameters per step. Plain and slow; tests of generated trainers
 * compare against it. Not thread-safe.
 *
 * <p>The update sees the parameters as {@code float[]} (the runtime optimizer's type), so parameters of a
 * FLOAT64 graph are rounded to float at each step; the evaluation itself runs in the graph's types.
 */
public final class ReferenceTrainer {
    /** The optimizer update of one step, in place on the parameters (one array per parameter, graph order). */
    @FunctionalInterface
    public interface Update {
        /**
         * @param step the 1-based step number
         * @param params the parameters, updated in place
         * @param grads the gradients of this step, same shapes
         */
        void apply(int step, float[][] params, float[][] grads);
    }

    /**
     * What one forward-backward evaluation gives.
     *
     * @param loss the loss before the update
     * @param gradients gradient per parameter name
     * @param nextState next value per state tensor name
     */
    public record Evaluation(double loss, Map<String, Tensor> gradients, Map<String, Tensor> nextState) {}

    private final TrainingGraph training;
    private final Update update;
    private final Map<String, Tensor> parameters = new LinkedHashMap<>();
    private final Map<String, Tensor> state = new LinkedHashMap<>();
    private final Map<String, Tensor> frozen = new LinkedHashMap<>();
    private Map<String, Tensor> gradients = Map.of();
    private int step;

    public ReferenceTrainer(TrainingGraph training, Update update) {
        this.training = training;
        this.update = update;
        parameters.putAll(training.parameters());
        state.putAll(training.state());
        frozen.putAll(training.frozen());
    }

    /**
     * A trainer whose update is {@code optimizer}'s, with fresh optimizer state for the training graph's
     * parameters (PyTorch semantics, see {@link Optimizer}).
     */
    public static ReferenceTrainer create(TrainingGraph training, Optimizer optimizer) {
        int[] sizes = training.parameters().values().stream().mapToInt(Tensor::size).toArray();
        OptimizerState state = optimizer.state(sizes);
        return new ReferenceTrainer(training, (step, params, grads) -> optimizer.updateScalar(step, params, grads, state));
    }

    /** Forward, loss and backward on one batch with the current parameters and state; changes nothing. */
    public Evaluation evaluate(Map<String, Tensor> inputs, Tensor labels) {
        Map<String, Tensor> feeds = new LinkedHashMap<>(inputs);
        feeds.put(TrainingGraph.LABELS, labels);
        feeds.putAll(parameters);
        feeds.putAll(state);
        feeds.putAll(frozen);
        Map<String, Tensor> out = ReferenceEvaluator.run(training.graph(), feeds, training.spec().seed() + step + 1,
                (v, t) -> { });
        double loss = out.get(TrainingGraph.LOSS).getDouble(0);
        Map<String, Tensor> grads = new LinkedHashMap<>();
        for (String p : parameters.keySet()) {
            grads.put(p, out.get(TrainingGraph.gradName(p)));
        }
        Map<String, Tensor> next = new LinkedHashMap<>();
        for (String s : state.keySet()) {
            next.put(s, out.get(TrainingGraph.nextName(s)));
        }
        return new Evaluation(loss, grads, next);
    }

    /**
     * One training step: evaluates the batch, keeps its gradients, updates the parameters with the optimizer
     * and the state with its next values; returns the loss before the update.
     *
     * @throws InputException when the loss or a gradient is not finite (naming the step and the tensor)
     */
    public double step(Map<String, Tensor> inputs, Tensor labels) {
        Evaluation e = evaluate(inputs, labels);
        int number = step + 1;
        if (!Double.isFinite(e.loss())) {
            throw new InputException("step " + number + ": the loss is " + e.loss() + "; the first non-finite tensor is "
                    + firstNonFinite(inputs, labels));
        }
        List<String> names = new ArrayList<>(parameters.keySet());
        float[][] params = new float[names.size()][];
        float[][] grads = new float[names.size()][];
        for (int i = 0; i < names.size(); i++) {
            params[i] = parameters.get(names.get(i)).toFloatArray();
            grads[i] = e.gradients().get(names.get(i)).toFloatArray();
            for (float g : grads[i]) {
                if (!Float.isFinite(g)) {
                    throw new InputException("step " + number + ": the gradient of '" + names.get(i)
                            + "' is not finite (" + g + ")");
                }
            }
        }
        update.apply(number, params, grads);
        for (int i = 0; i < names.size(); i++) {
            Tensor old = parameters.get(names.get(i));
            parameters.put(names.get(i), floats(old.dtype(), old.shape(), params[i]));
        }
        state.putAll(e.nextState());
        gradients = e.gradients();
        step = number;
        return e.loss();
    }

    /** The first value (in evaluation order) of this step's training graph holding a NaN or an infinity. */
    private String firstNonFinite(Map<String, Tensor> inputs, Tensor labels) {
        Map<String, Tensor> feeds = new LinkedHashMap<>(inputs);
        feeds.put(TrainingGraph.LABELS, labels);
        feeds.putAll(parameters);
        feeds.putAll(state);
        feeds.putAll(frozen);
        for (Map.Entry<String, Tensor> f : feeds.entrySet()) {
            if (!finite(f.getValue())) {
                return "input '" + f.getKey() + "'";
            }
        }
        String[] first = {"none"};
        ReferenceEvaluator.run(training.graph(), feeds, training.spec().seed() + step + 1, (v, t) -> {
            if (first[0].equals("none") && !finite(t)) {
                first[0] = "'" + v.name() + "' (" + v.type() + ")";
            }
        });
        return first[0];
    }

    private static boolean finite(Tensor t) {
        if (!t.dtype().isFloat()) {
            return true;
        }
        for (double d : t.toDoubleArray()) {
            if (!Double.isFinite(d)) {
                return false;
            }
        }
        return true;
    }

    /** The model's outputs in eval mode (running statistics, no dropout) with the current parameters and state. */
    public Map<String, Tensor> run(Map<String, Tensor> inputs) {
        Map<String, Tensor> feeds = new LinkedHashMap<>(inputs);
        feeds.putAll(parameters);
        feeds.putAll(state);
        feeds.putAll(frozen);
        return ReferenceEvaluator.run(training.evalGraph(), feeds);
    }

    /**
     * Replaces parameters (and state tensors, and frozen parameters) by name, e.g. with a checkpoint's values.
     *
     * @throws InputException naming a tensor that is neither a parameter nor state, or whose type differs
     */
    public void load(Map<String, Tensor> values) {
        values.forEach((name, t) -> {
            Map<String, Tensor> into = parameters.containsKey(name) ? parameters : state.containsKey(name) ? state
                    : frozen.containsKey(name) ? frozen : null;
            if (into == null) {
                throw new InputException("'" + name + "' is neither a parameter, a state tensor nor a frozen parameter "
                        + "of the training graph; parameters are " + parameters.keySet());
            }
            if (!into.get(name).type().equals(t.type())) {
                throw new InputException("'" + name + "' is " + into.get(name).type() + " but the value given is "
                        + t.type());
            }
            into.put(name, t);
        });
    }

    /** The current parameters by name, in graph order. */
    public Map<String, Tensor> parameters() { return Collections.unmodifiableMap(parameters); }

    /** The current state tensors by name. */
    public Map<String, Tensor> state() { return Collections.unmodifiableMap(state); }

    /** The frozen parameters by name: read by every step, never updated. */
    public Map<String, Tensor> frozen() { return Collections.unmodifiableMap(frozen); }

    /** The gradients of the last step (empty before the first). */
    public Map<String, Tensor> gradients() { return gradients; }

    /** The number of steps taken. */
    public int steps() { return step; }

    /** The training graph's data inputs (what {@link #step} and {@link #run} take besides the labels). */
    public List<String> inputNames() {
        return training.evalGraph().inputs().stream().map(Value::name)
                .filter(n -> !parameters.containsKey(n) && !state.containsKey(n) && !frozen.containsKey(n)).toList();
    }

    private static Tensor floats(DType dtype, int[] shape, float[] values) {
        double[] d = new double[values.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = values[i];
        }
        return Tensor.wrapDoubles(dtype, shape, d);
    }
}
