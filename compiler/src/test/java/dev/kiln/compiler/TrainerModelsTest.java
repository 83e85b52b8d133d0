package dev.kiln.compiler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.codegen.GeneratedModel;
import dev.kiln.codegen.InProcessCompiler;
import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Tensor;
import dev.kiln.onnx.OnnxImporter;
import dev.kiln.passes.OptLevel;
import dev.kiln.passes.PassOptions;
import dev.kiln.passes.training.Loss;
import dev.kiln.passes.training.ReferenceTrainer;
import dev.kiln.passes.training.TrainingGraph;
import dev.kiln.passes.training.TrainingSpec;
import dev.kiln.runtime.WeightsFile;
import dev.kiln.runtime.train.Optimizer;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Generated trainers of the shared models beyond the PyTorch references (cifar_cnn, lstm, gru) against the
 * {@link ReferenceTrainer} on the same training graph: three steps on a seeded random batch from the models' own
 * initial weights, with cross-entropy and both Adam and SGD with momentum, and one thread against two, bitwise;
 * and mlp's trainer under the other optimizers (RMSprop, Adagrad, Adam with amsgrad).
 */
class TrainerModelsTest {
    /** Relative, on the loss before each step (seen: at most 1.2e-7, cifar_cnn under Adam). */
    static final double LOSS_TOLERANCE = 1e-5;
    /** Max abs on every parameter after 3 steps (seen: 6.4e-6 cifar_cnn, 3.5e-6 lstm, 1.1e-6 gru under Adam; 1.5e-8 SGD). */
    static final double PARAM_TOLERANCE = 1e-4;

    /** A compiled model: the classes, and the training graph the reference trainer runs. */
    record Compiled(Class<?> net, Class<?> trainer, TrainingGraph training) {}

    private static final Map<String, Compiled> COMPILED = new java.util.concurrent.ConcurrentHashMap<>();

    static Compiled compile(String model, Loss loss, int threads) throws Exception {
        String key = model + "/" + loss + "/" + threads;
        Compiled c = COMPILED.get(key);
        if (c == null) {
            Path onnx = TrainerReferenceTest.shared().resolve("models").resolve(model).resolve("model.onnx");
            Assumptions.assumeTrue(Files.exists(onnx), "shared model missing: " + onnx);
            c = compile(OnnxImporter.load(onnx), model, TrainingSpec.of(loss), threads);
            COMPILED.put(key, c);
        }
        return c;
    }

    /** Generates the classes of {@code graph} with training (O3): Net and NetTrainer. */
    static GeneratedModel generate(Graph graph, String name, TrainingSpec spec, int threads) {
        CompileOptions options = new CompileOptions("com.acme." + name.replaceAll("[^a-z0-9]", ""), Optional.of("Net"),
                OptLevel.O3, threads).withTraining(TrainOptions.of(spec));
        return KilnCompiler.compile(graph, name, options, PassOptions.quiet());
    }

    /** Compiles {@code graph} with training (O3) and builds the reference trainer's graph as the compiler does. */
    static Compiled compile(Graph graph, String name, TrainingSpec spec, int threads) throws Exception {
        GeneratedModel generated = generate(graph, name, spec, threads);
        if (System.getenv("KILN_DUMP") != null) {
            generated.writeTo(Path.of(System.getenv("KILN_DUMP")), Path.of(System.getenv("KILN_DUMP")));
        }
        Class<?> net = InProcessCompiler.load(generated);
        TrainingGraph training = KilnCompiler.differentiate(graph, spec, OptLevel.O3, PassOptions.quiet());
        return new Compiled(net, net.getClassLoader().loadClass(net.getPackageName() + ".NetTrainer"), training);
    }

    /**
     * A trainer starting from the training graph's initial parameters, state and frozen ones: those of {@code Net.load()}
     * (the weights resource beside the class, which also holds the model's constants).
     */
    static Object trainer(Compiled c, Optimizer optimizer) throws Exception {
        Object net = c.net().getMethod("load").invoke(null);
        return c.trainer().getMethod("create", c.net(), Optimizer.class).invoke(null, net, optimizer);
    }

    /** The weights of {@code Net.load()}: the parameters' initial values and the model's constants. */
    static Map<String, Object> resourceWeights(Compiled c) {
        return new LinkedHashMap<>(WeightsFile.readResource(c.net(), "Net.weights"));
    }

    static Tensor randomInput(Compiled c, int batch, long seed) {
        int[] shape = c.training().evalGraph().inputs().get(0).shape().dims().stream()
                .mapToInt(d -> d.isStatic() ? Math.toIntExact(d.value()) : batch).toArray();
        Random r = new Random(seed);
        float[] x = new float[java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return Tensor.ofFloats(shape, x);
    }

    static int[] randomLabels(int batch, int classes, long seed) {
        Random r = new Random(seed);
        int[] l = new int[batch];
        for (int i = 0; i < batch; i++) {
            l[i] = r.nextInt(classes);
        }
        return l;
    }

    static double maxAbsDiff(Tensor expected, float[] actual) {
        return TrainerReferenceTest.maxAbsDiff(expected, actual);
    }

    /** Three steps of the generated trainer and the reference trainer on one batch; returns the worst differences. */
    static double[] agree(String model, Optimizer generated, Optimizer reference, Path dir) throws Exception {
        return agree(compile(model, Loss.CROSS_ENTROPY, 1), model, generated, reference, dir);
    }

    /** {@link #agree(String, Optimizer, Optimizer, Path)} for an already compiled graph named {@code model}. */
    static double[] agree(Compiled c, String model, Optimizer generated, Optimizer reference, Path dir)
            throws Exception {
        int batch = 5;
        Tensor x = randomInput(c, batch, 7);
        int[] labels = randomLabels(batch, 10, 8);
        Object trainer = trainer(c, generated);
        Method step = c.trainer().getMethod("step", float[].class, int[].class, int.class);
        Method parameter = c.trainer().getMethod("parameter", String.class);
        ReferenceTrainer ref = ReferenceTrainer.create(c.training(), reference);
        Tensor labelTensor = Tensor.ofLongs(DType.INT64, new int[] {batch},
                java.util.Arrays.stream(labels).asLongStream().toArray());
        double worstLoss = 0;
        for (int k = 1; k <= 3; k++) {
            double expected = ref.step(Map.of(ref.inputNames().get(0), x), labelTensor);
            float actual = (float) step.invoke(trainer, x.toFloatArray(), labels, batch);
            worstLoss = Math.max(worstLoss, Math.abs(expected - actual) / Math.abs(expected));
            assertEquals(expected, actual, LOSS_TOLERANCE * Math.abs(expected), model + ": loss before step " + k);
        }
        double worstParam = 0;
        for (Map.Entry<String, Tensor> p : ref.parameters().entrySet()) {
            double d = maxAbsDiff(p.getValue(), (float[]) parameter.invoke(trainer, p.getKey()));
            worstParam = Math.max(worstParam, d);
            assertTrue(d <= PARAM_TOLERANCE, model + ": " + p.getKey() + " after 3 steps differs by " + d);
        }
        return new double[] {worstLoss, worstParam};
    }

    static void agreeWithAdamAndSgd(String model, Path dir) throws Exception {
        double[] adam = agree(model, Optimizer.adam(1e-3), Optimizer.adam(1e-3), dir);
        double[] sgd = agree(model, Optimizer.sgd(0.05, 0.9, 0, 0, false), Optimizer.sgd(0.05, 0.9, 0, 0, false), dir);
        System.out.printf("%s: adam loss %.2e param %.2e; sgd loss %.2e param %.2e%n", model, adam[0], adam[1], sgd[0],
                sgd[1]);
    }

    /** Trainers of one model with one and two threads take the same steps, to the bit. */
    static void threadsAgreeBitwise(String model, Path dir) throws Exception {
        threadsAgreeBitwise(compile(model, Loss.CROSS_ENTROPY, 1), compile(model, Loss.CROSS_ENTROPY, 2), model);
    }

    /** {@link #threadsAgreeBitwise(String, Path)} for a model compiled for one thread and for two. */
    static void threadsAgreeBitwise(Compiled one, Compiled two, String model) throws Exception {
        threadsAgreeBitwise(one, two, model, 5);
    }

    /** As above on a batch of {@code batch} (large enough, the kernels split rows across the threads). */
    static void threadsAgreeBitwise(Compiled one, Compiled two, String model, int batch) throws Exception {
        Tensor x = randomInput(one, batch, 11);
        int[] labels = randomLabels(batch, 10, 12);
        Object t1 = trainer(one, Optimizer.adam(1e-3));
        Object t2 = trainer(two, Optimizer.adam(1e-3));
        try {
            for (int k = 1; k <= 3; k++) {
                float l1 = (float) one.trainer().getMethod("step", float[].class, int[].class, int.class)
                        .invoke(t1, x.toFloatArray(), labels, batch);
                float l2 = (float) two.trainer().getMethod("step", float[].class, int[].class, int.class)
                        .invoke(t2, x.toFloatArray(), labels, batch);
                assertEquals(Float.floatToIntBits(l1), Float.floatToIntBits(l2), model + ": loss at step " + k);
            }
            for (String p : one.training().parameters().keySet()) {
                assertArrayEquals((float[]) one.trainer().getMethod("parameter", String.class).invoke(t1, p),
                        (float[]) two.trainer().getMethod("parameter", String.class).invoke(t2, p), 0f, model + ": " + p);
            }
        } finally {
            ((AutoCloseable) t2).close();
        }
    }

    /**
     * The SPECs go through parse, as {@code kiln train --optimizer} and a compiled-in default do. Rates are chosen
     * so that each first step moves a weight by about 1e-3, as Adam's lr=1e-3 does: RMSprop's first step is about
     * {@code 10 lr sign(g)} and Adagrad's {@code lr sign(g)}; ten times larger, three steps fit the 5-sample batch to
     * a loss of 0.002, where float noise in the logits is 6e-5 of the loss.
     */
    @Test
    void mlpTrainerAgreesUnderRmspropAdagradAndAmsgrad(@TempDir Path dir) throws Exception {
        for (String spec : new String[] {"rmsprop:lr=1e-4", "rmsprop:lr=1e-4,momentum=0.9,centered=true,weight_decay=1e-4",
            "adagrad:lr=1e-3,lr_decay=0.01,initial_accumulator_value=0.1", "adam:lr=1e-3,amsgrad=true"}) {
            double[] worst = agree("mlp", Optimizer.parse(spec), Optimizer.parse(spec), dir);
            System.out.printf("mlp, %s: loss %.2e param %.2e%n", spec, worst[0], worst[1]);
        }
    }

    @Test
    void lstmTrainerAgreesWithTheReferenceTrainer(@TempDir Path dir) throws Exception {
        agreeWithAdamAndSgd("lstm", dir);
        threadsAgreeBitwise("lstm", dir);
    }

    @Test
    void gruTrainerAgreesWithTheReferenceTrainer(@TempDir Path dir) throws Exception {
        agreeWithAdamAndSgd("gru", dir);
        threadsAgreeBitwise("gru", dir);
    }

    @Test
    void cifarCnnTrainerAgreesWithTheReferenceTrainer(@TempDir Path dir) throws Exception {
        agreeWithAdamAndSgd("cifar_cnn", dir);
        threadsAgreeBitwise("cifar_cnn", dir);
    }
}
