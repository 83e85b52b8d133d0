package dev.kiln.runtime.train;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Step 1 of the shared PyTorch training references ({@code ../shared/models/train_ref}, TRAINING.md seam 8):
 * params_init updated with grads_step1 by the optimizer must give params_step1. This pins the learning rates
 * (Adam lr = 1e-3 for mlp_adam, SGD lr = 0.01 for mnist_cnn_sgd) and the first-step rules (Adam's bias
 * correction at t = 1; SGD's momentum buffer = the gradient, so step 1 does not depend on the momentum).
 * Later steps need the gradients of steps 2 and 3, which only a trainer computes.
 *
 * <p>Tolerance: none. The update performs PyTorch's float operations in PyTorch's order, and every parameter
 * after step 1 equals PyTorch's bit for bit (Java float arithmetic is IEEE and the same on every machine).
 */
class TrainRefStepTest {

    private static final double TOLERANCE = 0;

    @Test
    void mlpAdamStep1() throws IOException {
        check("mlp_adam", Optimizer.parse("adam:lr=1e-3"),
                List.of("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"));
    }

    @Test
    void mnistCnnSgdStep1() throws IOException {
        check("mnist_cnn_sgd", Optimizer.parse("sgd:lr=0.01,momentum=0.5"), List.of("conv1.weight", "conv1.bias",
                "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"));
    }

    private static void check(String ref, Optimizer opt, List<String> names) throws IOException {
        Path dir = Path.of(System.getProperty("kiln.shared.dir", "../../shared"), "models", "train_ref", ref);
        Assumptions.assumeTrue(Files.isDirectory(dir), "shared training reference missing: " + dir);
        int count = names.size();
        float[][] params = new float[count][];
        float[][] grads = new float[count][];
        float[][] expected = new float[count][];
        int[] sizes = new int[count];
        for (int i = 0; i < count; i++) {
            String file = names.get(i) + ".pb";
            params[i] = TensorProtoFile.readFloats(dir.resolve("params_init").resolve(file));
            grads[i] = TensorProtoFile.readFloats(dir.resolve("grads_step1").resolve(file));
            expected[i] = TensorProtoFile.readFloats(dir.resolve("params_step1").resolve(file));
            sizes[i] = params[i].length;
        }
        opt.update(1, params, grads, opt.state(sizes));
        for (int i = 0; i < count; i++) {
            double max = 0;
            for (int j = 0; j < sizes[i]; j++) {
                max = Math.max(max, Math.abs((double) params[i][j] - expected[i][j]));
            }
            assertTrue(max <= TOLERANCE, ref + " " + names.get(i) + ": max abs difference " + max + " after " + opt);
        }
    }
}
