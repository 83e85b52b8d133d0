package dev.kiln.compiler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.compiler.TrainerModelsTest.Compiled;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.ir.builder.Activation;
import dev.kiln.ir.builder.ModelBuilder;
import dev.kiln.passes.training.Loss;
import dev.kiln.passes.training.ReferenceTrainer;
import dev.kiln.passes.training.TrainingSpec;
import dev.kiln.runtime.WeightsFile;
import dev.kiln.runtime.train.Optimizer;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Generated trainers of small builder-made models exercising BatchNormalization in training mode (batch
 * statistics, running statistics as state), Dropout in training mode, the MSE loss and a sequence-major MatMul.
 */
class TrainerLayersTest {
    static Tensor gaussian(int[] shape, long seed) {
        Random r = new Random(seed);
        float[] x = new float[java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return Tensor.ofFloats(shape, x);
    }

    /** 0.3 times a seeded standard gaussian: weights small enough that tanh and softmax are not saturated. */
    static Tensor weight(long seed, int... shape) {
        float[] v = gaussian(shape, seed).toFloatArray();
        for (int i = 0; i < v.length; i++) {
            v[i] *= 0.3f;
        }
        return Tensor.ofFloats(shape, v);
    }

    static Tensor longs(int[] labels) {
        return Tensor.ofLongs(DType.INT64, new int[] {labels.length}, java.util.Arrays.stream(labels).asLongStream().toArray());
    }

    /**
     * conv -> BatchNorm2d -> relu -> flatten -> dense -> BatchNorm1d -> relu -> dense: three SGD-momentum steps match the
     * reference trainer in loss, parameters and running statistics, and eval mode (running statistics) matches its
     * eval-mode outputs and those of the inference class loading the saved weights.
     */
    @Test
    void batchNormTrainsLikeTheReferenceTrainer(@TempDir Path dir) throws Exception {
        ModelBuilder b = ModelBuilder.create("bn_net").seed(3);
        b.output(b.input("image", DType.FLOAT32, "N,3,6,6").conv2d("conv", 4, 3).batchNorm("bn1").relu().flatten()
                .dense("fc1", 12).batchNorm("bn2").relu().dense("fc2", 5), "logits");
        Graph model = b.build();
        Compiled c = TrainerModelsTest.compile(model, "bn_net", TrainingSpec.of(Loss.CROSS_ENTROPY), 1);
        assertEquals(4, c.training().state().size(), "running mean and variance of both BatchNorms are state");
        Optimizer sgd = Optimizer.sgd(0.1, 0.9, 0, 0, false);
        Object trainer = TrainerModelsTest.trainer(c, sgd);
        ReferenceTrainer ref = ReferenceTrainer.create(c.training(), Optimizer.sgd(0.1, 0.9, 0, 0, false));
        int batch = 6;
        Tensor x = gaussian(new int[] {batch, 3, 6, 6}, 1);
        int[] labels = {0, 1, 2, 3, 4, 1};
        Method step = c.trainer().getMethod("step", float[].class, int[].class, int.class);
        Method gradient = c.trainer().getMethod("gradient", String.class);
        for (int k = 1; k <= 3; k++) {
            ReferenceTrainer.Evaluation e = ref.evaluate(Map.of("image", x), longs(labels));
            double expected = ref.step(Map.of("image", x), longs(labels));
            float actual = (float) step.invoke(trainer, x.toFloatArray(), labels, batch);
            assertEquals(expected, actual, 1e-5 * expected, "loss before step " + k);
            for (Map.Entry<String, Tensor> g : e.gradients().entrySet()) {
                double d = TrainerModelsTest.maxAbsDiff(g.getValue(), (float[]) gradient.invoke(trainer, g.getKey()));
                assertTrue(d <= 1e-5, "gradient of " + g.getKey() + " at step " + k + " differs by " + d);
            }
        }
        Method parameter = c.trainer().getMethod("parameter", String.class);
        for (Map.Entry<String, Tensor> p : ref.parameters().entrySet()) {
            double d = TrainerModelsTest.maxAbsDiff(p.getValue(), (float[]) parameter.invoke(trainer, p.getKey()));
            assertTrue(d <= 1e-4, p.getKey() + " after 3 steps differs by " + d);
        }
        Path saved = dir.resolve("trained.weights");
        c.trainer().getMethod("saveWeights", Path.class).invoke(trainer, saved);
        Map<String, float[]> weights = WeightsFile.read(saved);
        for (Map.Entry<String, Tensor> s : ref.state().entrySet()) {
            double d = TrainerModelsTest.maxAbsDiff(s.getValue(), weights.get(s.getKey()));
            assertTrue(d <= 1e-5, "running statistic " + s.getKey() + " after 3 steps differs by " + d);
            assertTrue(TrainerModelsTest.maxAbsDiff(c.training().state().get(s.getKey()), weights.get(s.getKey())) > 1e-3,
                    s.getKey() + " moved");
        }
        c.trainer().getMethod("eval").invoke(trainer);
        Tensor probe = gaussian(new int[] {2, 3, 6, 6}, 2);
        float[] eval = (float[]) c.trainer().getMethod("run", float[].class, int.class).invoke(trainer, probe.toFloatArray(), 2);
        double d = TrainerModelsTest.maxAbsDiff(ref.run(Map.of("image", probe)).get("logits"), eval);
        assertTrue(d <= 1e-4, "eval-mode outputs differ from the reference trainer's by " + d);
        Object net = c.net().getMethod("load", Path.class).invoke(null, saved);
        assertArrayEquals(eval, (float[]) c.net().getMethod("run", float[].class, int.class).invoke(net, probe.toFloatArray(), 2),
                0f, "Net.load(saved) runs like the trainer in eval mode");
    }

    /**
     * A CNN whose every layer's training kernels split over two threads (BatchNorm by channels, the pooling
     * gradients by planes, the second convolution's input gradient as a transposed convolution): at batch 8 each is
     * above its split threshold. Two SGD-momentum steps: the 2-thread trainer takes the 1-thread one's steps to the
     * bit, and that one matches the reference trainer (loss 1e-5 relative, gradients 1e-5).
     */
    @Test
    void threadedCnnWithBatchNormAndAveragePoolTrainsLikeOneThreadAndTheReference(@TempDir Path dir)
            throws Exception {
        ModelBuilder b = ModelBuilder.create("bn_cnn").seed(5);
        b.output(b.input("image", DType.FLOAT32, "N,3,16,16")
                .conv2d(dev.kiln.ir.builder.Conv2d.of(16, 3).named("conv1").padding(1)).batchNorm("bn1").relu()
                .avgPool2d(2)
                .conv2d(dev.kiln.ir.builder.Conv2d.of(16, 3).named("conv2").padding(1)).batchNorm("bn2").relu()
                .maxPool2d(2).flatten().dense("fc", 10), "logits");
        Graph model = b.build();
        Compiled one = TrainerModelsTest.compile(model, "bn_cnn1", TrainingSpec.of(Loss.CROSS_ENTROPY), 1);
        Compiled two = TrainerModelsTest.compile(model, "bn_cnn2", TrainingSpec.of(Loss.CROSS_ENTROPY), 2);
        Object t1 = TrainerModelsTest.trainer(one, Optimizer.sgd(0.05, 0.9, 0, 0, false));
        Object t2 = TrainerModelsTest.trainer(two, Optimizer.sgd(0.05, 0.9, 0, 0, false));
        ReferenceTrainer ref = ReferenceTrainer.create(one.training(), Optimizer.sgd(0.05, 0.9, 0, 0, false));
        int batch = 8;
        Tensor x = gaussian(new int[] {batch, 3, 16, 16}, 4);
        int[] labels = {0, 1, 2, 3, 4, 5, 6, 7};
        Method step1 = one.trainer().getMethod("step", float[].class, int[].class, int.class);
        Method step2 = two.trainer().getMethod("step", float[].class, int[].class, int.class);
        Method gradient = one.trainer().getMethod("gradient", String.class);
        try {
            for (int k = 1; k <= 2; k++) {
                ReferenceTrainer.Evaluation e = ref.evaluate(Map.of("image", x), longs(labels));
                double expected = ref.step(Map.of("image", x), longs(labels));
                float l1 = (float) step1.invoke(t1, x.toFloatArray(), labels, batch);
                float l2 = (float) step2.invoke(t2, x.toFloatArray(), labels, batch);
                assertEquals(Float.floatToIntBits(l1), Float.floatToIntBits(l2), "loss at step " + k);
                assertEquals(expected, l1, 1e-5 * expected, "loss before step " + k);
                for (Map.Entry<String, Tensor> g : e.gradients().entrySet()) {
                    float[] g1 = (float[]) gradient.invoke(t1, g.getKey());
                    assertArrayEquals(g1, (float[]) two.trainer().getMethod("gradient", String.class)
                            .invoke(t2, g.getKey()), 0f, "gradient of " + g.getKey() + " at step " + k);
                    double d = TrainerModelsTest.maxAbsDiff(g.getValue(), g1);
                    assertTrue(d <= 1e-5, "gradient of " + g.getKey() + " at step " + k + " differs by " + d);
                }
            }
        } finally {
            ((AutoCloseable) t2).close();
        }
    }

    /** A two-layer net with Dropout(0.5) kept for training, on a learnable labelling of random points. */
    static Compiled dropoutNet(long seed) throws Exception {
        ModelBuilder b = ModelBuilder.create("dropout_net").seed(5).keepDropout(true);
        b.output(b.input("x", DType.FLOAT32, "N,8").dense("fc1", 32, Activation.RELU).dropout(0.5).dense("fc2", 3),
                "logits");
        return TrainerModelsTest.compile(b.build(), "dropout_net" + seed, new TrainingSpec(Loss.CROSS_ENTROPY,
                dev.kiln.passes.training.Reduction.MEAN, java.util.Set.of(), seed), 1);
    }

    @Test
    void dropoutTrainsReproduciblyAndEvaluatesDeterministically(@TempDir Path dir) throws Exception {
        int batch = 32;
        Tensor x = gaussian(new int[] {batch, 8}, 4);
        float[] xs = x.toFloatArray();
        int[] labels = new int[batch];
        for (int i = 0; i < batch; i++) {
            labels[i] = xs[i * 8] > 0.5f ? 0 : xs[i * 8 + 1] > 0 ? 1 : 2;
        }
        Compiled c = dropoutNet(7);
        Object trainer = TrainerModelsTest.trainer(c, Optimizer.adam(0.01));
        Object twin = TrainerModelsTest.trainer(c, Optimizer.adam(0.01));
        Object otherSeed = TrainerModelsTest.trainer(dropoutNet(8), Optimizer.adam(0.01));
        Method step = c.trainer().getMethod("step", float[].class, int[].class, int.class);
        Method otherStep = otherSeed.getClass().getMethod("step", float[].class, int[].class, int.class);
        float first = 0;
        float last = 0;
        boolean differs = false;
        for (int k = 1; k <= 60; k++) {
            float l = (float) step.invoke(trainer, xs, labels, batch);
            assertEquals(Float.floatToIntBits(l), Float.floatToIntBits((float) step.invoke(twin, xs, labels, batch)),
                    "same seed, same masks: step " + k);
            differs |= l != (float) otherStep.invoke(otherSeed, xs, labels, batch);
            first = k == 1 ? l : first;
            last = l;
        }
        assertTrue(differs, "another seed draws other masks");
        assertTrue(last < 0.5 * first, "loss went from " + first + " to " + last);
        Method run = c.trainer().getMethod("run", float[].class, int.class);
        c.trainer().getMethod("eval").invoke(trainer);
        float[] a = (float[]) run.invoke(trainer, xs, batch);
        float[] b = (float[]) run.invoke(trainer, xs, batch);
        assertArrayEquals(a, b, 0f, "eval mode is deterministic");
        int correct = 0;
        for (int i = 0; i < batch; i++) {
            int best = 0;
            for (int j = 1; j < 3; j++) {
                best = a[i * 3 + j] > a[i * 3 + best] ? j : best;
            }
            correct += best == labels[i] ? 1 : 0;
        }
        assertTrue(correct >= batch * 3 / 4, "eval-mode accuracy on the training batch: " + correct + "/" + batch);
        // The eval forward is the reference evaluator's eval graph on the trained parameters.
        Map<String, Tensor> params = new java.util.LinkedHashMap<>();
        for (String p : c.training().parameters().keySet()) {
            float[] v = (float[]) c.trainer().getMethod("parameter", String.class).invoke(trainer, p);
            params.put(p, Tensor.ofFloats(c.training().parameters().get(p).shape(), v));
        }
        ReferenceTrainer ref = ReferenceTrainer.create(c.training(), Optimizer.sgd(0));
        ref.load(params);
        assertTrue(TrainerModelsTest.maxAbsDiff(ref.run(Map.of("x", x)).get("logits"), a) <= 1e-5);
        assertNotEquals(0, correct);
    }

    /** A small regression net under MSE (mean), whose gradient divides by the batch's element count at run time. */
    @Test
    void mseRegressionMatchesTheReferenceTrainer(@TempDir Path dir) throws Exception {
        ModelBuilder b = ModelBuilder.create("regression").seed(9);
        b.output(b.input("x", DType.FLOAT32, "N,4").dense("fc1", 8, Activation.TANH).dense("fc2", 2), "y");
        Compiled c = TrainerModelsTest.compile(b.build(), "regression", TrainingSpec.of(Loss.MSE), 1);
        Object trainer = TrainerModelsTest.trainer(c, Optimizer.adam(0.01));
        ReferenceTrainer ref = ReferenceTrainer.create(c.training(), Optimizer.adam(0.01));
        Method step = c.trainer().getMethod("step", float[].class, float[].class, int.class);
        for (int batch : new int[] {7, 3, 7}) {
            Tensor x = gaussian(new int[] {batch, 4}, batch);
            Tensor y = gaussian(new int[] {batch, 2}, batch + 100);
            double expected = ref.step(Map.of("x", x), y);
            float actual = (float) step.invoke(trainer, x.toFloatArray(), y.toFloatArray(), batch);
            assertEquals(expected, actual, 1e-5 * expected, "loss on a batch of " + batch);
        }
        Method parameter = c.trainer().getMethod("parameter", String.class);
        for (Map.Entry<String, Tensor> p : ref.parameters().entrySet()) {
            double d = TrainerModelsTest.maxAbsDiff(p.getValue(), (float[]) parameter.invoke(trainer, p.getKey()));
            assertTrue(d <= 1e-4, p.getKey() + " after 3 steps differs by " + d);
        }
    }

    /**
     * x [N, 5, 4] -> Transpose to sequence-major [5, N, 4] -> MatMul by a trained [4, 8] -> + bias -> relu -> mean
     * over the sequence -> Gemm to 10: the product's rows (5 x N) include the batch in the middle, so it runs as one
     * run-time-packed GEMM of 5N rows (forward and gradients), and trains like the reference trainer.
     */
    @Test
    void sequenceMajorProjectionTrains(@TempDir Path dir) throws Exception {
        Random r = new Random(3);
        GraphBuilder b = new GraphBuilder("seq_major");
        Value x = b.input("x", DType.FLOAT32, Shape.of(Dim.sym("N"), Dim.of(5), Dim.of(4)));
        Value seq = b.op("Transpose").inputs(x).attr("perm", new long[] {1, 0, 2}).output();
        Value h = b.op("MatMul").inputs(seq, b.initializer("W", gaussian(new int[] {4, 8}, 31))).output();
        Value relu = b.op("Relu").inputs(b.op("Add").inputs(h, b.initializer("bias", gaussian(new int[] {8}, 32)))
                .output()).output();
        Value pooled = b.op("ReduceMean").inputs(relu, b.initializer("axes", Tensor.ofInt64s(0))).attr("keepdims", 0L)
                .output();
        b.output(b.op("Gemm").inputs(pooled, b.initializer("fcW", gaussian(new int[] {10, 8}, 33)),
                b.initializer("fcB", gaussian(new int[] {10}, 34))).attr("transB", 1).output());
        Graph graph = b.build();
        TrainingSpec spec = TrainingSpec.of(Loss.CROSS_ENTROPY);
        String trainer = TrainerModelsTest.generate(graph, "seq_major", spec, 1).sources().stream().map(Object::toString)
                .filter(src -> src.contains("class NetTrainer")).findFirst().orElseThrow();
        assertTrue(trainer.contains(".gemm(false, false, 5 * batch, 8, 4, "), trainer);
        TrainerModelsTest.agree(TrainerModelsTest.compile(graph, "seq_major", spec, 1), "seq_major", Optimizer.adam(1e-2),
                Optimizer.adam(1e-2), dir);
    }

    /**
     * Self-attention over 20 positions under a causal mask held as a bool initializer [20, 20], then a Gather of the
     * positions by a constant int64 index list, mean pooling and a Gemm: the trainer reads those constants (too large,
     * or not float, to write into its source) from the weights resource beside the inference class, and trains like
     * the reference trainer.
     */
    @Test
    void constantMaskAndIndicesTrain(@TempDir Path dir) throws Exception {
        int s = 20;
        GraphBuilder b = new GraphBuilder("masked");
        Value x = b.input("x", DType.FLOAT32, Shape.of(Dim.sym("N"), Dim.of(s), Dim.of(4)));
        Value q = b.op("MatMul").inputs(x, b.initializer("wq", gaussian(new int[] {4, 4}, 41))).output();
        Value keys = b.op("Transpose").inputs(x).attr("perm", new long[] {0, 2, 1}).output();
        boolean[] causal = new boolean[s * s];
        for (int i = 0; i < s; i++) {
            for (int j = 0; j <= i; j++) {
                causal[i * s + j] = true;
            }
        }
        Value masked = b.op("Where").inputs(b.initializer("mask", Tensor.wrapBools(new int[] {s, s}, causal)),
                b.op("MatMul").inputs(q, keys).output(), b.initializer("neg", Tensor.scalarFloat(-1e9f))).output();
        Value attended = b.op("MatMul").inputs(b.op("Softmax").inputs(masked).attr("axis", -1L).output(), x).output();
        long[] order = new long[s];
        for (int i = 0; i < s; i++) {
            order[i] = (i * 7) % s;
        }
        Value picked = b.op("Gather").inputs(attended, b.initializer("order", Tensor.ofInt64s(order))).attr("axis", 1L)
                .output();
        Value pooled = b.op("ReduceMean").inputs(picked, b.initializer("axes", Tensor.ofInt64s(1))).attr("keepdims", 0L)
                .output();
        b.output(b.op("Gemm").inputs(pooled, b.initializer("fcW", gaussian(new int[] {10, 4}, 42)),
                b.initializer("fcB", gaussian(new int[] {10}, 43))).attr("transB", 1).output());
        Graph graph = b.build();
        TrainingSpec spec = TrainingSpec.of(Loss.CROSS_ENTROPY);
        String trainer = TrainerModelsTest.generate(graph, "masked", spec, 1).sources().stream().map(Object::toString)
                .filter(src -> src.contains("class NetTrainer")).findFirst().orElseThrow();
        assertTrue(trainer.contains("WeightsFile.readResourceShared(Net.class, \"Net.weights\")")
                && trainer.contains("\"NetTrainer/mask\""), trainer);
        TrainerModelsTest.agree(TrainerModelsTest.compile(graph, "masked", spec, 1), "masked", Optimizer.adam(1e-2),
                Optimizer.adam(1e-2), dir);
    }
}
