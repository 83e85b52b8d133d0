package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.List;

/**
 * The Reduce ops with constant axes (or none: all axes): loops over the kept axes, one accumulator per output
 * element, inner loops over the reduced axes. Runs of adjacent axes of the same kind merge into one loop, so
 * reducing the last axes reads one contiguous row per output. Sums accumulate in double; keepdims does not
 * change the layout.
 */
final class ReduceEmitter implements KernelEmitter {
    /** How one op starts, folds in an element, and finishes: code over the accumulator, element and count. */
    private record Fold(String type, CodeBlock init, java.util.function.BiFunction<String, String, CodeBlock> step,
                        java.util.function.BiFunction<String, CodeBlock, CodeBlock> finish) {}

    private static Fold sum(java.util.function.BiFunction<String, String, CodeBlock> step,
                            java.util.function.BiFunction<String, CodeBlock, CodeBlock> finish) {
        return new Fold("double", CodeBlock.of("0"), step, finish);
    }

    private static Fold fold(String op) {
        java.util.function.BiFunction<String, String, CodeBlock> add = (acc, v) -> CodeBlock.of("$N += $N", acc, v);
        java.util.function.BiFunction<String, String, CodeBlock> addSquare = (acc, v) -> CodeBlock.of("$N += $N * $N", acc, v, v);
        java.util.function.BiFunction<String, CodeBlock, CodeBlock> plain = (acc, count) -> CodeBlock.of("(float) $N", acc);
        return switch (op) {
            case "ReduceSum" -> sum(add, plain);
            // A count in terms of the batch ("2 * batch") is parenthesized: the mean divides by all of it.
            case "ReduceMean" -> sum(add, (acc, count) -> CodeBlock.of(count.toString().matches("\\d+")
                    ? "(float) ($N / $L)" : "(float) ($N / ($L))", acc, count));
            case "ReduceMax" -> new Fold("float", CodeBlock.of("$T.NEGATIVE_INFINITY", Float.class),
                    (acc, v) -> CodeBlock.of("$N = $T.max($N, $N)", acc, Math.class, acc, v), (acc, count) -> CodeBlock.of("$N", acc));
            case "ReduceMin" -> new Fold("float", CodeBlock.of("$T.POSITIVE_INFINITY", Float.class),
                    (acc, v) -> CodeBlock.of("$N = $T.min($N, $N)", acc, Math.class, acc, v), (acc, count) -> CodeBlock.of("$N", acc));
            case "ReduceProd" -> new Fold("double", CodeBlock.of("1"), (acc, v) -> CodeBlock.of("$N *= $N", acc, v), plain);
            case "ReduceSumSquare" -> sum(addSquare, plain);
            case "ReduceL1" -> sum((acc, v) -> CodeBlock.of("$N += $T.abs($N)", acc, Math.class, v), plain);
            case "ReduceL2" -> sum(addSquare, (acc, count) -> CodeBlock.of("(float) $T.sqrt($N)", Math.class, acc));
            case "ReduceLogSum" -> sum(add, (acc, count) -> CodeBlock.of("(float) $T.log($N)", Math.class, acc));
            case "ReduceLogSumExp" -> sum((acc, v) -> CodeBlock.of("$N += $T.exp($N)", acc, Math.class, v),
                    (acc, count) -> CodeBlock.of("(float) $T.log($N)", Math.class, acc));
            default -> throw new IllegalArgumentException(op);
        };
    }

    static final List<String> OPS = List.of("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
            "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp");

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Value x = n.input(0);
        Shape s = x.shape();
        int rank = s.rank();
        boolean[] reduced = new boolean[rank];
        boolean any = false;
        if (n.hasInput(1)) {
            if (!ctx.isConstant(n.input(1))) {
                throw ctx.unsupported(n.op() + " with axes computed at run time");
            }
            Tensor axes = ctx.constant(n.input(1));
            for (int k = 0; k < axes.size(); k++) {
                reduced[Shape.normalizeAxis(axes.getLong(k), rank)] = true;
                any = true;
            }
        }
        if (!any) {
            if (ctx.intAttr("noop_with_empty_axes") != 0) {
                return new CopyEmitter().emit(ctx);
            }
            java.util.Arrays.fill(reduced, true);
        }
        // Runs of adjacent kept or reduced axes, each one loop of (extent, stride).
        List<Dim> strides = StridedCopy.strides(s);
        List<Dim[]> kept = new ArrayList<>();
        List<Dim[]> folded = new ArrayList<>();
        Dim count = Dim.of(1);
        int lastKind = -1;
        for (int d = 0; d < rank; d++) {
            if (reduced[d]) {
                count = count.times(s.dim(d));
            }
            if (StridedCopy.isOne(s.dim(d))) {
                continue;
            }
            List<Dim[]> runs = reduced[d] ? folded : kept;
            // Contiguous with the run's last axis (axes of size 1 in between were skipped).
            boolean joins = !runs.isEmpty() && lastKind == (reduced[d] ? 1 : 0)
                    && runs.get(runs.size() - 1)[1].equals(strides.get(d).times(s.dim(d)));
            lastKind = reduced[d] ? 1 : 0;
            if (joins) {
                Dim[] last = runs.get(runs.size() - 1);
                runs.set(runs.size() - 1, new Dim[] {last[0].times(s.dim(d)), strides.get(d)});
            } else {
                runs.add(new Dim[] {s.dim(d), strides.get(d)});
            }
        }
        Fold f = fold(n.op());
        TensorRef in = ctx.in(0);
        TensorRef out = ctx.out(0);
        CodeBlock.Builder b = CodeBlock.builder();
        String o = ctx.locals.newName("o");
        b.addStatement("int $N = $L", o, out.offset());
        List<String> keptIdx = loops(ctx, b, kept, "i");
        String acc = ctx.locals.newName("acc");
        b.addStatement("$L $N = $L", f.type(), acc, f.init());
        List<String> foldIdx = loops(ctx, b, folded, "r");
        List<CodeBlock> terms = new ArrayList<>();
        addTerms(ctx, terms, kept, keptIdx);
        addTerms(ctx, terms, folded, foldIdx);
        String v = ctx.locals.newName("v");
        b.addStatement("float $N = $N[$L]", v, in.array(), in.plus(terms.isEmpty() ? CodeBlock.of("0") : CodeBlock.join(terms, " + ")));
        b.addStatement("$L", f.step().apply(acc, v));
        for (int k = 0; k < folded.size(); k++) {
            b.endControlFlow();
        }
        b.addStatement("$N[$N++] = $L", out.array(), o, f.finish().apply(acc, ctx.dim(count)));
        for (int k = 0; k < kept.size(); k++) {
            b.endControlFlow();
        }
        return b.build();
    }

    private static List<String> loops(EmitContext ctx, CodeBlock.Builder b, List<Dim[]> runs, String prefix) {
        List<String> idx = new ArrayList<>();
        for (int k = 0; k < runs.size(); k++) {
            String i = ctx.locals.newName(prefix + k);
            idx.add(i);
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, ctx.dim(runs.get(k)[0]), i);
        }
        return idx;
    }

    private static void addTerms(EmitContext ctx, List<CodeBlock> terms, List<Dim[]> runs, List<String> idx) {
        for (int k = 0; k < runs.size(); k++) {
            Dim stride = runs.get(k)[1];
            terms.add(StridedCopy.isOne(stride) ? CodeBlock.of("$N", idx.get(k)) : CodeBlock.of("$N * $L", idx.get(k), ctx.dim(stride)));
        }
    }
}
