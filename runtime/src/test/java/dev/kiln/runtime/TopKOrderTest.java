package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TopKOrderTest {
    @Test
    void largestFirstTiesByLowerPositionNanLargest() {
        double[] keys = {3, 1, Double.NaN, 3, -0.0, 0.0, 7};
        int[] order = new int[7];
        TopKOrder.sort(keys, 7, true, order, new int[7]);
        assertArrayEquals(new int[] {2, 6, 0, 3, 1, 4, 5}, order);
        TopKOrder.sort(keys, 7, false, order, new int[7]);
        assertArrayEquals(new int[] {4, 5, 1, 0, 3, 6, 2}, order);
    }

    @Test
    void integersCompareSignedOrUnsigned() {
        long[] keys = {-1, 5, 0, 5};
        int[] order = new int[4];
        TopKOrder.sort(keys, 4, true, false, order, new int[4]);
        assertArrayEquals(new int[] {1, 3, 2, 0}, order);
        TopKOrder.sort(keys, 4, true, true, order, new int[4]);
        assertArrayEquals(new int[] {0, 1, 3, 2}, order, "-1 is the largest uint64");
    }

    @Test
    void matchesAStableSortOfRandomKeysWithManyTies() {
        Random r = new Random(5);
        for (int n = 0; n < 40; n++) {
            double[] keys = new double[n];
            for (int i = 0; i < n; i++) {
                keys[i] = r.nextInt(4);
            }
            Integer[] expected = new Integer[n];
            Arrays.setAll(expected, i -> i);
            Arrays.sort(expected, Comparator.comparingDouble((Integer i) -> keys[i]).reversed());
            int[] order = new int[n];
            TopKOrder.sort(keys, n, true, order, new int[n]);
            assertArrayEquals(Arrays.stream(expected).mapToInt(Integer::intValue).toArray(), order, "n = " + n);
        }
    }
}
