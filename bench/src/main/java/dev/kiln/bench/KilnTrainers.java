package dev.kiln.bench;

import dev.kiln.bench.generated.MlpAdamT1;
import dev.kiln.bench.generated.MlpAdamT1Trainer;
import dev.kiln.bench.generated.MlpAdamT2;
import dev.kiln.bench.generated.MlpAdamT2Trainer;
import dev.kiln.bench.generated.MnistCnnSgdT1;
import dev.kiln.bench.generated.MnistCnnSgdT1Trainer;
import dev.kiln.bench.generated.MnistCnnSgdT2;
import dev.kiln.bench.generated.MnistCnnSgdT2Trainer;

/**
 * The trainers the build generated for the training-step benchmark ({@code <Model><Optimizer>T<threads>Trainer},
 * compiled by kiln-maven-plugin in bench/pom.xml with the loss and optimizer of ../shared/models/train_ref), behind
 * one interface like {@link KilnModels}. Each starts from the model's initial weights with the optimizer it was
 * compiled with ({@code create(net)}).
 */
public final class KilnTrainers {
    private KilnTrainers() {}

    /** The models with a generated trainer, as the benchmark's {@code model} parameter names them. */
    public static final String[] MODELS = {"mlp", "mnist_cnn"};

    /** One training step: forward, loss, backward and update; returns the loss before the update. */
    @FunctionalInterface
    public interface Step {
        float step(float[] input, int[] labels, int batch);
    }

    /** A trainer's step, and what stops its worker threads (nothing at one thread). */
    public record Instance(Step step, AutoCloseable closer) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            closer.close();
        }
    }

    /** The optimizer SPEC the trainer of {@code model} was compiled with (the same at every thread count). */
    public static String optimizer(BenchModel model) {
        return switch (model) {
            case MLP -> MlpAdamT1Trainer.DEFAULT_OPTIMIZER;
            case MNIST_CNN -> MnistCnnSgdT1Trainer.DEFAULT_OPTIMIZER;
            default -> throw noTrainer(model);
        };
    }

    /** The loss the trainer of {@code model} minimizes, as the plugin's {@code <loss>} names it. */
    public static String loss(BenchModel model) {
        return switch (model) {
            case MLP -> "ce";
            case MNIST_CNN -> "nll";
            default -> throw noTrainer(model);
        };
    }

    /** A new trainer of {@code model} at {@code threads} (1 or 2), from the model's initial weights. */
    public static Instance create(BenchModel model, int threads) {
        if (threads != 1 && threads != 2) {
            throw new IllegalArgumentException("the build generates trainers at 1 and 2 threads, not " + threads);
        }
        return switch (model) {
            case MLP -> {
                if (threads == 1) {
                    yield new Instance(MlpAdamT1Trainer.create(MlpAdamT1.load())::step, () -> { });
                }
                MlpAdamT2Trainer t;
                try (MlpAdamT2 net = MlpAdamT2.load()) { // the trainer copies the weights and has its own workers
                    t = MlpAdamT2Trainer.create(net);
                }
                yield new Instance(t::step, t);
            }
            case MNIST_CNN -> {
                if (threads == 1) {
                    yield new Instance(MnistCnnSgdT1Trainer.create(MnistCnnSgdT1.load())::step, () -> { });
                }
                MnistCnnSgdT2Trainer t;
                try (MnistCnnSgdT2 net = MnistCnnSgdT2.load()) {
                    t = MnistCnnSgdT2Trainer.create(net);
                }
                yield new Instance(t::step, t);
            }
            default -> throw noTrainer(model);
        };
    }

    private static IllegalArgumentException noTrainer(BenchModel model) {
        return new IllegalArgumentException("the build generates no trainer for " + model + ", only for "
                + String.join(", ", MODELS));
    }
}
