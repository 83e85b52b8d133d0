package dev.kiln.passes.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Tensor;
import dev.kiln.onnx.OnnxImporter;
import dev.kiln.runtime.train.Optimizer;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The MLP (784-512-256-10) trained with cross-entropy from PyTorch's initial parameters on its saved batch:
 * the loss and every gradient of step 1 must match PyTorch's (train_ref/mlp_adam).
 */
class MlpTrainingTest {
    /**
     * float32 on both sides, rounded at other points (the evaluator rounds once per op): the largest gradient
     * difference seen is 1.1e-8 (fc3.weight), the loss differs by 1e-7 relative.
     */
    private static final double GRAD_TOLERANCE = 1e-7;
    private static final double LOSS_RELATIVE_TOLERANCE = 1e-5;
    /** The bound on parameters after 1 and 3 optimizer steps. */
    private static final double PARAM_TOLERANCE = 1e-4;

    @Test
    void lossAndGradientsOfStepOneMatchPyTorch() {
        TrainRef ref = TrainRef.of("mlp_adam");
        Graph model = OnnxImporter.load(TrainRef.model("mlp"));
        TrainingGraph tg = Autodiff.build(model, TrainingSpec.of(Loss.CROSS_ENTROPY));
        Map<String, Tensor> init = ref.tensors("params_init");
        assertEquals(init.keySet(), new java.util.TreeSet<>(tg.parameters().keySet()));
        ReferenceTrainer trainer = new ReferenceTrainer(tg, (step, p, g) -> { });
        trainer.load(init);

        ReferenceTrainer.Evaluation e = trainer.evaluate(Map.of(trainer.inputNames().get(0), ref.x()), ref.target());
        double expectedLoss = ref.losses().get(0);
        assertEquals(expectedLoss, e.loss(), LOSS_RELATIVE_TOLERANCE * expectedLoss);
        Map<String, Tensor> expected = ref.tensors("grads_step1");
        for (String p : expected.keySet()) {
            double diff = TrainRef.maxAbsDiff(expected.get(p), e.gradients().get(p));
            assertTrue(diff <= GRAD_TOLERANCE, "gradient of " + p + " differs by " + diff);
        }
        assertEquals(List.copyOf(tg.parameters().keySet()),
                List.of("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"));
    }

    /** Three Adam steps (lr 1e-3, PyTorch defaults): the loss before each step and the parameters after steps 1 and 3. */
    @Test
    void threeAdamStepsMatchPyTorch() {
        TrainRef ref = TrainRef.of("mlp_adam");
        TrainingGraph tg = Autodiff.build(OnnxImporter.load(TrainRef.model("mlp")), TrainingSpec.of(Loss.CROSS_ENTROPY));
        ReferenceTrainer trainer = ReferenceTrainer.create(tg, Optimizer.adam(1e-3));
        trainer.load(ref.tensors("params_init"));
        Map<String, Tensor> x = Map.of(trainer.inputNames().get(0), ref.x());
        List<Double> losses = ref.losses();
        for (int step = 1; step <= 3; step++) {
            double loss = trainer.step(x, ref.target());
            double expected = losses.get(step - 1);
            assertEquals(expected, loss, LOSS_RELATIVE_TOLERANCE * expected, "loss before step " + step);
            if (step == 1 || step == 3) {
                Map<String, Tensor> params = ref.tensors("params_step" + step);
                for (String p : params.keySet()) {
                    double diff = TrainRef.maxAbsDiff(params.get(p), trainer.parameters().get(p));
                    assertTrue(diff <= PARAM_TOLERANCE, p + " after step " + step + " differs by " + diff);
                }
            }
        }
        assertEquals(3, trainer.steps());
    }
}
