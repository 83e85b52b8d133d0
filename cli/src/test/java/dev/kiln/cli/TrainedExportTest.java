package dev.kiln.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.compiler.TrainedModelExporter;
import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.KilnException;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.builder.ModelBuilder;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.onnx.OnnxImporter;
import dev.kiln.passes.training.Loss;
import dev.kiln.passes.training.TrainingSpec;
import dev.kiln.runtime.train.Optimizer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trained model written back to ONNX ({@link TrainedModelExporter}) and re-imported gives the trainer's
 * eval-mode outputs: for the digits CNN and for a model with BatchNormalization, whose running mean and variance
 * (trainer state, not parameters) must travel with the trained parameters (through the reference trainer:
 * the generated trainer does not yet compile training BatchNormalization with a symbolic batch).
 */
class TrainedExportTest {
    /** Generated float32 kernels against the reference evaluator (double) on the re-imported model. */
    static final double GENERATED_TOLERANCE = 1e-4;
    /** Both sides run the reference evaluator; only the float32 rounding of the saved weights differs. */
    static final double REFERENCE_TOLERANCE = 1e-5;

    @TempDir
    Path tmp;

    /** A dense layer, BatchNormalization (whose running statistics training updates), ReLU and a classifier. */
    static Graph batchNormModel() {
        ModelBuilder m = ModelBuilder.create("bn_mlp").seed(7);
        m.input("x", DType.FLOAT32, "N,12").dense(16).batchNorm().relu().dense(4).output("logits");
        return m.build();
    }

    static float[] randomFloats(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return out;
    }

    /** Steps {@code engine} three times, exports, re-imports and compares the eval outputs; returns the weights. */
    Map<String, float[]> trainExportCompare(Graph graph, TrainEngine engine, ModelSignature sig, float[] x, int[] labels,
                                            int batch, double tolerance, String name) {
        for (int k = 0; k < 3; k++) {
            engine.step(x, labels, null, batch);
        }
        float[] expected = engine.predict(x, batch);
        Map<String, float[]> weights = engine.weights();
        Path file = tmp.resolve(name + ".onnx");
        TrainedModelExporter.export(graph, weights, file);
        Graph reimported = OnnxImporter.load(file);
        Tensor in = Tensor.ofFloats(ModelSignature.batched(batch, sig.sampleShape()), x);
        float[] actual = ReferenceEvaluator.run(reimported, Map.of(sig.input(), in)).get(sig.output()).toFloatArray();
        assertEquals(expected.length, actual.length);
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(worst <= tolerance, name + ": re-imported outputs differ from the trainer's by " + worst);
        return weights;
    }

    @Test
    void digitsModelExportedAfterTrainingReproducesBothTrainers() {
        Graph g = OnnxImporter.load(TrainCommandTest.MODEL);
        ModelSignature sig = ModelSignature.of(g, "model.onnx");
        TrainingData data = TrainingData.load("training", TrainCommandTest.TRAIN_X, TrainCommandTest.TRAIN_Y,
                sig.sampleSize(), sig.classes(), 0);
        int batch = 16;
        float[] x = Arrays.copyOf(data.x(), batch * sig.sampleSize());
        int[] labels = Arrays.copyOf(data.classes(), batch);
        TrainingSpec spec = TrainingSpec.of(Loss.CROSS_ENTROPY);
        trainExportCompare(g, new GeneratedTrainerEngine(g, "model.onnx", spec, Optimizer.adam(1e-2), 1), sig, x, labels,
                batch, GENERATED_TOLERANCE, "digits-generated");
        trainExportCompare(g, new ReferenceTrainerEngine(g, sig, spec, Optimizer.adam(1e-2)), sig, x, labels, batch,
                REFERENCE_TOLERANCE, "digits-reference");
    }

    @Test
    void batchNormRunningStatisticsAreExportedWithTheParameters() {
        Graph g = batchNormModel();
        Path onnx = tmp.resolve("bn_mlp.onnx");
        OnnxExporter.save(g, onnx);
        g = OnnxImporter.load(onnx);
        ModelSignature sig = ModelSignature.of(g, "bn_mlp.onnx");
        int batch = 10;
        float[] x = randomFloats(batch * 12, 3);
        int[] labels = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1};
        TrainingSpec spec = TrainingSpec.of(Loss.CROSS_ENTROPY);
        Map<String, float[]> weights = trainExportCompare(g, new ReferenceTrainerEngine(g, sig, spec,
                Optimizer.sgd(0.1)), sig, x, labels, batch, REFERENCE_TOLERANCE, "bn-reference");
        String mean = g.initializers().keySet().stream().map(v -> v.name()).filter(n -> n.endsWith("running_mean"))
                .findFirst().orElseThrow();
        assertTrue(weights.containsKey(mean), "the running mean is among the exported weights: " + weights.keySet());
        float[] initial = g.initializers().get(g.findValue(mean).orElseThrow()).toFloatArray();
        assertTrue(!Arrays.equals(initial, weights.get(mean)), "training moved the running mean");
    }

    @Test
    void exportRefusesWeightsTheModelDoesNotHave() {
        Graph g = OnnxImporter.load(TrainCommandTest.MODEL);
        KilnException e = org.junit.jupiter.api.Assertions.assertThrows(KilnException.class,
                () -> TrainedModelExporter.withWeights(g, Map.of("fc9.weight", new float[3])));
        assertTrue(e.getMessage().contains("fc9.weight"), e.getMessage());
        KilnException size = org.junit.jupiter.api.Assertions.assertThrows(KilnException.class,
                () -> TrainedModelExporter.withWeights(g, Map.of("fc2.bias", new float[3])));
        assertTrue(size.getMessage().contains("fc2.bias") && size.getMessage().contains("3 trained values"),
                size.getMessage());
    }
}
