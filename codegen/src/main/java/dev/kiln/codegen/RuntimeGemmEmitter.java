package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.FusedOps;

/**
 * Gemm, FusedGemm and float32 MatMul whose B operand changes at run time (a trainer's weights, gradients such as
 * {@code dW = dY^T X} and {@code dX = dY W}) as one call of the runtime's {@code UnpackedGemm}, which packs B
 * per call into the inference micro-kernel's panels: transA/transB, a per-column bias, and a fused activation
 * in the epilogue. An A of rank above 2 (MatMul, or a FusedGemm fused from one) is one GEMM whose rows are all of
 * A's leading dims, wherever the batch is among them ({@code [T,N,K] x [K,M]} is a {@code T*N x K} GEMM). Each
 * call site owns an {@code UnpackedGemm} (its packing scratch, reused every step).
 */
final class RuntimeGemmEmitter implements KernelEmitter {
    static final ClassName UNPACKED = ClassName.get("dev.kiln.runtime.train", "UnpackedGemm");

    /**
     * True for a float32 product of A (rank 2, or more without transA) by a 2-D B, with alpha 1 and, if any, a
     * per-column C held in an array of its own.
     */
    static boolean applies(EmitContext ctx) {
        Node n = ctx.node;
        boolean matMul = n.op().equals("MatMul");
        int aRank = n.input(0).type().rank();
        if (n.output(0).dtype() != DType.FLOAT32 || n.input(1).type().rank() != 2 || aRank < 2) {
            return false;
        }
        if (matMul) {
            return true;
        }
        if (aRank > 2 && ctx.intAttr("transA") != 0 || ctx.floatAttr("alpha") != 1f) {
            return false;
        }
        if (!n.hasInput(2)) {
            return true;
        }
        Shape c = n.input(2).shape();
        Shape y = n.output(0).shape();
        return ctx.floatAttr("beta") == 1f && c.rank() == 1 && c.dim(0).equals(y.dim(y.rank() - 1))
                && (ctx.isConstant(n.input(2)) || ConvEmitter.wholeArray(ctx, n.input(2)));
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        boolean matMul = n.op().equals("MatMul");
        boolean transA = !matMul && ctx.intAttr("transA") != 0;
        boolean transB = !matMul && ctx.intAttr("transB") != 0;
        Shape a = n.input(0).shape();
        Dim rows = Dim.of(1);
        for (int i = 0; i < a.rank() - 1; i++) {
            rows = rows.times(a.dim(i));
        }
        CodeBlock m = ctx.dim(transA ? a.dim(1) : rows);
        CodeBlock k = ctx.dim(a.dim(transA ? 0 : a.rank() - 1));
        Shape y = n.output(0).shape();
        CodeBlock cols = ctx.dim(y.dim(y.rank() - 1));
        TensorRef ar = ctx.in(0);
        TensorRef br = ctx.in(1);
        TensorRef yr = ctx.out(0);
        CodeBlock bias = !matMul && n.hasInput(2) ? CodeBlock.of("$L", ctx.ref(n.input(2)).array()) : CodeBlock.of("null");
        String gemm = ctx.derivedField("unpackedGemm:" + n.output(0).name(), UNPACKED,
                Identifiers.method(n) + "Gemm", CodeBlock.of("new $T()", UNPACKED));
        String epilogue = Epilogues.field(ctx, n.op().equals(FusedOps.FUSED_GEMM));
        return CodeBlock.builder()
                .addStatement("this.$N.gemm($L$L, $L, $L, $L, $L, $N, $L, $N, $L, $L, $N, $L, false, $N)", gemm,
                        ctx.threaded() ? "this.workers, " : "", transA, transB, m, cols, k, ar.array(), ar.offset(),
                        br.array(), br.offset(), bias, yr.array(), yr.offset(), epilogue)
                .build();
    }
}
