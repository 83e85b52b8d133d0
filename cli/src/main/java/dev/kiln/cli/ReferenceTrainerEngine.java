package dev.kiln.cli;

import dev.kiln.compiler.KilnCompiler;
import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Tensor;
import dev.kiln.passes.OptLevel;
import dev.kiln.passes.PassOptions;
import dev.kiln.passes.training.ReferenceTrainer;
import dev.kiln.passes.training.TrainingGraph;
import dev.kiln.passes.training.TrainingSpec;
import dev.kiln.runtime.train.Optimizer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The reference trainer ({@link ReferenceTrainer}): the training graph run by the reference evaluator, the
 * optimizer's scalar update. The oracle the generated trainer is tested against; slow.
 */
final class ReferenceTrainerEngine implements TrainEngine {
    private final ReferenceTrainer trainer;
    private final ModelSignature signature;

    ReferenceTrainerEngine(Graph graph, ModelSignature signature, TrainingSpec spec, Optimizer optimizer) {
        this.signature = signature;
        // The graph the generated trainer differentiates too, so both trainers train the same parameters.
        TrainingGraph training = KilnCompiler.differentiate(graph, spec, OptLevel.O1, PassOptions.quiet());
        trainer = ReferenceTrainer.create(training, optimizer);
    }

    @Override
    public float step(float[] x, int[] labels, float[] targets, int batch) {
        Tensor y;
        if (labels != null) {
            long[] l = new long[batch];
            for (int i = 0; i < batch; i++) {
                l[i] = labels[i];
            }
            y = Tensor.wrapLongs(DType.INT64, new int[] {batch}, l);
        } else {
            y = Tensor.ofFloats(ModelSignature.batched(batch, signature.outputShape()), targets);
        }
        return (float) trainer.step(inputs(x, batch), y);
    }

    @Override
    public float[] predict(float[] x, int batch) {
        return trainer.run(inputs(x, batch)).get(signature.output()).toFloatArray();
    }

    @Override
    public List<String> parameterNames() { return List.copyOf(trainer.parameters().keySet()); }

    @Override
    public Map<String, float[]> weights() {
        Map<String, float[]> out = new LinkedHashMap<>();
        trainer.parameters().forEach((k, v) -> out.put(k, v.toFloatArray()));
        trainer.state().forEach((k, v) -> out.put(k, v.toFloatArray()));
        trainer.frozen().forEach((k, v) -> out.put(k, v.toFloatArray()));
        return out;
    }

    private Map<String, Tensor> inputs(float[] x, int batch) {
        return Map.of(signature.input(), signature.inputTensor(x, batch));
    }
}
