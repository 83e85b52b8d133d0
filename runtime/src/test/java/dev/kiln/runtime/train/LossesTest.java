package dev.kiln.runtime.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kiln.runtime.Softmax;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The losses against hand-computed values, against their scalar twins (double arithmetic) on random batches, and on
 * logits large enough to overflow a naive exp.
 *
 * <p>Tolerances: losses to {@code 1e-6} relative (float log-softmax terms summed in double); gradients to
 * {@code 1e-7 + 1e-5 |expected|} per element (a float softmax against a double one, times 1/N).
 */
class LossesTest {

    @Test
    void crossEntropyOfAHandComputedExample() {
        float[] logits = {1, 2, 3, 0.5f, 0.5f, 0.5f};
        int[] labels = {2, 0};
        float[] grad = new float[6];
        float loss = Losses.softmaxCrossEntropy(2, 3, logits, 0, labels, 0, Reduction.MEAN, grad, 0);
        // log(e + e^2 + e^3) - 3 = 0.4076059645, log 3 = 1.0986122887
        assertEquals((0.4076059645 + 1.0986122887) / 2, loss, 1e-6);
        float[] expected = {0.0900305732f / 2, 0.2447284711f / 2, (0.6652409558f - 1) / 2,
                            (1f / 3 - 1) / 2, 1f / 6, 1f / 6};
        assertArrayEquals(expected, grad, 1e-7f);
    }

    @Test
    void crossEntropyMatchesItsScalarTwin() {
        Random r = new Random(9);
        for (int c : new int[] {1, 3, 10, 37}) {
            for (Reduction red : Reduction.values()) {
                int n = 13;
                float[] logits = new float[n * c + 2];
                for (int i = 0; i < logits.length; i++) {
                    logits[i] = r.nextFloat() * 20 - 10;
                }
                int[] labels = new int[n + 1];
                for (int i = 0; i < labels.length; i++) {
                    labels[i] = r.nextInt(c);
                }
                float[] g = new float[n * c + 3];
                float[] gs = new float[n * c + 3];
                float loss = Losses.softmaxCrossEntropy(n, c, logits, 2, labels, 1, red, g, 3);
                float want = Losses.softmaxCrossEntropyScalar(n, c, logits, 2, labels, 1, red, gs, 3);
                assertEquals(want, loss, 1e-6 * Math.abs(want), "c " + c + " " + red);
                close("c " + c + " " + red, gs, g);
            }
        }
    }

    @Test
    void crossEntropyIsStableForHugeLogits() {
        float[] logits = {1000, 0, -1000, -50, 60, 10};
        float[] grad = new float[6];
        float loss = Losses.softmaxCrossEntropy(2, 3, logits, 0, new int[] {2, 0}, 0, Reduction.SUM, grad, 0);
        assertEquals(2000 + 110, loss, 1e-3);
        assertArrayEquals(new float[] {1, 0, -1, -1, 1, 0}, grad, 1e-6f);
        float[] gs = new float[6];
        assertEquals(loss, Losses.softmaxCrossEntropyScalar(2, 3, logits, 0, new int[] {2, 0}, 0, Reduction.SUM, gs, 0),
                1e-3);
    }

    @Test
    void crossEntropyInPlaceGivesTheSameBits() {
        Random r = new Random(4);
        float[] logits = UnpackedGemmTest.random(r, 8 * 12);
        int[] labels = {0, 11, 5, 5, 3, 7, 1, 2};
        float[] grad = new float[logits.length];
        float loss = Losses.softmaxCrossEntropy(8, 12, logits, 0, labels, 0, Reduction.MEAN, grad, 0);
        float[] inPlace = logits.clone();
        assertEquals(loss, Losses.softmaxCrossEntropy(8, 12, inPlace, 0, labels, 0, Reduction.MEAN, inPlace, 0));
        assertArrayEquals(grad, inPlace);
    }

    @Test
    void sumIsNTimesMean() {
        Random r = new Random(8);
        float[] logits = UnpackedGemmTest.random(r, 6 * 4);
        int[] labels = {0, 1, 2, 3, 3, 0};
        float[] gm = new float[24];
        float[] gs = new float[24];
        float mean = Losses.softmaxCrossEntropy(6, 4, logits, 0, labels, 0, Reduction.MEAN, gm, 0);
        float sum = Losses.softmaxCrossEntropy(6, 4, logits, 0, labels, 0, Reduction.SUM, gs, 0);
        assertEquals(6 * mean, sum, 1e-6 * sum);
        for (int i = 0; i < 24; i++) {
            assertEquals(gs[i] / 6, gm[i], 1e-7, "element " + i);
        }
    }

    @Test
    void nllOnLogSoftmaxEqualsCrossEntropy() {
        Random r = new Random(12);
        int n = 5;
        int c = 10;
        float[] logits = UnpackedGemmTest.random(r, n * c);
        int[] labels = {9, 0, 4, 4, 7};
        float[] logp = new float[n * c];
        Softmax.logSoftmax(n, c, logits, 0, logp, 0);
        float[] grad = new float[n * c];
        java.util.Arrays.fill(grad, 3f);
        float nll = Losses.nll(n, c, logp, 0, labels, 0, Reduction.MEAN, grad, 0);
        float ce = Losses.softmaxCrossEntropy(n, c, logits, 0, labels, 0, Reduction.MEAN, new float[n * c], 0);
        assertEquals(ce, nll, 1e-6 * ce);
        double manual = 0;
        for (int i = 0; i < n; i++) {
            manual -= logp[i * c + labels[i]];
        }
        assertEquals(manual / n, nll, 1e-7);
        for (int i = 0; i < n * c; i++) {
            float want = i % c == labels[i / c] ? -1f / n : 0f;
            assertEquals(want, grad[i], "element " + i);
        }
        assertEquals(nll * n, Losses.nll(n, c, logp, 0, labels, 0, Reduction.SUM, null, 0), 1e-5);
    }

    @Test
    void mseMatchesHandValuesAndItsTwin() {
        float[] y = {1, 2, 3};
        float[] t = {0, 2, 5};
        float[] grad = new float[3];
        assertEquals(5f / 3, Losses.mse(3, y, 0, t, 0, Reduction.MEAN, grad, 0), 1e-7);
        assertArrayEquals(new float[] {2f / 3, 0, -4f / 3}, grad, 1e-7f);
        assertEquals(5f, Losses.mse(3, y, 0, t, 0, Reduction.SUM, null, 0));
        Random r = new Random(1);
        for (int count : new int[] {0, 7, 64, 2500}) {
            float[] a = UnpackedGemmTest.random(r, count + 1);
            float[] b = UnpackedGemmTest.random(r, count);
            float[] g = new float[count];
            float[] gs = new float[count];
            float loss = Losses.mse(count, a, 1, b, 0, Reduction.MEAN, g, 0);
            float want = Losses.mseScalar(count, a, 1, b, 0, Reduction.MEAN, gs, 0);
            if (count == 0) {
                assertTrue(Float.isNaN(loss) && Float.isNaN(want), "mean of nothing is NaN, as in PyTorch");
            } else {
                assertEquals(want, loss, 1e-6 * want, "count " + count);
            }
            assertArrayEquals(gs, g, "count " + count);
        }
    }

    @Test
    void labelOutOfRangeIsNamedAndNothingIsWritten() {
        float[] grad = new float[6];
        String msg = assertThrows(IllegalArgumentException.class, () -> Losses.softmaxCrossEntropy(2, 3,
                new float[6], 0, new int[] {1, 3}, 0, Reduction.MEAN, grad, 0)).getMessage();
        assertTrue(msg.contains("label 3 of sample 1 is outside [0, 3)"), msg);
        assertArrayEquals(new float[6], grad);
        msg = assertThrows(IllegalArgumentException.class, () -> Losses.nll(2, 3, new float[6], 0, new int[] {-1, 0},
                0, Reduction.SUM, grad, 0)).getMessage();
        assertTrue(msg.contains("label -1 of sample 0"), msg);
        msg = assertThrows(IllegalArgumentException.class, () -> Losses.softmaxCrossEntropy(2, 3, new float[6], 0,
                new int[] {1}, 0, Reduction.MEAN, grad, 0)).getMessage();
        assertTrue(msg.contains("labels at offset 0 needs 2 ints"), msg);
    }

    private static void close(String what, float[] expected, float[] actual) {
        for (int i = 0; i < expected.length; i++) {
            if (!(Math.abs(expected[i] - actual[i]) <= 1e-7 + 1e-5 * Math.abs(expected[i]))) {
                fail(what + ": element " + i + " is " + actual[i] + ", expected " + expected[i]);
            }
        }
    }
}
