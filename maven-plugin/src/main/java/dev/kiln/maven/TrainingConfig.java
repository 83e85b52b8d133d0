package dev.kiln.maven;

import dev.kiln.compiler.TrainOptions;
import dev.kiln.passes.training.Loss;
import dev.kiln.passes.training.TrainingSpec;
import java.util.Objects;
import java.util.Optional;

/**
 * The training part of the plugin configuration ({@code <train>true</train>}): the loss and, optionally, the
 * optimizer SPEC the generated {@code <Class>Trainer.create(net)} uses.
 */
record TrainingConfig(Loss loss, Optional<String> optimizer) {
    TrainingConfig {
        Objects.requireNonNull(loss);
        Objects.requireNonNull(optimizer);
    }

    TrainOptions options() {
        return new TrainOptions(TrainingSpec.of(loss), optimizer);
    }

    /** For the fingerprint and the log: {@code ce} or {@code ce, adam:lr=1e-3}. */
    String describe() {
        return loss.cliName() + optimizer.map(o -> ", " + o).orElse("");
    }
}
