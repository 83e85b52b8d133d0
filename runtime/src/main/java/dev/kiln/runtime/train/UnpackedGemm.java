package dev.kiln.runtime.train;

import dev.kiln.runtime.Epilogue;
import dev.kiln.runtime.Gemm;
import dev.kiln.runtime.IntRangeBody;
import dev.kiln.runtime.PackedMatrix;
import dev.kiln.runtime.WorkerPool;
import java.util.Objects;

/**
 * Matrix products on unpacked row-major operands, as training needs them: {@code C (+)= op(A) · op(B)} with
 * {@code op} the identity or a transpose. A Linear layer {@code Y = X · W^T} has the weight gradient
 * {@code dW = dY^T · X} ({@link #atb}), the input gradient {@code dX = dY · W} ({@link #ab}), and a forward pass
 * whose weights change every step ({@link #abt} with bias and activation).
 *
 * <p>Each call packs B at run time into {@code kiln.panel16.v1} panels (and copies A transposed when op(A) is a
 * transpose), then runs the inference micro-kernel through {@link Gemm#gemm}: same vector code, same cache
 * blocking, same bits for any thread count. The packing costs {@code k * n} copies against {@code m * k * n}
 * multiply-adds.
 *
 * <p>An instance owns the scratch the packing writes into and reuses it: with one instance per call site (fixed
 * shapes), calls allocate nothing after the first. An instance shared between shapes keeps panel buffers for up to
 * {@value #CACHED_SHAPES} shapes, replaced in turn when more are used. Not thread-safe; the pool variants use the
 * pool's threads for the product.
 */
public final class UnpackedGemm {

    /** Panel buffers kept, one per (k, n) shape: a trainer's Linear layers use three shapes each. */
    static final int CACHED_SHAPES = 8;

    private final int[] cachedK = new int[CACHED_SHAPES];
    private final int[] cachedN = new int[CACHED_SHAPES];
    private final PackedMatrix[] cached = new PackedMatrix[CACHED_SHAPES];
    private int nextVictim;
    private float[] transposedA = new float[0];
    /** Scratch arrays allocated so far (tests check that steady-state calls allocate none). */
    private int allocations;

    /**
     * {@code C[m x n] (+)= op(A) · op(B) (+ bias[n])}, then {@code ep} on each element.
     *
     * @param transA A is stored {@code k x m} (so op(A) = A^T) instead of {@code m x k}
     * @param transB B is stored {@code n x k} (so op(B) = B^T) instead of {@code k x n}
     * @param a A, row-major, contiguous from {@code aOff}
     * @param b B, row-major, contiguous from {@code bOff}
     * @param bias n floats added to every row, or null
     * @param c C, row-major {@code m x n} from {@code cOff}; must not overlap A or B
     * @param accumulate add to C's contents instead of overwriting them (bias and ep apply to the sum)
     * @param ep activation applied last
     */
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float[] a, int aOff, float[] b, int bOff,
                     float[] bias, float[] c, int cOff, boolean accumulate, Epilogue ep) {
        prepare(transA, transB, m, n, k, a, aOff, b, bOff, bias, c, cOff, ep);
        Gemm.gemm(m, transA ? transposedA : a, transA ? 0 : aOff, k, packB(transB, k, n, b, bOff), bias, c, cOff, n,
                accumulate, ep);
    }

    /** As {@link #gemm(boolean, boolean, int, int, int, float[], int, float[], int, float[], float[], int, boolean,
     *  Epilogue)}, the product split over the pool's threads; the result is bit-identical for any pool size. */
    public void gemm(WorkerPool pool, boolean transA, boolean transB, int m, int n, int k, float[] a, int aOff,
                     float[] b, int bOff, float[] bias, float[] c, int cOff, boolean accumulate, Epilogue ep) {
        Objects.requireNonNull(pool, "pool");
        prepare(transA, transB, m, n, k, a, aOff, b, bOff, bias, c, cOff, ep);
        PackedMatrix packed;
        if (pool.threads() > 1 && (long) k * n >= PARALLEL_PACK) {
            packed = view(k, n);
            packing.set(packed, transB, b, bOff);
            try {
                pool.parallelFor(packed.panels(), packing);
            } finally {
                packing.b = null;
            }
        } else {
            packed = packB(transB, k, n, b, bOff);
        }
        Gemm.gemm(pool, m, transA ? transposedA : a, transA ? 0 : aOff, k, packed, bias, c, cOff, n, accumulate, ep);
    }

    /** {@code C[m x n] (+)= A[m x k] · B[k x n]}: e.g. the input gradient {@code dX = dY · W} of a Linear layer. */
    public void ab(int m, int n, int k, float[] a, int aOff, float[] b, int bOff, float[] c, int cOff,
                   boolean accumulate) {
        gemm(false, false, m, n, k, a, aOff, b, bOff, null, c, cOff, accumulate, Epilogue.none());
    }

    /**
     * {@code C[m x n] (+)= A^T · B} with A stored {@code k x m} and B {@code k x n}: e.g. the weight gradient
     * {@code dW = dY^T · X} of a Linear layer (k = batch).
     */
    public void atb(int m, int n, int k, float[] a, int aOff, float[] b, int bOff, float[] c, int cOff,
                    boolean accumulate) {
        gemm(true, false, m, n, k, a, aOff, b, bOff, null, c, cOff, accumulate, Epilogue.none());
    }

    /**
     * {@code C[m x n] (+)= A · B^T} with A stored {@code m x k} and B {@code n x k}: e.g. the forward
     * {@code Y = X · W^T} of a Linear layer with weights W ({@code out x in}) that change every step.
     */
    public void abt(int m, int n, int k, float[] a, int aOff, float[] b, int bOff, float[] c, int cOff,
                    boolean accumulate) {
        gemm(false, true, m, n, k, a, aOff, b, bOff, null, c, cOff, accumulate, Epilogue.none());
    }

    /**
     * The scalar twin of {@link #gemm(boolean, boolean, int, int, int, float[], int, float[], int, float[], float[],
     * int, boolean, Epilogue)}: plain loops, dot products summed in double (so it agrees with the vector kernel to
     * rounding, not bit for bit).
     */
    public static void gemmScalar(boolean transA, boolean transB, int m, int n, int k, float[] a, int aOff,
                                  float[] b, int bOff, float[] bias, float[] c, int cOff, boolean accumulate,
                                  Epilogue ep) {
        check(transA, transB, m, n, k, a, aOff, b, bOff, bias, c, cOff, ep);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0;
                for (int kk = 0; kk < k; kk++) {
                    float x = transA ? a[aOff + kk * m + i] : a[aOff + i * k + kk];
                    float y = transB ? b[bOff + j * k + kk] : b[bOff + kk * n + j];
                    sum += (double) x * y;
                }
                int ci = cOff + i * n + j;
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

    private void prepare(boolean transA, boolean transB, int m, int n, int k, float[] a, int aOff, float[] b,
                         int bOff, float[] bias, float[] c, int cOff, Epilogue ep) {
        check(transA, transB, m, n, k, a, aOff, b, bOff, bias, c, cOff, ep);
        if (transA) {
            transposeA(m, k, a, aOff);
        }
    }

    /** Copies A ({@code k x m}) transposed into {@link #transposedA} ({@code m x k}), in blocks that stay in L1. */
    private void transposeA(int m, int k, float[] a, int aOff) {
        int len = m * k;
        if (transposedA.length < len) {
            transposedA = new float[len];
            allocations++;
        }
        float[] t = transposedA;
        final int block = 32;
        for (int r0 = 0; r0 < k; r0 += block) {
            int r1 = Math.min(k, r0 + block);
            for (int c0 = 0; c0 < m; c0 += block) {
                int c1 = Math.min(m, c0 + block);
                for (int r = r0; r < r1; r++) {
                    int src = aOff + r * m;
                    for (int col = c0; col < c1; col++) {
                        t[col * k + r] = a[src + col];
                    }
                }
            }
        }
    }

    /**
     * B packed into panels ({@link PackedMatrix}'s documented layout: column {@code 16p + j} of row kk at
     * {@code p*16*k + kk*16 + j}, zero past n), written into the cached buffer of this shape. The view is rewritten
     * only between products, never while a kernel reads it.
     */
    private PackedMatrix packB(boolean transB, int k, int n, float[] b, int bOff) {
        PackedMatrix view = view(k, n);
        PanelScratch.pack(b, bOff, transB ? k : n, transB, n, view, 0, view.panels());
        return view;
    }

    /**
     * Floats of B above which the pool variants pack it on all threads: packing a Linear layer's 784 x 512
     * weights took 15 % of mlp's 2-thread training step on the calling thread alone.
     */
    private static final long PARALLEL_PACK = 64 * 1024;

    /** The pool variants' packing of B, panels split over the threads; reused, so a call allocates nothing. */
    private final PanelPacking packing = new PanelPacking();

    private static final class PanelPacking implements IntRangeBody {
        private PackedMatrix view;
        private boolean transB;
        private float[] b;
        private int bOff;

        void set(PackedMatrix view, boolean transB, float[] b, int bOff) {
            this.view = view;
            this.transB = transB;
            this.b = b;
            this.bOff = bOff;
        }

        @Override
        public void run(int from, int to) {
            PanelScratch.pack(b, bOff, transB ? view.k() : view.n(), transB, view.n(), view, from, to);
        }
    }

    private PackedMatrix view(int k, int n) {
        for (int i = 0; i < CACHED_SHAPES; i++) {
            if (cached[i] != null && cachedK[i] == k && cachedN[i] == n) {
                return cached[i];
            }
        }
        int slot = nextVictim;
        nextVictim = (nextVictim + 1) % CACHED_SHAPES;
        cachedK[slot] = k;
        cachedN[slot] = n;
        cached[slot] = PackedMatrix.view(new float[PackedMatrix.packedLength(k, n)], k, n);
        allocations++;
        return cached[slot];
    }

    int allocations() {
        return allocations;
    }

    /**
     * Validates shapes and spans so errors name the operands instead of an index deep in a kernel. The message's
     * description of the product is built only when one is thrown: a training step calls this for every GEMM.
     */
    private static void check(boolean transA, boolean transB, int m, int n, int k, float[] a, int aOff, float[] b,
                              int bOff, float[] bias, float[] c, int cOff, Epilogue ep) {
        Objects.requireNonNull(ep, "ep");
        if (m < 0 || n < 0 || k < 0) {
            throw new IllegalArgumentException(what(transA, transB, m, n, k) + ": negative dimension");
        }
        span(transA, transB, m, n, k, "A", a, aOff, (long) m * k);
        span(transA, transB, m, n, k, "B", b, bOff, (long) k * n);
        span(transA, transB, m, n, k, "C", c, cOff, (long) m * n);
        if (bias != null && bias.length < n) {
            throw new IllegalArgumentException(what(transA, transB, m, n, k) + ": bias has " + bias.length
                    + " floats, needs " + n);
        }
    }

    private static void span(boolean transA, boolean transB, int m, int n, int k, String name, float[] x, int off,
                             long len) {
        Objects.requireNonNull(x, name);
        if (off < 0 || off + len > x.length) {
            throw new IllegalArgumentException(what(transA, transB, m, n, k) + ": " + name + " at offset " + off
                    + " needs " + len + " floats, array has " + x.length);
        }
    }

    /** The product as error messages name it, e.g. {@code gemm A·B^T 64x784 · 784x512}. */
    private static String what(boolean transA, boolean transB, int m, int n, int k) {
        return "gemm " + (transA ? "A^T" : "A") + "·" + (transB ? "B^T" : "B") + " " + m + "x" + k + " · " + k + "x" + n;
    }
}
