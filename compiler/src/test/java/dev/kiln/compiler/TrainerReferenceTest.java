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
    /** Relative, on the loss before each step (the bound; seen: 1.1e-7). */
    static final double LOSS_TOLERANCE = 1e-5;
    /**
     * Max abs on every parameter after steps 1 and 3 (the bound; seen: 2.2e-5, mlp's fc1.weight under Adam,
     * whose first steps move a parameter by about lr whatever the gradient's size, so float rounding of tiny
     * gradients shows at 1e-5).
     */
    static final double PARAM_TOLERANCE = 1e-4;
    /** Max abs on every gradient of step 1 (seen: 1.8e-8). */
    static final double GRAD_TOLERANCE = 1e-6;

    static Path shared() {
        return Path.of(System.getProperty("kiln.shared.dir", "../../shared"));
    }

    /** A loaded trainer of a shared model with its classes. */
    record Compiled(Class<?> net, Class<?> trainer, GeneratedModel model) {}

    private static final Map<String, Compiled> COMPILED = new java.util.concurrent.ConcurrentHashMap<>();

    /** Compiled once per model, loss and thread count for the whole class (javac of a trainer takes seconds). */
    static Compiled compile(String model, Loss loss, int threads) throws ClassNotFoundException {
        String key = model + "/" + loss + "/" + threads;
        Compiled c = COMPILED.get(key);
        if (c == null) {
            c = compileFresh(model, loss, threads);
            COMPILED.put(key, c);
        }
        return c;
    }

    private static Compiled compileFresh(String model, Loss loss, int threads) throws ClassNotFoundException {
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

    /** Momentum 0.5 (pytorch/examples' MNIST): plain SGD already misses the loss before step 3 by 2.6e-4 relative. */
    @Test
    void mnistCnnWithNllAndSgdMomentumMatchesPyTorch(@TempDir Path dir) throws Exception {
        matchesPyTorch("mnist_cnn", "mnist_cnn_sgd", Loss.NLL, Optimizer.sgd(0.01, 0.5, 0, 0, false), dir);
    }

    /** The batch, labels and starting parameters of a reference case. */
    record Case(Tensor x, int[] labels, Map<String, Tensor> init) {
        int batch() {
            return x.shape()[0];
        }
    }

    static Case load(String refName) throws IOException {
        Path ref = shared().resolve("models/train_ref").resolve(refName);
        Assumptions.assumeTrue(Files.isDirectory(ref), "shared training reference missing: " + ref);
        return new Case(TensorProtos.read(ref.resolve("x.pb")).tensor(),
                labels(TensorProtos.read(ref.resolve("target.pb")).tensor()), tensors(ref.resolve("params_init")));
    }

    @Test
    void mnistTrainerAgreesWithTheReferenceTrainer(@TempDir Path dir) throws Exception {
        Case data = load("mnist_cnn_sgd");
        Optimizer sgd = Optimizer.sgd(0.01, 0.5, 0, 0, false);
        Compiled c = compile("mnist_cnn", Loss.NLL, 1);
        Object trainer = trainer(c, data.init(), sgd, dir);
        Method step = c.trainer().getMethod("step", float[].class, int[].class, int.class);
        Method parameter = c.trainer().getMethod("parameter", String.class);

        dev.kiln.ir.Graph model = dev.kiln.passes.PassManager.forLevel(dev.kiln.passes.OptLevel.O1, PassOptions.quiet())
                .run(dev.kiln.onnx.OnnxImporter.load(shared().resolve("models/mnist_cnn/model.onnx")));
        dev.kiln.passes.training.TrainingGraph tg = dev.kiln.passes.training.Autodiff.build(model, TrainingSpec.of(Loss.NLL));
        dev.kiln.runtime.train.OptimizerState state = sgd.state(tg.parameters().values().stream().mapToInt(Tensor::size)
                .toArray());
        dev.kiln.passes.training.ReferenceTrainer reference = new dev.kiln.passes.training.ReferenceTrainer(tg,
                (k, p, g) -> sgd.update(k, p, g, state));
        reference.load(data.init());
        long[] labels = java.util.Arrays.stream(data.labels()).asLongStream().toArray();
        Tensor labelTensor = Tensor.ofLongs(dev.kiln.ir.DType.INT64, new int[] {labels.length}, labels);
        for (int k = 1; k <= 3; k++) {
            double expected = reference.step(Map.of(reference.inputNames().get(0), data.x()), labelTensor);
            float actual = (float) step.invoke(trainer, data.x().toFloatArray(), data.labels(), data.batch());
            assertEquals(expected, actual, 1e-5 * expected, "loss before step " + k);
        }
        for (Map.Entry<String, Tensor> p : reference.parameters().entrySet()) {
            double d = maxAbsDiff(p.getValue(), (float[]) parameter.invoke(trainer, p.getKey()));
            assertTrue(d <= 1e-5, p.getKey() + " after 3 steps differs from the reference trainer by " + d);
        }
    }

    @Test
    void twoThreadsGiveTheSameBitsAndSavedWeightsReloadIntoTheNet(@TempDir Path dir) throws Exception {
        Case data = load("mnist_cnn_sgd");
        Compiled one = compile("mnist_cnn", Loss.NLL, 1);
        Compiled two = compile("mnist_cnn", Loss.NLL, 2);
        Object t1 = trainer(one, data.init(), Optimizer.adam(1e-3), dir);
        Object t2 = trainer(two, data.init(), Optimizer.adam(1e-3), dir);
        Method step1 = one.trainer().getMethod("step", float[].class, int[].class, int.class);
        Method step2 = two.trainer().getMethod("step", float[].class, int[].class, int.class);
        try {
            for (int k = 1; k <= 3; k++) {
                float l1 = (float) step1.invoke(t1, data.x().toFloatArray(), data.labels(), data.batch());
                float l2 = (float) step2.invoke(t2, data.x().toFloatArray(), data.labels(), data.batch());
                assertEquals(Float.floatToIntBits(l1), Float.floatToIntBits(l2), "loss at step " + k);
            }
            for (String p : data.init().keySet()) {
                assertArrayEquals((float[]) one.trainer().getMethod("gradient", String.class).invoke(t1, p),
                        (float[]) two.trainer().getMethod("gradient", String.class).invoke(t2, p), 0f, "gradient " + p);
                assertArrayEquals((float[]) one.trainer().getMethod("parameter", String.class).invoke(t1, p),
                        (float[]) two.trainer().getMethod("parameter", String.class).invoke(t2, p), 0f, p);
            }
            float[] x = data.x().toFloatArray();
            float[] trained = (float[]) one.trainer().getMethod("run", float[].class, int.class).invoke(t1, x, data.batch());
            Path saved = dir.resolve("trained.weights");
            one.trainer().getMethod("saveWeights", Path.class).invoke(t1, saved);
            Object net = one.net().getMethod("load", Path.class).invoke(null, saved);
            float[] reloaded = (float[]) one.net().getMethod("run", float[].class, int.class).invoke(net, x, data.batch());
            assertArrayEquals(trained, reloaded, 0f, "Net.load(saved).run vs trainer.run");
            float[] initial = (float[]) one.net().getMethod("run", float[].class, int.class).invoke(
                    one.net().getMethod("load", Path.class).invoke(null, dir.resolve("init.weights")), x, data.batch());
            assertTrue(maxAbsDiff(Tensor.ofFloats(new int[] {initial.length}, initial), trained) > 1e-4,
                    "three steps changed the model's outputs");
        } finally {
            ((AutoCloseable) t2).close();
        }
    }

    @Test
    void badLabelsInputsAndNonFiniteLossesAreRefused(@TempDir Path dir) throws Exception {
        Case data = load("mnist_cnn_sgd");
        Compiled c = compile("mnist_cnn", Loss.NLL, 1);
        Object trainer = trainer(c, data.init(), Optimizer.sgd(0.01), dir);
        Method step = c.trainer().getMethod("step", float[].class, int[].class, int.class);
        float[] x = data.x().toFloatArray();
        int batch = data.batch();

        int[] outOfRange = data.labels().clone();
        outOfRange[3] = 10;
        assertEquals("labels[3] = 10 is outside [0, 10)", cause(() -> step.invoke(trainer, x, outOfRange, batch),
                IllegalArgumentException.class));
        int[] negative = data.labels().clone();
        negative[0] = -1;
        assertTrue(cause(() -> step.invoke(trainer, x, negative, batch), IllegalArgumentException.class)
                .contains("labels[0] = -1"));
        assertTrue(cause(() -> step.invoke(trainer, java.util.Arrays.copyOf(x, x.length - 1), data.labels(), batch),
                IllegalArgumentException.class).contains("[batch,1,28,28]"));
        assertTrue(cause(() -> step.invoke(trainer, x, java.util.Arrays.copyOf(data.labels(), batch - 1), batch),
                IllegalArgumentException.class).contains("labels must hold one class index per sample"));
        assertTrue(cause(() -> step.invoke(trainer, x, data.labels(), 0), IllegalArgumentException.class)
                .contains("batch must be at least 1"));

        step.invoke(trainer, x, data.labels(), batch);
        float[] poisoned = x.clone();
        poisoned[5] = Float.POSITIVE_INFINITY;
        float[] before = (float[]) c.trainer().getMethod("parameter", String.class).invoke(trainer, "conv1.weight");
        String message = cause(() -> step.invoke(trainer, poisoned, data.labels(), batch), IllegalStateException.class);
        assertTrue(message.startsWith("training step 2: loss is NaN") && message.endsWith("first non-finite tensor: input input"),
                message);
        assertArrayEquals(before, (float[]) c.trainer().getMethod("parameter", String.class).invoke(trainer, "conv1.weight"),
                0f, "a refused step leaves the parameters as they were");

        c.trainer().getMethod("eval").invoke(trainer);
        assertTrue(cause(() -> step.invoke(trainer, x, data.labels(), batch), IllegalStateException.class)
                .contains("training mode"));
        c.trainer().getMethod("train").invoke(trainer);
        assertTrue(Float.isFinite((float) step.invoke(trainer, x, data.labels(), batch)));
    }

    interface Call {
        void run() throws Exception;
    }

    /** The message of the exception of {@code type} that {@code call} throws (through reflection). */
    static String cause(Call call, Class<? extends Exception> type) {
        try {
            call.run();
        } catch (java.lang.reflect.InvocationTargetException e) {
            assertTrue(type.isInstance(e.getCause()), "expected " + type.getSimpleName() + ", got " + e.getCause());
            return e.getCause().getMessage();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        throw new AssertionError("expected " + type.getSimpleName());
    }
}
