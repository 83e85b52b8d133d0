package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * MatMul and Gemm whose B operand is computed at run time (attention scores, {@code torch.mm} of two inputs),
 * so nothing can be packed ahead of time. MatMul is a loop over the broadcast batch dims, each an i-k-j
 * product whose innermost loop is a vector FMA along C's row with a scalar tail; 1-D operands are a row or a
 * column. Gemm (transA/transB, alpha, beta, C broadcast to [M, N]) is a dot product per output element.
 * MatMul on other element types is a scalar dot product per output element, in double for floating types (rounded
 * once to float16/bfloat16, as the reference evaluator does) and in wrapping long for integers.
 */
final class ActivationMatMulEmitter implements KernelEmitter {
    @Override
    public CodeBlock emit(EmitContext ctx) {
        return ctx.node.op().equals("MatMul") ? matMul(ctx) : gemm(ctx);
    }

    private static CodeBlock matMul(EmitContext ctx) {
        Node n = ctx.node;
        if (!EmitContext.type(n.output(0)).isFloat32()) {
            return typedMatMul(ctx);
        }
        CodeBlock.Builder code = CodeBlock.builder();
        Batched mm = Batched.open(ctx, 1, code);
        CodeBlock rowsCode = mm.rows();
        CodeBlock depth = mm.depth();
        CodeBlock width = mm.width();
        TensorRef ar = mm.a();
        TensorRef br = mm.b();
        TensorRef yr = mm.y();
        String aBase = mm.aBase();
        String bBase = mm.bBase();
        String yBase = mm.yBase();
        code.addStatement("$T.fill($N, $N, $N + $L, 0f)", Arrays.class, yr.array(), yBase, yBase, mm.matrix());
        String i = ctx.locals.newName("i");
        String p = ctx.locals.newName("p");
        String j = ctx.locals.newName("j");
        String av = ctx.locals.newName("av");
        String avv = ctx.locals.newName("avVector");
        String row = ctx.locals.newName("row");
        String brow = ctx.locals.newName("bRow");
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, rowsCode, i);
        code.addStatement("int $N = $N + $N * $L", row, yBase, i, width);
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", p, p, depth, p);
        code.addStatement("float $N = $N[$N + $N * $L + $N]", av, ar.array(), aBase, i, depth, p);
        code.addStatement("int $N = $N + $N * $L", brow, bBase, p, width);
        code.addStatement("$T $N = $T.broadcast(SPECIES, $N)", PointwiseForms.FLOAT_VECTOR, avv, PointwiseForms.FLOAT_VECTOR, av);
        code.addStatement("int $N = 0", j);
        code.beginControlFlow("for (; $N < SPECIES.loopBound($L); $N += SPECIES.length())", j, width, j);
        code.addStatement("$T.fromArray(SPECIES, $N, $N + $N).fma($N, $T.fromArray(SPECIES, $N, $N + $N)).intoArray($N, $N + $N)",
                PointwiseForms.FLOAT_VECTOR, br.array(), brow, j, avv, PointwiseForms.FLOAT_VECTOR, yr.array(), row, j,
                yr.array(), row, j);
        code.endControlFlow();
        code.beginControlFlow("for (; $N < $L; $N++)", j, width, j);
        code.addStatement("$N[$N + $N] += $N * $N[$N + $N]", yr.array(), row, j, av, br.array(), brow, j);
        code.endControlFlow();
        code.endControlFlow();
        code.endControlFlow();
        mm.close(code);
        return code.build();
    }

    /**
     * MatMul on any numeric element type: broadcast batch dims, then one scalar dot product per output element.
     * MatMulInteger and QLinearMatMul subtract their zero points from the operands; QLinearMatMul requantizes each
     * sum with the multiplier a_scale b_scale / y_scale, as the reference evaluator does.
     */
    static CodeBlock typedMatMul(EmitContext ctx) {
        Node n = ctx.node;
        boolean requantize = n.op().equals("QLinearMatMul");
        int bi = requantize ? 3 : 1;
        ElementType t = EmitContext.type(n.output(0));
        boolean floating = t.dtype().kind() == dev.kiln.ir.DType.Kind.FLOAT;
        CodeBlock.Builder code = CodeBlock.builder();
        Batched mm = Batched.open(ctx, bi, code);
        CodeBlock rowsCode = mm.rows();
        CodeBlock depth = mm.depth();
        CodeBlock width = mm.width();
        TensorRef ar = mm.a();
        TensorRef br = mm.b();
        TensorRef yr = mm.y();
        String aBase = mm.aBase();
        String bBase = mm.bBase();
        String yBase = mm.yBase();
        String i = ctx.locals.newName("i");
        String j = ctx.locals.newName("j");
        String p = ctx.locals.newName("p");
        String acc = ctx.locals.newName("acc");
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, rowsCode, i);
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, width, j);
        code.addStatement("$L $N = 0", floating ? "double" : "long", acc);
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", p, p, depth, p);
        // Widen narrower elements (float, int) before multiplying; a cast of a double or long would be redundant.
        boolean widen = t.element().equals(com.palantir.javapoet.TypeName.FLOAT) || t.element().equals(com.palantir.javapoet.TypeName.INT);
        CodeBlock aElement = CodeBlock.of("$N[$N + $N * $L + $N]", ar.array(), aBase, i, depth, p);
        CodeBlock bElement = CodeBlock.of("$N[$N + $N * $L + $N]", br.array(), bBase, p, width, j);
        if (requantize || n.op().equals("MatMulInteger")) {
            // The products of the shifted uint8/int8 operands summed in long as for any integer.
            code.addStatement("$N += (long) ($L - $L) * ($L - $L)", acc, aElement, zeroPoint(ctx, 2, i),
                    bElement, zeroPoint(ctx, requantize ? 5 : 3, j));
        } else {
            code.addStatement("$N += $L$L * $L", acc, widen ? (floating ? "(double) " : "(long) ") : "", aElement,
                    bElement);
        }
        code.endControlFlow();
        CodeBlock value = t.element().equals(com.palantir.javapoet.TypeName.FLOAT) ? CodeBlock.of("(float) $N", acc)
                : CodeBlock.of("$N", acc);
        if (requantize) {
            value = requantized(ctx, acc, i, j, 1, 4);
        }
        code.addStatement("$N[$N + $N * $L + $N] = $L", yr.array(), yBase, i, width, j,
                requantize ? value : t.narrow(value));
        code.endControlFlow();
        code.endControlFlow();
        mm.close(code);
        return code.build();
    }

    /**
     * A quantized matmul's or conv's output for integer sum {@code acc}: times the multiplier (the scales of inputs
     * {@code first} at {@code i} and {@code second} at {@code j} over y_scale, input 6; each of its two operations
     * rounded to the scales' type), plus y_zero_point (input 7), rounded half to even and clamped to y's type.
     */
    static CodeBlock requantized(EmitContext ctx, String acc, String i, String j, int first, int second) {
        Node n = ctx.node;
        ElementType scale = EmitContext.type(n.input(first));
        CodeBlock product = scale.narrow(CodeBlock.of("(float) ((double) $L * $L)", zeroPoint(ctx, first, i),
                zeroPoint(ctx, second, j)));
        CodeBlock multiplier = scale.narrow(CodeBlock.of("(float) ((double) $L / $L)", product,
                ctx.in(6).at(CodeBlock.of("0"))));
        dev.kiln.ir.DType y = n.output(0).dtype();
        return CodeBlock.of("(int) $T.max($LL, $T.min($LL, $T.rint($N * (double) $L + $L)))", Math.class,
                y.minValue(), Math.class, y.maxValue(), Math.class, acc, multiplier, ctx.in(7).at(CodeBlock.of("0")));
    }

    /**
     * Input {@code input} (a zero point or a scale of a quantized matmul) at row or column {@code index}: 0 when
     * absent, its one value, or the index's.
     */
    static CodeBlock zeroPoint(EmitContext ctx, int input, String index) {
        Node n = ctx.node;
        if (!n.hasInput(input)) {
            return CodeBlock.of("0");
        }
        boolean single = StridedCopy.isOne(n.input(input).shape().elementCount());
        return ctx.in(input).at(single ? CodeBlock.of("0") : CodeBlock.of("$L", index));
    }

    /**
     * The loops over a MatMul's broadcast batch dims, opened in {@code code} with the current matrices' offsets in
     * locals: A (input 0) is rows x depth, B (input {@code bi}) depth x width, Y rows x width; a 1-D operand is a
     * row or a column. Dims may be symbolic.
     */
    private record Batched(CodeBlock rows, CodeBlock depth, CodeBlock width, CodeBlock matrix, int batchRank,
                           TensorRef a, TensorRef b, TensorRef y, String aBase, String bBase, String yBase) {
        static Batched open(EmitContext ctx, int bi, CodeBlock.Builder code) {
            Node n = ctx.node;
            Shape a = n.input(0).shape();
            Shape b = n.input(bi).shape();
            Shape y = n.output(0).shape();
            if (a.rank() == 0 || b.rank() == 0) {
                throw ctx.unsupported("MatMul of a scalar");
            }
            Dim m = a.rank() == 1 ? Dim.of(1) : a.dim(a.rank() - 2);
            Dim k = a.dim(a.rank() - 1);
            Dim cols = b.rank() == 1 ? Dim.of(1) : b.dim(b.rank() - 1);
            int batchRank = y.rank() - (a.rank() == 1 ? 0 : 1) - (b.rank() == 1 ? 0 : 1);
            List<Dim> batch = y.dims().subList(0, batchRank);
            TensorRef ar = ctx.in(0);
            TensorRef br = ctx.in(bi);
            TensorRef yr = ctx.out(0);
            List<String> idx = new ArrayList<>();
            for (int d = 0; d < batchRank; d++) {
                String i = ctx.locals.newName("b" + d);
                idx.add(i);
                code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, ctx.dim(batch.get(d)), i);
            }
            String aBase = ctx.locals.newName("aBase");
            String bBase = ctx.locals.newName("bBase");
            String yBase = ctx.locals.newName("yBase");
            code.addStatement("int $N = $L", aBase, ar.plus(batchOffset(ctx, a, Math.max(a.rank() - 2, 0), batch, idx,
                    m.times(k))));
            code.addStatement("int $N = $L", bBase, br.plus(batchOffset(ctx, b, Math.max(b.rank() - 2, 0), batch, idx,
                    k.times(cols))));
            code.addStatement("int $N = $L", yBase, yr.plus(batchOffset(ctx, y, batchRank, batch, idx, m.times(cols))));
            return new Batched(ctx.dim(m), ctx.dim(k), ctx.dim(cols), ctx.dim(m.times(cols)), batchRank, ar, br, yr,
                    aBase, bBase, yBase);
        }

        void close(CodeBlock.Builder code) {
            for (int d = 0; d < batchRank; d++) {
                code.endControlFlow();
            }
        }
    }

    /**
     * The offset of the current matrix of an operand whose first {@code rank} dims are batch dims, aligned to the
     * right of the output's batch dims; dims of size 1 broadcast (stride 0).
     */
    private static CodeBlock batchOffset(EmitContext ctx, Shape s, int rank, List<Dim> batch, List<String> idx, Dim matrix) {
        List<CodeBlock> terms = new ArrayList<>();
        Dim stride = matrix;
        for (int d = rank - 1; d >= 0; d--) {
            int out = d + batch.size() - rank;
            Dim dim = s.dim(d);
            if (!StridedCopy.isOne(dim)) {
                terms.add(0, CodeBlock.of("$N * $L", idx.get(out), ctx.dim(stride)));
            }
            stride = stride.times(dim);
        }
        return terms.isEmpty() ? CodeBlock.of("0") : CodeBlock.join(terms, " + ");
    }

    private static CodeBlock gemm(EmitContext ctx) {
        Node n = ctx.node;
        Value a = n.input(0);
        boolean transA = ctx.intAttr("transA") != 0;
        boolean transB = ctx.intAttr("transB") != 0;
        float alpha = ctx.floatAttr("alpha");
        float beta = ctx.floatAttr("beta");
        // Rows or the reduction may be the batch (a weight gradient reduces over it), so dims are code.
        CodeBlock m = ctx.dim(a.shape().dim(transA ? 1 : 0));
        CodeBlock k = ctx.dim(a.shape().dim(transA ? 0 : 1));
        CodeBlock cols = ctx.dim(n.output(0).shape().dim(1));
        TensorRef ar = ctx.in(0);
        TensorRef br = ctx.in(1);
        TensorRef yr = ctx.out(0);
        String i = ctx.locals.newName("i");
        String j = ctx.locals.newName("j");
        String p = ctx.locals.newName("p");
        String acc = ctx.locals.newName("acc");
        CodeBlock.Builder code = CodeBlock.builder();
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, m, i);
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, cols, j);
        code.addStatement("float $N = 0f", acc);
        code.beginControlFlow("for (int $N = 0; $N < $L; $N++)", p, p, k, p);
        CodeBlock aIdx = transA ? CodeBlock.of("$N * $L + $N", p, m, i) : CodeBlock.of("$N * $L + $N", i, k, p);
        CodeBlock bIdx = transB ? CodeBlock.of("$N * $L + $N", j, k, p) : CodeBlock.of("$N * $L + $N", p, cols, j);
        code.addStatement("$N += $L * $L", acc, ar.at(aIdx), br.at(bIdx));
        code.endControlFlow();
        CodeBlock value = alpha == 1f ? CodeBlock.of("$N", acc) : CodeBlock.of("$L * $N", ElementwiseEmitter.literal(alpha), acc);
        if (n.hasInput(2) && beta != 0f) {
            Shape c = n.input(2).shape();
            // C broadcasts to [M, N]: a missing or size-1 dim reads index 0.
            boolean rowsVary = c.rank() == 2 && !StridedCopy.isOne(c.dim(0));
            boolean colsVary = c.rank() >= 1 && !StridedCopy.isOne(c.dim(c.rank() - 1));
            CodeBlock cIdx = rowsVary && colsVary ? CodeBlock.of("$N * $L + $N", i, cols, j)
                    : rowsVary ? CodeBlock.of("$N", i) : colsVary ? CodeBlock.of("$N", j) : CodeBlock.of("0");
            CodeBlock cv = ctx.in(2).at(cIdx);
            value = CodeBlock.of("$L + $L", value, beta == 1f ? cv : CodeBlock.of("$L * $L", ElementwiseEmitter.literal(beta), cv));
        }
        code.addStatement("$L = $L", yr.at(CodeBlock.of("$N * $L + $N", i, cols, j)), value);
        code.endControlFlow();
        code.endControlFlow();
        return code.build();
    }
}
