package dev.kiln.compiler;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.codegen.GeneratedModel;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.onnx.OnnxImporter;
import dev.kiln.passes.training.Loss;
import dev.kiln.passes.training.TrainingSpec;
import dev.kiln.runtime.train.Optimizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A trainer's LSTM or GRU keeps every step's gates in a field of its own and its gradient node walks those back
 * instead of running the forward a second time (the shared models' trainers, so generated, are checked against the
 * reference trainer in {@link TrainerModelsTest}).
 */
class RecurrentTrainerGatesTest {

    private static String trainerSource(GeneratedModel generated) {
        return generated.sources().stream().map(Object::toString).filter(src -> src.contains("class NetTrainer"))
                .findFirst().orElseThrow();
    }

    @Test
    void theGradientOfATrainedRecurrenceReadsTheGatesItsForwardKept() throws Exception {
        for (String model : List.of("lstm", "gru")) {
            Path onnx = TrainerReferenceTest.shared().resolve("models").resolve(model).resolve("model.onnx");
            Assumptions.assumeTrue(Files.exists(onnx), "shared model missing: " + onnx);
            String trainer = trainerSource(TrainerModelsTest.generate(OnnxImporter.load(onnx), model,
                    TrainingSpec.of(Loss.CROSS_ENTROPY), 1));
            assertTrue(trainer.contains("RecurrentTraining." + model + "Backward(") && trainer.contains("savedGates"),
                    model + ": the gradient should walk back the forward's saved gates");
            assertFalse(trainer.contains("RecurrentTraining." + model + "Grad("),
                    model + ": the gradient runs the forward again");
        }
    }

    /**
     * x [N, 5, 4] -> Transpose to sequence-major -> two LSTM nodes, hidden 8, on the same W, R, B -> the sum of their
     * Y_h -> Flatten -> Gemm to 10 logits.
     */
    private static Graph twinLstms() {
        Random r = new Random(3);
        GraphBuilder b = new GraphBuilder("twin_lstms");
        Value x = b.input("x", DType.FLOAT32, Shape.of(Dim.sym("N"), Dim.of(5), Dim.of(4)));
        Value w = b.initializer("W", random(r, 1, 32, 4));
        Value rr = b.initializer("R", random(r, 1, 32, 8));
        Value bias = b.initializer("B", random(r, 1, 64));
        Value fcW = b.initializer("fcW", random(r, 10, 8));
        Value fcB = b.initializer("fcB", random(r, 10));
        Value seq = b.op("Transpose").inputs(x).attr("perm", new long[] {1, 0, 2}).output();
        Value first = b.op("LSTM").inputs(seq, w, rr, bias).attr("hidden_size", 8).outputCount(2).build().get(1);
        Value second = b.op("LSTM").inputs(seq, w, rr, bias).attr("hidden_size", 8).outputCount(2).build().get(1);
        Value sum = b.op("Add").inputs(first, second).output();
        Value last = b.op("Flatten").inputs(sum).attr("axis", 2).output();
        Value logits = b.op("Gemm").inputs(last, fcW, fcB).attr("transB", 1).output();
        b.output(logits);
        return b.build();
    }

    private static Tensor random(Random r, int... shape) {
        float[] v = new float[Tensor.sizeOf(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (r.nextFloat() * 2 - 1) * 0.5f;
        }
        return Tensor.ofFloats(shape, v);
    }

    @Test
    void twoRecurrencesOnOneSetOfWeightsTrainAsOneThatKeepsItsGates(@TempDir Path dir) throws Exception {
        // The passes merge the twin forwards (and so their gradients): one forward keeps the gates, one gradient
        // reads them, and W, R, B get the sum of both paths' gradients.
        Graph graph = twinLstms();
        TrainingSpec spec = TrainingSpec.of(Loss.CROSS_ENTROPY);
        String trainer = trainerSource(TrainerModelsTest.generate(graph, "twin_lstms", spec, 1));
        List<String> calls = trainer.lines().filter(l -> l.matches(".*RecurrentTraining\\.lstm(Forward|Backward|Grad)\\(.*"))
                .toList();
        assertTrue(calls.size() == 2 && calls.get(0).contains("lstmForward(") && calls.get(1).contains("lstmBackward(")
                && calls.get(1).contains("this.savedGates, 0,"), () -> "one forward, one backward on its gates: " + calls);

        TrainerModelsTest.agree(TrainerModelsTest.compile(graph, "twin_lstms", spec, 1), "twin_lstms",
                Optimizer.adam(1e-2f), Optimizer.adam(1e-2f), dir);
    }
}
