package dev.kiln.runtime;

import java.util.Objects;

/**
 * Single-precision matrix multiply of a row-major A by a packed B:
 * {@code C[m x n] = epilogue(A[m x k] · B[k x n] (+ C if accumulate) (+ bias[n]))}.
 *
 * <p>Generated code calls {@link #gemm} with shapes fixed at compile time and B packed by
 * {@link PackedMatrix#pack} at compile time. The vectorized path gives the same bits for every thread count
 * and for a row computed alone (m = 1) or inside a batch; {@link #gemmScalar} is its plainly written twin
 * for tests (it sums in double, so it agrees to rounding, not bit for bit).
 */
public final class Gemm {

    /**
     * Work below this estimated single-thread time runs on the caller alone: handing work to a worker costs
     * about a microsecond and a split below ~20 µs gains little (docs/KERNELS.md).
     */
    private static final long PARALLEL_MIN_NANOS = 20_000;
    /** Rough single-thread speeds used for that estimate (measured, docs/BENCHMARKS.md). */
    private static final double GEMM_FLOPS_PER_NANO = 80;
    private static final double MATVEC_BYTES_PER_NANO = 40;

    private static final ThreadLocal<ParallelGemm> TASKS = ThreadLocal.withInitial(ParallelGemm::new);
    /** Per-thread tile that strips ending past n are computed into (see {@link GemmKernel}). */
    private static final ThreadLocal<float[]> SCRATCH =
            ThreadLocal.withInitial(() -> new float[GemmKernel.SCRATCH]);

    private Gemm() { }

    /**
     * Computes C on the calling thread.
     *
     * @param m rows of A and C (the batch); 0 does nothing
     * @param a A, row-major; row i starts at {@code aOff + i*lda}
     * @param lda row stride of A, ≥ k
     * @param b B packed in {@code kiln.panel16.v1}; gives k and n
     * @param bias n floats added to every row, or null
     * @param c C, row-major; row i starts at {@code cOff + i*ldc}; only columns below n are written; must not
     *     overlap A (C holds partial sums while A is still read)
     * @param ldc row stride of C, ≥ n
     * @param accumulate add the product to C's current contents instead of overwriting them
     * @param ep activation applied last
     */
    public static void gemm(int m, float[] a, int aOff, int lda, PackedMatrix b, float[] bias,
                            float[] c, int cOff, int ldc, boolean accumulate, Epilogue ep) {
        check(m, a, aOff, lda, b, bias, c, cOff, ldc, ep);
        if (m == 1) {
            GemmKernel.matvec(a, aOff, b, 0, GemmKernel.strips(b.n()), bias, c, cOff, accumulate, ep,
                    SCRATCH.get(), b.nextDescending());
        } else if (m > 1) {
            GemmKernel.tiles(0, m, a, aOff, lda, b, 0, GemmKernel.strips(b.n()), bias, c, cOff, ldc,
                    accumulate, ep, SCRATCH.get());
        }
    }

    /**
     * As {@link #gemm(int, float[], int, int, PackedMatrix, float[], float[], int, int, boolean, Epilogue)},
     * split over the threads of {@code pool} when the work is large enough to gain from it. Each thread writes
     * its own columns (or, for narrow B, its own rows) of C; the result is bit-identical for any pool size.
     * Does not allocate in steady state.
     */
    public static void gemm(WorkerPool pool, int m, float[] a, int aOff, int lda, PackedMatrix b, float[] bias,
                            float[] c, int cOff, int ldc, boolean accumulate, Epilogue ep) {
        Objects.requireNonNull(pool, "pool");
        if (pool.threads() == 1 || estimatedNanos(m, b) < PARALLEL_MIN_NANOS) {
            gemm(m, a, aOff, lda, b, bias, c, cOff, ldc, accumulate, ep);
            return;
        }
        check(m, a, aOff, lda, b, bias, c, cOff, ldc, ep);
        ParallelGemm task = TASKS.get();
        task.set(m, a, aOff, lda, b, bias, c, cOff, ldc, accumulate, ep);
        task.descending = m == 1 && b.nextDescending();
        try {
            int units = task.units(pool.threads());
            if (m == 1) {
                // A matrix-vector product streams B once: contiguous halves keep its groups of MV_VECTORS whole.
                pool.parallelFor(units, task);
            } else {
                // Balanced with stealing: a thread slowed by anything else on the machine hands its last strips
                // (or row blocks) to the other instead of making it wait (mlp's batch-64 layers on a shared host).
                pool.parallelForBalanced(units, task);
            }
        } finally {
            task.clear();
        }
    }

    /** Whether {@link #gemmTwo} takes B1 and B2: no edge strip in either, B2 no wider than B1. */
    public static boolean fusesTwo(PackedMatrix b1, PackedMatrix b2) {
        return GemmKernel.fusesTwo(b1, b2);
    }

    /**
     * Rows {@code [rowFrom, rowTo)} of {@code C = (A1 · B1 + bias) + A2 · B2} on the calling thread, the second
     * product over B2's columns only (the first {@code b2.n()} of C); row i of A1, A2 and C starts at
     * {@code off + i * ld}. The bits are those of {@link #gemm} of A1 · B1 with the bias, then {@link #gemm}
     * accumulating A2 · B2 onto it, without C's store and reload between the two: a recurrent step, its input
     * projection and recurrent product in one register tile. Needs {@link #fusesTwo}.
     */
    public static void gemmTwo(int rowFrom, int rowTo, float[] a1, int a1Off, int lda1, PackedMatrix b1, float[] bias,
                               float[] a2, int a2Off, int lda2, PackedMatrix b2, float[] c, int cOff, int ldc) {
        if (!fusesTwo(b1, b2)) {
            throw new IllegalArgumentException("gemmTwo needs both B widths a multiple of " + GemmKernel.STRIP
                    + " and B2 no wider than B1: " + b1 + ", " + b2);
        }
        int m = rowTo - rowFrom;
        check(m, a1, a1Off + rowFrom * lda1, lda1, b1, bias, c, cOff + rowFrom * ldc, ldc, Epilogue.none());
        check(m, a2, a2Off + rowFrom * lda2, lda2, b2, null, c, cOff + rowFrom * ldc, ldc, Epilogue.none());
        GemmKernel.tilesTwo(rowFrom, rowTo, a1, a1Off, lda1, b1, bias, a2, a2Off, lda2, b2, c, cOff, ldc);
    }

    /**
     * The scalar twin of {@link #gemm}: same contract, plain loops, dot products summed in double. Used by
     * tests as the oracle of the vectorized kernels.
     */
    public static void gemmScalar(int m, float[] a, int aOff, int lda, PackedMatrix b, float[] bias,
                                  float[] c, int cOff, int ldc, boolean accumulate, Epilogue ep) {
        check(m, a, aOff, lda, b, bias, c, cOff, ldc, ep);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < b.n(); j++) {
                double sum = 0;
                for (int kk = 0; kk < b.k(); kk++) {
                    sum += (double) a[aOff + i * lda + kk] * b.get(kk, j);
                }
                int ci = cOff + i * ldc + j;
                if (accumulate) {
                    sum += c[ci];
                }
                if (bias != null) {
                    sum += bias[j];
                }
                c[ci] = ep.apply((float) sum);
            }
        }
    }

    private static double estimatedNanos(int m, PackedMatrix b) {
        if (m == 1) {
            return 4.0 * b.data().length / MATVEC_BYTES_PER_NANO;
        }
        return 2.0 * m * b.k() * b.n() / GEMM_FLOPS_PER_NANO;
    }

    /** Validates every index the kernels will touch, so errors name the operands instead of an offset. */
    private static void check(int m, float[] a, int aOff, int lda, PackedMatrix b, float[] bias,
                              float[] c, int cOff, int ldc, Epilogue ep) {
        Objects.requireNonNull(b, "b");
        Objects.requireNonNull(ep, "ep");
        int k = b.k();
        int n = b.n();
        if (m < 0) {
            throw new IllegalArgumentException(shape(m, b) + ": negative m");
        }
        if (lda < k || ldc < n) {
            throw new IllegalArgumentException(shape(m, b) + ": lda " + lda + " < k or ldc " + ldc + " < n");
        }
        if (m > 0) {
            checkSpan(m, b, "A", a, aOff, lda, k);
            checkSpan(m, b, "C", c, cOff, ldc, n);
        }
        if (bias != null && bias.length < n) {
            throw new IllegalArgumentException(shape(m, b) + ": bias has " + bias.length + " floats, needs " + n);
        }
    }

    private static void checkSpan(int m, PackedMatrix b, String name, float[] x, int off, int ld, int cols) {
        Objects.requireNonNull(x, name);
        long end = off + (long) (m - 1) * ld + cols;
        if (off < 0 || end > x.length) {
            throw new IllegalArgumentException(shape(m, b) + ": " + name + " at offset " + off + " with stride "
                    + ld + " needs " + end + " floats, array has " + x.length);
        }
    }

    private static String shape(int m, PackedMatrix b) {
        return "gemm " + m + "x" + b.k() + " · " + b.k() + "x" + b.n();
    }

    /**
     * The arguments of one threaded call, reused per calling thread so a call allocates nothing. Work units
     * are strips of B when there are enough for every thread, else blocks of MR rows.
     */
    private static final class ParallelGemm implements IntRangeBody, ThreadRangeBody {
        private int m;
        private float[] a;
        private int aOff;
        private int lda;
        private PackedMatrix b;
        private float[] bias;
        private float[] c;
        private int cOff;
        private int ldc;
        private boolean accumulate;
        private Epilogue ep;
        private boolean byStrips;
        private boolean descending;

        void set(int m, float[] a, int aOff, int lda, PackedMatrix b, float[] bias, float[] c, int cOff, int ldc,
                 boolean accumulate, Epilogue ep) {
            this.m = m;
            this.a = a;
            this.aOff = aOff;
            this.lda = lda;
            this.b = b;
            this.bias = bias;
            this.c = c;
            this.cOff = cOff;
            this.ldc = ldc;
            this.accumulate = accumulate;
            this.ep = ep;
        }

        int units(int threads) {
            int strips = GemmKernel.strips(b.n());
            byStrips = m == 1 || strips >= threads;
            return byStrips ? strips : (m + GemmKernel.MR - 1) / GemmKernel.MR;
        }

        /** Drops the references so a finished call does not keep the caller's arrays alive. */
        void clear() {
            a = null;
            b = null;
            bias = null;
            c = null;
            ep = null;
        }

        @Override
        public void run(int thread, int from, int to) {
            run(from, to);
        }

        @Override
        public void run(int from, int to) {
            float[] scratch = SCRATCH.get(); // of the thread running this chunk
            if (m == 1) {
                GemmKernel.matvec(a, aOff, b, from, to, bias, c, cOff, accumulate, ep, scratch, descending);
            } else if (byStrips) {
                GemmKernel.tiles(0, m, a, aOff, lda, b, from, to, bias, c, cOff, ldc, accumulate, ep, scratch);
            } else {
                int rowTo = Math.min(m, to * GemmKernel.MR);
                GemmKernel.tiles(from * GemmKernel.MR, rowTo, a, aOff, lda, b, 0, GemmKernel.strips(b.n()), bias,
                        c, cOff, ldc, accumulate, ep, scratch);
            }
        }
    }
}
