package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.DType;
import dev.kiln.ir.Node;

/**
 * GatherND and ScatterND with index tuples read at run time: each tuple of the last indices dim (after
 * batch_dims) addresses a contiguous slice of data; GatherND copies it out, ScatterND (after copying data to the
 * output) stores or combines (add, mul, max, min) the matching slice of updates into it. Negative indices count
 * from the end; an index out of range is an {@code IndexOutOfBoundsException} naming the node.
 */
final class NdIndexEmitter implements KernelEmitter {
    @Override
    public boolean typed(Node n) {
        DType t = n.input(0).dtype();
        boolean combines = n.op().equals("ScatterND") && !dev.kiln.ir.OpTable.get().stringAttr(n, "reduction").equals("none");
        return !combines || t.isFloat() || (t.isInteger() && t != DType.UINT64);
    }

    /** Gathers, and scatters that replace, copy strings; reductions compute. */
    @Override
    public boolean strings(Node n) {
        return n.op().equals("GatherND") || dev.kiln.ir.OpTable.get().stringAttr(n, "reduction").equals("none");
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        if (!typed(n)) {
            throw ctx.unsupported(n.op() + " with reduction on " + n.input(0).type());
        }
        boolean gather = n.op().equals("GatherND");
        int batchDims = gather ? Math.toIntExact(ctx.intAttr("batch_dims")) : 0;
        int dataRank = n.input(0).shape().rank();
        int q = n.input(1).shape().rank();
        int[] data = new int[dataRank];
        for (int d = 0; d < dataRank; d++) {
            data[d] = ctx.staticDim(n.input(0), d);
        }
        int k = ctx.staticDim(n.input(1), q - 1);
        int batch = 1;
        for (int d = 0; d < batchDims; d++) {
            batch *= data[d];
        }
        int batchBlock = 1;
        for (int d = batchDims; d < dataRank; d++) {
            batchBlock *= data[d];
        }
        int tuplesPerBatch = 1;
        for (int d = batchDims; d < q - 1; d++) {
            tuplesPerBatch *= ctx.staticDim(n.input(1), d);
        }
        int slice = 1;
        for (int d = batchDims + k; d < dataRank; d++) {
            slice *= data[d];
        }
        int[] strides = new int[dataRank];
        for (int d = dataRank - 1, s = 1; d >= 0; d--) {
            strides[d] = s;
            s *= data[d];
        }
        TensorRef x = ctx.in(0);
        TensorRef idx = ctx.in(1);
        TensorRef y = ctx.out(0);
        CodeBlock.Builder b = CodeBlock.builder();
        if (!gather) {
            b.addStatement("$T.arraycopy($N, $L, $N, $L, $L)", System.class, x.array(), x.offset(), y.array(), y.offset(),
                    ctx.count(n.output(0)));
        }
        String t = ctx.locals.newName("t");
        String off = ctx.locals.newName("off");
        String v = ctx.locals.newName("v");
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", t, t, batch * tuplesPerBatch, t);
        b.addStatement("int $N = $N / $L * $L", off, t, Math.max(tuplesPerBatch, 1), batchBlock);
        for (int j = 0; j < k; j++) {
            int a = batchDims + j;
            b.addStatement("long $N$L = $L", v, j, idx.at(CodeBlock.of("$N * $L + $L", t, k, j)));
            b.beginControlFlow("if ($N$L < 0)", v, j).addStatement("$N$L += $L", v, j, data[a]).endControlFlow();
            b.beginControlFlow("if ($N$L < 0 || $N$L >= $L)", v, j, v, j, data[a])
                    .addStatement("throw new $T($S + $L + $S)", IndexOutOfBoundsException.class,
                            ModelPlan.describe(n) + ": index ", idx.at(CodeBlock.of("$N * $L + $L", t, k, j)),
                            " is out of bounds for axis " + a + " of size " + data[a])
                    .endControlFlow();
            b.addStatement("$N += (int) $N$L * $L", off, v, j, strides[a]);
        }
        if (gather) {
            b.addStatement("$T.arraycopy($N, $L, $N, $L, $L)", System.class, x.array(), x.plus(CodeBlock.of("$N", off)),
                    y.array(), y.plus(CodeBlock.of("$N * $L", t, slice)), slice);
        } else {
            String s = ctx.locals.newName("s");
            CodeBlock target = y.at(CodeBlock.of("$N + $N", off, s));
            CodeBlock u = ctx.in(2).at(CodeBlock.of("$N * $L + $N", t, slice, s));
            ElementType et = EmitContext.type(n.output(0));
            String reduction = ctx.stringAttr("reduction");
            CodeBlock value = switch (reduction) {
                case "none" -> u;
                case "add" -> et.narrow(CodeBlock.of("$L + $L", target, u));
                case "mul" -> et.narrow(CodeBlock.of("$L * $L", target, u));
                case "max", "min" -> et.narrow(CodeBlock.of("$T.$N($L, $L)", Math.class, reduction, target, u));
                default -> throw ctx.unsupported("ScatterND reduction '" + reduction + "'");
            };
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", s, s, slice, s)
                    .addStatement("$L = $L", target, value).endControlFlow();
        }
        b.endControlFlow();
        return b.build();
    }
}
