package dev.kiln.runtime;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * The nonzero entries of one row of A, for a batch-1 product that skips A's zeros ({@link GemmKernel#matvec}): a
 * Relu's output is about half zeros, a one-hot or pixel input mostly zeros, and each zero skipped is a row of B
 * not read. One per thread, grown to the longest row seen, so steady-state products allocate nothing.
 */
final class NonzeroEntries {

    /**
     * Fewest zeros, as a fraction of k, worth gathering. Below it the hardware prefetcher still fetches most lines
     * between the rows read, and the gather and the indirect loop cost more than the skipped rows save (mlp at batch
     * 1, its input 25 % zeros: 23.9 -> 25.0 µs; 40 %: 24.0 -> 23.2; 60 %: 24.0 -> 18.6; docs/BENCHMARKS.md, session
     * 18).
     */
    static final double MIN_ZERO_FRACTION = 0.4;
    /**
     * Smallest B, in bytes, whose zero rows are skipped: a smaller one is read from L1 or L2, where a skipped row
     * saves less than its share of the gather (mnist_cnn's 320 x 50 layer, 64 KB, lost ~0.2 µs a call).
     */
    static final long MIN_B_BYTES = 256 << 10;

    private static final ThreadLocal<NonzeroEntries> OF_THREAD = ThreadLocal.withInitial(NonzeroEntries::new);

    /** The nonzero values of the row, in ascending kk. */
    private float[] values = new float[0];
    /** For each value, the byte offset of its row kk within a panel of B: {@code kk * NR * 4}. */
    private int[] rowBytes = new int[0];
    private int count;

    private NonzeroEntries() { }

    /**
     * The calling thread's entries of {@code a[aOff .. aOff + k)} for a product with {@code b}, or null when B
     * is smaller than {@link #MIN_B_BYTES} or fewer than {@link #MIN_ZERO_FRACTION} of the entries are zero: the
     * dense kernel is then as fast.
     */
    static NonzeroEntries ofSparseRow(float[] a, int aOff, PackedMatrix b) {
        int k = b.k();
        if (Float.BYTES * (long) b.data().length < MIN_B_BYTES || zeros(a, aOff, k) < MIN_ZERO_FRACTION * k) {
            return null;
        }
        NonzeroEntries entries = OF_THREAD.get();
        entries.gather(a, aOff, k);
        return entries;
    }

    private static int zeros(float[] a, int aOff, int k) {
        int zeros = 0;
        int kk = 0;
        for (; kk <= k - GemmKernel.VL; kk += GemmKernel.VL) {
            zeros += FloatVector.fromArray(GemmKernel.SPECIES, a, aOff + kk).compare(VectorOperators.EQ, 0f)
                    .trueCount();
        }
        for (; kk < k; kk++) {
            zeros += a[aOff + kk] == 0f ? 1 : 0;
        }
        return zeros;
    }

    private void gather(float[] a, int aOff, int k) {
        if (values.length < k) {
            values = new float[k];
            rowBytes = new int[k];
        }
        // Branch-free: each entry is written, and the cursor moves past it only when it is nonzero (a branch on
        // a Relu's output is a coin toss the predictor loses half the time).
        int c = 0;
        for (int kk = 0; kk < k; kk++) {
            float v = a[aOff + kk];
            values[c] = v;
            rowBytes[c] = kk * PackedMatrix.NR * Float.BYTES;
            c += v != 0f ? 1 : 0;
        }
        count = c;
    }

    float[] values() { return values; }

    int[] rowBytes() { return rowBytes; }

    int count() { return count; }
}
