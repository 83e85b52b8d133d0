package dev.kiln.runtime;

import static dev.kiln.runtime.PackedMatrix.NR;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The register-blocked GEMM micro-kernel and the matrix-vector kernel over {@code kiln.panel16.v1} panels.
 *
 * <p>Both kernels work on <em>strips</em> of two vectors' width ({@code 2 * VL} columns): half a panel when
 * VL = 4, one panel when VL = 8, two adjacent panels when VL = 16. A vector starting at column {@code col}
 * of B is found at {@code base(col) + kk * 16} for every k, so one kernel body serves every vector width.
 * Each element of C is {@code epilogue(fma-chain over kk ascending starting from (accumulate ? Cold : 0)
 * + bias)}, computed by vector code whatever the tile, strip or thread that computes it: results do not depend
 * on the blocking or the thread count.
 *
 * <p>The tile methods hold nothing but the accumulators, their loads (C's old contents when accumulating,
 * as the starting value of the sums), the bias and their stores, and call nothing of ours: C2 stops inlining once a
 * method passes its node budget and then boxes every vector it hands to a call, and twelve inlined copies of masks
 * and an eight-way activation exceed it. Relu is applied by {@link #finish} right after a tile is stored, while
 * it is still in L1; the other activations once per strip of a block of rows, so that each call of
 * {@link Epilogue#applyRows} has many vectors.
 * Strips that end past n are computed and finished in a small scratch tile whose valid columns are then copied
 * to C, so no store touches a column at or beyond n, and the arithmetic is the same as on the full-vector path.
 */
final class GemmKernel {

    /** Vector species of the kernels ({@link VectorWidth}: at most 256 bits unless asked, never wider than a panel). */
    static final VectorSpecies<Float> SPECIES = VectorWidth.FLOAT;
    static final int VL = SPECIES.length();
    /** Byte order of the aligned copies ({@link PackedMatrix#aligned}), written as Java floats. */
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /** Rows of the micro-tile: 6 rows x 2 vectors = 12 accumulators, + 2 B vectors + 1 broadcast = 15 of
     *  AVX2's 16 registers. */
    static final int MR = 6;
    /**
     * Row tiles of at most this many rows run a 4-row kernel (8 accumulators) instead of the 6-row one: the last
     * tile of 64 rows (4 rows) or of a 2-thread half of them (2 rows) otherwise paid for 6 rows of FMAs.
     */
    private static final int SHORT = 4;
    /**
     * Whether a short last row tile runs over two strips at once ({@link #tileShortPair}, 16 accumulators): where
     * C2 has 32 vector registers.
     */
    private static final boolean SHORT_PAIRS = VectorWidth.WIDE_REGISTERS;
    /** Columns per strip. */
    static final int STRIP = 2 * VL;
    /** Whether a strip's two vectors lie in one panel (VL ≤ 8), VL floats apart. */
    private static final boolean ONE_PANEL = STRIP <= NR;
    /**
     * Rows per cache block, a multiple of MR: an MC x k block of A (376 KB at k = 784) stays in L2 while every
     * strip streams past it. Without it a tall A (a convolution's im2col) is re-read from memory per strip.
     */
    static final int MC = 120;
    /**
     * Reduction depth per cache block. Measured on the 2-core AVX2 machine (docs/BENCHMARKS.md): blocking
     * k = 784 into 256 or 384 made the MLP layer 10-20 % slower (more passes over C, more tile set-ups) than
     * streaming the 50 KB panel from L2, so only very deep reductions are split, to keep A's block in L2.
     */
    static final int KC = 1024;
    /** Vectors the matrix-vector kernel keeps in flight: enough independent FMA chains to hide latency. */
    private static final int MV_VECTORS = 8;
    /** Floats of the per-thread scratch tile that edge tiles are computed into. */
    static final int SCRATCH = Math.max(MR * STRIP, MV_VECTORS * VL);

    private GemmKernel() { }

    static int strips(int n) { return (n + STRIP - 1) / STRIP; }

    /** Offset in the packed data of the vector of B starting at column {@code col}, for kk = 0. */
    private static int base(int col, int k) { return (col / NR) * NR * k + col % NR; }

    /**
     * Offset of the vector at column {@code col}, or {@code fallback} when that vector lies wholly in the
     * padding beyond the last panel (VL = 16, odd panel count): the kernel then computes a duplicate it never
     * stores instead of reading past the packed array.
     */
    private static int baseOr(int col, int k, int n, int fallback) {
        return col < PackedMatrix.panels(n) * NR ? base(col, k) : fallback;
    }

    /**
     * C rows {@code [rowFrom, rowTo)} x strips {@code [s0, s1)}, in register tiles of MR rows.
     *
     * <p>Blocked for the caches: rows in blocks of {@link #MC} and k in blocks of {@link #KC} so A's block stays
     * in L2 while every strip of B streams past it. Between k blocks the partial sums wait in C; a float stored
     * and reloaded is unchanged, so the blocking does not change a bit of the result. The strip that ends past n
     * (at most one) is not k-blocked: its partial sums would need a scratch as tall as the block.
     *
     * @param scratch at least {@link #SCRATCH} floats the calling thread owns
     */
    static void tiles(int rowFrom, int rowTo, float[] a, int aOff, int lda, PackedMatrix b, int s0, int s1,
                      float[] bias, float[] c, int cOff, int ldc, boolean accumulate, Epilogue ep,
                      float[] scratch) {
        int k = b.k();
        int n = b.n();
        int fullStrips = Math.min(s1, n / STRIP);
        for (int ib = rowFrom; ib < rowTo; ib += MC) {
            int ie = Math.min(ib + MC, rowTo);
            for (int kb = 0; kb < k || kb == 0; kb += KC) {
                int kc = Math.min(KC, k - kb);
                boolean lastBlock = kb + kc >= k;
                // A short last row tile goes two strips at a time where there are registers for it (SHORT_PAIRS).
                int split = SHORT_PAIRS && fullStrips - s0 >= 2 && (ie - ib) % MR != 0 && (ie - ib) % MR <= SHORT
                        ? ie - (ie - ib) % MR : ie;
                for (int s = s0; s < fullStrips; s++) {
                    fullStrip(ib, split, a, aOff, lda, b, s, kb, kc, accumulate || kb > 0, lastBlock, bias, c, cOff,
                            ldc, ep);
                }
                if (split < ie) {
                    int s = s0;
                    for (; s + 1 < fullStrips; s += 2) {
                        shortPair(split, ie, a, aOff, lda, b, s, kb, kc, accumulate || kb > 0, lastBlock, bias, c,
                                cOff, ldc, ep);
                    }
                    if (s < fullStrips) {
                        fullStrip(split, ie, a, aOff, lda, b, s, kb, kc, accumulate || kb > 0, lastBlock, bias, c,
                                cOff, ldc, ep);
                    }
                }
            }
            for (int s = Math.max(s0, fullStrips); s < s1; s++) {
                edgeStrip(ib, ie, a, aOff, lda, b, s, bias, c, cOff, ldc, accumulate, ep, scratch);
            }
        }
    }

    /** Rows {@code [ib, ie)} of a strip wholly below n, for k in {@code [kb, kb + kc)}. */
    private static void fullStrip(int ib, int ie, float[] a, int aOff, int lda, PackedMatrix b, int s, int kb,
                                  int kc, boolean accumulate, boolean lastBlock, float[] bias, float[] c, int cOff,
                                  int ldc, Epilogue ep) {
        int k = b.k();
        int j0 = s * STRIP;
        int b0 = base(j0, k) + kb * NR;
        int b1 = base(j0 + VL, k) + kb * NR;
        float[] tileBias = lastBlock ? bias : null;
        boolean finish = lastBlock && !ep.isNone();
        // Relu while each tile is in L1; the other activations once for the strip's whole block of rows.
        boolean perTile = finish && inRegisters(ep);
        for (int i0 = ib; i0 < ie; i0 += MR) {
            int rows = Math.min(MR, ie - i0);
            int ci = cOff + i0 * ldc + j0;
            if (rows > SHORT) {
                tile(i0, rows, a, aOff + kb, lda, kc, b.data(), b0, b1, tileBias, j0, c, ci, ldc, accumulate);
            } else {
                tileShort(i0, rows, a, aOff + kb, lda, kc, b.data(), b0, b1, tileBias, j0, c, ci, ldc, accumulate);
            }
            if (perTile) {
                finish(c, ci, ldc, rows, 2, null, j0, ep);
            }
        }
        if (finish && !perTile) {
            finish(c, cOff + ib * ldc + j0, ldc, ie - ib, 2, null, j0, ep);
        }
    }

    /** Rows {@code [ib, ie)} (at most {@link #SHORT}) of strips s and s + 1, both wholly below n. */
    private static void shortPair(int ib, int ie, float[] a, int aOff, int lda, PackedMatrix b, int s, int kb,
                                  int kc, boolean accumulate, boolean lastBlock, float[] bias, float[] c, int cOff,
                                  int ldc, Epilogue ep) {
        int k = b.k();
        int j0 = s * STRIP;
        int ci = cOff + ib * ldc + j0;
        tileShortPair(ib, ie - ib, a, aOff + kb, lda, kc, b.data(), base(j0, k) + kb * NR,
                base(j0 + VL, k) + kb * NR, base(j0 + 2 * VL, k) + kb * NR, base(j0 + 3 * VL, k) + kb * NR,
                lastBlock ? bias : null, j0, c, ci, ldc, accumulate);
        if (lastBlock && !ep.isNone()) {
            finish(c, ci, ldc, ie - ib, 4, null, j0, ep);
        }
    }

    /** Rows {@code [ib, ie)} of the strip that ends past n, through the scratch tile. */
    private static void edgeStrip(int ib, int ie, float[] a, int aOff, int lda, PackedMatrix b, int s, float[] bias,
                                  float[] c, int cOff, int ldc, boolean accumulate, Epilogue ep, float[] scratch) {
        int k = b.k();
        int n = b.n();
        int j0 = s * STRIP;
        int b0 = base(j0, k);
        int b1 = baseOr(j0 + VL, k, n, b0);
        for (int i0 = ib; i0 < ie; i0 += MR) {
            int rows = Math.min(MR, ie - i0);
            int ci = cOff + i0 * ldc + j0;
            for (int r = 0; r < rows && accumulate; r++) {
                loadEdge(c, ci + r * ldc, j0, n, scratch, r * STRIP, 2);
            }
            // Not tileShort: one edge strip per call would keep it in C1 (boxing every vector) for hundreds of calls.
            tile(i0, rows, a, aOff, lda, k, b.data(), b0, b1, null, 0, scratch, 0, STRIP, accumulate);
            finishEdge(scratch, STRIP, rows, 2, c, ci, ldc, j0, n, bias, ep);
        }
    }

    /**
     * One MR x STRIP tile of sums for rows {@code i0 .. i0+rows-1} of A, stored at {@code d[dOff ..]} with row
     * stride {@code ldd}; when accumulating the sums start from the values already there, and a bias (columns from
     * {@code col}; null for none) is added to the finished sums in registers, as {@link #finish} would add it after
     * the store: at lstm's k = 28 that pass over the stored tile cost a sixth of the product. Rows at or beyond
     * {@code rows} repeat the last valid row (a duplicate computation, never stored), so the short last tile of a
     * matrix runs the same code as the others.
     */
    private static void tile(int i0, int rows, float[] a, int aOff, int lda, int k, float[] bd, int b0, int b1,
                             float[] bias, int col, float[] d, int dOff, int ldd, boolean accumulate) {
        int last = rows - 1;
        int a0 = aOff + i0 * lda;
        int a1 = a0 + Math.min(1, last) * lda;
        int a2 = a0 + Math.min(2, last) * lda;
        int a3 = a0 + Math.min(3, last) * lda;
        int a4 = a0 + Math.min(4, last) * lda;
        int a5 = a0 + Math.min(5, last) * lda;
        int d0 = dOff;
        int d1 = dOff + Math.min(1, last) * ldd;
        int d2 = dOff + Math.min(2, last) * ldd;
        int d3 = dOff + Math.min(3, last) * ldd;
        int d4 = dOff + Math.min(4, last) * ldd;
        int d5 = dOff + Math.min(5, last) * ldd;
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        if (accumulate) {
            c00 = FloatVector.fromArray(SPECIES, d, d0);
            c01 = FloatVector.fromArray(SPECIES, d, d0 + VL);
            c10 = FloatVector.fromArray(SPECIES, d, d1);
            c11 = FloatVector.fromArray(SPECIES, d, d1 + VL);
            c20 = FloatVector.fromArray(SPECIES, d, d2);
            c21 = FloatVector.fromArray(SPECIES, d, d2 + VL);
            c30 = FloatVector.fromArray(SPECIES, d, d3);
            c31 = FloatVector.fromArray(SPECIES, d, d3 + VL);
            c40 = FloatVector.fromArray(SPECIES, d, d4);
            c41 = FloatVector.fromArray(SPECIES, d, d4 + VL);
            c50 = FloatVector.fromArray(SPECIES, d, d5);
            c51 = FloatVector.fromArray(SPECIES, d, d5 + VL);
        } else {
            c00 = FloatVector.zero(SPECIES);
            c01 = c00; c10 = c00; c11 = c00; c20 = c00; c21 = c00;
            c30 = c00; c31 = c00; c40 = c00; c41 = c00; c50 = c00; c51 = c00;
        }
        for (int kk = 0; kk < k; kk++) {
            int bo = b0 + kk * NR;
            FloatVector x0 = FloatVector.fromArray(SPECIES, bd, bo);
            // Within one panel the second vector is at a constant distance, which folds into the load.
            FloatVector x1 = FloatVector.fromArray(SPECIES, bd, ONE_PANEL ? bo + VL : b1 + kk * NR);
            FloatVector av = FloatVector.broadcast(SPECIES, a[a0 + kk]);
            c00 = av.fma(x0, c00);
            c01 = av.fma(x1, c01);
            av = FloatVector.broadcast(SPECIES, a[a1 + kk]);
            c10 = av.fma(x0, c10);
            c11 = av.fma(x1, c11);
            av = FloatVector.broadcast(SPECIES, a[a2 + kk]);
            c20 = av.fma(x0, c20);
            c21 = av.fma(x1, c21);
            av = FloatVector.broadcast(SPECIES, a[a3 + kk]);
            c30 = av.fma(x0, c30);
            c31 = av.fma(x1, c31);
            av = FloatVector.broadcast(SPECIES, a[a4 + kk]);
            c40 = av.fma(x0, c40);
            c41 = av.fma(x1, c41);
            av = FloatVector.broadcast(SPECIES, a[a5 + kk]);
            c50 = av.fma(x0, c50);
            c51 = av.fma(x1, c51);
        }
        if (bias != null) {
            FloatVector bv0 = FloatVector.fromArray(SPECIES, bias, col);
            FloatVector bv1 = FloatVector.fromArray(SPECIES, bias, col + VL);
            c00 = c00.add(bv0);
            c01 = c01.add(bv1);
            c10 = c10.add(bv0);
            c11 = c11.add(bv1);
            c20 = c20.add(bv0);
            c21 = c21.add(bv1);
            c30 = c30.add(bv0);
            c31 = c31.add(bv1);
            c40 = c40.add(bv0);
            c41 = c41.add(bv1);
            c50 = c50.add(bv0);
            c51 = c51.add(bv1);
        }
        // Stored last row first: a duplicate row aliases the last valid one and must not overwrite it after.
        if (rows > 5) {
            c51.intoArray(d, d5 + VL);
            c50.intoArray(d, d5);
        }
        if (rows > 4) {
            c41.intoArray(d, d4 + VL);
            c40.intoArray(d, d4);
        }
        if (rows > 3) {
            c31.intoArray(d, d3 + VL);
            c30.intoArray(d, d3);
        }
        if (rows > 2) {
            c21.intoArray(d, d2 + VL);
            c20.intoArray(d, d2);
        }
        if (rows > 1) {
            c11.intoArray(d, d1 + VL);
            c10.intoArray(d, d1);
        }
        c01.intoArray(d, d0 + VL);
        c00.intoArray(d, d0);
    }

    /**
     * {@link #tile} for at most {@value #SHORT} rows: the same FMA chain per element, so the same bits; rows at or
     * beyond {@code rows} repeat the last valid row, as in {@link #tile}.
     */
    private static void tileShort(int i0, int rows, float[] a, int aOff, int lda, int k, float[] bd, int b0, int b1,
                                  float[] bias, int col, float[] d, int dOff, int ldd, boolean accumulate) {
        int last = rows - 1;
        int a0 = aOff + i0 * lda;
        int a1 = a0 + Math.min(1, last) * lda;
        int a2 = a0 + Math.min(2, last) * lda;
        int a3 = a0 + Math.min(3, last) * lda;
        int d0 = dOff;
        int d1 = dOff + Math.min(1, last) * ldd;
        int d2 = dOff + Math.min(2, last) * ldd;
        int d3 = dOff + Math.min(3, last) * ldd;
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31;
        if (accumulate) {
            c00 = FloatVector.fromArray(SPECIES, d, d0);
            c01 = FloatVector.fromArray(SPECIES, d, d0 + VL);
            c10 = FloatVector.fromArray(SPECIES, d, d1);
            c11 = FloatVector.fromArray(SPECIES, d, d1 + VL);
            c20 = FloatVector.fromArray(SPECIES, d, d2);
            c21 = FloatVector.fromArray(SPECIES, d, d2 + VL);
            c30 = FloatVector.fromArray(SPECIES, d, d3);
            c31 = FloatVector.fromArray(SPECIES, d, d3 + VL);
        } else {
            c00 = FloatVector.zero(SPECIES);
            c01 = c00; c10 = c00; c11 = c00; c20 = c00; c21 = c00; c30 = c00; c31 = c00;
        }
        for (int kk = 0; kk < k; kk++) {
            int bo = b0 + kk * NR;
            FloatVector x0 = FloatVector.fromArray(SPECIES, bd, bo);
            FloatVector x1 = FloatVector.fromArray(SPECIES, bd, ONE_PANEL ? bo + VL : b1 + kk * NR);
            FloatVector av = FloatVector.broadcast(SPECIES, a[a0 + kk]);
            c00 = av.fma(x0, c00);
            c01 = av.fma(x1, c01);
            av = FloatVector.broadcast(SPECIES, a[a1 + kk]);
            c10 = av.fma(x0, c10);
            c11 = av.fma(x1, c11);
            av = FloatVector.broadcast(SPECIES, a[a2 + kk]);
            c20 = av.fma(x0, c20);
            c21 = av.fma(x1, c21);
            av = FloatVector.broadcast(SPECIES, a[a3 + kk]);
            c30 = av.fma(x0, c30);
            c31 = av.fma(x1, c31);
        }
        if (bias != null) {
            FloatVector bv0 = FloatVector.fromArray(SPECIES, bias, col);
            FloatVector bv1 = FloatVector.fromArray(SPECIES, bias, col + VL);
            c00 = c00.add(bv0);
            c01 = c01.add(bv1);
            c10 = c10.add(bv0);
            c11 = c11.add(bv1);
            c20 = c20.add(bv0);
            c21 = c21.add(bv1);
            c30 = c30.add(bv0);
            c31 = c31.add(bv1);
        }
        if (rows > 3) {
            c31.intoArray(d, d3 + VL);
            c30.intoArray(d, d3);
        }
        if (rows > 2) {
            c21.intoArray(d, d2 + VL);
            c20.intoArray(d, d2);
        }
        if (rows > 1) {
            c11.intoArray(d, d1 + VL);
            c10.intoArray(d, d1);
        }
        c01.intoArray(d, d0 + VL);
        c00.intoArray(d, d0);
    }

    /**
     * {@link #tileShort} over two strips (four vectors of B at {@code b0 .. b3}): 16 accumulators, so every row of
     * A broadcast feeds four FMAs, and a 3-row tile keeps 12 FMA chains in flight instead of 6. The same chains as
     * {@link #tileShort}, so the same bits.
     */
    private static void tileShortPair(int i0, int rows, float[] a, int aOff, int lda, int k, float[] bd, int b0,
                                      int b1, int b2, int b3, float[] bias, int col, float[] d, int dOff, int ldd,
                                      boolean accumulate) {
        int last = rows - 1;
        int a0 = aOff + i0 * lda;
        int a1 = a0 + Math.min(1, last) * lda;
        int a2 = a0 + Math.min(2, last) * lda;
        int a3 = a0 + Math.min(3, last) * lda;
        int d0 = dOff;
        int d1 = dOff + Math.min(1, last) * ldd;
        int d2 = dOff + Math.min(2, last) * ldd;
        int d3 = dOff + Math.min(3, last) * ldd;
        FloatVector c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33;
        if (accumulate) {
            c00 = FloatVector.fromArray(SPECIES, d, d0);
            c01 = FloatVector.fromArray(SPECIES, d, d0 + VL);
            c02 = FloatVector.fromArray(SPECIES, d, d0 + 2 * VL);
            c03 = FloatVector.fromArray(SPECIES, d, d0 + 3 * VL);
            c10 = FloatVector.fromArray(SPECIES, d, d1);
            c11 = FloatVector.fromArray(SPECIES, d, d1 + VL);
            c12 = FloatVector.fromArray(SPECIES, d, d1 + 2 * VL);
            c13 = FloatVector.fromArray(SPECIES, d, d1 + 3 * VL);
            c20 = FloatVector.fromArray(SPECIES, d, d2);
            c21 = FloatVector.fromArray(SPECIES, d, d2 + VL);
            c22 = FloatVector.fromArray(SPECIES, d, d2 + 2 * VL);
            c23 = FloatVector.fromArray(SPECIES, d, d2 + 3 * VL);
            c30 = FloatVector.fromArray(SPECIES, d, d3);
            c31 = FloatVector.fromArray(SPECIES, d, d3 + VL);
            c32 = FloatVector.fromArray(SPECIES, d, d3 + 2 * VL);
            c33 = FloatVector.fromArray(SPECIES, d, d3 + 3 * VL);
        } else {
            c00 = FloatVector.zero(SPECIES);
            c01 = c00; c02 = c00; c03 = c00; c10 = c00; c11 = c00; c12 = c00; c13 = c00;
            c20 = c00; c21 = c00; c22 = c00; c23 = c00; c30 = c00; c31 = c00; c32 = c00; c33 = c00;
        }
        for (int kk = 0; kk < k; kk++) {
            int bo = kk * NR;
            FloatVector x0 = FloatVector.fromArray(SPECIES, bd, b0 + bo);
            FloatVector x1 = FloatVector.fromArray(SPECIES, bd, b1 + bo);
            FloatVector x2 = FloatVector.fromArray(SPECIES, bd, b2 + bo);
            FloatVector x3 = FloatVector.fromArray(SPECIES, bd, b3 + bo);
            FloatVector av = FloatVector.broadcast(SPECIES, a[a0 + kk]);
            c00 = av.fma(x0, c00);
            c01 = av.fma(x1, c01);
            c02 = av.fma(x2, c02);
            c03 = av.fma(x3, c03);
            av = FloatVector.broadcast(SPECIES, a[a1 + kk]);
            c10 = av.fma(x0, c10);
            c11 = av.fma(x1, c11);
            c12 = av.fma(x2, c12);
            c13 = av.fma(x3, c13);
            av = FloatVector.broadcast(SPECIES, a[a2 + kk]);
            c20 = av.fma(x0, c20);
            c21 = av.fma(x1, c21);
            c22 = av.fma(x2, c22);
            c23 = av.fma(x3, c23);
            av = FloatVector.broadcast(SPECIES, a[a3 + kk]);
            c30 = av.fma(x0, c30);
            c31 = av.fma(x1, c31);
            c32 = av.fma(x2, c32);
            c33 = av.fma(x3, c33);
        }
        if (bias != null) {
            FloatVector bv0 = FloatVector.fromArray(SPECIES, bias, col);
            FloatVector bv1 = FloatVector.fromArray(SPECIES, bias, col + VL);
            FloatVector bv2 = FloatVector.fromArray(SPECIES, bias, col + 2 * VL);
            FloatVector bv3 = FloatVector.fromArray(SPECIES, bias, col + 3 * VL);
            c00 = c00.add(bv0);
            c01 = c01.add(bv1);
            c02 = c02.add(bv2);
            c03 = c03.add(bv3);
            c10 = c10.add(bv0);
            c11 = c11.add(bv1);
            c12 = c12.add(bv2);
            c13 = c13.add(bv3);
            c20 = c20.add(bv0);
            c21 = c21.add(bv1);
            c22 = c22.add(bv2);
            c23 = c23.add(bv3);
            c30 = c30.add(bv0);
            c31 = c31.add(bv1);
            c32 = c32.add(bv2);
            c33 = c33.add(bv3);
        }
        if (rows > 3) {
            c33.intoArray(d, d3 + 3 * VL);
            c32.intoArray(d, d3 + 2 * VL);
            c31.intoArray(d, d3 + VL);
            c30.intoArray(d, d3);
        }
        if (rows > 2) {
            c23.intoArray(d, d2 + 3 * VL);
            c22.intoArray(d, d2 + 2 * VL);
            c21.intoArray(d, d2 + VL);
            c20.intoArray(d, d2);
        }
        if (rows > 1) {
            c13.intoArray(d, d1 + 3 * VL);
            c12.intoArray(d, d1 + 2 * VL);
            c11.intoArray(d, d1 + VL);
            c10.intoArray(d, d1);
        }
        c03.intoArray(d, d0 + 3 * VL);
        c02.intoArray(d, d0 + 2 * VL);
        c01.intoArray(d, d0 + VL);
        c00.intoArray(d, d0);
    }

    /**
     * Whether {@link #tilesTwo} serves B1 and B2: both without an edge strip, B2 no wider than B1.
     */
    static boolean fusesTwo(PackedMatrix b1, PackedMatrix b2) {
        return b1.n() % STRIP == 0 && b2.n() % STRIP == 0 && b2.n() <= b1.n();
    }

    /**
     * Rows {@code [rowFrom, rowTo)} of {@code C = (A1 · B1 + bias) + A2 · B2}, the second product only over
     * B2's columns (the first {@code b2.n()} of C): a recurrent cell's step, input projection and recurrent
     * product in one register tile. The bits are those of {@link #tiles} with B1 and the bias, then
     * {@link #tiles} accumulating A2 · B2 onto that (the sum of the first chain is rounded, the bias added as
     * {@link #finish} adds it, and the second chain starts from the result); only the store and reload of C
     * between the two is gone. Needs {@link #fusesTwo}.
     */
    static void tilesTwo(int rowFrom, int rowTo, float[] a1, int a1Off, int lda1, PackedMatrix b1, float[] bias,
                         float[] a2, int a2Off, int lda2, PackedMatrix b2, float[] c, int cOff, int ldc) {
        int k1 = b1.k();
        int k2 = b2.k();
        int strips = b1.n() / STRIP;
        int strips2 = b2.n() / STRIP;
        for (int ib = rowFrom; ib < rowTo; ib += MC) {
            int ie = Math.min(ib + MC, rowTo);
            for (int s = 0; s < strips; s++) {
                int j0 = s * STRIP;
                int p0 = base(j0, k1);
                int p1 = base(j0 + VL, k1);
                boolean second = s < strips2;
                int q0 = second ? base(j0, k2) : 0;
                int q1 = second ? base(j0 + VL, k2) : 0;
                for (int i0 = ib; i0 < ie; i0 += MR) {
                    int rows = Math.min(MR, ie - i0);
                    if (rows > SHORT) {
                        tileTwo(i0, rows, a1, a1Off, lda1, k1, b1.data(), p0, p1, bias, j0, a2, a2Off, lda2,
                                second ? k2 : 0, b2.data(), q0, q1, c, cOff + i0 * ldc + j0, ldc);
                    } else {
                        tileTwoShort(i0, rows, a1, a1Off, lda1, k1, b1.data(), p0, p1, bias, j0, a2, a2Off, lda2,
                                second ? k2 : 0, b2.data(), q0, q1, c, cOff + i0 * ldc + j0, ldc);
                    }
                }
            }
        }
    }

    /** {@link #tile} over two operand pairs with the bias between them (see {@link #tilesTwo}); never accumulates. */
    private static void tileTwo(int i0, int rows, float[] a, int aOff, int lda, int k, float[] bd, int b0, int b1,
                                float[] bias, int col, float[] e, int eOff, int lde, int k2, float[] rd, int r0, int r1,
                                float[] d, int dOff, int ldd) {
        int last = rows - 1;
        int a0 = aOff + i0 * lda;
        int a1 = a0 + Math.min(1, last) * lda;
        int a2 = a0 + Math.min(2, last) * lda;
        int a3 = a0 + Math.min(3, last) * lda;
        int a4 = a0 + Math.min(4, last) * lda;
        int a5 = a0 + Math.min(5, last) * lda;
        FloatVector c00 = FloatVector.zero(SPECIES);
        FloatVector c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        for (int kk = 0; kk < k; kk++) {
            int bo = b0 + kk * NR;
            FloatVector x0 = FloatVector.fromArray(SPECIES, bd, bo);
            FloatVector x1 = FloatVector.fromArray(SPECIES, bd, ONE_PANEL ? bo + VL : b1 + kk * NR);
            FloatVector av = FloatVector.broadcast(SPECIES, a[a0 + kk]);
            c00 = av.fma(x0, c00);
            c01 = av.fma(x1, c01);
            av = FloatVector.broadcast(SPECIES, a[a1 + kk]);
            c10 = av.fma(x0, c10);
            c11 = av.fma(x1, c11);
            av = FloatVector.broadcast(SPECIES, a[a2 + kk]);
            c20 = av.fma(x0, c20);
            c21 = av.fma(x1, c21);
            av = FloatVector.broadcast(SPECIES, a[a3 + kk]);
            c30 = av.fma(x0, c30);
            c31 = av.fma(x1, c31);
            av = FloatVector.broadcast(SPECIES, a[a4 + kk]);
            c40 = av.fma(x0, c40);
            c41 = av.fma(x1, c41);
            av = FloatVector.broadcast(SPECIES, a[a5 + kk]);
            c50 = av.fma(x0, c50);
            c51 = av.fma(x1, c51);
        }
        if (bias != null) {
            FloatVector bv0 = FloatVector.fromArray(SPECIES, bias, col);
            FloatVector bv1 = FloatVector.fromArray(SPECIES, bias, col + VL);
            c00 = c00.add(bv0);
            c01 = c01.add(bv1);
            c10 = c10.add(bv0);
            c11 = c11.add(bv1);
            c20 = c20.add(bv0);
            c21 = c21.add(bv1);
            c30 = c30.add(bv0);
            c31 = c31.add(bv1);
            c40 = c40.add(bv0);
            c41 = c41.add(bv1);
            c50 = c50.add(bv0);
            c51 = c51.add(bv1);
        }
        int e0 = eOff + i0 * lde;
        int e1 = e0 + Math.min(1, last) * lde;
        int e2 = e0 + Math.min(2, last) * lde;
        int e3 = e0 + Math.min(3, last) * lde;
        int e4 = e0 + Math.min(4, last) * lde;
        int e5 = e0 + Math.min(5, last) * lde;
        for (int kk = 0; kk < k2; kk++) {
            int bo = r0 + kk * NR;
            FloatVector x0 = FloatVector.fromArray(SPECIES, rd, bo);
            FloatVector x1 = FloatVector.fromArray(SPECIES, rd, ONE_PANEL ? bo + VL : r1 + kk * NR);
            FloatVector av = FloatVector.broadcast(SPECIES, e[e0 + kk]);
            c00 = av.fma(x0, c00);
            c01 = av.fma(x1, c01);
            av = FloatVector.broadcast(SPECIES, e[e1 + kk]);
            c10 = av.fma(x0, c10);
            c11 = av.fma(x1, c11);
            av = FloatVector.broadcast(SPECIES, e[e2 + kk]);
            c20 = av.fma(x0, c20);
            c21 = av.fma(x1, c21);
            av = FloatVector.broadcast(SPECIES, e[e3 + kk]);
            c30 = av.fma(x0, c30);
            c31 = av.fma(x1, c31);
            av = FloatVector.broadcast(SPECIES, e[e4 + kk]);
            c40 = av.fma(x0, c40);
            c41 = av.fma(x1, c41);
            av = FloatVector.broadcast(SPECIES, e[e5 + kk]);
            c50 = av.fma(x0, c50);
            c51 = av.fma(x1, c51);
        }
        int d0 = dOff;
        int d1 = dOff + Math.min(1, last) * ldd;
        int d2 = dOff + Math.min(2, last) * ldd;
        int d3 = dOff + Math.min(3, last) * ldd;
        int d4 = dOff + Math.min(4, last) * ldd;
        int d5 = dOff + Math.min(5, last) * ldd;
        // Stored last row first, as in tile: a duplicate row aliases the last valid one.
        if (rows > 5) {
            c51.intoArray(d, d5 + VL);
            c50.intoArray(d, d5);
        }
        if (rows > 4) {
            c41.intoArray(d, d4 + VL);
            c40.intoArray(d, d4);
        }
        if (rows > 3) {
            c31.intoArray(d, d3 + VL);
            c30.intoArray(d, d3);
        }
        if (rows > 2) {
            c21.intoArray(d, d2 + VL);
            c20.intoArray(d, d2);
        }
        if (rows > 1) {
            c11.intoArray(d, d1 + VL);
            c10.intoArray(d, d1);
        }
        c01.intoArray(d, d0 + VL);
        c00.intoArray(d, d0);
    }

    /** {@link #tileTwo} for at most {@value #SHORT} rows (see {@link #tileShort}); the same bits. */
    private static void tileTwoShort(int i0, int rows, float[] a, int aOff, int lda, int k, float[] bd, int b0,
                                     int b1, float[] bias, int col, float[] e, int eOff, int lde, int k2, float[] rd,
                                     int r0, int r1, float[] d, int dOff, int ldd) {
        int last = rows - 1;
        int a0 = aOff + i0 * lda;
        int a1 = a0 + Math.min(1, last) * lda;
        int a2 = a0 + Math.min(2, last) * lda;
        int a3 = a0 + Math.min(3, last) * lda;
        FloatVector c00 = FloatVector.zero(SPECIES);
        FloatVector c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        for (int kk = 0; kk < k; kk++) {
            int bo = b0 + kk * NR;
            FloatVector x0 = FloatVector.fromArray(SPECIES, bd, bo);
            FloatVector x1 = FloatVector.fromArray(SPECIES, bd, ONE_PANEL ? bo + VL : b1 + kk * NR);
            FloatVector av = FloatVector.broadcast(SPECIES, a[a0 + kk]);
            c00 = av.fma(x0, c00);
            c01 = av.fma(x1, c01);
            av = FloatVector.broadcast(SPECIES, a[a1 + kk]);
            c10 = av.fma(x0, c10);
            c11 = av.fma(x1, c11);
            av = FloatVector.broadcast(SPECIES, a[a2 + kk]);
            c20 = av.fma(x0, c20);
            c21 = av.fma(x1, c21);
            av = FloatVector.broadcast(SPECIES, a[a3 + kk]);
            c30 = av.fma(x0, c30);
            c31 = av.fma(x1, c31);
        }
        if (bias != null) {
            FloatVector bv0 = FloatVector.fromArray(SPECIES, bias, col);
            FloatVector bv1 = FloatVector.fromArray(SPECIES, bias, col + VL);
            c00 = c00.add(bv0);
            c01 = c01.add(bv1);
            c10 = c10.add(bv0);
            c11 = c11.add(bv1);
            c20 = c20.add(bv0);
            c21 = c21.add(bv1);
            c30 = c30.add(bv0);
            c31 = c31.add(bv1);
        }
        int e0 = eOff + i0 * lde;
        int e1 = e0 + Math.min(1, last) * lde;
        int e2 = e0 + Math.min(2, last) * lde;
        int e3 = e0 + Math.min(3, last) * lde;
        for (int kk = 0; kk < k2; kk++) {
            int bo = r0 + kk * NR;
            FloatVector x0 = FloatVector.fromArray(SPECIES, rd, bo);
            FloatVector x1 = FloatVector.fromArray(SPECIES, rd, ONE_PANEL ? bo + VL : r1 + kk * NR);
            FloatVector av = FloatVector.broadcast(SPECIES, e[e0 + kk]);
            c00 = av.fma(x0, c00);
            c01 = av.fma(x1, c01);
            av = FloatVector.broadcast(SPECIES, e[e1 + kk]);
            c10 = av.fma(x0, c10);
            c11 = av.fma(x1, c11);
            av = FloatVector.broadcast(SPECIES, e[e2 + kk]);
            c20 = av.fma(x0, c20);
            c21 = av.fma(x1, c21);
            av = FloatVector.broadcast(SPECIES, e[e3 + kk]);
            c30 = av.fma(x0, c30);
            c31 = av.fma(x1, c31);
        }
        int d0 = dOff;
        int d1 = dOff + Math.min(1, last) * ldd;
        int d2 = dOff + Math.min(2, last) * ldd;
        int d3 = dOff + Math.min(3, last) * ldd;
        if (rows > 3) {
            c31.intoArray(d, d3 + VL);
            c30.intoArray(d, d3);
        }
        if (rows > 2) {
            c21.intoArray(d, d2 + VL);
            c20.intoArray(d, d2);
        }
        if (rows > 1) {
            c11.intoArray(d, d1 + VL);
            c10.intoArray(d, d1);
        }
        c01.intoArray(d, d0 + VL);
        c00.intoArray(d, d0);
    }

    /**
     * Row 0 of A times strips {@code [s0, s1)} of B: the batch-1 path. It keeps {@value #MV_VECTORS} vectors of
     * C in flight (several panels streamed side by side) because one row offers no reuse of B, only latency to
     * hide; each lane still sums over kk in order, exactly as {@link #tile} does.
     *
     * <p>Where much of the row is zero ({@link NonzeroEntries}: 40 %), B large, constant and finite and C not
     * accumulated, the rows of B facing a zero are not read. The sums are the same bits: with B finite, a skipped
     * term is an exact zero, and a sum that starts at +0 only equals -0 after an underflow to -0, where adding
     * +0 would have made it +0; a group whose result holds a -0 is therefore computed again over every row.
     */
    static void matvec(float[] a, int aOff, PackedMatrix b, int s0, int s1, float[] bias, float[] c, int cOff,
                       boolean accumulate, Epilogue ep, float[] scratch, boolean descending) {
        int k = b.k();
        int n = b.n();
        boolean finish = bias != null || !ep.isNone();
        // Columns at or past colEnd belong to another thread's strips or lie beyond n: never stored.
        int colEnd = Math.min(s1 * STRIP, n);
        int first = s0 * STRIP;
        int group = MV_VECTORS * VL;
        int groups = (colEnd - first + group - 1) / group;
        // The aligned copy serves the kernel whose pairs lie in one panel (VL <= 8), which is every default width.
        MemorySegment aligned = ONE_PANEL ? b.aligned() : null;
        NonzeroEntries nonzero = aligned != null && !accumulate && b.allFinite()
                ? NonzeroEntries.ofSparseRow(a, aOff, b) : null;
        for (int g = 0; g < groups; g++) {
            int j0 = first + (descending ? groups - 1 - g : g) * group;
            int ci = cOff + j0;
            if (j0 + group <= colEnd) {
                matvecGroup(a, aOff, k, b, aligned, nonzero, j0, c, ci, accumulate);
                if (finish) {
                    finish(c, ci, 0, 1, MV_VECTORS, bias, j0, ep);
                }
            } else {
                if (accumulate) {
                    loadEdge(c, ci, j0, colEnd, scratch, 0, MV_VECTORS);
                }
                matvecGroup(a, aOff, k, b, aligned, nonzero, j0, scratch, 0, accumulate);
                finishEdge(scratch, 0, 1, MV_VECTORS, c, ci, 0, j0, colEnd, bias, ep);
            }
        }
    }

    /** One group of {@link #matvec}, from the memory and over the rows it has chosen. */
    private static void matvecGroup(float[] a, int aOff, int k, PackedMatrix b, MemorySegment aligned,
                                    NonzeroEntries nonzero, int j0, float[] d, int dOff, boolean accumulate) {
        int n = b.n();
        if (nonzero != null && matvecGroupSparse(nonzero.values(), nonzero.rowBytes(), nonzero.count(), k, aligned,
                j0, n, d, dOff)) {
            return;
        }
        if (aligned != null) {
            matvecGroup(a, aOff, k, aligned, j0, n, d, dOff, accumulate);
        } else {
            matvecGroup(a, aOff, k, b.data(), j0, n, d, dOff, accumulate);
        }
    }

    /**
     * Sums of {@value #MV_VECTORS} vectors of one row of C from column {@code j0}, stored at {@code d[dOff ..]}; a
     * vector wholly past the last panel computes a duplicate (see {@link #baseOr}) whose store the caller must
     * direct into scratch.
     */
    private static void matvecGroup(float[] a, int aOff, int k, float[] bd, int j0, int n, float[] d, int dOff,
                                    boolean accumulate) {
        int o0 = base(j0, k);
        int o1 = baseOr(j0 + VL, k, n, o0);
        int o2 = baseOr(j0 + 2 * VL, k, n, o0);
        int o3 = baseOr(j0 + 3 * VL, k, n, o0);
        int o4 = baseOr(j0 + 4 * VL, k, n, o0);
        int o5 = baseOr(j0 + 5 * VL, k, n, o0);
        int o6 = baseOr(j0 + 6 * VL, k, n, o0);
        int o7 = baseOr(j0 + 7 * VL, k, n, o0);
        FloatVector v0, v1, v2, v3, v4, v5, v6, v7;
        if (accumulate) {
            v0 = FloatVector.fromArray(SPECIES, d, dOff);
            v1 = FloatVector.fromArray(SPECIES, d, dOff + VL);
            v2 = FloatVector.fromArray(SPECIES, d, dOff + 2 * VL);
            v3 = FloatVector.fromArray(SPECIES, d, dOff + 3 * VL);
            v4 = FloatVector.fromArray(SPECIES, d, dOff + 4 * VL);
            v5 = FloatVector.fromArray(SPECIES, d, dOff + 5 * VL);
            v6 = FloatVector.fromArray(SPECIES, d, dOff + 6 * VL);
            v7 = FloatVector.fromArray(SPECIES, d, dOff + 7 * VL);
        } else {
            v0 = FloatVector.zero(SPECIES);
            v1 = v0; v2 = v0; v3 = v0; v4 = v0; v5 = v0; v6 = v0; v7 = v0;
        }
        for (int kk = 0; kk < k; kk++) {
            int bo = kk * NR;
            FloatVector av = FloatVector.broadcast(SPECIES, a[aOff + kk]);
            int p0 = o0 + bo;
            int p2 = o2 + bo;
            int p4 = o4 + bo;
            int p6 = o6 + bo;
            // A pair's second vector lies in its first's panel (ONE_PANEL): a constant distance that folds into
            // the load, so the loop keeps four offsets, not eight it had no registers for (spilled, reloaded).
            v0 = av.fma(FloatVector.fromArray(SPECIES, bd, p0), v0);
            v1 = av.fma(FloatVector.fromArray(SPECIES, bd, ONE_PANEL ? p0 + VL : o1 + bo), v1);
            v2 = av.fma(FloatVector.fromArray(SPECIES, bd, p2), v2);
            v3 = av.fma(FloatVector.fromArray(SPECIES, bd, ONE_PANEL ? p2 + VL : o3 + bo), v3);
            v4 = av.fma(FloatVector.fromArray(SPECIES, bd, p4), v4);
            v5 = av.fma(FloatVector.fromArray(SPECIES, bd, ONE_PANEL ? p4 + VL : o5 + bo), v5);
            v6 = av.fma(FloatVector.fromArray(SPECIES, bd, p6), v6);
            v7 = av.fma(FloatVector.fromArray(SPECIES, bd, ONE_PANEL ? p6 + VL : o7 + bo), v7);
        }
        v0.intoArray(d, dOff);
        v1.intoArray(d, dOff + VL);
        v2.intoArray(d, dOff + 2 * VL);
        v3.intoArray(d, dOff + 3 * VL);
        v4.intoArray(d, dOff + 4 * VL);
        v5.intoArray(d, dOff + 5 * VL);
        v6.intoArray(d, dOff + 6 * VL);
        v7.intoArray(d, dOff + 7 * VL);
    }

    /**
     * {@link #matvecGroup(float[], int, int, float[], int, int, float[], int, boolean)} reading B from its aligned
     * copy ({@link PackedMatrix#aligned}), pairs in one panel: the same FMA chains, so the same bits. Offsets are
     * bytes into the whole copy: slices per panel ran 1-2 % faster, but they are objects, and where C2 judged
     * the slicing call cold it left them allocated (40 B each, every call).
     */
    private static void matvecGroup(float[] a, int aOff, int k, MemorySegment bd, int j0, int n, float[] d,
                                    int dOff, boolean accumulate) {
        int first = base(j0, k);
        long o0 = 4L * first;
        long o2 = 4L * baseOr(j0 + 2 * VL, k, n, first);
        long o4 = 4L * baseOr(j0 + 4 * VL, k, n, first);
        long o6 = 4L * baseOr(j0 + 6 * VL, k, n, first);
        FloatVector v0, v1, v2, v3, v4, v5, v6, v7;
        if (accumulate) {
            v0 = FloatVector.fromArray(SPECIES, d, dOff);
            v1 = FloatVector.fromArray(SPECIES, d, dOff + VL);
            v2 = FloatVector.fromArray(SPECIES, d, dOff + 2 * VL);
            v3 = FloatVector.fromArray(SPECIES, d, dOff + 3 * VL);
            v4 = FloatVector.fromArray(SPECIES, d, dOff + 4 * VL);
            v5 = FloatVector.fromArray(SPECIES, d, dOff + 5 * VL);
            v6 = FloatVector.fromArray(SPECIES, d, dOff + 6 * VL);
            v7 = FloatVector.fromArray(SPECIES, d, dOff + 7 * VL);
        } else {
            v0 = FloatVector.zero(SPECIES);
            v1 = v0; v2 = v0; v3 = v0; v4 = v0; v5 = v0; v6 = v0; v7 = v0;
        }
        long second = 4L * VL;
        for (int kk = 0; kk < k; kk++) {
            long bo = kk * (4L * NR);
            FloatVector av = FloatVector.broadcast(SPECIES, a[aOff + kk]);
            long p0 = o0 + bo;
            long p2 = o2 + bo;
            long p4 = o4 + bo;
            long p6 = o6 + bo;
            v0 = av.fma(FloatVector.fromMemorySegment(SPECIES, bd, p0, NATIVE), v0);
            v1 = av.fma(FloatVector.fromMemorySegment(SPECIES, bd, p0 + second, NATIVE), v1);
            v2 = av.fma(FloatVector.fromMemorySegment(SPECIES, bd, p2, NATIVE), v2);
            v3 = av.fma(FloatVector.fromMemorySegment(SPECIES, bd, p2 + second, NATIVE), v3);
            v4 = av.fma(FloatVector.fromMemorySegment(SPECIES, bd, p4, NATIVE), v4);
            v5 = av.fma(FloatVector.fromMemorySegment(SPECIES, bd, p4 + second, NATIVE), v5);
            v6 = av.fma(FloatVector.fromMemorySegment(SPECIES, bd, p6, NATIVE), v6);
            v7 = av.fma(FloatVector.fromMemorySegment(SPECIES, bd, p6 + second, NATIVE), v7);
        }
        v0.intoArray(d, dOff);
        v1.intoArray(d, dOff + VL);
        v2.intoArray(d, dOff + 2 * VL);
        v3.intoArray(d, dOff + 3 * VL);
        v4.intoArray(d, dOff + 4 * VL);
        v5.intoArray(d, dOff + 5 * VL);
        v6.intoArray(d, dOff + 6 * VL);
        v7.intoArray(d, dOff + 7 * VL);
    }

    /**
     * {@link #matvecGroup(float[], int, int, MemorySegment, int, int, float[], int, boolean)} over the nonzero
     * entries of A only (values and their rows' byte offsets, {@code count} of them), C not accumulated: the same
     * FMA chains less their exact-zero terms. Returns false, its stores to be overwritten, when a sum is -0, the one
     * value a skipped term could have changed (to +0).
     */
    private static boolean matvecGroupSparse(float[] values, int[] rowBytes, int count, int k, MemorySegment bd,
                                             int j0, int n, float[] d, int dOff) {
        int first = base(j0, k);
        long o0 = 4L * first;
        long o2 = 4L * baseOr(j0 + 2 * VL, k, n, first);
        long o4 = 4L * baseOr(j0 + 4 * VL, k, n, first);
        long o6 = 4L * baseOr(j0 + 6 * VL, k, n, first);
        FloatVector v0 = FloatVector.zero(SPECIES);
        FloatVector v1 = v0, v2 = v0, v3 = v0, v4 = v0, v5 = v0, v6 = v0, v7 = v0;
        long second = 4L * VL;
        for (int t = 0; t < count; t++) {
            long bo = rowBytes[t];
            FloatVector av = FloatVector.broadcast(SPECIES, values[t]);
            long p0 = o0 + bo;
            long p2 = o2 + bo;
            long p4 = o4 + bo;
            long p6 = o6 + bo;
            v0 = av.fma(FloatVector.fromMemorySegment(SPECIES, bd, p0, NATIVE), v0);
            v1 = av.fma(FloatVector.fromMemorySegment(SPECIES, bd, p0 + second, NATIVE), v1);
            v2 = av.fma(FloatVector.fromMemorySegment(SPECIES, bd, p2, NATIVE), v2);
            v3 = av.fma(FloatVector.fromMemorySegment(SPECIES, bd, p2 + second, NATIVE), v3);
            v4 = av.fma(FloatVector.fromMemorySegment(SPECIES, bd, p4, NATIVE), v4);
            v5 = av.fma(FloatVector.fromMemorySegment(SPECIES, bd, p4 + second, NATIVE), v5);
            v6 = av.fma(FloatVector.fromMemorySegment(SPECIES, bd, p6, NATIVE), v6);
            v7 = av.fma(FloatVector.fromMemorySegment(SPECIES, bd, p6 + second, NATIVE), v7);
        }
        v0.intoArray(d, dOff);
        v1.intoArray(d, dOff + VL);
        v2.intoArray(d, dOff + 2 * VL);
        v3.intoArray(d, dOff + 3 * VL);
        v4.intoArray(d, dOff + 4 * VL);
        v5.intoArray(d, dOff + 5 * VL);
        v6.intoArray(d, dOff + 6 * VL);
        v7.intoArray(d, dOff + 7 * VL);
        // -0 is the only float whose bits equal Integer.MIN_VALUE.
        return !(isNegativeZero(v0).or(isNegativeZero(v1)).or(isNegativeZero(v2)).or(isNegativeZero(v3))
                .or(isNegativeZero(v4)).or(isNegativeZero(v5)).or(isNegativeZero(v6)).or(isNegativeZero(v7))
                .anyTrue());
    }

    private static VectorMask<Integer> isNegativeZero(FloatVector v) {
        return v.reinterpretAsInts().compare(VectorOperators.EQ, Integer.MIN_VALUE);
    }

    /** Whether {@link #finish} keeps the values in registers from bias to store: no activation, or Relu. */
    private static boolean inRegisters(Epilogue ep) {
        return ep.kind() == Epilogue.Kind.NONE || ep.kind() == Epilogue.Kind.RELU;
    }

    /**
     * Adds the bias (columns from {@code col}) and applies the epilogue to {@code vectors} full vectors of each of
     * {@code rows} rows of C, {@code ldc} apart.
     */
    private static void finish(float[] c, int ci, int ldc, int rows, int vectors, float[] bias, int col,
                               Epilogue ep) {
        // Relu, the common case, keeps the bias and the max in registers; the other activations run after the bias,
        // from C, in Epilogue.applyRows: a vector that reaches a call C2 leaves out of line is boxed on every
        // path (Epilogue.apply was seen so, even at 34 bytes: 177 KB per cifar_cnn call).
        if (ep.kind() == Epilogue.Kind.RELU) {
            for (int r = 0; r < rows; r++) {
                for (int v = 0; v < vectors; v++) {
                    int off = ci + r * ldc + v * VL;
                    FloatVector x = FloatVector.fromArray(SPECIES, c, off);
                    if (bias != null) {
                        x = x.add(FloatVector.fromArray(SPECIES, bias, col + v * VL));
                    }
                    x.max(0f).intoArray(c, off);
                }
            }
            return;
        }
        if (bias != null) {
            for (int r = 0; r < rows; r++) {
                for (int v = 0; v < vectors; v++) {
                    int off = ci + r * ldc + v * VL;
                    FloatVector.fromArray(SPECIES, c, off).add(FloatVector.fromArray(SPECIES, bias, col + v * VL))
                            .intoArray(c, off);
                }
            }
        }
        ep.applyRows(c, ci, ldc, rows, vectors);
    }

    /** Copies C's columns {@code [col, colEnd)} (at most {@code vectors} vectors) into scratch, zeros after. */
    private static void loadEdge(float[] c, int ci, int col, int colEnd, float[] scratch, int sOff, int vectors) {
        int len = Math.max(0, Math.min(vectors * VL, colEnd - col));
        System.arraycopy(c, ci, scratch, sOff, len);
        Arrays.fill(scratch, sOff + len, sOff + vectors * VL, 0f);
    }

    /**
     * Finishes {@code rows} rows of up to {@code vectors} vectors of sums each, {@code ss} apart in {@code scratch}
     * from 0, into C's columns {@code [col, colEnd)} of rows {@code ldc} apart from {@code ci} (+ bias, epilogue),
     * writing nothing at or past colEnd. The vector work stays inside scratch and only the valid lanes are copied
     * out: a masked load or store reaching past an array's end (C's last row, a bias of n floats) is not
     * intrinsified on AVX2, and its fallback allocated a vector, a mask and two arrays per call (~11 KB per LSTM
     * call at batch 64, docs/BENCHMARKS.md). The bias is added lane by lane, which is the same IEEE addition the
     * vector path performs.
     */
    private static void finishEdge(float[] scratch, int ss, int rows, int vectors, float[] c, int ci, int ldc,
                                   int col, int colEnd, float[] bias, Epilogue ep) {
        int width = Math.min(vectors * VL, colEnd - col);
        if (bias != null) {
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < width; j++) {
                    scratch[r * ss + j] += bias[col + j];
                }
            }
        }
        ep.applyRows(scratch, 0, ss, rows, (width + VL - 1) / VL);
        for (int r = 0; r < rows; r++) {
            System.arraycopy(scratch, r * ss, c, ci + r * ldc, width);
        }
    }
}
