package dev.kiln.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The training benchmark times real work: the generated trainers at 1 and 2 threads give the same bits step for
 * step on the benchmark's batch, their loss starts near ln(10) (10 classes, initial weights) and falls as they fit
 * the batch, and the labels are valid classes.
 */
class TrainerAgreementTest {
    @ParameterizedTest
    @ValueSource(strings = {"mlp", "mnist_cnn"})
    void oneAndTwoThreadsTrainAlikeAndTheLossFalls(String id) throws Exception {
        BenchModel model = BenchModel.of(id);
        int batch = KilnTrainBench.BATCH;
        float[] x = model.input(batch);
        int[] labels = KilnTrainBench.labels(batch, model.outputsPerSample());
        for (int label : labels) {
            assertTrue(label >= 0 && label < model.outputsPerSample(), "label " + label);
        }
        float first = Float.NaN;
        float last = Float.NaN;
        try (KilnTrainers.Instance t1 = KilnTrainers.create(model, 1);
             KilnTrainers.Instance t2 = KilnTrainers.create(model, 2)) {
            for (int k = 1; k <= 3; k++) {
                float l1 = t1.step().step(x, labels, batch);
                float l2 = t2.step().step(x, labels, batch);
                assertEquals(Float.floatToIntBits(l1), Float.floatToIntBits(l2), id + " loss at step " + k);
                first = k == 1 ? l1 : first;
                last = l1;
            }
        }
        assertEquals(Math.log(10), first, 0.2, id + ": loss of the initial weights");
        assertTrue(last < first, id + ": loss after 3 steps on one batch " + last + " vs " + first);
    }
}
