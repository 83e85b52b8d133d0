package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.DType;
import dev.kiln.ir.Node;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.AttentionGeometry;
import dev.kiln.ir.ops.AttentionGrads;

/**
 * Attention and RotaryEmbedding as calls of the runtime's {@code Attention} and {@code RotaryEmbedding} kernels,
 * with everything but the batch fixed at compile time in a {@code static final} plan per node shape. Attention's
 * present_key/present_value are one {@code appendCache} call each; absent optional operands are passed as
 * {@code null}; a class compiled for several threads splits an Attention node's (batch entry, key/value head)
 * units over its worker pool. float32, float16 and bfloat16 (held rounded in float arrays); a float64 node fails clearly.
 * Kiln's AttentionGrad (the backward autodiff emits for Attention) is one {@code Attention.backward} call on the
 * forward node's plan, float32 only (training classes compute in float32).
 */
final class AttentionEmitter implements KernelEmitter {
    static final ClassName ATTENTION = ClassName.get("dev.kiln.runtime", "Attention");
    static final ClassName PLAN = ATTENTION.nestedClass("Plan");
    static final ClassName ROUNDING = ATTENTION.nestedClass("Rounding");
    static final ClassName ROTARY = ClassName.get("dev.kiln.runtime", "RotaryEmbedding");
    static final ClassName ROTARY_PLAN = ROTARY.nestedClass("Plan");

    /** Float inputs of any float-array type, plus bool masks and int64 positions / lengths. */
    @Override
    public boolean typed(Node n) {
        return true;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        DType t = ctx.node.input(0).dtype();
        if (t == DType.FLOAT64) {
            throw ctx.unsupported(ctx.node.op() + " on float64");
        }
        return switch (ctx.node.op()) {
            case "Attention" -> attention(ctx, rounding(t));
            case AttentionGrads.ATTENTION_GRAD -> attentionGrad(ctx);
            default -> rotary(ctx, rounding(t));
        };
    }

    private static CodeBlock rounding(DType t) {
        String r = switch (t) {
            case FLOAT16 -> "FLOAT16";
            case BFLOAT16 -> "BFLOAT16";
            default -> "NONE";
        };
        return CodeBlock.of("$T.$L", ROUNDING, r);
    }

    /** The geometry of an Attention node whose Q, K, V, attn_mask and past_key are inputs {@code first}.. on. */
    private static AttentionGeometry geometry(EmitContext ctx, int first) {
        Node n = ctx.node;
        int[] q = dims(ctx, n.input(first));
        int[] k = dims(ctx, n.input(first + 1));
        int[] v = dims(ctx, n.input(first + 2));
        boolean cached = n.hasInput(first + 4);
        boolean packed = q.length == 3;
        return AttentionGeometry.of(packed ? (int) ctx.intAttr("q_num_heads") : q[1],
                packed ? (int) ctx.intAttr("kv_num_heads") : k[1], q, k, v,
                cached ? ctx.staticDim(n.input(first + 4), 2) : 0);
    }

    /** The static plan field of an Attention (or AttentionGrad) node; {@code first} is Q's input index. */
    private static String plan(EmitContext ctx, AttentionGeometry g, int first, int mode, CodeBlock rounding) {
        Node n = ctx.node;
        int[] mask = n.hasInput(first + 3) ? g.maskStrides(dims(ctx, n.input(first + 3)))
                : new int[] {0, 0, 0, g.totalSeq()};
        float scale = n.attributes().has("scale") ? ctx.floatAttr("scale") : (float) (1 / Math.sqrt(g.headSize()));
        CodeBlock init = CodeBlock.of("new $T($L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", PLAN,
                g.packedHeads(), g.qHeads(), g.kvHeads(), g.qSeq(), g.kvSeq(), g.pastSeq(), g.headSize(), g.vHeadSize(),
                ElementwiseEmitter.literal(scale), ElementwiseEmitter.literal(ctx.floatAttr("softcap")),
                ctx.intAttr("is_causal") != 0, mode, mask[0], mask[1], mask[2], mask[3], rounding);
        return ctx.staticField("attention:" + init, PLAN, "ATTENTION_H" + g.qHeads() + "X" + g.kvHeads() + "_Q"
                + g.qSeq() + "_KV" + g.totalSeq() + "_D" + g.headSize(), init);
    }

    /** AttentionGrad(dY, Q, K, V, mask?, past_key?, past_value?, nonpad?) -> dQ, dK, dV, dAttnMask?. */
    private static CodeBlock attentionGrad(EmitContext ctx) {
        Node n = ctx.node;
        if (n.input(1).dtype() != DType.FLOAT32) {
            throw ctx.unsupported(n.op() + " on " + n.input(1).dtype() + " (float32 only)");
        }
        AttentionGeometry g = geometry(ctx, 1);
        String plan = plan(ctx, g, 1, 0, rounding(DType.FLOAT32));
        TensorRef maskRef = n.hasInput(4) ? ctx.in(4) : null;
        boolean boolMask = maskRef != null && n.input(4).dtype() == DType.BOOL;
        TensorRef pastK = n.hasInput(5) ? ctx.in(5) : null;
        TensorRef pastV = n.hasInput(6) ? ctx.in(6) : null;
        TensorRef nonpad = n.hasInput(7) ? ctx.in(7) : null;
        boolean maskGrad = n.outputs().size() > 3 && n.hasOutput(3);
        TensorRef dMask = maskGrad ? ctx.out(3) : null;
        CodeBlock dMaskLength = maskGrad ? ctx.count(n.output(3)) : CodeBlock.of("0");
        String scratch = ctx.scratch(g.headSize() * g.totalSeq() + 3 * g.totalSeq());
        TensorRef dy = ctx.in(0);
        TensorRef q = ctx.in(1);
        TensorRef k = ctx.in(2);
        TensorRef v = ctx.in(3);
        TensorRef dq = ctx.out(0);
        TensorRef dk = ctx.out(1);
        TensorRef dv = ctx.out(2);
        return CodeBlock.builder()
                .add("// gradients of Attention's Y with respect to $L, $L, $L$L\n", n.input(1).name(), n.input(2).name(),
                        n.input(3).name(), maskGrad ? " and " + n.input(4).name() : "")
                .addStatement("$T.backward($N, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, "
                                + "$L, $L, $L, $L, $L, $L, $L, $L, $L, this.$N)", ATTENTION, plan,
                        ctx.dim(n.input(1).shape().dim(0)), dy.array(), dy.offset(), q.array(), q.offset(), k.array(),
                        k.offset(), v.array(), v.offset(), boolMask ? "null" : array(maskRef),
                        boolMask ? array(maskRef) : "null", offset(maskRef), array(pastK), offset(pastK), array(pastV),
                        offset(pastV), array(nonpad), offset(nonpad), dq.array(), dq.offset(), dk.array(), dk.offset(),
                        dv.array(), dv.offset(), array(dMask), offset(dMask), dMaskLength, scratch)
                .build();
    }

    private static CodeBlock attention(EmitContext ctx, CodeBlock rounding) {
        Node n = ctx.node;
        boolean cached = n.hasInput(4);
        AttentionGeometry g = geometry(ctx, 0);
        String plan = plan(ctx, g, 0, (int) ctx.intAttr("qk_matmul_output_mode"), rounding);
        CodeBlock batch = ctx.dim(n.input(0).shape().dim(0));
        CodeBlock.Builder b = CodeBlock.builder();
        for (int i = 1; i <= 2; i++) {
            if (n.outputs().size() > i && n.hasOutput(i)) {
                TensorRef past = cached ? ctx.in(3 + i) : null;
                TensorRef fresh = ctx.in(i);
                TensorRef present = ctx.out(i);
                b.add("// $L = $L followed by $L along the sequence\n", n.output(i).name(),
                        cached ? n.input(3 + i).name() : "(no cache)", n.input(i).name());
                b.addStatement("$T.appendCache($N, $L, $L, $L, $L, $N, $L, $N, $L)", ATTENTION, plan, batch, i == 2,
                        array(past), offset(past), fresh.array(), fresh.offset(), present.array(), present.offset());
            }
        }
        TensorRef maskRef = n.hasInput(3) ? ctx.in(3) : null;
        boolean boolMask = maskRef != null && n.input(3).dtype() == DType.BOOL;
        TensorRef pastK = cached ? ctx.in(4) : null;
        TensorRef pastV = cached ? ctx.in(5) : null;
        TensorRef nonpad = n.hasInput(6) ? ctx.in(6) : null;
        TensorRef qk = n.outputs().size() > 3 && n.hasOutput(3) ? ctx.out(3) : null;
        TensorRef qr = ctx.in(0);
        TensorRef kr = ctx.in(1);
        TensorRef vr = ctx.in(2);
        TensorRef y = ctx.out(0);
        // A threaded class splits the (batch entry, key/value head) units over its pool, one scratch per thread.
        int scratchLength = g.headSize() * g.totalSeq() + g.totalSeq();
        String scratch = ctx.threaded() ? ctx.scratchPerThread(scratchLength) : ctx.scratch(scratchLength);
        b.addStatement("$T.attention($N, $L, $N, $L, $N, $L, $N, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $N, $L, $L, $L, "
                        + "this.$N$L)", ATTENTION, plan, batch, qr.array(), qr.offset(), kr.array(), kr.offset(), vr.array(),
                vr.offset(), boolMask ? "null" : array(maskRef), boolMask ? array(maskRef) : "null", offset(maskRef),
                array(pastK), offset(pastK), array(pastV), offset(pastV), array(nonpad), offset(nonpad), y.array(),
                y.offset(), array(qk), offset(qk), scratch, ctx.threaded() ? ", this.workers" : "");
        return b.build();
    }

    private static CodeBlock rotary(EmitContext ctx, CodeBlock rounding) {
        Node n = ctx.node;
        int[] x = dims(ctx, n.input(0));
        boolean packed = x.length == 3;
        int heads = packed ? (int) ctx.intAttr("num_heads") : x[1];
        int seq = x[packed ? 1 : 2];
        int headSize = packed ? x[2] / heads : x[3];
        int rotary = ctx.intAttr("rotary_embedding_dim") == 0 ? headSize : (int) ctx.intAttr("rotary_embedding_dim");
        boolean positions = n.hasInput(3);
        if (positions && n.input(3).dtype() != DType.INT64) {
            throw ctx.unsupported("RotaryEmbedding's position_ids of type " + n.input(3).dtype() + " (int64 only)");
        }
        CodeBlock init = CodeBlock.of("new $T($L, $L, $L, $L, $L, $L, $L, $L)", ROTARY_PLAN, packed, heads, seq,
                headSize, rotary, ctx.intAttr("interleaved") != 0, positions ? ctx.staticDim(n.input(1), 0) : 0, rounding);
        String plan = ctx.staticField("rotary:" + init, ROTARY_PLAN, "ROTARY_H" + heads + "_S" + seq + "_D" + headSize
                + "_R" + rotary, init);
        TensorRef in = ctx.in(0);
        TensorRef cos = ctx.in(1);
        TensorRef sin = ctx.in(2);
        TensorRef pos = positions ? ctx.in(3) : null;
        TensorRef out = ctx.out(0);
        return CodeBlock.builder().addStatement("$T.apply($N, $L, $N, $L, $N, $L, $N, $L, $L, $L, $N, $L)", ROTARY, plan,
                ctx.dim(n.input(0).shape().dim(0)), in.array(), in.offset(), cos.array(), cos.offset(), sin.array(),
                sin.offset(), array(pos), offset(pos), out.array(), out.offset()).build();
    }

    /** v's dims, each static except a leading batch (given as -1, which no stride computation reads as 1). */
    private static int[] dims(EmitContext ctx, Value v) {
        int[] d = new int[v.shape().rank()];
        for (int i = 0; i < d.length; i++) {
            d[i] = i == 0 && !v.shape().dim(0).isStatic() ? -1 : ctx.staticDim(v, i);
        }
        return d;
    }

    private static String array(TensorRef r) {
        return r == null ? "null" : r.array();
    }

    private static CodeBlock offset(TensorRef r) {
        return r == null ? CodeBlock.of("0") : r.offset();
    }
}
