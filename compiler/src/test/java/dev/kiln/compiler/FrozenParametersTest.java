package dev.kiln.compiler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Tensor;
import dev.kiln.onnx.OnnxImporter;
import dev.kiln.passes.training.Loss;
import dev.kiln.passes.training.ReferenceTrainer;
import dev.kiln.passes.training.TrainingSpec;
import dev.kiln.runtime.WeightsFile;
import dev.kiln.runtime.train.Optimizer;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fine-tuning with frozen parameters ({@link TrainingSpec#withFrozen}): the first layer of the MLP, the first
 * convolution of the CIFAR CNN, and the whole LSTM under a trained head. Frozen weights are read from the weights
 * the inference instance was loaded with (not the compile-time values), never updated, and have no gradient; the
 * generated trainer agrees with the reference trainer within {@link TrainerModelsTest}'s tolerances.
 */
class FrozenParametersTest {

    private static TrainerModelsTest.Compiled compile(String model, Set<String> frozen) throws Exception {
        Path onnx = TrainerReferenceTest.shared().resolve("models").resolve(model).resolve("model.onnx");
        Assumptions.assumeTrue(Files.exists(onnx), "shared model missing: " + onnx);
        Graph graph = OnnxImporter.load(onnx);
        return TrainerModelsTest.compile(graph, model + "_frozen", TrainingSpec.of(Loss.CROSS_ENTROPY).withFrozen(frozen),
                1);
    }

    @Test
    void mlpFirstLayer(@TempDir Path dir) throws Exception {
        trainsAroundFrozen("mlp", Set.of("fc1.weight", "fc1.bias"), dir);
    }

    @Test
    void cifarFirstConvolution(@TempDir Path dir) throws Exception {
        trainsAroundFrozen("cifar_cnn", Set.of("conv1.weight", "conv1.bias"), dir);
    }

    @Test
    void lstmUnderATrainedHead(@TempDir Path dir) throws Exception {
        trainsAroundFrozen("lstm", Set.of("onnx::LSTM_109", "onnx::LSTM_110", "onnx::LSTM_111"), dir);
    }

    private static void trainsAroundFrozen(String model, Set<String> frozen, Path dir) throws Exception {
        TrainerModelsTest.Compiled c = compile(model, frozen);
        assertEquals(frozen, c.training().frozen().keySet(), model + ": the frozen parameters");
        assertTrue(c.training().parameters().keySet().stream().noneMatch(frozen::contains),
                model + ": frozen parameters are not trained");
        TrainerModelsTest.agree(c, model + "_frozen", Optimizer.adam(1e-3), Optimizer.adam(1e-3), dir);

        // Start from frozen values other than the compiled ones: the trainer must read what the net was loaded with.
        Map<String, Object> start = TrainerModelsTest.resourceWeights(c);
        Map<String, Tensor> pretrained = new LinkedHashMap<>();
        for (String f : frozen) {
            float[] v = ((float[]) start.get(f)).clone();
            for (int i = 0; i < v.length; i++) {
                v[i] = v[i] * 1.5f + 0.01f * (i % 7 - 3);
            }
            start.put(f, v);
            pretrained.put(f, Tensor.ofFloats(c.training().frozen().get(f).shape(), v));
        }
        Path file = Files.createTempFile(dir, "pretrained", ".weights");
        WeightsFile.write(file, start);
        Object net = c.net().getMethod("load", Path.class).invoke(null, file);
        Object trainer = c.trainer().getMethod("create", c.net(), Optimizer.class).invoke(null, net,
                Optimizer.adam(1e-3));
        ReferenceTrainer ref = ReferenceTrainer.create(c.training(), Optimizer.adam(1e-3));
        ref.load(pretrained);

        int batch = 4;
        Tensor x = TrainerModelsTest.randomInput(c, batch, 21);
        int[] labels = TrainerModelsTest.randomLabels(batch, 10, 22);
        Tensor labelTensor = Tensor.ofLongs(DType.INT64, new int[] {batch}, Arrays.stream(labels).asLongStream().toArray());
        Method step = c.trainer().getMethod("step", float[].class, int[].class, int.class);
        for (int k = 1; k <= 2; k++) {
            double expected = ref.step(Map.of(ref.inputNames().get(0), x), labelTensor);
            float actual = (float) step.invoke(trainer, x.toFloatArray(), labels, batch);
            assertEquals(expected, actual, TrainerModelsTest.LOSS_TOLERANCE * Math.abs(expected),
                    model + ": loss with the loaded frozen values, step " + k);
        }

        @SuppressWarnings("unchecked")
        List<String> names = (List<String>) c.trainer().getMethod("parameterNames").invoke(trainer);
        assertFalse(names.stream().anyMatch(frozen::contains), model + ": parameterNames " + names);
        Method parameter = c.trainer().getMethod("parameter", String.class);
        String one = frozen.iterator().next();
        InvocationTargetException refused = assertThrows(InvocationTargetException.class,
                () -> parameter.invoke(trainer, one));
        assertTrue(refused.getCause() instanceof IllegalArgumentException, refused.getCause().toString());

        // Saved weights are complete (the net loads them) and hold the frozen values unchanged.
        Path saved = dir.resolve(model + "-tuned.weights");
        c.trainer().getMethod("saveWeights", Path.class).invoke(trainer, saved);
        Map<String, float[]> after = WeightsFile.read(Files.readAllBytes(saved), saved.toString());
        for (String f : frozen) {
            assertArrayEquals((float[]) start.get(f), after.get(f), model + ": frozen " + f + " changed");
        }
        for (String p : names) {
            assertFalse(Arrays.equals((float[]) start.get(p), after.get(p)), model + ": parameter " + p + " did not train");
        }
        c.net().getMethod("load", Path.class).invoke(null, saved);
    }
}
