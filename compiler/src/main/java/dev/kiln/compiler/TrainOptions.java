package dev.kiln.compiler;

import dev.kiln.passes.training.TrainingSpec;
import java.util.Objects;
import java.util.Optional;

/**
 * What {@link KilnCompiler} needs to also generate a trainer: the loss and what to train, and optionally the
 * optimizer the trainer's {@code create(net)} uses by default.
 *
 * @param spec the loss, its reduction, frozen initializers and the dropout seed
 * @param optimizer an optimizer SPEC such as {@code adam:lr=1e-3} (checked here, parsed by the runtime at
 *     {@code create}); empty for none, so that {@code create(net, optimizer)} is the only factory
 */
public record TrainOptions(TrainingSpec spec, Optional<String> optimizer) {
    public TrainOptions {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(optimizer, "optimizer");
        optimizer.ifPresent(dev.kiln.runtime.train.Optimizer::parse);
    }

    public static TrainOptions of(TrainingSpec spec) {
        return new TrainOptions(spec, Optional.empty());
    }
}
