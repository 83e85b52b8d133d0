package dev.kiln.codegen;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.TypeName;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.List;

/**
 * The Reduce ops with constant axes (or none: all axes, or with {@code noop_with_empty_axes} no axis, each element
 * folded alone): loops over the kept axes, one accumulator per output element, inner loops over the reduced axes.
 * Runs of adjacent axes of the same kind merge into one loop, so reducing the last axes reads one contiguous row per
 * output. Sums accumulate in double; keepdims does not
 * change the layout. Axes fed at run time take a generic path over offset tables (see {@link #emitRunTimeAxes}).
 */
final class ReduceEmitter implements KernelEmitter {
    /**
     * How one op starts, folds in an element, and finishes: code over the accumulator, element and count; and, for
     * the sums of float32, the {@link #ROW_SUMS} method that folds a contiguous run of elements the same way (null
     * where there is none).
     */
    private record Fold(String type, CodeBlock init, java.util.function.BiFunction<String, String, CodeBlock> step,
                        java.util.function.BiFunction<String, CodeBlock, CodeBlock> finish, String rowSum) {
        Fold(String type, CodeBlock init, java.util.function.BiFunction<String, String, CodeBlock> step,
             java.util.function.BiFunction<String, CodeBlock, CodeBlock> finish) {
            this(type, init, step, finish, null);
        }

        Fold withRowSum(String method) {
            return new Fold(type, init, step, finish, method);
        }
    }

    private static final com.palantir.javapoet.ClassName ROW_SUMS =
            com.palantir.javapoet.ClassName.get("dev.kiln.runtime", "RowSums");
    /** Shortest contiguous run summed by {@link #ROW_SUMS}: below it the call costs more than the adds. */
    private static final int MIN_ROW_SUM = 16;

    private static Fold sum(java.util.function.BiFunction<String, String, CodeBlock> step,
                            java.util.function.BiFunction<String, CodeBlock, CodeBlock> finish) {
        return new Fold("double", CodeBlock.of("0"), step, finish);
    }

    private static final java.util.function.BiFunction<String, String, CodeBlock> ADD =
            (acc, v) -> CodeBlock.of("$N += $N", acc, v);
    private static final java.util.function.BiFunction<String, String, CodeBlock> ADD_SQUARE =
            (acc, v) -> CodeBlock.of("$N += $N * $N", acc, v, v);

    /**
     * Floating types: sums in double (max and min in float for float32, else double); {@code store} turns the
     * double result into the stored element ({@code (float) x} for float32).
     */
    private static Fold floating(String op, java.util.function.Function<CodeBlock, CodeBlock> store, boolean float32) {
        java.util.function.BiFunction<String, CodeBlock, CodeBlock> plain = (acc, count) -> store.apply(CodeBlock.of("$N", acc));
        return switch (op) {
            case "ReduceSum" -> sum(ADD, plain);
            // A count in terms of the batch ("2 * batch") is parenthesized: the mean divides by all of it.
            case "ReduceMean" -> sum(ADD, (acc, count) -> store.apply(CodeBlock.of(count.toString().matches("\\d+")
                    ? "($N / $L)" : "($N / ($L))", acc, count)));
            case "ReduceMax", "ReduceMin" -> {
                boolean max = op.equals("ReduceMax");
                Class<?> box = float32 ? Float.class : Double.class;
                yield new Fold(float32 ? "float" : "double", CodeBlock.of(max ? "$T.NEGATIVE_INFINITY" : "$T.POSITIVE_INFINITY", box),
                        (acc, v) -> CodeBlock.of("$N = $T.$N($N, $N)", acc, Math.class, max ? "max" : "min", acc, v),
                        float32 ? (acc, count) -> CodeBlock.of("$N", acc) : plain);
            }
            case "ReduceProd" -> new Fold("double", CodeBlock.of("1"), (acc, v) -> CodeBlock.of("$N *= $N", acc, v), plain);
            case "ReduceSumSquare" -> sum(ADD_SQUARE, plain);
            case "ReduceL1" -> sum((acc, v) -> CodeBlock.of("$N += $T.abs($N)", acc, Math.class, v), plain);
            case "ReduceL2" -> sum(ADD_SQUARE, (acc, count) -> store.apply(CodeBlock.of("$T.sqrt($N)", Math.class, acc)));
            case "ReduceLogSum" -> sum(ADD, (acc, count) -> store.apply(CodeBlock.of("$T.log($N)", Math.class, acc)));
            case "ReduceLogSumExp" -> sum((acc, v) -> CodeBlock.of("$N += $T.exp($N)", acc, Math.class, v),
                    (acc, count) -> store.apply(CodeBlock.of("$T.log($N)", Math.class, acc)));
            default -> throw new IllegalArgumentException(op);
        };
    }

    /**
     * The fold for one op and element type: floating types as {@link #floating}; integers (all but uint64)
     * accumulate in long as the reference does (the mean truncates, L2 is the truncated root).
     */
    private static Fold fold(String op, ElementType t) {
        if (t.dtype() == dev.kiln.ir.DType.BOOL) {
            // Only ReduceMax (any) and ReduceMin (all) take bool (opset 20).
            java.util.function.BiFunction<String, CodeBlock, CodeBlock> plain = (acc, count) -> CodeBlock.of("$N", acc);
            return op.equals("ReduceMax") ? new Fold("boolean", CodeBlock.of("false"), (acc, v) -> CodeBlock.of("$N |= $N", acc, v), plain)
                    : new Fold("boolean", CodeBlock.of("true"), (acc, v) -> CodeBlock.of("$N &= $N", acc, v), plain);
        }
        if (t.isFloat32()) {
            Fold f = floating(op, e -> CodeBlock.of("(float) $L", e), true);
            return switch (op) {
                case "ReduceSum", "ReduceMean", "ReduceLogSum" -> f.withRowSum("sum");
                case "ReduceSumSquare", "ReduceL2" -> f.withRowSum("sumOfSquares");
                case "ReduceL1" -> f.withRowSum("sumOfAbsolutes");
                default -> f;
            };
        }
        if (t.dtype().isFloat()) {
            return floating(op, e -> LossEmitter.store(t, e), false);
        }
        java.util.function.BiFunction<String, CodeBlock, CodeBlock> wrap = (acc, count) -> t.narrow(CodeBlock.of("$N", acc));
        return switch (op) {
            case "ReduceSum" -> new Fold("long", CodeBlock.of("0"), ADD, wrap);
            case "ReduceMean" -> new Fold("long", CodeBlock.of("0"), ADD, (acc, count) -> t.narrow(
                    CodeBlock.of("$T.div($N, $L)", ElementType.ELEMENT_MATH, acc, count)));
            case "ReduceProd" -> new Fold("long", CodeBlock.of("1"), (acc, v) -> CodeBlock.of("$N *= $N", acc, v), wrap);
            case "ReduceSumSquare" -> new Fold("long", CodeBlock.of("0"), ADD_SQUARE, wrap);
            case "ReduceL1" -> new Fold("long", CodeBlock.of("0"),
                    (acc, v) -> CodeBlock.of("$N += $T.abs($N)", acc, Math.class, v), wrap);
            case "ReduceL2" -> new Fold("double", CodeBlock.of("0"), ADD_SQUARE,
                    (acc, count) -> t.narrow(CodeBlock.of("(long) $T.sqrt($N)", Math.class, acc)));
            case "ReduceMax" -> new Fold("long", CodeBlock.of("$T.MIN_VALUE", Long.class),
                    (acc, v) -> CodeBlock.of("$N = $T.max($N, $N)", acc, Math.class, acc, v), wrap);
            case "ReduceMin" -> new Fold("long", CodeBlock.of("$T.MAX_VALUE", Long.class),
                    (acc, v) -> CodeBlock.of("$N = $T.min($N, $N)", acc, Math.class, acc, v), wrap);
            default -> throw new dev.kiln.ir.UnsupportedOpException(op + " of " + t.doc()
                    + " is not supported by code generation yet");
        };
    }

    /**
     * Any element type but uint64 (whose order is unsigned); integers without the log forms; bool for ReduceMax and
     * ReduceMin.
     */
    @Override
    public boolean typed(Node n) {
        dev.kiln.ir.DType t = n.input(0).dtype();
        return t.isFloat() || (t.isInteger() && t != dev.kiln.ir.DType.UINT64)
                || (t == dev.kiln.ir.DType.BOOL && (n.op().equals("ReduceMax") || n.op().equals("ReduceMin")));
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
        // An axes input of static length 0 is known to be empty, whatever its (run-time) source.
        boolean emptyAxes = n.hasInput(1) && n.input(1).shape().elementCount().isStatic()
                && n.input(1).shape().elementCount().value() == 0;
        if (n.hasInput(1) && !emptyAxes) {
            if (!ctx.isConstant(n.input(1))) {
                return emitRunTimeAxes(ctx);
            }
            Tensor axes = ctx.constant(n.input(1));
            for (int k = 0; k < axes.size(); k++) {
                reduced[Shape.normalizeAxis(axes.getLong(k), rank)] = true;
                any = true;
            }
        }
        // No axes reduce every axis, or none with noop_with_empty_axes: each output element is then its input element
        // folded alone, so the op's per-element function still applies (x² for ReduceSumSquare, log x for ReduceLogSum),
        // as in the ONNX reference implementation and the evaluator.
        if (!any && ctx.intAttr("noop_with_empty_axes") == 0) {
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
        Fold f = fold(n.op(), EmitContext.type(n.output(0)));
        TensorRef in = ctx.in(0);
        TensorRef out = ctx.out(0);
        CodeBlock.Builder b = CodeBlock.builder();
        String o = ctx.locals.newName("o");
        b.addStatement("int $N = $L", o, out.offset());
        List<String> keptIdx = loops(ctx, b, kept, "i");
        String acc = ctx.locals.newName("acc");
        b.addStatement("$L $N = $L", f.type(), acc, f.init());
        // A float32 sum whose innermost reduced run is contiguous and long folds that run with one call.
        Dim[] innermost = folded.isEmpty() ? null : folded.get(folded.size() - 1);
        boolean rowSum = f.rowSum() != null && EmitContext.type(x).isFloat32() && innermost != null
                && StridedCopy.isOne(innermost[1])
                && (!innermost[0].isStatic() || innermost[0].value() >= MIN_ROW_SUM);
        List<Dim[]> looped = rowSum ? folded.subList(0, folded.size() - 1) : folded;
        List<String> foldIdx = loops(ctx, b, looped, "r");
        List<CodeBlock> terms = new ArrayList<>();
        addTerms(ctx, terms, kept, keptIdx);
        addTerms(ctx, terms, looped, foldIdx);
        CodeBlock at = in.plus(terms.isEmpty() ? CodeBlock.of("0") : CodeBlock.join(terms, " + "));
        if (rowSum) {
            b.addStatement("$N += $T.$N($N, $L, $L)", acc, ROW_SUMS, f.rowSum(), in.array(), at, ctx.dim(innermost[0]));
        } else {
            String v = ctx.locals.newName("v");
            b.addStatement("$T $N = $N[$L]", EmitContext.type(x).element(), v, in.array(), at);
            b.addStatement("$L", f.step().apply(acc, v));
        }
        for (int k = 0; k < looped.size(); k++) {
            b.endControlFlow();
        }
        b.addStatement("$N[$N++] = $L", out.array(), o, f.finish().apply(acc, ctx.dim(count)));
        for (int k = 0; k < kept.size(); k++) {
            b.endControlFlow();
        }
        return b.build();
    }

    /**
     * Axes read at run time: {@link ReduceAxes} resolves them into a mask of reduced axes (checking the output shape
     * they give against the compiled one) and lays out each output element's group of input offsets into instance
     * fields, then one loop folds each group. The input shape is static, so the fields' sizes are known here.
     */
    private static CodeBlock emitRunTimeAxes(EmitContext ctx) {
        Node n = ctx.node;
        Value x = n.input(0);
        Value axes = n.input(1);
        Value y = n.output(0);
        if (!x.shape().isStatic()) {
            throw ctx.unsupported(n.op() + " with axes computed at run time on an input of shape " + x.shape()
                    + " (its dims must be static)");
        }
        if (axes.shape().rank() != 1 || !axes.shape().dim(0).isStatic()) {
            throw ctx.unsupported(n.op() + " with axes of shape " + axes.shape() + " (a static count is needed)");
        }
        int[] in = x.shape().toIntArray();
        int[] out = y.shape().toIntArray();
        int outCount = Math.toIntExact(y.shape().elementCount().value());
        int nonZero = 1;
        for (int d : in) {
            nonZero *= Math.max(d, 1);
        }
        String method = Identifiers.method(n);
        String key = "reduceAxes:" + y.name();
        String upper = method.toUpperCase(java.util.Locale.ROOT);
        TypeName ints = ArrayTypeName.of(TypeName.INT);
        String inShape = ctx.staticField(key + ".in", ints, upper + "_IN_SHAPE", intArray(in));
        String outShape = ctx.staticField(key + ".out", ints, upper + "_OUT_SHAPE", intArray(out));
        String mask = ctx.derivedField(key + ".mask", ArrayTypeName.of(TypeName.BOOLEAN), method + "Reduced",
                CodeBlock.of("new boolean[$L]", in.length));
        String starts = ctx.derivedField(key + ".starts", ints, method + "GroupStart", CodeBlock.of("new int[$L]", outCount));
        String members = ctx.derivedField(key + ".members", ints, method + "Members", CodeBlock.of("new int[$L]", nonZero));
        Fold f = fold(n.op(), EmitContext.type(y));
        TensorRef xr = ctx.in(0);
        TensorRef ar = ctx.in(1);
        TensorRef yr = ctx.out(0);
        CodeBlock.Builder b = CodeBlock.builder();
        // A no-op (no axes with noop_with_empty_axes) marks no axis: groups of one element, each still folded, so the
        // per-element function applies (x² for ReduceSumSquare) as with constant axes.
        b.addStatement("$T.resolve($S, $S, $N, $L, $L, $N, $L, $L, $N, this.$N)", REDUCE_AXES, n.describe(),
                axes.name(), ar.array(), ar.offset(), axes.shape().dim(0).value(), inShape, ctx.intAttr("keepdims") != 0,
                ctx.intAttr("noop_with_empty_axes") != 0, outShape, mask);
        String size = ctx.locals.newName("groupSize");
        b.addStatement("int $N = $T.layout($N, this.$N, this.$N, this.$N)", size, REDUCE_AXES, inShape, mask, starts, members);
        String g = ctx.locals.newName("g");
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", g, g, outCount, g);
        String start = ctx.locals.newName("start");
        b.addStatement("int $N = $L", start, xr.plus(CodeBlock.of("this.$N[$N]", starts, g)));
        String acc = ctx.locals.newName("acc");
        b.addStatement("$L $N = $L", f.type(), acc, f.init());
        String m = ctx.locals.newName("m");
        b.beginControlFlow("for (int $N = 0; $N < $N; $N++)", m, m, size, m);
        String v = ctx.locals.newName("v");
        b.addStatement("$T $N = $N[$N + this.$N[$N]]", EmitContext.type(x).element(), v, xr.array(), start, members, m);
        b.addStatement("$L", f.step().apply(acc, v));
        b.endControlFlow();
        b.addStatement("$L = $L", yr.at(CodeBlock.of("$N", g)), f.finish().apply(acc, CodeBlock.of("$N", size)));
        b.endControlFlow();
        return b.build();
    }

    private static final com.palantir.javapoet.ClassName REDUCE_AXES =
            com.palantir.javapoet.ClassName.get("dev.kiln.runtime", "ReduceAxes");

    private static CodeBlock intArray(int[] values) {
        CodeBlock.Builder c = CodeBlock.builder().add("{");
        for (int i = 0; i < values.length; i++) {
            c.add(i == 0 ? "$L" : ", $L", values[i]);
        }
        return c.add("}").build();
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
