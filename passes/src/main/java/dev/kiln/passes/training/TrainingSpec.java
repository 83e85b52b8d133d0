package dev.kiln.passes.training;

import java.util.Objects;
import java.util.Set;

/**
 * What to train: the loss and its reduction, parameters kept fixed (by ONNX initializer name), and the seed
 * of the run's random source (dropout masks).
 *
 * @param loss the loss on the model's first output
 * @param reduction mean (PyTorch's default) or sum over the samples
 * @param frozen initializer names that are not trained: the trainer reads them from the weights like parameters
 *     and never updates them (see {@link TrainingGraph#frozen()})
 * @param seed the seed of dropout masks; the reference trainer draws step k's masks from {@code seed + k}
 */
public record TrainingSpec(Loss loss, Reduction reduction, Set<String> frozen, long seed) {
    public TrainingSpec {
        Objects.requireNonNull(loss, "loss");
        Objects.requireNonNull(reduction, "reduction");
        frozen = Set.copyOf(frozen);
    }

    /** The loss with mean reduction, nothing frozen, seed 0. */
    public static TrainingSpec of(Loss loss) {
        return new TrainingSpec(loss, Reduction.MEAN, Set.of(), 0);
    }

    public TrainingSpec withReduction(Reduction r) { return new TrainingSpec(loss, r, frozen, seed); }

    public TrainingSpec withFrozen(Set<String> names) { return new TrainingSpec(loss, reduction, names, seed); }

    public TrainingSpec withSeed(long s) { return new TrainingSpec(loss, reduction, frozen, s); }
}
