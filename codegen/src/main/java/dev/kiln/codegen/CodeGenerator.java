package dev.kiln.codegen;

import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphVerifier;
import dev.kiln.ir.Tensor;
import java.util.Map;
import java.util.Optional;

/**
 * Generates the inference class for an optimized graph: analysis ({@link ModelPlan}) then emission
 * ({@link ClassWriter}). The graph should have been through the pass pipeline (-O1 or higher), which folds
 * the shape computations code generation does not handle.
 */
public final class CodeGenerator {
    private CodeGenerator() {}

    public static GeneratedModel generate(Graph graph, CodegenOptions options) {
        GraphVerifier.verify(graph);
        TensorValuesOnly.require(graph);
        return ClassWriter.write(new ModelPlan(graph, options));
    }

    /**
     * Generates the inference class compiled for training ({@code options.className()}, from {@code evalGraph},
     * parameters and state raw under their ONNX names) and its trainer ({@code <className>Trainer}, from
     * {@code trainGraph}); both graphs optimized, with the layout of a {@code TrainingGraph}.
     *
     * @param parameters starting value of each trainable parameter, in ONNX initializer order
     * @param state starting value of each state tensor (BatchNorm running statistics)
     * @param defaultOptimizer an optimizer SPEC for a generated {@code create(net)}; empty for none
     */
    public static GeneratedModel generateTrainer(Graph trainGraph, Graph evalGraph, Map<String, Tensor> parameters,
                                                 Map<String, Tensor> state, Optional<String> defaultOptimizer,
                                                 CodegenOptions options) {
        return generateTrainer(trainGraph, evalGraph, parameters, state, Map.of(), defaultOptimizer, 0, options);
    }

    /**
     * As above, with frozen parameters (inputs after the state, read from the weights and never updated) and the
     * seed of the trainer's dropout masks (the training spec's; see DropoutTrainingEmitter).
     */
    public static GeneratedModel generateTrainer(Graph trainGraph, Graph evalGraph, Map<String, Tensor> parameters,
                                                 Map<String, Tensor> state, Map<String, Tensor> frozen,
                                                 Optional<String> defaultOptimizer, long dropoutSeed,
                                                 CodegenOptions options) {
        GraphVerifier.verify(trainGraph);
        GraphVerifier.verify(evalGraph);
        TensorValuesOnly.require(trainGraph);
        TensorValuesOnly.require(evalGraph);
        return TrainerWriter.write(new TrainerPlan(trainGraph, evalGraph, parameters, state, frozen, defaultOptimizer,
                dropoutSeed, options));
    }
}
