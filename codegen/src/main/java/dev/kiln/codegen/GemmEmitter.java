package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.FusedOps;

/**
 * Gemm, FusedGemm and MatMul with constant weights as one call of the runtime's packed GEMM: the weights are
 * packed into panels at generation time (with ONNX's alpha folded in), a per-column C becomes the bias (times
 * beta), and a fused activation runs in the kernel's epilogue. MatMul with an input of rank > 2 treats its
 * leading dims as rows ({@code [N,T,K] x [K,M]} is one {@code N*T x K} GEMM).
 */
final class GemmEmitter implements KernelEmitter {
    static final ClassName GEMM = ClassName.get("dev.kiln.runtime", "Gemm");
    static final ClassName PACKED = ClassName.get("dev.kiln.runtime", "PackedMatrix");

    /**
     * MatMul takes any numeric element type (a scalar kernel off float32), as do MatMulInteger and QLinearMatMul
     * (uint8/int8); Gemm and the fused forms float32 only.
     */
    @Override
    public boolean typed(Node n) {
        return n.op().equals("MatMulInteger") || n.op().equals("QLinearMatMul")
                || n.op().equals("MatMul") && n.output(0).dtype() != dev.kiln.ir.DType.FLOAT32;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        boolean matMul = n.op().equals("MatMul");
        if (typed(n)) {
            return ActivationMatMulEmitter.typedMatMul(ctx);
        }
        Value a = n.input(0);
        Value b = n.input(1);
        boolean fused = n.op().equals(FusedOps.FUSED_GEMM);
        boolean packable = ctx.isConstant(b) && b.type().rank() == 2 && (matMul || ctx.intAttr("transA") == 0)
                && (matMul || !n.hasInput(2) || (ctx.isConstant(n.input(2)) && perColumn(ctx.constant(n.input(2)).shape(),
                        ctx.staticDim(n.output(0), 1))));
        if (!packable) {
            if (!ctx.isConstant(b) && RuntimeGemmEmitter.applies(ctx)) {
                return new RuntimeGemmEmitter().emit(ctx);
            }
            if (fused) {
                throw ctx.unsupported("a fused GEMM whose B operand is not a constant matrix");
            }
            return new ActivationMatMulEmitter().emit(ctx);
        }
        boolean transB = !matMul && ctx.intAttr("transB") != 0;
        float alpha = matMul ? 1f : ctx.floatAttr("alpha");
        float beta = matMul ? 1f : ctx.floatAttr("beta");
        Tensor w = ctx.constant(b);
        int k = transB ? w.dim(1) : w.dim(0);
        int cols = transB ? w.dim(0) : w.dim(1);
        int aRank = a.type().rank();
        if (matMul && aRank < 2) {
            throw ctx.unsupported("MatMul with a 1-D first operand");
        }
        Dim rows = Dim.of(1);
        for (int i = 0; i < aRank - 1; i++) {
            rows = rows.times(a.shape().dim(i));
        }
        float[] weights = w.toFloatArray();
        if (alpha != 1f) {
            for (int i = 0; i < weights.length; i++) {
                weights[i] *= alpha;
            }
        }
        String key = b.name() + (alpha != 1f ? "*" + alpha : "") + "@panel16";
        String panels = ctx.weight(key, dev.kiln.runtime.PackedMatrix.pack(weights, 0, k, cols, transB).data(), PACKED,
                Identifiers.camel(b.name(), "weight"), "$2T.wrap($1L, $3L, $4L)", PACKED, k, cols);
        CodeBlock bias = CodeBlock.of("null");
        if (!matMul && n.hasInput(2)) {
            Value c = n.input(2);
            float[] perColumn = perColumnBias(ctx, c, cols, beta);
            boolean raw = beta == 1f && ctx.constant(c).rank() == 1 && ctx.constant(c).size() == cols;
            bias = CodeBlock.of("this.$N", ctx.weight(raw ? c.name() : c.name() + "*" + beta + "@columns", perColumn));
        }
        String epilogue = Epilogues.field(ctx, n.op().equals(FusedOps.FUSED_GEMM));
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        return CodeBlock.builder()
                .addStatement("$T.gemm($L$L, $N, $L, $L, this.$N, $L, $N, $L, $L, false, $N)", GEMM,
                        ctx.threaded() ? "this.workers, " : "", ctx.dim(rows), x.array(), x.offset(), k, panels, bias,
                        y.array(), y.offset(), cols, epilogue)
                .build();
    }

    /** True for a C of shape [], [1], [n], [1, 1] or [1, n]: one value per column. */
    private static boolean perColumn(int[] s, int cols) {
        return s.length == 0 || (s.length == 1 && (s[0] == 1 || s[0] == cols))
                || (s.length == 2 && s[0] == 1 && (s[1] == 1 || s[1] == cols));
    }

    /** A C input broadcast along the rows ([], [1], [n] or [1, n]) times beta, as n floats. */
    private static float[] perColumnBias(EmitContext ctx, Value c, int cols, float beta) {
        if (!ctx.isConstant(c)) {
            throw ctx.unsupported("Gemm with a non-constant C");
        }
        Tensor t = ctx.constant(c);
        int[] s = t.shape();
        if (!perColumn(s, cols)) {
            throw ctx.unsupported("Gemm with C of shape " + java.util.Arrays.toString(s) + " (only per-column C)");
        }
        float[] out = new float[cols];
        for (int j = 0; j < cols; j++) {
            out[j] = (float) (beta * t.getDouble(t.size() == 1 ? 0 : j));
        }
        return out;
    }
}
