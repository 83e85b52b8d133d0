package dev.kiln.runtime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * The B operand of {@link Gemm} in the panel layout {@code kiln.panel16.v1}: column panels {@value #NR} wide,
 * each stored k-major, zero-padded past {@code n}.
 *
 * <p>Panel {@code p} holds columns {@code 16p .. 16p+15}; element {@code B[kk][16p + j]} sits at
 * {@code data[p*16*k + kk*16 + j]}. The layout does not depend on the machine's vector width, so weights packed
 * at compile time run on any machine (see docs/KERNELS.md). A matrix from {@link #pack} or {@link #wrap} is
 * constant by contract: the kernels read {@link #data()} directly, nothing may write to it afterwards, and facts
 * about its values (an aligned copy, whether all are finite) are computed once and kept. A {@link #view} is a
 * work array its owner repacks between products: nothing about its values is kept.
 */
public final class PackedMatrix {

    /** Panel width in floats; part of the layout name {@code kiln.panel16.v1}. */
    public static final int NR = 16;

    /** Name of this layout, recorded next to packed weights so a reader can refuse a layout it does not know. */
    public static final String LAYOUT = "kiln.panel16.v1";

    /**
     * System property: {@code false} keeps batch-1 products on the heap array, without the aligned off-heap copy
     * of each constant matrix they otherwise make ({@link #aligned}).
     */
    public static final String ALIGNED_COPIES_PROPERTY = "kiln.runtime.alignedCopies";
    private static final boolean ALIGNED_COPIES =
            !"false".equals(System.getProperty(ALIGNED_COPIES_PROPERTY));
    /**
     * Largest matrix given an aligned copy: the copy pays off while B streams from a cache (2048x2048, 16 MB, from
     * L3: 241 -> 203 µs a product) and not from memory (4096x4096, 64 MB: 1,975 -> 1,969 µs), so a bigger matrix
     * would only double its memory.
     */
    static final long ALIGNED_COPY_MAX_BYTES = 16L << 20;
    /** Alignment of the copy: a cache line, so no vector load of up to 64 bytes straddles two lines. */
    private static final long LINE = 64;

    private final float[] data;
    private final int k;
    private final int n;
    /** Whether the values never change ({@link #pack}, {@link #wrap}), so facts about them may be kept. */
    private final boolean constant;
    /** Whether {@link #aligned} may make a copy: constant, not empty, within the cap, copies not turned off. */
    private final boolean copyable;
    /** {@link #aligned}, once made. */
    private volatile MemorySegment aligned;
    /** Whether making {@link #aligned} failed for want of native memory; read and written under the lock. */
    private boolean noCopy;
    /** The direction the last batch-1 product walked the column groups: a hint, not part of the value. */
    private boolean descending;
    /** {@link #allFinite}, once known: 0 not yet scanned, 1 every element finite, 2 not. */
    private byte finite;

    private PackedMatrix(float[] data, int k, int n, boolean constant) {
        this.data = data;
        this.k = k;
        this.n = n;
        this.constant = constant;
        this.copyable = constant && ALIGNED_COPIES && data.length > 0 && 4L * data.length <= ALIGNED_COPY_MAX_BYTES;
    }

    /** Length of the packed form of a {@code k x n} matrix: {@code ceil(n/16) * 16 * k}. */
    public static int packedLength(int k, int n) {
        if (k < 0 || n < 0) {
            throw new IllegalArgumentException("negative matrix shape " + k + "x" + n);
        }
        long len = (long) panels(n) * NR * k;
        if (len > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("packed " + k + "x" + n + " matrix exceeds a Java array");
        }
        return (int) len;
    }

    /**
     * Packs row-major B into panels.
     *
     * @param b source array
     * @param off index of B's first element in {@code b}
     * @param k rows of B (the reduction dimension)
     * @param n columns of B (the output dimension)
     * @param transposed when true the source is {@code n x k} row-major (B transposed), as {@code nn.Linear}
     *     and ONNX Gemm {@code transB=1} weights are stored
     */
    public static PackedMatrix pack(float[] b, int off, int k, int n, boolean transposed) {
        Objects.requireNonNull(b, "b");
        float[] out = new float[packedLength(k, n)];
        long need = (long) k * n;
        if (off < 0 || off + need > b.length) {
            throw new IllegalArgumentException("source of a " + k + "x" + n + " matrix at offset " + off
                    + " needs " + need + " floats, array has " + b.length);
        }
        for (int p = 0; p < panels(n); p++) {
            int base = p * NR * k;
            int cols = Math.min(NR, n - p * NR);
            for (int kk = 0; kk < k; kk++) {
                for (int j = 0; j < cols; j++) {
                    int col = p * NR + j;
                    out[base + kk * NR + j] = transposed ? b[off + col * k + kk] : b[off + kk * n + col];
                }
            }
        }
        return new PackedMatrix(out, k, n, true);
    }

    /**
     * Wraps already packed constant data (e.g. weights read from a weights file); the array is used, not copied,
     * and must not change afterwards.
     */
    public static PackedMatrix wrap(float[] packed, int k, int n) {
        return new PackedMatrix(checkedLength(packed, k, n), k, n, true);
    }

    /**
     * A matrix over a work array its owner repacks between products (a trainer's packed operands, an im2col
     * buffer): the array is used, not copied, and every product reads its current values.
     */
    public static PackedMatrix view(float[] packed, int k, int n) {
        return new PackedMatrix(checkedLength(packed, k, n), k, n, false);
    }

    private static float[] checkedLength(float[] packed, int k, int n) {
        Objects.requireNonNull(packed, "packed");
        int len = packedLength(k, n);
        if (packed.length != len) {
            throw new IllegalArgumentException("packed " + k + "x" + n + " matrix (" + LAYOUT + ") needs "
                    + len + " floats, got " + packed.length);
        }
        return packed;
    }

    /** The packed floats; shared, never to be modified (a view's owner repacks them between products). */
    public float[] data() { return data; }

    /** Rows of B (the reduction dimension). */
    public int k() { return k; }

    /** Columns of B (the output dimension). */
    public int n() { return n; }

    /** Number of panels, {@code ceil(n/16)}. */
    public int panels() { return panels(n); }

    /** {@code B[row][col]} read back from the panels. */
    public float get(int row, int col) {
        Objects.checkIndex(row, k);
        Objects.checkIndex(col, n);
        return data[(col / NR) * NR * k + row * NR + col % NR];
    }

    /**
     * Flips and returns the direction of the next batch-1 product over this matrix ({@link GemmKernel#matvec}):
     * alternating, a call starts on the columns the previous call read last, which are still in L2 when B is
     * larger than L2. Unsynchronized on purpose: the direction never changes a result, only which lines are
     * cached, so a lost flip under a race costs nothing.
     */
    boolean nextDescending() {
        descending = !descending;
        return descending;
    }

    /**
     * Whether every element is finite, so that a zero row times B is exactly zero (0 times an infinity or a NaN is
     * NaN). For a constant matrix scanned on the first call and remembered (a race only scans twice, as the answer
     * never changes); a view is scanned every call.
     */
    boolean allFinite() {
        if (!constant) {
            return scanFinite();
        }
        if (finite == 0) {
            finite = scanFinite() ? (byte) 1 : (byte) 2;
        }
        return finite == 1;
    }

    private boolean scanFinite() {
        boolean all = true;
        for (float v : data) {
            all &= Float.isFinite(v);
        }
        return all;
    }

    /**
     * This constant matrix's values in native memory aligned to a cache line, made on the first call; null for a
     * view, an empty or a larger matrix than {@link #ALIGNED_COPY_MAX_BYTES}, when {@link #ALIGNED_COPIES_PROPERTY}
     * is false, or when the JVM's direct memory limit left no room for it. The batch-1 product reads it instead of
     * the heap array: the JVM puts an array's data at any 8-byte boundary (and moves it in a collection), and
     * where that is not 32-byte aligned half of the product's 8-lane loads straddle two cache lines (lstm at batch
     * 1: 83.5 or 87 µs by where R landed; docs/BENCHMARKS.md, session 17). Freed with this matrix.
     */
    MemorySegment aligned() {
        MemorySegment copy = aligned;
        // noCopy is read unlocked: it only ever turns true, and a stale false costs one more trip through the lock
        if (copy != null || !copyable || noCopy) {
            return copy;
        }
        synchronized (this) {
            if (aligned == null && !noCopy) {
                try {
                    MemorySegment made = Arena.ofAuto().allocate(4L * data.length, LINE);
                    MemorySegment.copy(data, 0, made, ValueLayout.JAVA_FLOAT, 0, data.length);
                    aligned = made;
                } catch (OutOfMemoryError e) {
                    // Native memory counts against -XX:MaxDirectMemorySize: past it, the heap array serves, as
                    // it does with the copies turned off, rather than failing the caller's inference.
                    noCopy = true;
                }
            }
            return aligned;
        }
    }

    static int panels(int n) { return (n + NR - 1) / NR; }

    @Override
    public String toString() {
        return "PackedMatrix[" + k + "x" + n + ", " + LAYOUT + (constant ? "" : ", view") + "]";
    }
}
