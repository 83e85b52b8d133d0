package dev.kiln.runtime.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Bias and ReLU-family gradients: vector kernels against their scalar twins (bit for bit: same operations in the
 * same order), and against the definitions (bias gradient to {@code 1e-6 * rows}, the float sum's rounding).
 */
class DenseGradTest {

    @Test
    void biasGradSumsColumns() {
        Random r = new Random(21);
        for (int[] s : new int[][] {{1, 1}, {5, 3}, {64, 10}, {7, 50}, {0, 9}, {3, 0}, {33, 128}}) {
            int rows = s[0];
            int cols = s[1];
            float[] dy = UnpackedGemmTest.random(r, rows * cols + 1);
            for (boolean acc : new boolean[] {false, true}) {
                float[] db = UnpackedGemmTest.random(r, cols + 2);
                float[] old = db.clone();
                float[] twin = db.clone();
                DenseGrad.biasGrad(rows, cols, dy, 1, db, 2 - (cols > 0 ? 2 : 0), acc);
                DenseGrad.biasGradScalar(rows, cols, dy, 1, twin, 2 - (cols > 0 ? 2 : 0), acc);
                assertArrayEquals(twin, db, rows + "x" + cols);
                for (int j = 0; j < cols; j++) {
                    double sum = acc ? old[j] : 0;
                    for (int i = 0; i < rows; i++) {
                        sum += dy[1 + i * cols + j];
                    }
                    assertEquals(sum, db[j], 1e-6 * (rows + 1), rows + "x" + cols + " column " + j);
                }
            }
        }
    }

    @Test
    void reluBackwardPassesTheGradientWhereTheOutputIsPositive() {
        float[] y = {0, 1, -0f, 2, Float.NaN, 0, 3, 0.5f, 0, 0, 7, 1, 0, 2, 0, 1, 4, 0, 0};
        float[] dy = new float[y.length];
        for (int i = 0; i < dy.length; i++) {
            dy[i] = i + 1;
        }
        float[] dx = new float[y.length];
        DenseGrad.reluBackward(y.length, y, 0, dy, 0, dx, 0, false);
        for (int i = 0; i < y.length; i++) {
            // PyTorch's threshold_backward: y <= 0 ? 0 : dy, so a NaN output passes its gradient through
            float want = y[i] <= 0 ? 0 : dy[i];
            assertEquals(want, dx[i], "element " + i);
        }
        float[] twin = new float[y.length];
        DenseGrad.reluBackwardScalar(y.length, y, 0, dy, 0, twin, 0, false);
        assertArrayEquals(twin, dx);
        DenseGrad.reluBackward(y.length, y, 0, dy, 0, dx, 0, true);
        DenseGrad.reluBackwardScalar(y.length, y, 0, dy, 0, twin, 0, true);
        assertArrayEquals(twin, dx);
        assertEquals(2 * dy[1], dx[1]);
        DenseGrad.reluBackward(y.length, y, 0, dy, 0, dy, 0, false); // in place
        assertArrayEquals(twin, timesTwo(dy));
    }

    @Test
    void leakyReluBackwardScalesTheGradientWhereTheInputIsNotPositive() {
        Random r = new Random(2);
        float[] x = UnpackedGemmTest.random(r, 45);
        x[3] = 0;
        float[] dy = UnpackedGemmTest.random(r, 45);
        float[] dx = new float[45];
        float[] twin = new float[45];
        for (boolean acc : new boolean[] {false, true}) {
            DenseGrad.leakyReluBackward(45, 0.1f, x, 0, dy, 0, dx, 0, acc);
            DenseGrad.leakyReluBackwardScalar(45, 0.1f, x, 0, dy, 0, twin, 0, acc);
            assertArrayEquals(twin, dx);
        }
        for (int i = 0; i < 45; i++) {
            float once = x[i] > 0 ? dy[i] : 0.1f * dy[i];
            assertEquals(2 * once, dx[i], 1e-7, "element " + i);
        }
    }

    @Test
    void shortArraysAreNamed() {
        assertThrows(IllegalArgumentException.class,
                () -> DenseGrad.biasGrad(4, 3, new float[11], 0, new float[3], 0, false));
        assertThrows(IllegalArgumentException.class,
                () -> DenseGrad.reluBackward(4, new float[4], 0, new float[4], 1, new float[4], 0, false));
    }

    private static float[] timesTwo(float[] dyReluOnce) {
        float[] out = new float[dyReluOnce.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = 2 * dyReluOnce[i];
        }
        return out;
    }
}
