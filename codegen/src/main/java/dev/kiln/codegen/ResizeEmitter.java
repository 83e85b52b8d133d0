package dev.kiln.codegen;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.TypeName;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.ops.ResizeOp;
import java.util.ArrayList;
import java.util.List;

/**
 * Resize with constant roi, scales or sizes: the per-axis taps (input indices and weights) are the ones the
 * reference evaluation uses ({@link ResizeOp#axisTaps}), computed at generation time into static tables. An axis
 * the resize leaves alone reads its own coordinate, an axis where each output picks one input (nearest) reads an
 * index table and multiplies nothing, and the others (linear, cubic, antialiased) sum their taps' weighted
 * elements in double. tf_crop_and_resize coordinates outside the input get the extrapolation value.
 */
final class ResizeEmitter implements KernelEmitter {
    private enum Kind { IDENTITY, SELECT, WEIGHTED }

    /** Numeric elements of any type (integers are truncated and wrapped after interpolation). */
    @Override
    public boolean typed(Node n) {
        return n.input(0).dtype().isNumeric() && n.input(0).dtype() != dev.kiln.ir.DType.UINT64;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        if (!typed(n)) {
            throw ctx.unsupported("Resize of " + n.input(0).type());
        }
        Shape inShape = n.input(0).shape();
        Shape outShape = n.output(0).shape();
        int rank = inShape.rank();
        int[] in = new int[rank];
        List<Tensor> inputs = new ArrayList<>();
        inputs.add(null);
        for (int i = 1; i < n.inputs().size(); i++) {
            if (!n.hasInput(i)) {
                inputs.add(null);
            } else if (!ctx.isConstant(n.input(i))) {
                throw ctx.unsupported("Resize with " + List.of("roi", "scales", "sizes").get(i - 1) + " computed at run time");
            } else {
                inputs.add(ctx.constant(n.input(i)));
            }
        }
        for (int d = 0; d < rank; d++) {
            // A batch-sized dim must come through unchanged; its taps are those of a dim of 1.
            in[d] = inShape.dim(d).isStatic() ? Math.toIntExact(inShape.dim(d).value()) : 1;
            if (!inShape.dim(d).isStatic() && !inShape.dim(d).equals(outShape.dim(d))) {
                throw ctx.unsupported("Resize along the batch axis");
            }
        }
        EvalContext ec = new EvalContext(OpTable.get().require(n.domain(), n.op(), n.describe()), n.describe(),
                n.attributes(), inputs, n.outputs().size(), new java.util.Random(0));
        ResizeOp.AxisTaps[] taps = ResizeOp.axisTaps(ec, in);
        Kind[] kinds = new Kind[rank];
        int[] width = new int[rank];
        boolean anyOutside = false;
        for (int d = 0; d < rank; d++) {
            kinds[d] = kind(taps[d], in[d]);
            width[d] = 0;
            for (int o = 0; o < taps[d].index().length; o++) {
                width[d] = Math.max(width[d], taps[d].index()[o].length);
                anyOutside |= taps[d].outside()[o];
            }
        }
        String method = Identifiers.method(n).toUpperCase(java.util.Locale.ROOT);
        String[] indexTables = new String[rank];
        String[] weightTables = new String[rank];
        String[] outsideTables = new String[rank];
        for (int d = 0; d < rank; d++) {
            if (kinds[d] == Kind.IDENTITY) {
                continue;
            }
            CodeBlock.Builder idx = CodeBlock.builder().add("{");
            CodeBlock.Builder w = CodeBlock.builder().add("{");
            CodeBlock.Builder out = CodeBlock.builder().add("{");
            int count = 0;
            for (int o = 0; o < taps[d].index().length; o++) {
                int[] ix = taps[d].index()[o];
                double[] wt = taps[d].weight()[o];
                out.add(o == 0 ? "$L" : ", $L", taps[d].outside()[o]);
                if (kinds[d] == Kind.SELECT) {
                    idx.add(o == 0 ? "$L" : ", $L", ix.length == 0 ? 0 : ix[argMax(wt)]);
                    continue;
                }
                for (int k = 0; k < width[d]; k++) {
                    idx.add(count == 0 ? "$L" : ", $L", k < ix.length ? ix[k] : 0);
                    w.add(count == 0 ? "$L" : ", $L", ElementType.doubleLiteral(k < wt.length ? wt[k] : 0));
                    count++;
                }
            }
            String key = n.describe() + "@" + d;
            indexTables[d] = ctx.staticField(key + ".index", ArrayTypeName.of(TypeName.INT), method + "_INDEX" + d,
                    idx.add("}").build());
            if (kinds[d] == Kind.WEIGHTED) {
                weightTables[d] = ctx.staticField(key + ".weight", ArrayTypeName.of(TypeName.DOUBLE),
                        method + "_WEIGHT" + d, w.add("}").build());
            }
            if (anyOutside) {
                outsideTables[d] = ctx.staticField(key + ".outside", ArrayTypeName.of(TypeName.BOOLEAN),
                        method + "_OUTSIDE" + d, out.add("}").build());
            }
        }
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        ElementType t = EmitContext.type(n.output(0));
        CodeBlock.Builder b = CodeBlock.builder();
        String o = ctx.locals.newName("o");
        b.addStatement("int $N = 0", o);
        IndexLoops loops = IndexLoops.open(ctx, b, outShape);
        if (anyOutside) {
            List<CodeBlock> tests = new ArrayList<>();
            for (int d = 0; d < rank; d++) {
                if (outsideTables[d] != null) {
                    tests.add(CodeBlock.of("$N[$N]", outsideTables[d], loops.idx.get(d)));
                }
            }
            b.beginControlFlow("if ($L)", CodeBlock.join(tests, " || "))
                    .addStatement("$L = $L", y.at(CodeBlock.of("$N++", o)),
                            t.elementLiteral(OpTable.get().floatAttr(n, "extrapolation_value")))
                    .addStatement("continue")
                    .endControlFlow();
        }
        List<String> tapIdx = new ArrayList<>();
        List<CodeBlock> coords = new ArrayList<>();
        List<CodeBlock> weights = new ArrayList<>();
        for (int d = 0; d < rank; d++) {
            String i = loops.idx.get(d);
            switch (kinds[d]) {
                case IDENTITY -> coords.add(CodeBlock.of("$N", i));
                case SELECT -> coords.add(CodeBlock.of("$N[$N]", indexTables[d], i));
                case WEIGHTED -> {
                    String k = ctx.locals.newName("k" + d);
                    tapIdx.add(k);
                    CodeBlock at = CodeBlock.of("$N * $L + $N", i, width[d], k);
                    coords.add(CodeBlock.of("$N[$L]", indexTables[d], at));
                    weights.add(CodeBlock.of("$N[$L]", weightTables[d], at));
                }
            }
        }
        List<CodeBlock> terms = new ArrayList<>();
        List<dev.kiln.ir.Dim> strides = StridedCopy.strides(inShape);
        for (int d = 0; d < rank; d++) {
            if (inShape.dim(d).isStatic() && inShape.dim(d).value() == 1) {
                continue;
            }
            terms.add(StridedCopy.isOne(strides.get(d)) ? coords.get(d)
                    : CodeBlock.of("$L * $L", coords.get(d), ctx.dim(strides.get(d))));
        }
        CodeBlock element = x.at(terms.isEmpty() ? CodeBlock.of("0") : CodeBlock.join(terms, " + "));
        if (tapIdx.isEmpty()) {
            b.addStatement("$L = $L", y.at(CodeBlock.of("$N++", o)), element);
        } else {
            String acc = ctx.locals.newName("acc");
            b.addStatement("double $N = 0", acc);
            int k = 0;
            for (int d = 0; d < rank; d++) {
                if (kinds[d] == Kind.WEIGHTED) {
                    String kv = tapIdx.get(k++);
                    b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", kv, kv, width[d], kv);
                }
            }
            b.addStatement("$N += $L * $L", acc, CodeBlock.join(weights, " * "), element);
            tapIdx.forEach(v -> b.endControlFlow());
            CodeBlock value = n.output(0).dtype().isFloat() ? LossEmitter.store(t, CodeBlock.of("$N", acc))
                    : t.narrow(CodeBlock.of("(long) $N", acc));
            b.addStatement("$L = $L", y.at(CodeBlock.of("$N++", o)), value);
        }
        loops.close();
        return b.build();
    }

    private static Kind kind(ResizeOp.AxisTaps taps, int inLen) {
        boolean identity = taps.index().length == inLen;
        for (int o = 0; o < taps.index().length; o++) {
            double[] w = taps.weight()[o];
            int nonZero = 0;
            int at = -1;
            for (int k = 0; k < w.length; k++) {
                if (w[k] != 0) {
                    nonZero++;
                    at = k;
                }
            }
            if (taps.outside()[o]) {
                identity = false;
                continue;
            }
            if (nonZero != 1 || w[at] != 1.0) {
                return Kind.WEIGHTED;
            }
            identity &= taps.index()[o][at] == o;
        }
        return identity ? Kind.IDENTITY : Kind.SELECT;
    }

    private static int argMax(double[] w) {
        int best = 0;
        for (int k = 1; k < w.length; k++) {
            if (w[k] > w[best]) {
                best = k;
            }
        }
        return best;
    }
}
