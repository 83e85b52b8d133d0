package dev.kiln.runtime;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * ONNX Attention (opset 23/24) on float arrays: per batch entry and query head, the scores
 * {@code softcap(q · k_j * scale) + bias_j} over the key positions (cache first), a softmax, and
 * {@code y = sum_j p_j v_j}. Grouped-query heads share a key/value head; Q, K, V and Y are 4-D
 * {@code [batch, heads, seq, size]} or 3-D {@code [batch, seq, heads * size]} as {@link Plan#packedHeads} says; the
 * caches are always 4-D.
 *
 * <p>Both products are broadcast-FMA loops without horizontal reductions: each key/value head's keys are
 * transposed once into scratch ({@code [headSize][totalSeq]}) so a query row's scores are {@code headSize}
 * vector FMAs along the key axis, and the output row accumulates {@code p_j * v_j} along the value axis. Keys that
 * causal masking, padding ({@code nonpad_kv_seqlen}) or the mask's missing columns hide are never scored unless
 * qk_matmul_output needs their raw scores. A row whose every key is masked attends to nothing (zeros), as ONNX
 * asks. {@link #attentionScalar} is the same computation with plain loops, for tests.
 */
public final class Attention {
    private static final VectorSpecies<Float> S = GemmKernel.SPECIES;
    private static final int VL = S.length();

    private Attention() {}

    /** How results are rounded when stored: float32 as is, or to float16 / bfloat16 held in float arrays. */
    public enum Rounding { NONE, FLOAT16, BFLOAT16 }

    /**
     * Everything about one Attention node fixed at compile time.
     *
     * @param maskBatchStride the mask's strides broadcast to [batch, qHeads, qSeq, maskLen] (0 where broadcast)
     * @param maskLen the mask's last dim; key columns from it on count as masked
     * @param qkMode what qk_matmul_output holds: 0 scaled scores, 1 after softcap, 2 after the bias, 3 probabilities
     */
    public record Plan(boolean packedHeads, int qHeads, int kvHeads, int qSeq, int kvSeq, int pastSeq, int headSize,
                       int vHeadSize, float scale, float softcap, boolean causal, int qkMode, int maskBatchStride,
                       int maskHeadStride, int maskRowStride, int maskLen, Rounding rounding) {
        public Plan {
            if (qHeads < 1 || kvHeads < 1 || qHeads % kvHeads != 0 || qSeq < 0 || kvSeq < 0 || pastSeq < 0
                    || headSize < 1 || vHeadSize < 1 || qkMode < 0 || qkMode > 3) {
                throw new IllegalArgumentException("bad attention plan " + this);
            }
        }

        public int totalSeq() { return pastSeq + kvSeq; }

        /** Floats of scratch {@link #attention} needs: the transposed keys of one head and one row of scores. */
        public int scratchLength() { return headSize * totalSeq() + totalSeq(); }

        int headStride(int seq, int size) { return packedHeads ? size : seq * size; }

        int rowStride(int heads, int size) { return packedHeads ? heads * size : size; }
    }

    /**
     * present = past followed by the new keys (or values, {@code values} true) along the sequence, 4-D
     * {@code [batch, kvHeads, totalSeq, size]}; {@code past} is null when the plan has no cache.
     */
    public static void appendCache(Plan p, int batch, boolean values, float[] past, int pastOff, float[] fresh,
                                   int freshOff, float[] present, int presentOff) {
        int size = values ? p.vHeadSize() : p.headSize();
        int total = p.totalSeq();
        int freshBatch = p.kvHeads() * p.kvSeq() * size;
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < p.kvHeads(); h++) {
                int out = presentOff + (b * p.kvHeads() + h) * total * size;
                if (p.pastSeq() > 0) {
                    System.arraycopy(past, pastOff + (b * p.kvHeads() + h) * p.pastSeq() * size, present, out,
                            p.pastSeq() * size);
                }
                out += p.pastSeq() * size;
                int in = freshOff + b * freshBatch + h * p.headStride(p.kvSeq(), size);
                int rowStride = p.rowStride(p.kvHeads(), size);
                for (int s = 0; s < p.kvSeq(); s++) {
                    System.arraycopy(fresh, in + s * rowStride, present, out + s * size, size);
                }
            }
        }
    }

    /**
     * Y (and, when {@code qk} is not null, qk_matmul_output [batch, qHeads, qSeq, totalSeq]) of one Attention node.
     * Absent inputs are null: at most one of {@code maskF} (a float mask, added) and {@code maskB} (a bool mask,
     * false masks); {@code pastK}/{@code pastV} exactly when the plan has a cache; {@code nonpad} the number of
     * valid keys per batch entry. {@code scratch} holds at least {@link Plan#scratchLength} floats.
     */
    public static void attention(Plan p, int batch, float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                                 float[] maskF, boolean[] maskB, int maskOff, float[] pastK, int pastKOff,
                                 float[] pastV, int pastVOff, long[] nonpad, int nonpadOff, float[] y, int yOff,
                                 float[] qk, int qkOff, float[] scratch) {
        run(p, batch, q, qOff, k, kOff, v, vOff, maskF, maskB, maskOff, pastK, pastKOff, pastV, pastVOff, nonpad,
                nonpadOff, y, yOff, qk, qkOff, scratch, true);
    }

    /** {@link #attention} with plain scalar loops (double accumulation in the softmax), for tests. */
    public static void attentionScalar(Plan p, int batch, float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                                       float[] maskF, boolean[] maskB, int maskOff, float[] pastK, int pastKOff,
                                       float[] pastV, int pastVOff, long[] nonpad, int nonpadOff, float[] y, int yOff,
                                       float[] qk, int qkOff, float[] scratch) {
        run(p, batch, q, qOff, k, kOff, v, vOff, maskF, maskB, maskOff, pastK, pastKOff, pastV, pastVOff, nonpad,
                nonpadOff, y, yOff, qk, qkOff, scratch, false);
    }

    /**
     * {@link #attention} split over the threads of {@code pool} by (batch entry, key/value head): each such unit
     * (its keys transposed once, then its group of query heads) is computed whole by one thread in that thread's
     * {@code scratch} array, exactly as the single-thread call computes it, so the results are the same bits.
     * Calls with less than about {@value #PARALLEL_MIN_FLOPS} FLOPs, or a single unit, stay on the caller.
     */
    public static void attention(Plan p, int batch, float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                                 float[] maskF, boolean[] maskB, int maskOff, float[] pastK, int pastKOff,
                                 float[] pastV, int pastVOff, long[] nonpad, int nonpadOff, float[] y, int yOff,
                                 float[] qk, int qkOff, float[][] scratch, WorkerPool pool) {
        int units = batch * p.kvHeads();
        if (pool.threads() < 2 || units < 2 || flops(p, batch) < PARALLEL_MIN_FLOPS) {
            attention(p, batch, q, qOff, k, kOff, v, vOff, maskF, maskB, maskOff, pastK, pastKOff, pastV, pastVOff,
                    nonpad, nonpadOff, y, yOff, qk, qkOff, scratch[0]);
            return;
        }
        if (scratch.length < pool.threads()) {
            throw new IllegalArgumentException("attention: " + scratch.length + " scratch arrays for "
                    + pool.threads() + " threads");
        }
        Task task = TASKS.get();
        task.set(p, q, qOff, k, kOff, v, vOff, maskF, maskB, maskOff, pastK, pastKOff, pastV, pastVOff, nonpad,
                nonpadOff, y, yOff, qk, qkOff, scratch);
        try {
            pool.parallelForBalanced(units, task);
        } finally {
            task.clear();
        }
    }

    /** Below this many FLOPs (~20 µs) a call stays on the calling thread, as {@link Conv2d}'s do. */
    private static final double PARALLEL_MIN_FLOPS = 1_000_000;

    /** Multiply-adds of both products, counted as two FLOPs each, as if no key were masked. */
    private static double flops(Plan p, int batch) {
        return 2.0 * batch * p.qHeads() * p.qSeq() * p.totalSeq() * (p.headSize() + p.vHeadSize());
    }

    private static final ThreadLocal<Task> TASKS = ThreadLocal.withInitial(Task::new);

    /**
     * The operands of one threaded call, reused per calling thread (a capturing lambda would allocate per call);
     * an index is a unit {@code b * kvHeads + kvh}.
     */
    private static final class Task implements ThreadRangeBody {
        private Plan p;
        private float[] q, k, v, maskF, pastK, pastV, y, qk;
        private boolean[] maskB;
        private long[] nonpad;
        private int qOff, kOff, vOff, maskOff, pastKOff, pastVOff, nonpadOff, yOff, qkOff;
        private float[][] scratch;

        void set(Plan p, float[] q, int qOff, float[] k, int kOff, float[] v, int vOff, float[] maskF,
                 boolean[] maskB, int maskOff, float[] pastK, int pastKOff, float[] pastV, int pastVOff,
                 long[] nonpad, int nonpadOff, float[] y, int yOff, float[] qk, int qkOff, float[][] scratch) {
            this.p = p;
            this.q = q;
            this.qOff = qOff;
            this.k = k;
            this.kOff = kOff;
            this.v = v;
            this.vOff = vOff;
            this.maskF = maskF;
            this.maskB = maskB;
            this.maskOff = maskOff;
            this.pastK = pastK;
            this.pastKOff = pastKOff;
            this.pastV = pastV;
            this.pastVOff = pastVOff;
            this.nonpad = nonpad;
            this.nonpadOff = nonpadOff;
            this.y = y;
            this.yOff = yOff;
            this.qk = qk;
            this.qkOff = qkOff;
            this.scratch = scratch;
        }

        /** Drops the references so a finished call does not keep the caller's arrays alive. */
        void clear() {
            q = k = v = maskF = pastK = pastV = y = qk = null;
            maskB = null;
            nonpad = null;
            scratch = null;
        }

        @Override
        public void run(int thread, int from, int to) {
            units(p, from, to, q, qOff, k, kOff, v, vOff, maskF, maskB, maskOff, pastK, pastKOff, pastV, pastVOff,
                    nonpad, nonpadOff, y, yOff, qk, qkOff, scratch[thread], true);
        }
    }

    private static void run(Plan p, int batch, float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                            float[] maskF, boolean[] maskB, int maskOff, float[] pastK, int pastKOff, float[] pastV,
                            int pastVOff, long[] nonpad, int nonpadOff, float[] y, int yOff, float[] qk, int qkOff,
                            float[] scratch, boolean vector) {
        units(p, 0, batch * p.kvHeads(), q, qOff, k, kOff, v, vOff, maskF, maskB, maskOff, pastK, pastKOff, pastV,
                pastVOff, nonpad, nonpadOff, y, yOff, qk, qkOff, scratch, vector);
    }

    /** Units {@code [u0, u1)}, unit {@code b * kvHeads + kvh}: batch entry b's key/value head kvh and its query heads. */
    private static void units(Plan p, int u0, int u1, float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                              float[] maskF, boolean[] maskB, int maskOff, float[] pastK, int pastKOff, float[] pastV,
                              int pastVOff, long[] nonpad, int nonpadOff, float[] y, int yOff, float[] qk, int qkOff,
                              float[] scratch, boolean vector) {
        int total = p.totalSeq();
        int d = p.headSize();
        int dv = p.vHeadSize();
        int group = p.qHeads() / p.kvHeads();
        int scoresOff = d * total;
        boolean masked = maskF != null || maskB != null;
        for (int u = u0; u < u1; u++) {
            int b = u / p.kvHeads();
            int kvh = u % p.kvHeads();
            int valid = validKeys(p, nonpad, nonpadOff, b, masked);
            long offset = causalOffset(p, nonpad, nonpadOff, b);
            transposeKeys(p, b, kvh, k, kOff, pastK, pastKOff, scratch);
            for (int h = kvh * group; h < (kvh + 1) * group; h++) {
                for (int i = 0; i < p.qSeq(); i++) {
                    int limit = p.causal() ? (int) Math.max(0, Math.min(valid, i + offset + 1)) : valid;
                    int scored = qk != null && p.qkMode() <= 1 ? total : limit;
                    int qRow = qOff + b * p.qHeads() * p.qSeq() * d + h * p.headStride(p.qSeq(), d)
                            + i * p.rowStride(p.qHeads(), d);
                    int qkRow = qkOff + ((b * p.qHeads() + h) * p.qSeq() + i) * total;
                    scores(q, qRow, d, scratch, total, scored, scoresOff, p.scale(), vector);
                    if (qk != null && p.qkMode() == 0) {
                        store(p, scratch, scoresOff, qk, qkRow, total);
                    }
                    if (p.softcap() > 0) {
                        float c = p.softcap();
                        for (int j = 0; j < scored; j++) {
                            scratch[scoresOff + j] = c * (float) Math.tanh(scratch[scoresOff + j] / c);
                        }
                    }
                    if (qk != null && p.qkMode() == 1) {
                        store(p, scratch, scoresOff, qk, qkRow, total);
                    }
                    if (masked) {
                        int maskRow = maskOff + b * p.maskBatchStride() + h * p.maskHeadStride()
                                + i * p.maskRowStride();
                        for (int j = 0; j < limit; j++) {
                            if (maskF != null) {
                                scratch[scoresOff + j] += maskF[maskRow + j];
                            } else if (!maskB[maskRow + j]) {
                                scratch[scoresOff + j] = Float.NEGATIVE_INFINITY;
                            }
                        }
                    }
                    Arrays.fill(scratch, scoresOff + limit, scoresOff + total, Float.NEGATIVE_INFINITY);
                    if (qk != null && p.qkMode() == 2) {
                        store(p, scratch, scoresOff, qk, qkRow, total);
                    }
                    softmax(scratch, scoresOff, limit, total, vector);
                    if (qk != null && p.qkMode() == 3) {
                        store(p, scratch, scoresOff, qk, qkRow, total);
                    }
                    int yRow = yOff + b * p.qHeads() * p.qSeq() * dv + h * p.headStride(p.qSeq(), dv)
                            + i * p.rowStride(p.qHeads(), dv);
                    weightedValues(p, b, kvh, scratch, scoresOff, limit, v, vOff, pastV, pastVOff, y, yRow, vector);
                    if (p.rounding() != Rounding.NONE) {
                        round(p.rounding(), y, yRow, dv);
                    }
                }
            }
        }
    }

    /** Floats of scratch {@link #backward} needs: the transposed keys of one head and three rows of scores. */
    public static int backwardScratchLength(Plan p) {
        return p.headSize() * p.totalSeq() + 3 * p.totalSeq();
    }

    /**
     * The gradients of Y with respect to Q, K, V and (when {@code dMask} is not null) a float mask, for the plan's
     * node given dY (Y's layout): per query row the probabilities are recomputed exactly as {@link #attention}
     * computes them (same scores, softcap, bias and softmax code), then {@code dV_j += p_j dy},
     * {@code dz_j = p_j (dy · v_j - sum_k p_k dy · v_k)}, {@code dMask += dz} (over its broadcast strides),
     * {@code ds_j = dz_j * scale * (1 - tanh^2(raw_j / softcap))}, {@code dQ += sum_j ds_j k_j},
     * {@code dK_j += ds_j q}. dK and dV (Q's and K's layouts) sum over the query heads of a group and cover the new
     * keys only; the cache gets no gradient. Masked keys have {@code p_j = 0} and contribute nothing. dQ, dK, dV
     * and the {@code dMaskLength} floats of dMask are overwritten. {@code scratch} holds at least
     * {@link #backwardScratchLength} floats. The probabilities come from the forward's own vector code; the
     * products along the features (dy · v_j, dV_j and dK_j updates, dQ as the sum of ds_j-weighted key rows, the
     * same loop that sums Y's value rows) are vector FMAs. Single-threaded: a broadcast mask's gradient sums over
     * the units a split would hand to different threads.
     */
    public static void backward(Plan p, int batch, float[] dy, int dyOff, float[] q, int qOff, float[] k, int kOff,
                                float[] v, int vOff, float[] maskF, boolean[] maskB, int maskOff, float[] pastK,
                                int pastKOff, float[] pastV, int pastVOff, long[] nonpad, int nonpadOff, float[] dq,
                                int dqOff, float[] dk, int dkOff, float[] dv, int dvOff, float[] dMask, int dMaskOff,
                                int dMaskLength, float[] scratch) {
        int total = p.totalSeq();
        int d = p.headSize();
        int dvs = p.vHeadSize();
        int group = p.qHeads() / p.kvHeads();
        int probsOff = d * total;
        int rawOff = probsOff + total;
        int dsOff = rawOff + total;
        boolean masked = maskF != null || maskB != null;
        Arrays.fill(dq, dqOff, dqOff + batch * p.qHeads() * p.qSeq() * d, 0f);
        Arrays.fill(dk, dkOff, dkOff + batch * p.kvHeads() * p.kvSeq() * d, 0f);
        Arrays.fill(dv, dvOff, dvOff + batch * p.kvHeads() * p.kvSeq() * dvs, 0f);
        if (dMask != null) {
            Arrays.fill(dMask, dMaskOff, dMaskOff + dMaskLength, 0f);
        }
        int qRowStride = p.rowStride(p.qHeads(), d);
        int kRowStride = p.rowStride(p.kvHeads(), d);
        int vRowStride = p.rowStride(p.kvHeads(), dvs);
        for (int b = 0; b < batch; b++) {
            int valid = validKeys(p, nonpad, nonpadOff, b, masked);
            long offset = causalOffset(p, nonpad, nonpadOff, b);
            for (int kvh = 0; kvh < p.kvHeads(); kvh++) {
                transposeKeys(p, b, kvh, k, kOff, pastK, pastKOff, scratch);
                int kBase = b * p.kvHeads() * p.kvSeq() * d + kvh * p.headStride(p.kvSeq(), d);
                int vBase = b * p.kvHeads() * p.kvSeq() * dvs + kvh * p.headStride(p.kvSeq(), dvs);
                for (int h = kvh * group; h < (kvh + 1) * group; h++) {
                    for (int i = 0; i < p.qSeq(); i++) {
                        int limit = p.causal() ? (int) Math.max(0, Math.min(valid, i + offset + 1)) : valid;
                        int qRow = b * p.qHeads() * p.qSeq() * d + h * p.headStride(p.qSeq(), d) + i * qRowStride;
                        int yRow = b * p.qHeads() * p.qSeq() * dvs + h * p.headStride(p.qSeq(), dvs)
                                + i * p.rowStride(p.qHeads(), dvs);
                        scores(q, qOff + qRow, d, scratch, total, limit, probsOff, p.scale(), true);
                        System.arraycopy(scratch, probsOff, scratch, rawOff, limit);
                        if (p.softcap() > 0) {
                            float c = p.softcap();
                            for (int j = 0; j < limit; j++) {
                                scratch[probsOff + j] = c * (float) Math.tanh(scratch[probsOff + j] / c);
                            }
                        }
                        int maskRow = maskOff + b * p.maskBatchStride() + h * p.maskHeadStride()
                                + i * p.maskRowStride();
                        if (masked) {
                            for (int j = 0; j < limit; j++) {
                                if (maskF != null) {
                                    scratch[probsOff + j] += maskF[maskRow + j];
                                } else if (!maskB[maskRow + j]) {
                                    scratch[probsOff + j] = Float.NEGATIVE_INFINITY;
                                }
                            }
                        }
                        Arrays.fill(scratch, probsOff + limit, probsOff + total, Float.NEGATIVE_INFINITY);
                        softmax(scratch, probsOff, limit, total, true);
                        // dp_j = dy · v_j; dot = sum_j p_j dp_j; dV_j += p_j dy (new keys only).
                        double dot = 0;
                        for (int j = 0; j < limit; j++) {
                            float pj = scratch[probsOff + j];
                            boolean fresh = j >= p.pastSeq();
                            int vRow = fresh ? vOff + vBase + (j - p.pastSeq()) * vRowStride
                                    : pastVOff + ((b * p.kvHeads() + kvh) * p.pastSeq() + j) * dvs;
                            float dp = dot(dy, dyOff + yRow, fresh ? v : pastV, vRow, dvs);
                            if (fresh && pj != 0f) {
                                axpy(pj, dy, dyOff + yRow, dv, dvOff + vBase + (j - p.pastSeq()) * vRowStride, dvs);
                            }
                            scratch[dsOff + j] = dp;
                            dot += (double) pj * dp;
                        }
                        for (int j = 0; j < limit; j++) {
                            float dz = scratch[probsOff + j] * (scratch[dsOff + j] - (float) dot);
                            if (dMask != null) {
                                dMask[dMaskOff + (maskRow - maskOff) + j] += dz;
                            }
                            float ds = dz * p.scale();
                            if (p.softcap() > 0) {
                                float th = (float) Math.tanh(scratch[rawOff + j] / p.softcap());
                                ds *= 1 - th * th;
                            }
                            scratch[dsOff + j] = ds;
                        }
                        // dQ row = sum_j ds_j k_j, as Y's row sums p_j v_j; dK_j += ds_j q (new keys only).
                        weightedRows(p, b, kvh, d, scratch, dsOff, limit, k, kOff, pastK, pastKOff, dq, dqOff + qRow,
                                true);
                        for (int j = p.pastSeq(); j < limit; j++) {
                            float ds = scratch[dsOff + j];
                            if (ds != 0f) {
                                axpy(ds, q, qOff + qRow, dk, dkOff + kBase + (j - p.pastSeq()) * kRowStride, d);
                            }
                        }
                    }
                }
            }
        }
    }

    /** scratch[c * total + j] = key j of kv head {@code kvh} of batch entry b, feature c (cache rows first). */
    private static void transposeKeys(Plan p, int b, int kvh, float[] k, int kOff, float[] pastK, int pastKOff,
                                      float[] scratch) {
        int total = p.totalSeq();
        int d = p.headSize();
        for (int j = 0; j < p.pastSeq(); j++) {
            int row = pastKOff + ((b * p.kvHeads() + kvh) * p.pastSeq() + j) * d;
            for (int c = 0; c < d; c++) {
                scratch[c * total + j] = pastK[row + c];
            }
        }
        int base = kOff + b * p.kvHeads() * p.kvSeq() * d + kvh * p.headStride(p.kvSeq(), d);
        int rowStride = p.rowStride(p.kvHeads(), d);
        for (int s = 0; s < p.kvSeq(); s++) {
            int row = base + s * rowStride;
            for (int c = 0; c < d; c++) {
                scratch[c * total + p.pastSeq() + s] = k[row + c];
            }
        }
    }

    /** scores[0, n) = scale * (q row · key j) from the transposed keys [d][total]: broadcast FMAs along j. */
    private static void scores(float[] q, int qRow, int d, float[] kt, int total, int n, int out, float scale,
                               boolean vector) {
        Arrays.fill(kt, out, out + n, 0f);
        for (int c = 0; c < d; c++) {
            float qc = q[qRow + c];
            int col = c * total;
            int j = 0;
            if (vector) {
                FloatVector qv = FloatVector.broadcast(S, qc);
                for (int bound = S.loopBound(n); j < bound; j += VL) {
                    FloatVector acc = FloatVector.fromArray(S, kt, out + j);
                    qv.fma(FloatVector.fromArray(S, kt, col + j), acc).intoArray(kt, out + j);
                }
            }
            for (; j < n; j++) {
                kt[out + j] = Math.fma(qc, kt[col + j], kt[out + j]);
            }
        }
        for (int j = 0; j < n; j++) {
            kt[out + j] *= scale;
        }
    }

    /** In place softmax of scores[0, limit), zeros from limit to total; a row of only -inf becomes zeros. */
    private static void softmax(float[] s, int off, int limit, int total, boolean vector) {
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < limit; j++) {
            max = Math.max(max, s[off + j]);
        }
        if (max == Float.NEGATIVE_INFINITY) {
            Arrays.fill(s, off, off + total, 0f);
            return;
        }
        if (vector) {
            Softmax.softmax(1, limit, s, off, s, off);
        } else {
            Softmax.softmaxScalar(1, limit, s, off, s, off);
        }
        Arrays.fill(s, off + limit, off + total, 0f);
    }

    /** y row = sum over keys j < limit of p_j * value j: broadcast FMAs along the value features. */
    private static void weightedValues(Plan p, int b, int kvh, float[] probs, int pOff, int limit, float[] v, int vOff,
                                       float[] pastV, int pastVOff, float[] y, int yRow, boolean vector) {
        weightedRows(p, b, kvh, p.vHeadSize(), probs, pOff, limit, v, vOff, pastV, pastVOff, y, yRow, vector);
    }

    /**
     * y row = sum over positions j < limit of w_j * row j of kv head kvh, the rows (dv floats each, cache first)
     * being the values or, in the backward, the keys: broadcast FMAs along the features.
     */
    private static void weightedRows(Plan p, int b, int kvh, int dv, float[] probs, int pOff, int limit, float[] v,
                                     int vOff, float[] pastV, int pastVOff, float[] y, int yRow, boolean vector) {
        Arrays.fill(y, yRow, yRow + dv, 0f);
        int base = vOff + b * p.kvHeads() * p.kvSeq() * dv + kvh * p.headStride(p.kvSeq(), dv);
        int rowStride = p.rowStride(p.kvHeads(), dv);
        for (int j = 0; j < limit; j++) {
            float pj = probs[pOff + j];
            if (pj == 0f) {
                continue;
            }
            float[] src;
            int row;
            if (j < p.pastSeq()) {
                src = pastV;
                row = pastVOff + ((b * p.kvHeads() + kvh) * p.pastSeq() + j) * dv;
            } else {
                src = v;
                row = base + (j - p.pastSeq()) * rowStride;
            }
            int c = 0;
            if (vector) {
                FloatVector pv = FloatVector.broadcast(S, pj);
                for (int bound = S.loopBound(dv); c < bound; c += VL) {
                    pv.fma(FloatVector.fromArray(S, src, row + c), FloatVector.fromArray(S, y, yRow + c))
                            .intoArray(y, yRow + c);
                }
            }
            for (; c < dv; c++) {
                y[yRow + c] = Math.fma(pj, src[row + c], y[yRow + c]);
            }
        }
    }

    /** The dot product of {@code n} floats of a and b: lane-wise FMAs, then the lanes summed. */
    private static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc = FloatVector.zero(S);
        int c = 0;
        for (int bound = S.loopBound(n); c < bound; c += VL) {
            acc = FloatVector.fromArray(S, a, aOff + c).fma(FloatVector.fromArray(S, b, bOff + c), acc);
        }
        float sum = acc.lane(0); // lanes in order, no call: docs/KERNELS.md
        for (int l = 1; l < VL; l++) {
            sum += acc.lane(l);
        }
        for (; c < n; c++) {
            sum = Math.fma(a[aOff + c], b[bOff + c], sum);
        }
        return sum;
    }

    /** y[yOff..] += alpha * x[xOff..] over {@code n} floats. */
    private static void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        FloatVector av = FloatVector.broadcast(S, alpha);
        int c = 0;
        for (int bound = S.loopBound(n); c < bound; c += VL) {
            av.fma(FloatVector.fromArray(S, x, xOff + c), FloatVector.fromArray(S, y, yOff + c)).intoArray(y, yOff + c);
        }
        for (; c < n; c++) {
            y[yOff + c] = Math.fma(alpha, x[xOff + c], y[yOff + c]);
        }
    }

    private static void store(Plan p, float[] s, int off, float[] qk, int qkRow, int n) {
        System.arraycopy(s, off, qk, qkRow, n);
        if (p.rounding() != Rounding.NONE) {
            round(p.rounding(), qk, qkRow, n);
        }
    }

    private static void round(Rounding r, float[] a, int off, int n) {
        for (int i = off; i < off + n; i++) {
            a[i] = r == Rounding.FLOAT16 ? ElementMath.toFloat16(a[i]) : ElementMath.toBfloat16(a[i]);
        }
    }

    /** Keys image b's queries may see at most: its non-padded length, and the mask's columns when there is one. */
    private static int validKeys(Plan p, long[] nonpad, int nonpadOff, int b, boolean masked) {
        int valid = nonpad == null ? p.totalSeq()
                : (int) Math.max(0, Math.min(p.totalSeq(), nonpad[nonpadOff + b]));
        return masked ? Math.min(valid, p.maskLen()) : valid;
    }

    /**
     * Causal masking is aligned bottom-right: query i of image b sees keys j <= i + offset, the offset being the
     * cache's length, or without a cache the non-padded length minus the queries.
     */
    private static long causalOffset(Plan p, long[] nonpad, int nonpadOff, int b) {
        return nonpad != null && p.pastSeq() == 0 ? nonpad[nonpadOff + b] - p.qSeq() : p.pastSeq();
    }
}
