package dev.kiln.runtime.train;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;

/** Helpers the training-kernel tests share: seeded arrays, closeness checks naming the index, allocation meter. */
final class TrainCheck {
    private TrainCheck() {}

    static float[] random(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = rnd.nextFloat() * 2 - 1;
        }
        return a;
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }

    /** |expected - actual| <= abs + rel * |expected| for every element, else fails naming the first bad index. */
    static void close(String what, float[] expected, float[] actual, double abs, double rel) {
        double[] e = toDouble(expected);
        close(what, e, actual, abs, rel);
    }

    static void close(String what, double[] expected, float[] actual, double abs, double rel) {
        if (expected.length != actual.length) {
            fail(what + ": length " + actual.length + ", expected " + expected.length);
        }
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i];
            double a = actual[i];
            if (Double.compare(e, a) != 0 && !(Math.abs(e - a) <= abs + rel * Math.abs(e))) {
                fail(what + ": element " + i + " is " + a + ", expected " + e + " (tolerance " + abs + " + " + rel
                        + " rel)");
            }
        }
    }

    /**
     * Bytes the calling thread allocates per run of {@code r}, after warming it up. Skips the test when the vector
     * width is forced (kiln.runtime.vectorBits): a width the hardware lacks is emulated, and boxes every vector.
     */
    static long allocatedPerRun(Runnable r) {
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getProperty("kiln.runtime.vectorBits") == null,
                "allocation is measured at the machine's own vector width only");
        return dev.kiln.runtime.Allocations.steadyBytesPerCall(r);
    }
}
