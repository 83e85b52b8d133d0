package dev.kiln.runtime;

/**
 * The order TopK takes the elements of one slice in, for generated code: a stable merge sort of positions by value,
 * largest (or smallest) first, equal values by lower position as ONNX requires, NaN counting as the largest value.
 * Sorts into caller-owned arrays, so nothing is allocated per run.
 */
public final class TopKOrder {
    private TopKOrder() {}

    /**
     * Writes into {@code order[0 .. n)} the positions 0..n-1 of {@code keys} sorted by value (descending when
     * {@code largest}), equal values in position order; {@code scratch} needs n elements too.
     */
    public static void sort(double[] keys, int n, boolean largest, int[] order, int[] scratch) {
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        for (int width = 1; width < n; width *= 2) {
            for (int lo = 0; lo < n - width; lo += 2 * width) {
                int mid = lo + width;
                int hi = Math.min(lo + 2 * width, n);
                int a = lo;
                int b = mid;
                int k = lo;
                while (a < mid && b < hi) {
                    // Take from the right run only when strictly before: ties keep position order.
                    int c = compare(keys[order[b]], keys[order[a]]);
                    scratch[k++] = (largest ? c > 0 : c < 0) ? order[b++] : order[a++];
                }
                while (a < mid) {
                    scratch[k++] = order[a++];
                }
                while (b < hi) {
                    scratch[k++] = order[b++];
                }
                System.arraycopy(scratch, lo, order, lo, hi - lo);
            }
        }
    }

    /** {@link #sort(double[], int, boolean, int[], int[])} of integers, compared unsigned when {@code unsigned}. */
    public static void sort(long[] keys, int n, boolean largest, boolean unsigned, int[] order, int[] scratch) {
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        for (int width = 1; width < n; width *= 2) {
            for (int lo = 0; lo < n - width; lo += 2 * width) {
                int mid = lo + width;
                int hi = Math.min(lo + 2 * width, n);
                int a = lo;
                int b = mid;
                int k = lo;
                while (a < mid && b < hi) {
                    long p = keys[order[b]];
                    long q = keys[order[a]];
                    int c = unsigned ? Long.compareUnsigned(p, q) : Long.compare(p, q);
                    scratch[k++] = (largest ? c > 0 : c < 0) ? order[b++] : order[a++];
                }
                while (a < mid) {
                    scratch[k++] = order[a++];
                }
                while (b < hi) {
                    scratch[k++] = order[b++];
                }
                System.arraycopy(scratch, lo, order, lo, hi - lo);
            }
        }
    }

    /** Orders NaN above every number and ties -0 with +0 (so position decides), as the reference does. */
    static int compare(double p, double q) {
        if (Double.isNaN(p) || Double.isNaN(q)) {
            return Boolean.compare(Double.isNaN(p), Double.isNaN(q));
        }
        return p < q ? -1 : p > q ? 1 : 0;
    }
}
