package dev.kiln.maven;

import dev.kiln.compiler.TrainOptions;
import dev.kiln.passes.training.Loss;
import dev.kiln.passes.training.TrainingSpec;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * The training part of the plugin configuration ({@code <train>true</train>}): the loss, optionally the
 * optimizer SPEC the generated {@code <Class>Trainer.create(net)} uses, and the initializers kept frozen.
 */
record TrainingConfig(Loss loss, Optional<String> optimizer, List<String> frozen) {
    TrainingConfig {
        Objects.requireNonNull(loss);
        Objects.requireNonNull(optimizer);
        frozen = List.copyOf(frozen);
    }

    TrainOptions options() {
        return new TrainOptions(TrainingSpec.of(loss).withFrozen(Set.copyOf(frozen)), optimizer);
    }

    /** For the fingerprint and the log: {@code ce}, {@code ce, adam:lr=1e-3} or {@code ce, frozen conv1.weight}. */
    String describe() {
        return loss.cliName() + optimizer.map(o -> ", " + o).orElse("")
                + (frozen.isEmpty() ? "" : ", frozen " + String.join(" ", frozen));
    }
}
