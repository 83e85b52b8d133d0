package dev.kiln.passes.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Tensor;
import dev.kiln.onnx.OnnxImporter;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The MNIST CNN (Conv, MaxPool, Relu, Reshape, Gemm, LogSoftmax) with NLL loss from PyTorch's initial parameters
 * on its saved batch: the loss and every gradient of step 1 through the Conv, MaxPool and LogSoftmax gradient
 * rules must match PyTorch's (train_ref/mnist_cnn_sgd).
 */
class CnnGradientsTest {
    /** float32 on both sides, summed in different orders: the largest difference seen is 2.7e-8 (conv1.weight). */
    private static final double GRAD_TOLERANCE = 1e-7;
    private static final double LOSS_RELATIVE_TOLERANCE = 1e-5;

    @Test
    void lossAndGradientsOfStepOneMatchPyTorch() {
        TrainRef ref = TrainRef.of("mnist_cnn_sgd");
        Graph model = OnnxImporter.load(TrainRef.model("mnist_cnn"));
        TrainingGraph tg = Autodiff.build(model, TrainingSpec.of(Loss.NLL));
        ReferenceTrainer trainer = new ReferenceTrainer(tg, (step, p, g) -> { });
        trainer.load(ref.tensors("params_init"));

        ReferenceTrainer.Evaluation e = trainer.evaluate(Map.of(trainer.inputNames().get(0), ref.x()), ref.target());
        double expectedLoss = ref.losses().get(0);
        assertEquals(expectedLoss, e.loss(), LOSS_RELATIVE_TOLERANCE * expectedLoss);
        Map<String, Tensor> expected = ref.tensors("grads_step1");
        assertEquals(expected.keySet(), new java.util.TreeSet<>(e.gradients().keySet()));
        for (String p : expected.keySet()) {
            double diff = TrainRef.maxAbsDiff(expected.get(p), e.gradients().get(p));
            assertTrue(diff <= GRAD_TOLERANCE, "gradient of " + p + " differs by " + diff);
        }
    }
}
