package dev.kiln.runtime.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link NonFinite#firstIndex} against a plain loop: every position of blocks and tails, every kind of value. */
class NonFiniteTest {
    @Test
    void findsTheFirstNaNOrInfinityAnywhere() {
        Random rnd = new Random(3);
        float[] bad = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.intBitsToFloat(0x7fc00001)};
        for (int length : new int[] {0, 1, 7, 31, 32, 33, 64, 100, 257}) {
            for (int from : new int[] {0, 3}) {
                float[] a = new float[from + length + 2];
                for (int i = 0; i < a.length; i++) {
                    a[i] = rnd.nextInt(4) == 0 ? Float.MAX_VALUE * (rnd.nextBoolean() ? 1 : -1) : rnd.nextFloat() - 0.5f;
                }
                a[a.length - 1] = Float.NaN; // past the range: never reported
                if (from > 0) {
                    a[from - 1] = Float.NaN;
                }
                assertEquals(-1, NonFinite.firstIndex(a, from, length), "finite, length " + length);
                for (int at = from; at < from + length; at++) {
                    for (float v : bad) {
                        float[] b = a.clone();
                        b[at] = v;
                        if (at + 5 < from + length) {
                            b[at + 5] = Float.NaN; // a later one in the same block does not win
                        }
                        assertEquals(at, NonFinite.firstIndex(b, from, length), v + " at " + at + ", length " + length);
                    }
                }
            }
        }
    }

    @Test
    void rejectsARangeOutsideTheArray() {
        assertThrows(IndexOutOfBoundsException.class, () -> NonFinite.firstIndex(new float[4], 2, 3));
    }
}
