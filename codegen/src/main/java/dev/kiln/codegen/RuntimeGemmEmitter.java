package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.FusedOps;

/**
 * Gemm and FusedGemm whose B operand changes at run time (a trainer's weights, gradients such as
 * {@code dW = dY^T X} and {@code dX = dY W}) as one call of the runtime's {@code UnpackedGemm}, which packs B
 * per call into the inference micro-kernel's panels: transA/transB, a per-column bias, and a fused activation
 * in the epilogue. Each call site owns an {@code UnpackedGemm} (its packing scratch, reused every step).
 */
final class RuntimeGemmEmitter implements KernelEmitter {
    static final ClassName UNPACKED = ClassName.get("dev.kiln.runtime.train", "UnpackedGemm");

    /** True when the node is a 2-D Gemm with alpha 1 and, if any, a per-column C held in an array of its own. */
    static boolean applies(EmitContext ctx) {
        Node n = ctx.node;
        if (n.op().equals("MatMul") || n.input(0).type().rank() != 2 || n.input(1).type().rank() != 2
                || ctx.floatAttr("alpha") != 1f) {
            return false;
        }
        if (!n.hasInput(2)) {
            return true;
        }
        Shape c = n.input(2).shape();
        return ctx.floatAttr("beta") == 1f && c.rank() == 1 && c.dim(0).equals(n.output(0).shape().dim(1))
                && (ctx.isConstant(n.input(2)) || ConvEmitter.wholeArray(ctx, n.input(2)));
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        boolean transA = ctx.intAttr("transA") != 0;
        boolean transB = ctx.intAttr("transB") != 0;
        Value a = n.input(0);
        CodeBlock m = ctx.dim(a.shape().dim(transA ? 1 : 0));
        CodeBlock k = ctx.dim(a.shape().dim(transA ? 0 : 1));
        CodeBlock cols = ctx.dim(n.output(0).shape().dim(1));
        TensorRef ar = ctx.in(0);
        TensorRef br = ctx.in(1);
        TensorRef yr = ctx.out(0);
        CodeBlock bias = n.hasInput(2) ? CodeBlock.of("$L", ctx.ref(n.input(2)).array()) : CodeBlock.of("null");
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
