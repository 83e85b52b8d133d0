package dev.kiln.compiler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.codegen.GeneratedModel;
import dev.kiln.codegen.InProcessCompiler;
import dev.kiln.ir.Tensor;
import dev.kiln.onnx.TensorProtos;
import dev.kiln.passes.PassOptions;
import dev.kiln.passes.training.Loss;
import dev.kiln.passes.training.TrainingSpec;
import dev.kiln.runtime.WeightsFile;
import dev.kiln.runtime.train.Optimizer;
import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Generated trainers against PyTorch's training references ({@code ../shared/models/train_ref}): compiled with
 * {@link KilnCompiler} (training on), started from {@code params_init} through the weights file the inference
 * class loads, and stepped three times on the saved batch.
 */
class TrainerReferenceTest {
    /** Relative, on the loss before each step (the bound). */
    static final double LOSS_TOLERANCE = 1e-5;
    /** Max abs on every parameter after steps 1 and 3 (the bound). */
    static final double PARAM_TOLERANCE = 1e-4;
    /** Max abs on every gradient of step 1. */
    static final double GRAD_TOLERANCE = 1e-5;

    static Path shared() {
        return Path.of(System.getProperty("kiln.shared.dir", "../../shared"));
    }

    /** A loaded trainer of a shared model with its classes. */
    record Compiled(Class<?> net, Class<?> trainer, GeneratedModel model) {}

    static Compiled compile(String model, Loss loss, int threads) throws ClassNotFoundException {
        Path onnx = shared().resolve("models").resolve(model).resolve("model.onnx");
        Assumptions.assumeTrue(Files.exists(onnx), "shared model missing: " + onnx);
        CompileOptions options = new CompileOptions("com.acme", java.util.Optional.of("Net"), dev.kiln.passes.OptLevel.O3,
                threads).withTraining(TrainOptions.of(TrainingSpec.of(loss)));
        GeneratedModel generated = KilnCompiler.compile(onnx, options, PassOptions.quiet());
        Class<?> net = InProcessCompiler.load(generated);
        return new Compiled(net, net.getClassLoader().loadClass("com.acme.NetTrainer"), generated);
    }

    static Map<String, Tensor> tensors(Path dir) throws IOException {
        Map<String, Tensor> out = new TreeMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.filter(f -> f.toString().endsWith(".pb")).toList()) {
                String f = p.getFileName().toString();
                out.put(f.substring(0, f.length() - 3), TensorProtos.read(p).tensor());
            }
        }
        return out;
    }

    static List<Double> losses(Path dir) throws IOException {
        Matcher m = Pattern.compile("\"loss_before_step\"\\s*:\\s*\\[([^\\]]*)\\]").matcher(Files.readString(dir.resolve("losses.json")));
        assertTrue(m.find());
        List<Double> out = new ArrayList<>();
        for (String s : m.group(1).split(",")) {
            out.add(Double.parseDouble(s.trim()));
        }
        return out;
    }

    static int[] labels(Tensor t) {
        long[] l = t.toLongArray();
        int[] out = new int[l.length];
        for (int i = 0; i < l.length; i++) {
            out[i] = Math.toIntExact(l[i]);
        }
        return out;
    }

    /** A trainer starting from {@code params}: the net loads a weights file with them, the trainer copies the net. */
    static Object trainer(Compiled c, Map<String, Tensor> params, Optimizer optimizer, Path dir) throws Exception {
        Map<String, float[]> weights = new LinkedHashMap<>();
        params.forEach((k, v) -> weights.put(k, v.toFloatArray()));
        Path file = dir.resolve("init.weights");
        WeightsFile.write(file, weights);
        Object net = c.net().getMethod("load", Path.class).invoke(null, file);
        return c.trainer().getMethod("create", c.net(), Optimizer.class).invoke(null, net, optimizer);
    }

    static double maxAbsDiff(Tensor expected, float[] actual) {
        float[] e = expected.toFloatArray();
        assertEquals(e.length, actual.length);
        double m = 0;
        for (int i = 0; i < e.length; i++) {
            m = Math.max(m, Math.abs(e[i] - actual[i]));
        }
        return m;
    }

    void matchesPyTorch(String model, String refName, Loss loss, Optimizer optimizer, Path dir) throws Exception {
        Path ref = shared().resolve("models/train_ref").resolve(refName);
        Assumptions.assumeTrue(Files.isDirectory(ref), "shared training reference missing: " + ref);
        Compiled c = compile(model, loss, 1);
        Object trainer = trainer(c, tensors(ref.resolve("params_init")), optimizer, dir);
        Tensor x = TensorProtos.read(ref.resolve("x.pb")).tensor();
        int[] labels = labels(TensorProtos.read(ref.resolve("target.pb")).tensor());
        int batch = x.shape()[0];
        Method step = c.trainer().getMethod("step", float[].class, int[].class, int.class);
        Method gradient = c.trainer().getMethod("gradient", String.class);
        Method parameter = c.trainer().getMethod("parameter", String.class);
        List<Double> expectedLosses = losses(ref);
        for (int k = 1; k <= 3; k++) {
            float l = (float) step.invoke(trainer, x.toFloatArray(), labels, batch);
            double e = expectedLosses.get(k - 1);
            assertEquals(e, l, LOSS_TOLERANCE * e, "loss before step " + k);
            if (k == 1) {
                for (Map.Entry<String, Tensor> g : tensors(ref.resolve("grads_step1")).entrySet()) {
                    double d = maxAbsDiff(g.getValue(), (float[]) gradient.invoke(trainer, g.getKey()));
                    assertTrue(d <= GRAD_TOLERANCE, "gradient of " + g.getKey() + " differs by " + d);
                }
            }
            if (k == 1 || k == 3) {
                for (Map.Entry<String, Tensor> p : tensors(ref.resolve("params_step" + k)).entrySet()) {
                    double d = maxAbsDiff(p.getValue(), (float[]) parameter.invoke(trainer, p.getKey()));
                    assertTrue(d <= PARAM_TOLERANCE, p.getKey() + " after step " + k + " differs by " + d);
                }
            }
        }
    }

    @Test
    void mlpWithCrossEntropyAndAdamMatchesPyTorch(@TempDir Path dir) throws Exception {
        matchesPyTorch("mlp", "mlp_adam", Loss.CROSS_ENTROPY, Optimizer.adam(1e-3), dir);
    }

    @Test
    void mnistCnnWithNllAndSgdMomentumMatchesPyTorch(@TempDir Path dir) throws Exception {
        matchesPyTorch("mnist_cnn", "mnist_cnn_sgd", Loss.NLL, Optimizer.sgd(0.01, 0.5, 0, 0, false), dir);
    }
}
