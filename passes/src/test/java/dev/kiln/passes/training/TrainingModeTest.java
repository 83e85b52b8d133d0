package dev.kiln.passes.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * The forward in training mode: BatchNormalization normalizes with the batch's statistics and updates the
 * running ones as PyTorch does (momentum 0.1 in PyTorch's terms, the unbiased variance), Dropout drops with a
 * mask its gradient reuses; gradients through both match central differences.
 */
class TrainingModeTest {
    /** x -> Mul(w[C,1,1]) -> BatchNormalization(scale, B, running mean/var) -> y; x is (dims), C = 2. */
    private static Graph batchNormModel(String dims) {
        return GradTesting.graph(b -> {
            Value x = b.input("x", DType.FLOAT64, Shape.parse(dims));
            Value scaled = b.op("Mul").inputs(x, b.initializer("w", GradTesting.random(1, 0.5, 2, 2, 1, 1))).output();
            return b.op("BatchNormalization").inputs(scaled,
                    b.initializer("bn.weight", GradTesting.random(2, 0.5, 1.5, 2)),
                    b.initializer("bn.bias", GradTesting.random(3, -1, 1, 2)),
                    b.initializer("bn.running_mean", GradTesting.random(4, -1, 1, 2)),
                    b.initializer("bn.running_var", GradTesting.random(5, 0.5, 2, 2)))
                    .outputNames("y").output();
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"N,2,3,2", "4,2,3,2"})
    void batchNormUpdatesRunningStatisticsAsPyTorch(String dims) {
        Graph model = batchNormModel(dims);
        TrainingGraph tg = Autodiff.build(model, TrainingSpec.of(Loss.MSE));
        assertEquals(List.of("w", "bn.weight", "bn.bias"), List.copyOf(tg.parameters().keySet()));
        assertEquals(List.of("bn.running_mean", "bn.running_var"), List.copyOf(tg.state().keySet()));
        assertEquals(List.of("loss", "grad.w", "grad.bn.weight", "grad.bn.bias", "bn.running_mean.next",
                "bn.running_var.next"), tg.graph().outputs().stream().map(Value::name).toList());

        Map<String, Tensor> feeds = GradTesting.feeds(model, 7);
        int n = feeds.get("x").shape()[0];
        feeds.put(TrainingGraph.LABELS, GradTesting.random(8, -1, 1, n, 2, 3, 2));
        Map<String, Tensor> all = new LinkedHashMap<>(feeds);
        all.putAll(tg.parameters());
        all.putAll(tg.state());
        Map<String, Tensor> out = ReferenceEvaluator.run(tg.graph(), all);

        // By hand: per channel c, the values w[c] * x[n, c, h, w] over n, h, w.
        double[] x = feeds.get("x").toDoubleArray();
        double[] w = tg.parameters().get("w").toDoubleArray();
        double[] mean0 = tg.state().get("bn.running_mean").toDoubleArray();
        double[] var0 = tg.state().get("bn.running_var").toDoubleArray();
        double[] meanNext = out.get("bn.running_mean.next").toDoubleArray();
        double[] varNext = out.get("bn.running_var.next").toDoubleArray();
        for (int c = 0; c < 2; c++) {
            List<Double> v = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                for (int k = 0; k < 6; k++) {
                    v.add(w[c] * x[(i * 2 + c) * 6 + k]);
                }
            }
            double mean = v.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
            double ss = v.stream().mapToDouble(d -> (d - mean) * (d - mean)).sum();
            double unbiased = ss / (v.size() - 1);
            assertEquals(0.9 * mean0[c] + 0.1 * mean, meanNext[c], 1e-12, "running mean of channel " + c);
            assertEquals(0.9 * var0[c] + 0.1 * unbiased, varNext[c], 1e-12, "running variance of channel " + c);
        }
        // The gradients through training-mode normalization (batch statistics) match central differences.
        GradTesting.assertGradients(model, TrainingSpec.of(Loss.MSE), GradTesting.feeds(model, 7),
                feeds.get(TrainingGraph.LABELS));
    }

    @Test
    void batchNormTrainingStepAdvancesTheStateAndEvalUsesIt() {
        Graph model = batchNormModel("N,2,3,2");
        TrainingGraph tg = Autodiff.build(model, TrainingSpec.of(Loss.MSE));
        ReferenceTrainer trainer = new ReferenceTrainer(tg, (step, p, g) -> { });
        Map<String, Tensor> feeds = GradTesting.feeds(model, 7);
        Tensor labels = GradTesting.random(8, -1, 1, GradTesting.BATCH, 2, 3, 2);
        ReferenceTrainer.Evaluation e = trainer.evaluate(feeds, labels);
        trainer.step(feeds, labels);
        assertEquals(e.nextState().get("bn.running_var").toString(), trainer.state().get("bn.running_var").toString());
        assertTrue(!e.nextState().get("bn.running_var").toString().equals(tg.state().get("bn.running_var").toString()));
        // Eval mode reads the updated running statistics.
        Map<String, Tensor> evalFeeds = new LinkedHashMap<>(feeds);
        evalFeeds.putAll(trainer.parameters());
        evalFeeds.putAll(trainer.state());
        assertEquals(ReferenceEvaluator.run(tg.evalGraph(), evalFeeds).get("y").toString(),
                trainer.run(feeds).get("y").toString());
        Node bn = tg.evalGraph().nodes().get(1);
        assertEquals("BatchNormalization", bn.op());
        assertTrue(bn.attributes().get("training_mode").isEmpty(), "eval graph keeps inference mode");
    }

    @Test
    void dropoutDropsWithAMaskTheGradientReuses() {
        Graph model = GradTesting.graph(b -> {
            Value x = b.input("x", DType.FLOAT64, Shape.parse("N,8"));
            Value h = b.op("Mul").inputs(x, b.initializer("w", GradTesting.random(1, -1, 1, 8))).output();
            Value d = b.op("Dropout").inputs(h, b.initializer("ratio", Tensor.ofDoubles(DType.FLOAT64, new int[0], 0.5)))
                    .outputNames("dropped").output();
            return b.op("Mul").inputs(d, b.initializer("v", GradTesting.random(2, -1, 1, 8))).output();
        });
        TrainingSpec spec = TrainingSpec.of(Loss.MSE).withFrozen(java.util.Set.of("ratio"));
        TrainingGraph tg = Autodiff.build(model, spec);
        Node dropout = tg.graph().nodes().stream().filter(n -> n.op().equals("Dropout")).findFirst().orElseThrow();
        assertEquals(2, dropout.outputs().size(), "the mask is an output");
        Map<String, Tensor> feeds = GradTesting.feeds(model, 3);
        Map<String, Tensor> all = new LinkedHashMap<>(feeds);
        all.put(TrainingGraph.LABELS, GradTesting.random(4, -1, 1, GradTesting.BATCH, 8));
        all.putAll(tg.parameters());
        Map<String, Tensor> seen = new LinkedHashMap<>();
        ReferenceEvaluator.run(tg.graph(), all, 5, (v, t) -> seen.put(v.name(), t));
        double[] in = seen.get(dropout.input(0).name()).toDoubleArray();
        double[] outs = seen.get("dropped").toDoubleArray();
        int dropped = 0;
        for (int i = 0; i < in.length; i++) {
            if (outs[i] == 0) {
                dropped++;
            } else {
                assertEquals(2 * in[i], outs[i], 1e-15, "kept elements are scaled by 1 / (1 - ratio)");
            }
        }
        assertTrue(dropped > 0 && dropped < in.length, dropped + " of " + in.length + " dropped");
        GradTesting.assertGradients(model, spec, feeds, all.get(TrainingGraph.LABELS));
    }
}
