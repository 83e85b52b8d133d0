package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The vectorized Attention kernel against its scalar twin over layouts, caches, masks and modes; a few by hand. */
class AttentionTest {
    private final Random rnd = new Random(11);

    private static Attention.Plan plan(boolean packed, int hq, int hkv, int sq, int skv, int past, int d, int dv,
                                       float softcap, boolean causal, int mode, int[] mask) {
        return new Attention.Plan(packed, hq, hkv, sq, skv, past, d, dv, (float) (1 / Math.sqrt(d)), softcap, causal,
                mode, mask[0], mask[1], mask[2], mask[3], Attention.Rounding.NONE);
    }

    @Test
    void vectorKernelMatchesScalarTwin() {
        int batch = 2;
        int caseNo = 0;
        for (boolean packed : new boolean[] {false, true}) {
            for (int[] heads : new int[][] {{3, 3}, {6, 2}}) {
                for (int past : new int[] {0, 5}) {
                    for (int variant = 0; variant < 4; variant++) {
                        int sq = 3 + variant;
                        int skv = 7 + 3 * variant;
                        int d = variant % 2 == 0 ? 8 : 19;
                        int dv = variant % 2 == 0 ? 33 : 8;
                        int total = past + skv;
                        boolean causal = variant >= 2;
                        // variant 0: no mask; 1: float [sq, total - 2]; 2: bool [batch, 1, sq, total]; 3: lengths
                        int[] maskDims = variant == 1 ? new int[] {0, 0, total - 2, total - 2}
                                : variant == 2 ? new int[] {sq * total, 0, total, total} : new int[] {0, 0, 0, total};
                        Attention.Plan p = plan(packed, heads[0], heads[1], sq, skv, past, d, dv,
                                variant == 1 ? 2.5f : 0f, causal, variant, maskDims);
                        float[] q = Check.random(rnd, batch * heads[0] * sq * d);
                        float[] k = Check.random(rnd, batch * heads[1] * skv * d);
                        float[] v = Check.random(rnd, batch * heads[1] * skv * dv);
                        float[] pk = past == 0 ? null : Check.random(rnd, batch * heads[1] * past * d);
                        float[] pv = past == 0 ? null : Check.random(rnd, batch * heads[1] * past * dv);
                        float[] maskF = variant == 1 ? Check.random(rnd, sq * (total - 2)) : null;
                        boolean[] maskB = null;
                        if (variant == 2) {
                            maskB = new boolean[batch * sq * total];
                            for (int i = 0; i < maskB.length; i++) {
                                maskB[i] = rnd.nextInt(4) != 0;
                            }
                        }
                        long[] nonpad = variant == 3 ? new long[] {total - 4, total} : null;
                        float[] qkWant = new float[batch * heads[0] * sq * total];
                        float[] qkGot = new float[qkWant.length];
                        float[] yWant = new float[batch * heads[0] * sq * dv];
                        float[] yGot = new float[yWant.length];
                        float[] scratch = new float[p.scratchLength()];
                        Attention.attentionScalar(p, batch, q, 0, k, 0, v, 0, maskF, maskB, 0, pk, 0, pv, 0, nonpad, 0,
                                yWant, 0, qkWant, 0, scratch);
                        Attention.attention(p, batch, q, 0, k, 0, v, 0, maskF, maskB, 0, pk, 0, pv, 0, nonpad, 0,
                                yGot, 0, qkGot, 0, scratch);
                        String what = "case " + caseNo++ + " " + p;
                        Check.close(what + " y", yWant, yGot, 1e-5, 1e-5);
                        Check.close(what + " qk", qkWant, qkGot, 1e-5, 1e-5);
                    }
                }
            }
        }
    }

    @Test
    void threadedCallGivesTheSingleThreadBits() {
        // Large enough (8.4 MFLOP) to be split: 4 images x 4 key/value heads, two query heads each, causal, padded
        // keys, a float mask broadcast over the batch and a 16-key cache.
        int batch = 4;
        int sq = 32;
        int skv = 48;
        int past = 16;
        int total = past + skv;
        int d = 32;
        Attention.Plan p = plan(false, 8, 4, sq, skv, past, d, d, 0f, true, 3, new int[] {0, 0, total, total});
        float[] q = Check.random(rnd, batch * 8 * sq * d);
        float[] k = Check.random(rnd, batch * 4 * skv * d);
        float[] v = Check.random(rnd, batch * 4 * skv * d);
        float[] pk = Check.random(rnd, batch * 4 * past * d);
        float[] pv = Check.random(rnd, batch * 4 * past * d);
        float[] mask = Check.random(rnd, sq * total);
        long[] nonpad = {total, total - 5, total - 17, 3};
        float[] yWant = new float[batch * 8 * sq * d];
        float[] qkWant = new float[batch * 8 * sq * total];
        Attention.attention(p, batch, q, 0, k, 0, v, 0, mask, null, 0, pk, 0, pv, 0, nonpad, 0, yWant, 0, qkWant, 0,
                new float[p.scratchLength()]);
        for (int threads : new int[] {2, 3}) {
            float[] y = new float[yWant.length];
            float[] qk = new float[qkWant.length];
            float[][] scratch = new float[threads][p.scratchLength()];
            try (WorkerPool pool = WorkerPool.of(threads)) {
                Attention.attention(p, batch, q, 0, k, 0, v, 0, mask, null, 0, pk, 0, pv, 0, nonpad, 0, y, 0, qk, 0,
                        scratch, pool);
            }
            assertArrayEquals(yWant, y, threads + " threads: y");
            assertArrayEquals(qkWant, qk, threads + " threads: probabilities");
        }
    }

    @Test
    void fullyMaskedRowsAreZeroAndCachesAppend() {
        // 1 head, 2 queries, 1 cached + 2 new keys, head size 1; the bool mask hides every key from query 1.
        Attention.Plan p = plan(false, 1, 1, 2, 2, 1, 1, 1, 0f, false, 3, new int[] {0, 0, 3, 3});
        boolean[] mask = {true, true, true, false, false, false};
        float[] y = new float[2];
        float[] probs = new float[6];
        Attention.attention(p, 1, new float[] {0, 0}, 0, new float[] {1, 1}, 0, new float[] {4, 8}, 0, null, mask, 0,
                new float[] {1}, 0, new float[] {0}, 0, null, 0, y, 0, probs, 0, new float[p.scratchLength()]);
        assertArrayEquals(new float[] {4, 0}, y, 1e-6f);
        assertArrayEquals(new float[] {1 / 3f, 1 / 3f, 1 / 3f, 0, 0, 0}, probs, 1e-6f);
        float[] present = new float[3];
        Attention.appendCache(p, 1, true, new float[] {7}, 0, new float[] {4, 8}, 0, present, 0);
        assertArrayEquals(new float[] {7, 4, 8}, present);
    }

    @Test
    void rotaryEmbeddingRotatesInPlace() {
        RotaryEmbedding.Plan p = new RotaryEmbedding.Plan(false, 1, 1, 4, 4, false, 0, Attention.Rounding.NONE);
        float[] x = {1, 2, 3, 4};
        // cos 0, sin 1 turns pair (1, 3) by 90 degrees; cos 1, sin 0 leaves (2, 4).
        RotaryEmbedding.apply(p, 1, x, 0, new float[] {0, 1}, 0, new float[] {1, 0}, 0, null, 0, x, 0);
        assertArrayEquals(new float[] {-3, 2, 1, 4}, x);
        assertEquals(8, new Attention.Plan(true, 2, 1, 1, 1, 1, 3, 3, 1f, 0f, false, 0, 0, 0, 0, 2,
                Attention.Rounding.NONE).scratchLength());
    }
}
