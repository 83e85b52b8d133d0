package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

class SoftmaxTest {
    private final Random rnd = new Random(7);

    @Test
    void matchesScalarTwinOnOddRowLengths() {
        for (int n : new int[] {1, 3, 7, 8, 10, 17, 33, 100, 1000}) {
            int rows = 3;
            float[] x = Check.random(rnd, rows * n + 5);
            for (int i = 0; i < x.length; i++) {
                x[i] *= 20;
            }
            float[] want = new float[rows * n + 2];
            float[] got = new float[rows * n + 2];
            Softmax.softmaxScalar(rows, n, x, 5, want, 2);
            Softmax.softmax(rows, n, x, 5, got, 2);
            Check.close("softmax n=" + n, want, got, 1e-7, 1e-5);
            Softmax.logSoftmaxScalar(rows, n, x, 5, want, 2);
            Softmax.logSoftmax(rows, n, x, 5, got, 2);
            Check.close("logSoftmax n=" + n, want, got, 1e-5, 1e-5);
        }
    }

    @Test
    void scalarTwinMatchesHandComputedRow() {
        float[] x = {1, 2, 3};
        float[] y = new float[3];
        Softmax.softmaxScalar(1, 3, x, 0, y, 0);
        // e^-2, e^-1, 1 over their sum 1.5032147
        assertEquals(0.09003057f, y[0], 1e-7);
        assertEquals(0.24472847f, y[1], 1e-7);
        assertEquals(0.66524096f, y[2], 1e-7);
        Softmax.logSoftmaxScalar(1, 3, x, 0, y, 0);
        assertEquals(-2.40760596f, y[0], 1e-6);
        assertEquals(-0.40760596f, y[2], 1e-6);
    }

    @Test
    void inPlaceAndLargeInputsStayFinite() {
        float[] x = {1000, 1001, 999, -1000, 0, 1, 2, 3, 4, 1002};
        float[] want = new float[x.length];
        Softmax.softmaxScalar(1, x.length, x, 0, want, 0);
        Softmax.softmax(1, x.length, x, 0, x, 0);
        Check.close("in place", want, x, 1e-7, 1e-5);
    }
}
