package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Value;

/**
 * {@code dev.kiln.PackedGemm}: weights already in the kernel's panel layout (the weight-layout pass did the
 * packing), so they go to the weights resource as they are and the call is one {@code Gemm.gemm}.
 */
final class PackedGemmEmitter implements KernelEmitter {
    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        int k = (int) ctx.intAttr("k");
        int cols = (int) ctx.intAttr("n");
        Value a = n.input(0);
        Value b = n.input(1);
        if (!ctx.isConstant(b)) {
            throw ctx.unsupported("PackedGemm with weights computed at run time");
        }
        ClassName packed = GemmEmitter.PACKED;
        String panels = ctx.weight(b.name(), ctx.constant(b).toFloatArray(), packed,
                Identifiers.camel(b.name().replaceAll("_panels$", ""), "weight"), "$2T.wrap($1L, $3L, $4L)", packed, k, cols);
        CodeBlock bias = n.hasInput(2) ? CodeBlock.of("$L", ctx.ref(n.input(2)).array()) : CodeBlock.of("null");
        Dim rows = Dim.of(1);
        for (int i = 0; i < a.type().rank() - 1; i++) {
            rows = rows.times(a.shape().dim(i));
        }
        String epilogue = Epilogues.field(ctx, true);
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        return CodeBlock.builder()
                .addStatement("$T.gemm($L$L, $N, $L, $L, this.$N, $L, $N, $L, $L, false, $N)", GemmEmitter.GEMM,
                        ctx.threaded() ? "this.workers, " : "", ctx.dim(rows), x.array(), x.offset(), k, panels, bias,
                        y.array(), y.offset(), cols, epilogue)
                .build();
    }
}
