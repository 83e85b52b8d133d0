package dev.kiln.runtime.train;

import static org.junit.jupiter.api.Assertions.fail;

import java.lang.management.ManagementFactory;
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
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        // The least over several rounds: until C2 has (re)compiled a vector kernel, which comes late on a busy
        // machine, the interpreted or deoptimized code boxes vectors; a kernel that really allocates (a scratch
        // array made anew) does so in every round.
        long least = Long.MAX_VALUE;
        for (int round = 0; round < 20 && least > 0; round++) {
            for (int i = 0; i < (round == 0 ? 3000 : 500); i++) {
                r.run();
            }
            long before = mx.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 100; i++) {
                r.run();
            }
            least = Math.min(least, (mx.getCurrentThreadAllocatedBytes() - before) / 100);
        }
        return least;
    }
}
