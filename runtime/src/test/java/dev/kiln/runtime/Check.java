package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;

/** Helpers the kernel tests share: seeded random arrays and an element-wise closeness check that names the index. */
final class Check {
    private Check() {}

    static float[] random(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = rnd.nextFloat() * 2 - 1;
        }
        return a;
    }

    /** |expected - actual| <= abs + rel * |expected| for every element, else fails naming the first bad index. */
    static void close(String what, float[] expected, float[] actual, double abs, double rel) {
        if (expected.length != actual.length) {
            fail(what + ": length " + actual.length + ", expected " + expected.length);
        }
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i];
            double a = actual[i];
            boolean same = Double.compare(e, a) == 0;
            if (!same && !(Math.abs(e - a) <= abs + rel * Math.abs(e))) {
                fail(what + ": element " + i + " is " + a + ", expected " + e + " (tolerance " + abs + " + " + rel + " rel)");
            }
        }
    }

    static double maxAbsDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs((double) a[i] - b[i]));
        }
        return m;
    }
}
