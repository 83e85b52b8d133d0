package dev.kiln.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Value;
import dev.kiln.ir.builder.ModelBuilder;
import dev.kiln.passes.OptLevel;
import dev.kiln.passes.PassOptions;
import dev.kiln.passes.training.Autodiff;
import dev.kiln.passes.training.Loss;
import dev.kiln.passes.training.TrainingGraph;
import dev.kiln.passes.training.TrainingSpec;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Initializers that start equal stay distinct tensors for training (the -O1 CSE would merge them). */
class TrainingSimplificationTest {
    @Test
    void freshBatchNormKeepsScaleBiasAndRunningStatisticsApart() {
        // Fresh BatchNormalization: scale = running_var = ones, bias = running_mean = zeros.
        ModelBuilder m = ModelBuilder.create("bn").seed(1);
        m.input("x", DType.FLOAT32, "N,6").dense(5).batchNorm().relu().dense(3).output("y");
        Graph g = m.build();
        Graph simplified = KilnCompiler.simplifyForTraining(g, OptLevel.O3, PassOptions.quiet());
        assertEquals(g.initializers().keySet().stream().map(Value::name).toList(),
                simplified.initializers().keySet().stream().map(Value::name).toList());
        TrainingGraph t = Autodiff.build(simplified, TrainingSpec.of(Loss.CROSS_ENTROPY));
        assertEquals(List.of("fc1.weight", "fc1.bias", "bn1.weight", "bn1.bias", "fc2.weight", "fc2.bias"),
                List.copyOf(t.parameters().keySet()));
        assertEquals(List.of("bn1.running_mean", "bn1.running_var"), List.copyOf(t.state().keySet()));
    }
}
