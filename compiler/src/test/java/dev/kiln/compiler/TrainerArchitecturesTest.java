package dev.kiln.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.passes.training.Loss;
import dev.kiln.passes.training.ReferenceTrainer;
import dev.kiln.passes.training.TrainingSpec;
import dev.kiln.runtime.train.Optimizer;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Building blocks of real architectures, built as an exporter writes them, train in generated trainers like the
 * reference trainer ({@link TrainerModelsTest}'s tolerances: loss relative 1e-5, parameters 1e-4 absolute after
 * three Adam steps): a MobileNet-style depthwise block, a token-embedding classifier fed int64 ids, a GELU MLP
 * under LayerNormalization over a sequence, a 1-D CNN, a transformer encoder block written op by op, and losses
 * with a label per position (segmentation, tagging). The depthwise block, the 1-D CNN and the encoder also take the
 * same steps to the bit on two threads as on one, at batch 48.
 */
class TrainerArchitecturesTest {
    private static final TrainingSpec CE = TrainingSpec.of(Loss.CROSS_ENTROPY);

    private static Tensor weight(long seed, int... shape) {
        return TrainerLayersTest.weight(seed, shape);
    }

    private static Value classifier(GraphBuilder b, Value features, int width) {
        return b.op("Gemm").inputs(features, b.initializer("fc.weight", weight(90, 10, width)),
                b.initializer("fc.bias", weight(91, 10))).attr("transB", 1).output();
    }

    /**
     * Depthwise 3x3 conv (group = channels, no kernel_shape attribute: it comes from W) -> BatchNorm -> ReLU6 (Clip)
     * -> pointwise 1x1 conv -> HardSwish -> global average pool -> Gemm.
     */
    @Test
    void depthwiseSeparableBlock(@TempDir Path dir) throws Exception {
        GraphBuilder b = new GraphBuilder("depthwise");
        Value x = b.input("x", DType.FLOAT32, Shape.of(Dim.sym("N"), Dim.of(4), Dim.of(8), Dim.of(8)));
        Value dw = b.op("Conv").inputs(x, b.initializer("dw.weight", weight(1, 4, 1, 3, 3))).attr("group", 4L)
                .attr("pads", new long[] {1, 1, 1, 1}).output();
        Value bn = b.op("BatchNormalization").inputs(dw, b.initializer("bn.weight", weight(2, 4)),
                b.initializer("bn.bias", weight(3, 4)), b.initializer("bn.mean", Tensor.ofFloats(new int[] {4}, new float[4])),
                b.initializer("bn.var", Tensor.ofFloats(new int[] {4}, 1, 1, 1, 1))).output();
        Value relu6 = b.op("Clip").inputs(bn, b.initializer("zero", Tensor.scalarFloat(0)),
                b.initializer("six", Tensor.scalarFloat(6))).output();
        Value pw = b.op("Conv").inputs(relu6, b.initializer("pw.weight", weight(4, 8, 4, 1, 1)),
                b.initializer("pw.bias", weight(5, 8))).output();
        Value pooled = b.op("GlobalAveragePool").inputs(b.op("HardSwish").inputs(pw).output()).output();
        b.output(classifier(b, b.op("Flatten").inputs(pooled).output(), 8));
        Graph graph = b.build();
        TrainerModelsTest.Compiled one = TrainerModelsTest.compile(graph, "depthwise", CE, 1);
        TrainerModelsTest.agree(one, "depthwise", Optimizer.adam(1e-2), Optimizer.adam(1e-2), dir);
        TrainerModelsTest.threadsAgreeBitwise(one, TrainerModelsTest.compile(graph, "depthwise", CE, 2), "depthwise", 48);
    }

    /** x [N, 7, 12] -> MatMul + bias -> GELU -> LayerNormalization -> Softmax -> max over the sequence -> Gemm. */
    @Test
    void geluMlpUnderLayerNorm(@TempDir Path dir) throws Exception {
        GraphBuilder b = new GraphBuilder("gelu_ln");
        Value x = b.input("x", DType.FLOAT32, Shape.of(Dim.sym("N"), Dim.of(7), Dim.of(12)));
        Value h = b.op("Add").inputs(b.op("MatMul").inputs(x, b.initializer("w1", weight(1, 12, 16))).output(),
                b.initializer("b1", weight(2, 16))).output();
        Value ln = b.op("LayerNormalization").inputs(b.op("Gelu").inputs(h).output(),
                b.initializer("ln.weight", weight(3, 16)), b.initializer("ln.bias", weight(4, 16))).attr("axis", -1L)
                .output();
        Value soft = b.op("Softmax").inputs(ln).attr("axis", -1L).output();
        Value max = b.op("ReduceMax").inputs(soft, b.initializer("seq", Tensor.ofInt64s(1))).attr("keepdims", 0L)
                .output();
        b.output(classifier(b, max, 16));
        Graph graph = b.build();
        TrainerModelsTest.agree(TrainerModelsTest.compile(graph, "gelu_ln", CE, 1), "gelu_ln", Optimizer.adam(1e-2),
                Optimizer.adam(1e-2), dir);
    }

    /**
     * Token ids int64 [N, 6] (negative ids count from the end, as Gather allows) -> embedding table [50, 8] ->
     * mean over the tokens -> Gemm: the trainer takes the ids as {@code long[]}, and the table's gradient adds each
     * token's slice at its row (a row picked twice gets both).
     */
    @Test
    void tokenEmbeddingClassifier() throws Exception {
        GraphBuilder b = new GraphBuilder("embedding");
        Value ids = b.input("ids", DType.INT64, Shape.of(Dim.sym("N"), Dim.of(6)));
        Value embedded = b.op("Gather").inputs(b.initializer("embedding", weight(1, 50, 8)), ids).output();
        Value mean = b.op("ReduceMean").inputs(embedded, b.initializer("tokens", Tensor.ofInt64s(1))).attr("keepdims", 0L)
                .output();
        b.output(classifier(b, mean, 8));
        TrainerModelsTest.Compiled c = TrainerModelsTest.compile(b.build(), "embedding", CE, 1);
        Object trainer = TrainerModelsTest.trainer(c, Optimizer.adam(1e-2));
        ReferenceTrainer ref = ReferenceTrainer.create(c.training(), Optimizer.adam(1e-2));
        int batch = 5;
        Random r = new Random(5);
        long[] tokens = new long[batch * 6];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = i % 5 == 0 ? r.nextInt(50) - 50 : r.nextInt(50);
        }
        tokens[7] = tokens[8];
        int[] labels = TrainerModelsTest.randomLabels(batch, 10, 8);
        Tensor labelTensor = Tensor.ofLongs(DType.INT64, new int[] {batch}, Arrays.stream(labels).asLongStream().toArray());
        Method step = c.trainer().getMethod("step", long[].class, int[].class, int.class);
        for (int k = 1; k <= 3; k++) {
            double expected = ref.step(Map.of("ids", Tensor.ofLongs(DType.INT64, new int[] {batch, 6}, tokens)),
                    labelTensor);
            float actual = (float) step.invoke(trainer, tokens, labels, batch);
            assertEquals(expected, actual, TrainerModelsTest.LOSS_TOLERANCE * Math.abs(expected), "loss before step " + k);
        }
        Method parameter = c.trainer().getMethod("parameter", String.class);
        for (Map.Entry<String, Tensor> p : ref.parameters().entrySet()) {
            double d = TrainerModelsTest.maxAbsDiff(p.getValue(), (float[]) parameter.invoke(trainer, p.getKey()));
            assertTrue(d <= TrainerModelsTest.PARAM_TOLERANCE, p.getKey() + " after 3 steps differs by " + d);
        }
    }

    /**
     * A 1-D CNN over [N, 3, 16] (audio, sensor series): Conv k5 pad 2 -> ReLU -> MaxPool 2 -> dilated Conv k3 ->
     * ConvTranspose k2 stride 2 -> AveragePool 2 -> GlobalMaxPool -> Gemm; the 1-D windows' gradients run on the 2-D
     * kernels over a height of 1.
     */
    @Test
    void oneDimensionalCnn(@TempDir Path dir) throws Exception {
        GraphBuilder b = new GraphBuilder("cnn1d");
        Value x = b.input("x", DType.FLOAT32, Shape.of(Dim.sym("N"), Dim.of(3), Dim.of(16)));
        Value c1 = b.op("Conv").inputs(x, b.initializer("c1.weight", weight(1, 6, 3, 5)),
                b.initializer("c1.bias", weight(2, 6))).attr("pads", new long[] {2, 2}).output();
        Value p1 = b.op("MaxPool").inputs(b.op("Relu").inputs(c1).output()).attr("kernel_shape", new long[] {2})
                .attr("strides", new long[] {2}).output();
        Value c2 = b.op("Conv").inputs(p1, b.initializer("c2.weight", weight(3, 6, 6, 3)),
                b.initializer("c2.bias", weight(4, 6))).attr("dilations", new long[] {2}).output();
        Value up = b.op("ConvTranspose").inputs(c2, b.initializer("up.weight", weight(5, 6, 4, 2)),
                b.initializer("up.bias", weight(6, 4))).attr("strides", new long[] {2}).output();
        Value p2 = b.op("AveragePool").inputs(up).attr("kernel_shape", new long[] {2}).attr("strides", new long[] {2})
                .output();
        b.output(classifier(b, b.op("Flatten").inputs(b.op("GlobalMaxPool").inputs(p2).output()).output(), 4));
        Graph graph = b.build();
        TrainerModelsTest.Compiled one = TrainerModelsTest.compile(graph, "cnn1d", CE, 1);
        TrainerModelsTest.agree(one, "cnn1d", Optimizer.adam(1e-2), Optimizer.adam(1e-2), dir);
        TrainerModelsTest.threadsAgreeBitwise(one, TrainerModelsTest.compile(graph, "cnn1d", CE, 2), "cnn1d", 48);
    }

    private static Value scalar(GraphBuilder b, float f) {
        return b.op("Constant").attr("value", new dev.kiln.ir.Attr.TensorValue(Tensor.scalarFloat(f))).output();
    }

    private static Value longs(GraphBuilder b, String name, long... v) {
        return b.initializer(name, Tensor.ofInt64s(v));
    }

    /**
     * A transformer encoder block written op by op, as PyTorch exports one: two-head self-attention from MatMuls,
     * Reshape and Transpose (scores scaled by a Constant node), a residual, LayerNorm from ReduceMean, Sub, Pow, Sqrt
     * and Div, and erf-GELU. Its Python scalars are Constant nodes (1/sqrt(d), the exponent 2, epsilon, 1, sqrt(2)):
     * the training simplification folds them into initializers, and they stay constants, not parameters (the
     * exponent's gradient is NaN wherever the base is negative).
     */
    @Test
    void transformerEncoderWrittenOpByOp(@TempDir Path dir) throws Exception {
        GraphBuilder b = new GraphBuilder("encoder");
        Value x = b.input("x", DType.FLOAT32, Shape.of(Dim.sym("N"), Dim.of(6), Dim.of(8)));
        Value heads = longs(b, "heads", 0, 6, 2, 4);
        Value[] qkv = new Value[3];
        long[][] perms = {{0, 2, 1, 3}, {0, 2, 3, 1}, {0, 2, 1, 3}};
        for (int i = 0; i < 3; i++) {
            Value projected = b.op("MatMul").inputs(x, b.initializer("w" + "qkv".charAt(i), weight(10 + i, 8, 8))).output();
            qkv[i] = b.op("Transpose").inputs(b.op("Reshape").inputs(projected, heads).output()).attr("perm", perms[i])
                    .output();
        }
        Value scores = b.op("Mul").inputs(b.op("MatMul").inputs(qkv[0], qkv[1]).output(), scalar(b, 0.5f)).output();
        Value attended = b.op("MatMul").inputs(b.op("Softmax").inputs(scores).attr("axis", -1L).output(), qkv[2])
                .output();
        Value merged = b.op("Reshape").inputs(b.op("Transpose").inputs(attended).attr("perm", new long[] {0, 2, 1, 3})
                .output(), longs(b, "model", 0, 6, 8)).output();
        Value r = b.op("Add").inputs(x, b.op("MatMul").inputs(merged, b.initializer("wo", weight(13, 8, 8))).output())
                .output();
        Value centered = b.op("Sub").inputs(r, b.op("ReduceMean").inputs(r, longs(b, "last", -1)).output()).output();
        Value variance = b.op("ReduceMean").inputs(b.op("Pow").inputs(centered, scalar(b, 2f)).output(),
                longs(b, "last2", -1)).output();
        Value normalized = b.op("Div").inputs(centered, b.op("Sqrt").inputs(b.op("Add").inputs(variance,
                scalar(b, 1e-5f)).output()).output()).output();
        Value ln = b.op("Add").inputs(b.op("Mul").inputs(normalized, b.initializer("ln.weight", weight(14, 8))).output(),
                b.initializer("ln.bias", weight(15, 8))).output();
        Value erf = b.op("Erf").inputs(b.op("Div").inputs(ln, scalar(b, 1.4142135f)).output()).output();
        Value gelu = b.op("Mul").inputs(b.op("Mul").inputs(ln, b.op("Add").inputs(erf, scalar(b, 1f)).output()).output(),
                scalar(b, 0.5f)).output();
        b.output(classifier(b, b.op("ReduceMean").inputs(gelu, longs(b, "tokens", 1)).attr("keepdims", 0L).output(), 8));
        Graph graph = b.build();
        TrainerModelsTest.Compiled c = TrainerModelsTest.compile(graph, "encoder", CE, 1);
        assertEquals(java.util.List.of("wq", "wk", "wv", "wo", "ln.weight", "ln.bias", "fc.weight", "fc.bias"),
                java.util.List.copyOf(c.training().parameters().keySet()));
        TrainerModelsTest.agree(c, "encoder", Optimizer.adam(1e-2), Optimizer.adam(1e-2), dir);
        TrainerModelsTest.threadsAgreeBitwise(c, TrainerModelsTest.compile(graph, "encoder", CE, 2), "encoder", 48);
    }

    /**
     * Dense prediction: one class label per position, scores (N, C, d1..dk) as PyTorch's CrossEntropyLoss and NLLLoss
     * take them. A segmentation head (Conv 3x3 -> ReLU -> Conv 1x1 to 4 classes, labels [N, 8, 8]) under
     * cross-entropy, and a token tagger (MatMul to 10 tags, Transpose to [N, 10, 5], LogSoftmax over the tags) under
     * NLL: the loss is the mean over every position, as in PyTorch.
     */
    @Test
    void perPositionLabels() throws Exception {
        GraphBuilder seg = new GraphBuilder("segmentation");
        Value image = seg.input("x", DType.FLOAT32, Shape.of(Dim.sym("N"), Dim.of(3), Dim.of(8), Dim.of(8)));
        Value hidden = seg.op("Relu").inputs(seg.op("Conv").inputs(image, seg.initializer("c1.weight", weight(1, 6, 3, 3, 3)),
                seg.initializer("c1.bias", weight(2, 6))).attr("pads", new long[] {1, 1, 1, 1}).output()).output();
        seg.output(seg.op("Conv").inputs(hidden, seg.initializer("c2.weight", weight(3, 4, 6, 1, 1)),
                seg.initializer("c2.bias", weight(4, 4))).output());
        stepsAgree(seg.build(), TrainingSpec.of(Loss.CROSS_ENTROPY), new int[] {3, 3, 8, 8}, new int[] {3, 8, 8}, 4);

        GraphBuilder tag = new GraphBuilder("tagger");
        Value tokens = tag.input("x", DType.FLOAT32, Shape.of(Dim.sym("N"), Dim.of(5), Dim.of(4)));
        Value tags = tag.op("MatMul").inputs(tokens, tag.initializer("w", weight(5, 4, 10))).output();
        Value classMajor = tag.op("Transpose").inputs(tags).attr("perm", new long[] {0, 2, 1}).output();
        tag.output(tag.op("LogSoftmax").inputs(classMajor).attr("axis", 1L).output());
        stepsAgree(tag.build(), TrainingSpec.of(Loss.NLL), new int[] {3, 5, 4}, new int[] {3, 5}, 10);
    }

    /** Three Adam steps of the generated and the reference trainer on one batch with labels shaped {@code labelShape}. */
    private static void stepsAgree(Graph graph, TrainingSpec spec, int[] inputShape, int[] labelShape, int classes)
            throws Exception {
        TrainerModelsTest.Compiled c = TrainerModelsTest.compile(graph, graph.name(), spec, 1);
        Object trainer = TrainerModelsTest.trainer(c, Optimizer.adam(1e-2));
        ReferenceTrainer ref = ReferenceTrainer.create(c.training(), Optimizer.adam(1e-2));
        Tensor x = TrainerLayersTest.gaussian(inputShape, 17);
        int[] labels = TrainerModelsTest.randomLabels(Tensor.sizeOf(labelShape), classes, 18);
        Tensor labelTensor = Tensor.ofLongs(DType.INT64, labelShape, Arrays.stream(labels).asLongStream().toArray());
        Method step = c.trainer().getMethod("step", float[].class, int[].class, int.class);
        for (int k = 1; k <= 3; k++) {
            double expected = ref.step(Map.of("x", x), labelTensor);
            float actual = (float) step.invoke(trainer, x.toFloatArray(), labels, inputShape[0]);
            assertEquals(expected, actual, TrainerModelsTest.LOSS_TOLERANCE * Math.abs(expected),
                    graph.name() + ": loss before step " + k);
        }
        Method parameter = c.trainer().getMethod("parameter", String.class);
        for (Map.Entry<String, Tensor> p : ref.parameters().entrySet()) {
            double d = TrainerModelsTest.maxAbsDiff(p.getValue(), (float[]) parameter.invoke(trainer, p.getKey()));
            assertTrue(d <= TrainerModelsTest.PARAM_TOLERANCE, graph.name() + ": " + p.getKey() + " differs by " + d);
        }
    }
}
