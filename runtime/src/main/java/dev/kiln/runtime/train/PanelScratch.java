package dev.kiln.runtime.train;

import dev.kiln.runtime.PackedMatrix;

/**
 * Per-thread scratch for the training kernels: operands packed at run time into {@code kiln.panel16.v1} (weights
 * change every step, so nothing is packed at compile time) and plain float work arrays. Arrays are allocated on a
 * shape's first use and reused afterwards, so a training step allocates nothing in steady state.
 *
 * <p>A tag names the role of a buffer inside one kernel call, so two operands alive at once never share an array.
 * Packed matrices are kept by (tag, k, n) in a small least-recently-used table because
 * {@link PackedMatrix#view} wants an array of exactly the packed length; work arrays grow to the largest length
 * asked for their tag.
 */
final class PanelScratch {
    /**
     * Shapes kept per thread: a model's layers differ in shape and each keeps its own (a conv layer uses up to five
     * entries); a scan of this table is noise next to the kernels that ask.
     */
    private static final int ENTRIES = 128;
    private static final int TAGS = 32;
    private static final ThreadLocal<PanelScratch> LOCAL = ThreadLocal.withInitial(PanelScratch::new);

    private final int[] tags = new int[ENTRIES];
    private final int[] ks = new int[ENTRIES];
    private final int[] ns = new int[ENTRIES];
    private final int[] counts = new int[ENTRIES];
    private final float[][] data = new float[ENTRIES][];
    private final PackedMatrix[] packed = new PackedMatrix[ENTRIES];
    private final long[] used = new long[ENTRIES];
    private long clock;
    private final float[][][] sets = new float[ENTRIES][][];
    private final PackedMatrix[][] packedSets = new PackedMatrix[ENTRIES][];
    private final float[][] work = new float[TAGS][];

    private PanelScratch() {}

    /** This thread's packed buffer for {@code tag} of shape k x n; its contents are whatever was last packed. */
    static PackedMatrix packed(int tag, int k, int n) {
        PanelScratch p = LOCAL.get();
        int e = p.find(tag, k, n, 0, PackedMatrix.packedLength(k, n));
        if (p.packed[e] == null) {
            p.packed[e] = PackedMatrix.view(p.data[e], k, n);
        }
        return p.packed[e];
    }

    /** This thread's array of exactly {@code length} floats for {@code tag} (for kernels that check the length). */
    static float[] exact(int tag, int length) {
        PanelScratch p = LOCAL.get();
        return p.data[p.find(tag, length, -1, 0, length)];
    }

    /**
     * {@code count} arrays of exactly {@code length} floats for {@code tag}, one per thread of a pool (for
     * kernels that take one scratch array per thread); the same arrays on every call with the same sizes.
     */
    static float[][] exactSet(int tag, int count, int length) {
        PanelScratch p = LOCAL.get();
        int e = p.find(tag, length, -1, count, 0);
        if (p.sets[e] == null) {
            p.sets[e] = new float[count][length];
        }
        return p.sets[e];
    }

    /**
     * {@code count} packed buffers of shape k x n for {@code tag}, the same ones on every call with the same sizes:
     * operands packed by several threads of a pool into the calling thread's scratch, then read by all of them.
     */
    static PackedMatrix[] packedSet(int tag, int count, int k, int n) {
        PanelScratch p = LOCAL.get();
        int length = PackedMatrix.packedLength(k, n);
        int e = p.find(tag, k, n, count, 0);
        PackedMatrix[] set = p.packedSets[e];
        if (set == null) {
            set = new PackedMatrix[count];
            for (int i = 0; i < count; i++) {
                set[i] = PackedMatrix.view(new float[length], k, n);
            }
            p.packedSets[e] = set;
        }
        return set;
    }

    /** This thread's work array for {@code tag}, at least {@code length} floats, contents undefined. */
    static float[] work(int tag, int length) {
        PanelScratch p = LOCAL.get();
        float[] a = p.work[tag];
        if (a == null || a.length < length) {
            a = new float[Math.max(length, 16)];
            p.work[tag] = a;
        }
        return a;
    }

    /**
     * Index of the entry for (tag, k, n, count), made with a fresh array of {@code length} floats when absent.
     * Packed matrices use n ≥ 0, exact arrays n = -1 with k their length; a set of either has its count ≥ 1.
     */
    private int find(int tag, int k, int n, int count, int length) {
        int victim = 0;
        for (int e = 0; e < ENTRIES; e++) {
            if (data[e] == null) {
                victim = e; // entries fill from 0 and are never emptied: none further on
                break;
            }
            if (tags[e] == tag && ks[e] == k && ns[e] == n && counts[e] == count) {
                used[e] = ++clock;
                return e;
            }
            if (used[e] < used[victim]) {
                victim = e;
            }
        }
        tags[victim] = tag;
        ks[victim] = k;
        ns[victim] = n;
        counts[victim] = count;
        used[victim] = ++clock;
        data[victim] = new float[length];
        packed[victim] = null;
        sets[victim] = null;
        packedSets[victim] = null;
        return victim;
    }

    /**
     * Packs the row-major k x n matrix at {@code src[off..]} (row stride {@code ld}) into {@code dst}; with
     * {@code transposed} the source is n x k (row stride {@code ld}) and B is its transpose. Columns past n in the
     * last panel are zeroed, as the layout requires.
     */
    static PackedMatrix pack(float[] src, int off, int ld, boolean transposed, PackedMatrix dst) {
        pack(src, off, ld, transposed, dst.n(), dst, 0, dst.panels());
        return dst;
    }

    /**
     * As {@link #pack(float[], int, int, boolean, PackedMatrix)} with only the first {@code cols} columns of B read
     * from the source and the rest of {@code dst}'s n columns zero: a B widened to whole panels.
     */
    static PackedMatrix pack(float[] src, int off, int ld, boolean transposed, int cols, PackedMatrix dst) {
        pack(src, off, ld, transposed, cols, dst, 0, dst.panels());
        return dst;
    }

    /** Rows of a panel filled per pass when packing a transposed source. */
    private static final int PACK_BLOCK = 64;

    /**
     * Panels {@code [p0, p1)} of {@link #pack(float[], int, int, boolean, int, PackedMatrix)}: each panel is written
     * from its own columns of B only, so threads may pack disjoint ranges of one matrix.
     */
    static void pack(float[] src, int off, int ld, boolean transposed, int srcCols, PackedMatrix dst, int p0,
                     int p1) {
        int k = dst.k();
        int n = Math.min(dst.n(), srcCols);
        float[] d = dst.data();
        int nr = PackedMatrix.NR;
        for (int p = p0; p < p1; p++) {
            int base = p * nr * k;
            int cols = Math.max(0, Math.min(nr, n - p * nr));
            int c0 = p * nr;
            if (cols < nr) {
                // The whole panel at once, its valid columns written over below: a fill per row of the few columns
                // past n was two thirds of packing mnist_cnn's conv1 gradient (10 of 16 columns: 3.4 -> 2.4 µs)
                java.util.Arrays.fill(d, base, base + nr * k, 0f);
            }
            if (!transposed) {
                for (int kk = 0; kk < k; kk++) {
                    System.arraycopy(src, off + kk * ld + c0, d, base + kk * nr, cols);
                }
            } else {
                // k in blocks: a block's panel rows (4 KB) stay in L1 while the panel's source rows are read into
                // them; a whole panel at once (36 KB for a 576-pixel plane) left L1 between source rows
                for (int k0 = 0; k0 < k; k0 += PACK_BLOCK) {
                    int k1 = Math.min(k, k0 + PACK_BLOCK);
                    for (int j = 0; j < cols; j++) {
                        int row = off + (c0 + j) * ld;
                        for (int kk = k0; kk < k1; kk++) {
                            d[base + kk * nr + j] = src[row + kk];
                        }
                    }
                }
            }
        }
    }

    /**
     * {@code dst[j*ldd + i] = src[i*lds + j]} for an r x c source: a transposed copy, four source rows at a time so
     * each destination row is written four consecutive floats at once. One row at a time wrote one float to each of
     * c lines per source row: LSTM training's 1,792 x 512 gate gradients took 1.3 ms so (8 % of the step), 0.42-0.57
     * ms four rows at a time; tiles of 16 x 16 took 0.8 (docs/BENCHMARKS.md, session 19).
     */
    static void transpose(int r, int c, float[] src, int sOff, int lds, float[] dst, int dOff, int ldd) {
        int i = 0;
        for (; i + 4 <= r; i += 4) {
            int s0 = sOff + i * lds;
            int s1 = s0 + lds;
            int s2 = s1 + lds;
            int s3 = s2 + lds;
            for (int j = 0; j < c; j++) {
                int d = dOff + j * ldd + i;
                dst[d] = src[s0 + j];
                dst[d + 1] = src[s1 + j];
                dst[d + 2] = src[s2 + j];
                dst[d + 3] = src[s3 + j];
            }
        }
        for (; i < r; i++) {
            int row = sOff + i * lds;
            for (int j = 0; j < c; j++) {
                dst[dOff + j * ldd + i] = src[row + j];
            }
        }
    }
}
