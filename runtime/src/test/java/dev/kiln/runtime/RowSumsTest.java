package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link RowSums} against the one-by-one double sum it replaces. Tolerance: both add the same exactly widened
 * terms in double, in different orders, so they differ by at most {@code len * 2^-52} of the sum of the terms'
 * magnitudes; {@code 1e-13} of it covers every length here.
 */
class RowSumsTest {

    private static double oneByOne(float[] x, int off, int len, int kind) {
        double sum = 0;
        for (int j = 0; j < len; j++) {
            double v = x[off + j];
            sum += kind == 1 ? v * v : kind == 2 ? Math.abs(v) : v;
        }
        return sum;
    }

    private static double rowSum(float[] x, int off, int len, int kind) {
        return kind == 1 ? RowSums.sumOfSquares(x, off, len)
                : kind == 2 ? RowSums.sumOfAbsolutes(x, off, len) : RowSums.sum(x, off, len);
    }

    @Test
    void agreesWithTheOneByOneSumAtEveryLengthAndOffset() {
        Random r = new Random(5);
        float[] x = new float[300];
        for (int i = 0; i < x.length; i++) {
            x[i] = (r.nextFloat() * 2 - 1) * (float) Math.pow(10, r.nextInt(7) - 3);
        }
        for (int kind = 0; kind < 3; kind++) {
            for (int off = 0; off < 5; off++) {
                for (int len = 0; len + off <= x.length; len += len < 40 ? 1 : 37) {
                    double want = oneByOne(x, off, len, kind);
                    double magnitude = oneByOne(x, off, len, kind == 0 ? 2 : kind);
                    assertEquals(want, rowSum(x, off, len, kind), 1e-13 * magnitude,
                            "kind " + kind + " off " + off + " len " + len);
                }
            }
        }
    }

    @Test
    void nanAndInfinitiesPropagate() {
        float[] x = new float[40];
        java.util.Arrays.fill(x, 1f);
        x[17] = Float.POSITIVE_INFINITY;
        assertEquals(Double.POSITIVE_INFINITY, RowSums.sum(x, 0, 40));
        x[3] = Float.NEGATIVE_INFINITY;
        assertEquals(Double.NaN, RowSums.sum(x, 0, 40));
        assertEquals(Double.POSITIVE_INFINITY, RowSums.sumOfSquares(x, 0, 40));
        x[39] = Float.NaN;
        assertEquals(Double.NaN, RowSums.sumOfAbsolutes(x, 0, 40));
    }

    @Test
    void rejectsARunOutsideTheArray() {
        assertThrows(IndexOutOfBoundsException.class, () -> RowSums.sum(new float[10], 4, 7));
    }

    @Test
    void allocatesNothing() {
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getProperty("kiln.runtime.vectorBits") == null,
                "allocation is measured at the machine's own vector width only");
        float[] x = Check.random(new Random(7), 576);
        double[] sink = new double[1];
        long bytes = Allocations.steadyBytesPerCall(() -> sink[0] += RowSums.sum(x, 0, 576)
                + RowSums.sumOfSquares(x, 0, 576) + RowSums.sumOfAbsolutes(x, 3, 500));
        assertEquals(0, bytes, "bytes per three row sums");
    }
}
