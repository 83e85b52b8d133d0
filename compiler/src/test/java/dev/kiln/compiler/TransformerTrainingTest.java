package dev.kiln.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.AttentionGrads;
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
 * A small transformer block built with the Java builder API trains: input projection, grouped-query causal
 * self-attention (3-D packed heads; rotary position embedding on Q and K in the second model), a residual,
 * LayerNormalization, a ReLU MLP, mean pooling over the sequence and a Gemm classifier under cross-entropy. The
 * generated trainer agrees with the {@link ReferenceTrainer} on the same training graph for three Adam steps
 * within {@link TrainerModelsTest}'s tolerances (loss relative 1e-5, parameters 1e-4 absolute; seen: loss 0,
 * parameters 3.0e-8 and, with rotary, 6.0e-8), and its loss falls below half over 30 Adam steps (lr 1e-2) on a fixed
 * batch (seen: 2.36 -> 0.26, with rotary 2.36 -> 0.36).
 */
class TransformerTrainingTest {
    private static final int SEQ = 4;
    private static final int EMBED = 8;
    private static final int BATCH = 5;

    private static Value weight(GraphBuilder b, String name, long seed, double scale, int... shape) {
        Random r = new Random(seed);
        float[] v = new float[Arrays.stream(shape).reduce(1, (x, y) -> x * y)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (scale * r.nextGaussian());
        }
        return b.initializer(name, Tensor.ofFloats(shape, v));
    }

    /** The block; with {@code rotary} (static batch), Q (halves) and K (interleaved) are rotated by position. */
    static Graph transformer(boolean rotary) {
        GraphBuilder b = new GraphBuilder("tiny_transformer");
        Value x = b.input("x", DType.FLOAT32, Shape.parse((rotary ? BATCH : "N") + "," + SEQ + "," + EMBED));
        Value h = b.op("Add").inputs(b.op("MatMul").inputs(x, weight(b, "w_in", 1, 0.35, EMBED, EMBED)).output(),
                weight(b, "b_in", 2, 0.1, EMBED)).output();
        Value q = b.op("MatMul").inputs(h, weight(b, "wq", 3, 0.35, EMBED, EMBED)).output();
        Value k = b.op("MatMul").inputs(h, weight(b, "wk", 4, 0.35, EMBED, EMBED / 2)).output();
        Value v = b.op("MatMul").inputs(h, weight(b, "wv", 5, 0.35, EMBED, EMBED / 2)).output();
        if (rotary) {
            // Head size 4: two rotated pairs per head; caches per batch entry and position (no position_ids).
            Value cos = weight(b, "cos", 11, 1, BATCH, SEQ, 2);
            Value sin = weight(b, "sin", 12, 1, BATCH, SEQ, 2);
            q = b.op("RotaryEmbedding").inputs(q, cos, sin).attr("num_heads", 2L).output();
            k = b.op("RotaryEmbedding").inputs(k, cos, sin).attr("num_heads", 1L).attr("interleaved", 1L)
                    .output();
        }
        Value a = b.op("Attention").inputs(q, k, v).attr("q_num_heads", 2L).attr("kv_num_heads", 1L)
                .attr("is_causal", 1L).output();
        Value r = b.op("Add").inputs(h, b.op("MatMul").inputs(a, weight(b, "wo", 6, 0.35, EMBED, EMBED)).output())
                .output();
        Value ln = b.op("LayerNormalization").inputs(r, weight(b, "gamma", 7, 0.1, EMBED), weight(b, "beta", 8, 0.1,
                EMBED)).attr("axis", -1L).output();
        Value m = b.op("Relu").inputs(b.op("Add").inputs(b.op("MatMul").inputs(ln, weight(b, "w1", 9, 0.35, EMBED,
                16)).output(), weight(b, "b1", 10, 0.1, 16)).output()).output();
        Value m2 = b.op("MatMul").inputs(m, weight(b, "w2", 13, 0.25, 16, EMBED)).output();
        Value pooled = b.op("ReduceMean").inputs(m2, b.initializer("seq_axis", Tensor.ofInt64s(1)))
                .attr("keepdims", 0L).output();
        b.output(b.op("Gemm").inputs(pooled, weight(b, "wc", 14, 0.35, EMBED, 10), weight(b, "bc", 15, 0.1, 10))
                .output());
        return b.build();
    }

    @Test
    void causalGroupedQueryBlockTrains(@TempDir Path dir) throws Exception {
        trains(transformer(false), "tiny_transformer", dir);
    }

    @Test
    void rotaryBlockTrains(@TempDir Path dir) throws Exception {
        trains(transformer(true), "tiny_rotary_transformer", dir);
    }

    private static void trains(Graph model, String name, Path dir) throws Exception {
        TrainingSpec spec = TrainingSpec.of(Loss.CROSS_ENTROPY);
        TrainerModelsTest.Compiled c = TrainerModelsTest.compile(model, name, spec, 1);
        assertTrue(c.training().graph().nodes().stream().anyMatch(n -> n.domain().equals(OpTable.KILN_DOMAIN)
                && n.op().equals(AttentionGrads.ATTENTION_GRAD)), "the training graph differentiates Attention");
        Tensor x = TrainerModelsTest.randomInput(c, BATCH, 7);
        int[] labels = TrainerModelsTest.randomLabels(BATCH, 10, 8);
        Tensor labelTensor = Tensor.ofLongs(DType.INT64, new int[] {BATCH},
                Arrays.stream(labels).asLongStream().toArray());
        Object trainer = TrainerModelsTest.trainer(c, Optimizer.adam(1e-3));
        Method step = c.trainer().getMethod("step", float[].class, int[].class, int.class);
        Method parameter = c.trainer().getMethod("parameter", String.class);
        ReferenceTrainer ref = ReferenceTrainer.create(c.training(), Optimizer.adam(1e-3));
        double worstLoss = 0;
        double worstParam = 0;
        for (int k = 1; k <= 3; k++) {
            double expected = ref.step(Map.of(ref.inputNames().get(0), x), labelTensor);
            float actual = (float) step.invoke(trainer, x.toFloatArray(), labels, BATCH);
            worstLoss = Math.max(worstLoss, Math.abs(expected - actual) / Math.abs(expected));
            assertEquals(expected, actual, TrainerModelsTest.LOSS_TOLERANCE * Math.abs(expected),
                    name + ": loss before step " + k);
        }
        for (Map.Entry<String, Tensor> p : ref.parameters().entrySet()) {
            double d = TrainerModelsTest.maxAbsDiff(p.getValue(), (float[]) parameter.invoke(trainer, p.getKey()));
            worstParam = Math.max(worstParam, d);
            assertTrue(d <= TrainerModelsTest.PARAM_TOLERANCE, name + ": " + p.getKey() + " after 3 steps differs by "
                    + d);
        }
        assertTrue(ref.parameters().containsKey("wq") && ref.parameters().containsKey("wk")
                && ref.parameters().containsKey("wv"), "the projections into Attention are trained");
        // Keep training the generated trainer on the batch: the loss falls.
        Object fresh = TrainerModelsTest.trainer(c, Optimizer.adam(1e-2));
        float first = (float) step.invoke(fresh, x.toFloatArray(), labels, BATCH);
        float last = first;
        for (int k = 0; k < 30; k++) {
            last = (float) step.invoke(fresh, x.toFloatArray(), labels, BATCH);
        }
        assertTrue(last < 0.5 * first, name + ": loss " + first + " -> " + last + " after 30 Adam steps");
        System.out.printf("%s: adam loss %.2e param %.2e; loss %.4f -> %.4f in 30 steps%n", name, worstLoss,
                worstParam, first, last);
    }
}
