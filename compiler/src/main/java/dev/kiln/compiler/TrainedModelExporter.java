package dev.kiln.compiler;

import dev.kiln.ir.Graph;
import dev.kiln.ir.KilnException;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.onnx.OnnxImporter;
import dev.kiln.runtime.WeightsFile;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Writes a trained model back to ONNX: the model's inference graph as imported, with the initializers the
 * trainer changed (trained parameters and state such as BatchNormalization running mean and variance) replaced
 * by their trained values under the same names. Re-importing the result reproduces the trainer's eval-mode
 * outputs. From Java:
 * <pre>{@code
 * trainer.saveWeights(Path.of("trained.weights"));
 * TrainedModelExporter.export(Path.of("model.onnx"), Path.of("trained.weights"), Path.of("trained.onnx"));
 * }</pre>
 */
public final class TrainedModelExporter {
    private TrainedModelExporter() {}

    /**
     * {@code inference} with each initializer named in {@code weights} replaced by those values (same dtype and
     * shape).
     *
     * @throws KilnException when a name is not an initializer of the graph, or its value count differs
     */
    public static Graph withWeights(Graph inference, Map<String, float[]> weights) {
        Objects.requireNonNull(weights, "weights");
        Map<String, Value> byName = new LinkedHashMap<>();
        inference.initializers().keySet().forEach(v -> byName.put(v.name(), v));
        Set<String> unknown = new LinkedHashSet<>(weights.keySet());
        unknown.removeAll(byName.keySet());
        if (!unknown.isEmpty()) {
            throw new KilnException("cannot export: " + unknown + " are not initializers of model '" + inference.name()
                    + "' (its initializers are " + byName.keySet() + ")");
        }
        Map<Value, Tensor> initializers = new LinkedHashMap<>();
        inference.initializers().forEach((v, old) -> {
            float[] w = weights.get(v.name());
            if (w == null) {
                initializers.put(v, old);
                return;
            }
            if (w.length != old.size()) {
                throw new KilnException("cannot export: '" + v.name() + "' has " + w.length + " trained values but the "
                        + "model's initializer " + old.type() + " holds " + old.size());
            }
            if (!old.dtype().isFloat()) {
                throw new KilnException("cannot export: '" + v.name() + "' is " + old.type() + ", not a float tensor");
            }
            double[] d = new double[w.length];
            for (int i = 0; i < d.length; i++) {
                d[i] = w[i];
            }
            initializers.put(v, Tensor.wrapDoubles(old.dtype(), old.shape(), d));
        });
        return new Graph(inference.name(), inference.inputs(), initializers, inference.nodes(), inference.outputs());
    }

    /** Writes {@code inference} with the trained {@code weights} to {@code out} (never half-written). */
    public static void export(Graph inference, Map<String, float[]> weights, Path out) {
        OnnxExporter.save(withWeights(inference, weights), out);
    }

    /**
     * Writes {@code model} with the weights a generated trainer saved ({@code NetTrainer.saveWeights(file)}, the
     * format {@code Net.load(file)} reads) to {@code out}.
     */
    public static void export(Path model, Path weightsFile, Path out) {
        Graph inference = OnnxImporter.load(model);
        Map<String, float[]> weights = WeightsFile.read(weightsFile);
        export(inference, weights, out);
    }
}
