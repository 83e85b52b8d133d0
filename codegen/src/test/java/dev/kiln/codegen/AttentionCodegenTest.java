package dev.kiln.codegen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Generated Attention and RotaryEmbedding against the reference evaluator, with the batch dynamic: a decoder step
 * shaped like a real one (rotary positions, grouped-query heads in 3-D layout, a key/value cache, a bool padding
 * mask, causal masking, every optional output), and a 4-D float16 one with a float mask and padded keys.
 */
class AttentionCodegenTest {
    private static Tensor random(Random r, DType t, int... shape) {
        double[] v = new double[Tensor.sizeOf(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextDouble() * 2 - 1;
        }
        return Tensor.fromDoubles(t, shape, v);
    }

    private static void assertMatches(Graph g, Map<String, Tensor> feeds, double tol) {
        Map<String, Tensor> expected = ReferenceEvaluator.run(g, feeds);
        Map<String, Tensor> actual = GeneratedExecutor.compile(g, 1).run(feeds);
        assertEquals(expected.keySet(), actual.keySet());
        // A class compiled for two threads splits the Attention calls it may split, with the same bits.
        Map<String, Tensor> threaded = GeneratedExecutor.compile(g, 2).run(feeds);
        actual.forEach((name, a) -> assertEquals(a, threaded.get(name), name + " with 2 threads"));
        expected.forEach((name, e) -> {
            Tensor a = actual.get(name);
            assertEquals(e.type(), a.type(), name);
            for (int i = 0; i < e.size(); i++) {
                assertEquals(e.getDouble(i), a.getDouble(i), tol * Math.max(1, Math.abs(e.getDouble(i))),
                        name + " element " + i);
            }
        });
    }

    @Test
    void decoderStepWithRotaryPositionsCacheAndMask() {
        int hq = 4;
        int hkv = 2;
        int d = 8;
        int past = 5;
        int seq = 3;
        GraphBuilder b = new GraphBuilder("decoder");
        Value q = b.input("q", DType.FLOAT32, Shape.parse("N," + seq + "," + hq * d));
        Value k = b.input("k", DType.FLOAT32, Shape.parse("N," + seq + "," + hkv * d));
        Value v = b.input("v", DType.FLOAT32, Shape.parse("N," + seq + "," + hkv * 6));
        Value positions = b.input("positions", DType.INT64, Shape.parse("N," + seq));
        Value mask = b.input("mask", DType.BOOL, Shape.parse("N,1," + seq + "," + (past + seq)));
        Value pastK = b.input("past_k", DType.FLOAT32, Shape.parse("N," + hkv + "," + past + "," + d));
        Value pastV = b.input("past_v", DType.FLOAT32, Shape.parse("N," + hkv + "," + past + ",6"));
        Random r = new Random(5);
        Value cos = b.initializer("cos", random(r, DType.FLOAT32, 16, d / 2));
        Value sin = b.initializer("sin", random(r, DType.FLOAT32, 16, d / 2));
        Value qr = b.op("RotaryEmbedding").inputs(q, cos, sin, positions).attr("num_heads", (long) hq)
                .outputNames("q_rot").output();
        Value kr = b.op("RotaryEmbedding").inputs(k, cos, sin, positions).attr("num_heads", (long) hkv)
                .attr("interleaved", 1L).outputNames("k_rot").output();
        List<Value> out = b.op("Attention").name("attn").inputs(qr, kr, v, mask, pastK, pastV)
                .attr("q_num_heads", (long) hq).attr("kv_num_heads", (long) hkv).attr("is_causal", 1L)
                .attr("softcap", 3f).attr("qk_matmul_output_mode", 2L)
                .outputNames("y", "present_k", "present_v", "scores").build();
        out.forEach(b::output);
        Graph g = b.build();
        int batch = 3;
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        feeds.put("q", random(r, DType.FLOAT32, batch, seq, hq * d));
        feeds.put("k", random(r, DType.FLOAT32, batch, seq, hkv * d));
        feeds.put("v", random(r, DType.FLOAT32, batch, seq, hkv * 6));
        long[] pos = new long[batch * seq];
        for (int i = 0; i < pos.length; i++) {
            pos[i] = past + i % seq;
        }
        feeds.put("positions", Tensor.wrapLongs(DType.INT64, new int[] {batch, seq}, pos));
        boolean[] m = new boolean[batch * seq * (past + seq)];
        for (int i = 0; i < m.length; i++) {
            // Batch entry 0's first query is fully masked: its output row must be zeros, as in the evaluator.
            m[i] = i >= past + seq && r.nextInt(5) != 0;
        }
        feeds.put("mask", Tensor.wrapBools(new int[] {batch, 1, seq, past + seq}, m));
        feeds.put("past_k", random(r, DType.FLOAT32, batch, hkv, past, d));
        feeds.put("past_v", random(r, DType.FLOAT32, batch, hkv, past, 6));
        assertMatches(g, feeds, 1e-5);
    }

    @Test
    void float16WithFloatMaskAndPaddedKeys() {
        GraphBuilder b = new GraphBuilder("padded");
        Value q = b.input("q", DType.FLOAT16, Shape.parse("N,2,4,8"));
        Value k = b.input("k", DType.FLOAT16, Shape.parse("N,2,6,8"));
        Value v = b.input("v", DType.FLOAT16, Shape.parse("N,2,6,8"));
        Value mask = b.input("mask", DType.FLOAT16, Shape.parse("4,5"));
        Value lengths = b.input("lengths", DType.INT64, Shape.parse("N"));
        Value y = b.op("Attention").inputs(q, k, v, mask, Value.ABSENT, Value.ABSENT, lengths).attr("scale", 0.25f)
                .outputNames("y").output();
        b.output(y);
        Random r = new Random(9);
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        feeds.put("q", random(r, DType.FLOAT16, 2, 2, 4, 8));
        feeds.put("k", random(r, DType.FLOAT16, 2, 2, 6, 8));
        feeds.put("v", random(r, DType.FLOAT16, 2, 2, 6, 8));
        feeds.put("mask", random(r, DType.FLOAT16, 4, 5));
        feeds.put("lengths", Tensor.ofInt64s(3, 6));
        // float16 results: one rounding apart at most (the evaluator rounds a double, the kernel a float).
        assertMatches(b.build(), feeds, 1e-3);
    }

    @Test
    void causalGroupedHeadsLargeEnoughToSplitOverThreads() {
        // 4 images x 4 key/value heads of 2 query heads, 32 queries over 48 keys of 32 features: 6.3 MFLOP, above
        // the kernel's threading threshold, so the two-thread class really splits it.
        GraphBuilder b = new GraphBuilder("grouped");
        Value q = b.input("q", DType.FLOAT32, Shape.parse("N,8,32,32"));
        Value k = b.input("k", DType.FLOAT32, Shape.parse("N,4,48,32"));
        Value v = b.input("v", DType.FLOAT32, Shape.parse("N,4,48,32"));
        Value y = b.op("Attention").inputs(q, k, v).attr("is_causal", 1L).outputNames("y").output();
        b.output(y);
        Random r = new Random(5);
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        feeds.put("q", random(r, DType.FLOAT32, 4, 8, 32, 32));
        feeds.put("k", random(r, DType.FLOAT32, 4, 4, 48, 32));
        feeds.put("v", random(r, DType.FLOAT32, 4, 4, 48, 32));
        assertMatches(b.build(), feeds, 1e-5);
    }

    @Test
    void float64NamesTheNode() {
        GraphBuilder b = new GraphBuilder("wide");
        Value q = b.input("q", DType.FLOAT64, Shape.parse("1,1,2,4"));
        b.output(b.op("Attention").name("attn64").inputs(q, q, q).outputNames("y").output());
        UnsupportedOpException e = assertThrows(UnsupportedOpException.class,
                () -> GeneratedExecutor.compile(b.build(), 1));
        assertTrue(e.getMessage().contains("attn64") && e.getMessage().contains("float64"), e.getMessage());
    }

    /**
     * Kiln's AttentionGrad (the backward autodiff emits for Attention) against its reference semantics: 3-D
     * grouped-query heads with a cache (no gradient), causal masking after it, softcap, a bool mask with a fully
     * masked row (zero gradients) and a dynamic batch.
     */
    @Test
    void attentionGradPackedWithCacheBoolMaskAndSoftcap() {
        int hq = 4;
        int hkv = 2;
        int d = 8;
        int past = 2;
        int seq = 3;
        GraphBuilder b = new GraphBuilder("attention_grad");
        Value dy = b.input("dy", DType.FLOAT32, Shape.parse("N," + seq + "," + hq * 6));
        Value q = b.input("q", DType.FLOAT32, Shape.parse("N," + seq + "," + hq * d));
        Value k = b.input("k", DType.FLOAT32, Shape.parse("N," + seq + "," + hkv * d));
        Value v = b.input("v", DType.FLOAT32, Shape.parse("N," + seq + "," + hkv * 6));
        Value mask = b.input("mask", DType.BOOL, Shape.parse("N,1," + seq + "," + (past + seq)));
        Value pastK = b.input("past_k", DType.FLOAT32, Shape.parse("N," + hkv + "," + past + "," + d));
        Value pastV = b.input("past_v", DType.FLOAT32, Shape.parse("N," + hkv + "," + past + ",6"));
        List<Value> out = b.op(dev.kiln.ir.ops.AttentionGrads.ATTENTION_GRAD).domain(dev.kiln.ir.OpTable.KILN_DOMAIN)
                .inputs(dy, q, k, v, mask, pastK, pastV).attr("q_num_heads", (long) hq).attr("kv_num_heads", (long) hkv)
                .attr("is_causal", 1L).attr("softcap", 2f).outputNames("dq", "dk", "dv").build();
        out.forEach(b::output);
        int batch = 3;
        Random r = new Random(11);
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        feeds.put("dy", random(r, DType.FLOAT32, batch, seq, hq * 6));
        feeds.put("q", random(r, DType.FLOAT32, batch, seq, hq * d));
        feeds.put("k", random(r, DType.FLOAT32, batch, seq, hkv * d));
        feeds.put("v", random(r, DType.FLOAT32, batch, seq, hkv * 6));
        boolean[] m = new boolean[batch * seq * (past + seq)];
        for (int i = 0; i < m.length; i++) {
            m[i] = r.nextInt(4) != 0;
        }
        java.util.Arrays.fill(m, past + seq, 2 * (past + seq), false);
        feeds.put("mask", Tensor.wrapBools(new int[] {batch, 1, seq, past + seq}, m));
        feeds.put("past_k", random(r, DType.FLOAT32, batch, hkv, past, d));
        feeds.put("past_v", random(r, DType.FLOAT32, batch, hkv, past, 6));
        assertMatches(b.build(), feeds, 1e-5);
    }

    /** AttentionGrad in 4-D with a broadcast float mask shorter than the keys (its gradient too) and padded keys. */
    @Test
    void attentionGradWithFloatMaskGradientAndPaddedKeys() {
        GraphBuilder b = new GraphBuilder("attention_grad_mask");
        Value dy = b.input("dy", DType.FLOAT32, Shape.parse("N,2,4,3"));
        Value q = b.input("q", DType.FLOAT32, Shape.parse("N,2,4,8"));
        Value k = b.input("k", DType.FLOAT32, Shape.parse("N,1,6,8"));
        Value v = b.input("v", DType.FLOAT32, Shape.parse("N,1,6,3"));
        Value mask = b.input("mask", DType.FLOAT32, Shape.parse("2,4,5"));
        Value lengths = b.input("lengths", DType.INT64, Shape.parse("N"));
        List<Value> out = b.op(dev.kiln.ir.ops.AttentionGrads.ATTENTION_GRAD).domain(dev.kiln.ir.OpTable.KILN_DOMAIN)
                .inputs(dy, q, k, v, mask, Value.ABSENT, Value.ABSENT, lengths).attr("scale", 0.3f)
                .outputNames("dq", "dk", "dv", "dmask").build();
        out.forEach(b::output);
        Random r = new Random(12);
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        feeds.put("dy", random(r, DType.FLOAT32, 2, 2, 4, 3));
        feeds.put("q", random(r, DType.FLOAT32, 2, 2, 4, 8));
        feeds.put("k", random(r, DType.FLOAT32, 2, 1, 6, 8));
        feeds.put("v", random(r, DType.FLOAT32, 2, 1, 6, 3));
        feeds.put("mask", random(r, DType.FLOAT32, 2, 4, 5));
        feeds.put("lengths", Tensor.ofInt64s(4, 6));
        assertMatches(b.build(), feeds, 1e-5);
    }
}
