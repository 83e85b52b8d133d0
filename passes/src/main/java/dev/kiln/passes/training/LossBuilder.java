package dev.kiln.passes.training;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.Value;
import java.util.List;

/** Emits the loss node(s) of a training graph on the model's prediction and the labels input. */
final class LossBuilder {
    private LossBuilder() {}

    /** The scalar loss, named {@link TrainingGraph#LOSS}. */
    static Value emit(GraphAssembler out, TrainingSpec spec, Value prediction, Value labels) {
        Attributes reduction = Attributes.builder().s("reduction", spec.reduction().onnxName()).build();
        List<String> lossName = List.of(TrainingGraph.LOSS);
        return switch (spec.loss()) {
            case CROSS_ENTROPY -> out.emit("", "SoftmaxCrossEntropyLoss", reduction, List.of(prediction, labels), 1,
                    "", lossName).get(0);
            case NLL -> out.emit("", "NegativeLogLikelihoodLoss", reduction, List.of(prediction, labels), 1, "",
                    lossName).get(0);
            case MSE -> {
                // mean((prediction - labels)^2) over every element, as torch.nn.MSELoss.
                Value diff = out.emit1("Sub", Attributes.EMPTY, "mse", prediction, labels);
                Value square = out.emit1("Mul", Attributes.EMPTY, "mse", diff, diff);
                String op = spec.reduction() == Reduction.MEAN ? "ReduceMean" : "ReduceSum";
                yield out.emit("", op, Attributes.builder().i("keepdims", 0).build(), List.of(square), 1, "",
                        lossName).get(0);
            }
        };
    }
}
