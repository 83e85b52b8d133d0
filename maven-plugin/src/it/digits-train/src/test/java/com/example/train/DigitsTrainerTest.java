package com.example.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.train.Optimizer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The generated trainer as a user calls it: create from the loaded net, step, save, load into the net. */
class DigitsTrainerTest {
    static final int BATCH = 20;

    /** A fixed batch of 20 8x8 images with values in [0, 1] and labels 0..9 twice. */
    static float[] images() {
        float[] x = new float[BATCH * 64];
        for (int i = 0; i < BATCH; i++) {
            for (int j = 0; j < 64; j++) {
                x[i * 64 + j] = ((i * 7 + j * 3 + (i % 10) * j) % 17) / 16f;
            }
        }
        return x;
    }

    static int[] labels() {
        int[] y = new int[BATCH];
        for (int i = 0; i < BATCH; i++) {
            y[i] = i % 10;
        }
        return y;
    }

    @Test
    void stepsLowerTheLossOnAFixedBatch() {
        DigitsTrainer trainer = DigitsTrainer.create(Digits.load(), Optimizer.adam(1e-2f));
        float[] x = images();
        int[] y = labels();
        float first = trainer.step(x, y, BATCH);
        float last = first;
        for (int k = 2; k <= 30; k++) {
            last = trainer.step(x, y, BATCH);
        }
        assertTrue(Float.isFinite(first) && first > 1.5f, "a random start on 10 classes: loss near ln(10) = 2.3, got " + first);
        assertTrue(last < 0.5f * first, "30 Adam steps on one batch at least halve the loss: " + first + " -> " + last);
        assertEquals(6, trainer.parameterNames().size(), trainer.parameterNames().toString());
    }

    @Test
    void theCompiledOptimizerIsTheDefaultAndSavedWeightsLoadIntoTheNet() throws Exception {
        assertEquals("adam:lr=1e-2", DigitsTrainer.DEFAULT_OPTIMIZER);
        DigitsTrainer trainer = DigitsTrainer.create(Digits.load());
        float[] x = images();
        for (int k = 0; k < 5; k++) {
            trainer.step(x, labels(), BATCH);
        }
        Path file = Files.createTempFile("digits", ".weights");
        trainer.saveWeights(file);
        Digits trained = Digits.load(file);
        assertArrayEquals(trainer.run(x, BATCH), trained.run(x, BATCH), 1e-6f,
                "Digits.load(saved) computes what the trainer's eval-mode run does");
        Files.delete(file);
    }
}
