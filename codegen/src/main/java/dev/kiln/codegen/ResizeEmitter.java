package dev.kiln.codegen;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.TypeName;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.ops.ResizeOp;
import dev.kiln.runtime.ResizeCoordinates;
import java.util.ArrayList;
import java.util.List;

/**
 * Resize: the per-axis taps (input indices and weights) are the ones the reference evaluation uses. With constant
 * roi, scales and sizes they come from {@link ResizeOp#axisTaps} at generation time, in static tables; with any of
 * them read at run time, {@link ResizeCoordinates} computes them into instance fields at the start of each run. An axis
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

    /**
     * Where the taps of each axis are read from: per axis its kind, taps per output coordinate, and the index, weight
     * and outside tables (field expressions, null where the kind reads none); {@code setup} fills run-time tables.
     */
    private record Tables(Kind[] kinds, int[] width, String[] index, String[] weight, String[] outside,
                          boolean anyOutside, CodeBlock setup) {}

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        if (!typed(n)) {
            throw ctx.unsupported("Resize of " + n.input(0).type());
        }
        // roi counts only where tf_crop_and_resize reads it.
        boolean runTime = false;
        for (int i = crop(ctx) ? 1 : 2; i < n.inputs().size(); i++) {
            runTime |= n.hasInput(i) && !ctx.isConstant(n.input(i)) && given(n.input(i));
        }
        return emitLoops(ctx, runTime ? runTimeTables(ctx) : staticTables(ctx));
    }

    private static boolean crop(EmitContext ctx) {
        return ctx.stringAttr("coordinate_transformation_mode").equals("tf_crop_and_resize");
    }

    /**
     * roi, scales or sizes read at run time: {@link ResizeCoordinates} turns them into per-axis scales (checking
     * the output shape they give against the compiled one) and fills per-axis tap tables, instance fields sized
     * here, at the start of every run. Axes the node does not list keep their coordinates.
     */
    private static Tables runTimeTables(EmitContext ctx) {
        Node n = ctx.node;
        Shape inShape = n.input(0).shape();
        if (!inShape.isStatic()) {
            throw ctx.unsupported("Resize with roi, scales or sizes computed at run time on an input of shape "
                    + inShape + " (its dims must be static)");
        }
        int[] in = inShape.toIntArray();
        int[] out = n.output(0).shape().toIntArray();
        int rank = in.length;
        int[] axes = new int[rank];
        for (int d = 0; d < rank; d++) {
            axes[d] = d;
        }
        java.util.Optional<dev.kiln.ir.Attr> listed = n.attributes().get("axes");
        if (listed.isPresent()) {
            List<Long> values = ((dev.kiln.ir.Attr.Ints) listed.get()).values();
            axes = values.stream().mapToInt(a -> Math.toIntExact(a < 0 ? a + rank : a)).toArray();
        }
        boolean crop = crop(ctx);
        boolean hasScales = n.hasInput(2) && given(n.input(2));
        ResizeCoordinates.Mode mode = new ResizeCoordinates.Mode(ctx.stringAttr("mode"),
                ctx.stringAttr("coordinate_transformation_mode"), ctx.stringAttr("nearest_mode"),
                ctx.intAttr("antialias") != 0, ctx.floatAttr("cubic_coeff_a"), ctx.intAttr("exclude_outside") != 0);
        String policy = ctx.stringAttr("keep_aspect_ratio_policy");
        String method = Identifiers.method(n);
        String upper = method.toUpperCase(java.util.Locale.ROOT);
        String key = "resize:" + n.output(0).name();
        TypeName ints = ArrayTypeName.of(TypeName.INT);
        TypeName doubles = ArrayTypeName.of(TypeName.DOUBLE);
        String inField = ctx.staticField(key + ".in", ints, upper + "_IN_SHAPE", intArray(in));
        String outField = ctx.staticField(key + ".out", ints, upper + "_OUT_SHAPE", intArray(out));
        String axesField = ctx.staticField(key + ".axes", ints, upper + "_AXES", intArray(axes));
        String modeField = ctx.staticField(key + ".mode", ClassName.get(ResizeCoordinates.Mode.class), upper + "_MODE",
                CodeBlock.of("new $T($S, $S, $S, $L, $L, $L)", ResizeCoordinates.Mode.class, mode.mode(),
                        mode.transform(), mode.nearestMode(), mode.antialias(), ElementType.doubleLiteral(mode.cubicA()),
                        mode.excludeOutside()));
        String scale = "this." + ctx.derivedField(key + ".scale", doubles, method + "Scale", CodeBlock.of("new double[$L]", rank));
        String roiStart = "this." + ctx.derivedField(key + ".roiStart", doubles, method + "RoiStart",
                CodeBlock.of("new double[$L]", rank));
        String roiEnd = "this." + ctx.derivedField(key + ".roiEnd", doubles, method + "RoiEnd", CodeBlock.of("new double[$L]", rank));
        CodeBlock.Builder setup = CodeBlock.builder();
        if (crop) {
            if (!n.hasInput(1) || !given(n.input(1)) || !n.input(1).shape().isStatic()) {
                throw ctx.unsupported("tf_crop_and_resize with an roi of shape "
                        + (n.hasInput(1) ? n.input(1).shape() : "(none)"));
            }
            int count = Math.toIntExact(n.input(1).shape().elementCount().value());
            String roi = "this." + ctx.derivedField(key + ".roi", doubles, method + "Roi", CodeBlock.of("new double[$L]", count));
            TensorRef r = ctx.in(1);
            String i = ctx.locals.newName("i");
            setup.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, count, i)
                    .addStatement("$L[$N] = $L", roi, i, r.at(CodeBlock.of("$N", i)))
                    .endControlFlow();
            setup.addStatement("$T.roi($S, $S, $N, $L, $L, $L, $L)", ResizeCoordinates.class, n.describe(),
                    n.input(1).name(), axesField, roi, count, roiStart, roiEnd);
        } else {
            setup.addStatement("$T.fill($L, 0)", java.util.Arrays.class, roiStart)
                    .addStatement("$T.fill($L, 1)", java.util.Arrays.class, roiEnd);
        }
        if (hasScales) {
            TensorRef sr = ctx.in(2);
            setup.addStatement("$T.fromScales($S, $S, $N, $N, $N, $L, $L, $L, $N, $L)", ResizeCoordinates.class,
                    n.describe(), n.input(2).name(), inField, axesField, sr.array(), sr.offset(), roiStart, roiEnd,
                    outField, scale);
        } else {
            TensorRef zr = ctx.in(3);
            setup.addStatement("$T.fromSizes($S, $S, $N, $N, $N, $L, $S, $N, $L)", ResizeCoordinates.class,
                    n.describe(), n.input(3).name(), inField, axesField, zr.array(), zr.offset(), policy, outField, scale);
        }
        Kind[] kinds = new Kind[rank];
        java.util.Arrays.fill(kinds, Kind.IDENTITY);
        int[] width = new int[rank];
        String[] index = new String[rank];
        String[] weight = new String[rank];
        String[] outside = new String[rank];
        for (int d : axes) {
            kinds[d] = mode.selects() ? Kind.SELECT : Kind.WEIGHTED;
            // The least scale that gives this output length needs the most taps (antialias widens as it shrinks).
            boolean rounded = !hasScales && !policy.equals("stretch");
            double least = out[d] == 0 ? 1 : Math.max(out[d] - (rounded ? 0.5 : 0), 0.5) / Math.max(in[d], 1);
            width[d] = mode.width(least);
            index[d] = "this." + ctx.derivedField(key + ".index" + d, ints, method + "Index" + d,
                    CodeBlock.of("new int[$L]", out[d] * width[d]));
            weight[d] = "this." + ctx.derivedField(key + ".weight" + d, doubles, method + "Weight" + d,
                    CodeBlock.of("new double[$L]", out[d] * width[d]));
            outside[d] = "this." + ctx.derivedField(key + ".outside" + d, ArrayTypeName.of(TypeName.BOOLEAN),
                    method + "Outside" + d, CodeBlock.of("new boolean[$L]", out[d]));
            setup.addStatement("$T.taps($S, $N, $L, $L, $L[$L], $L[$L], $L[$L], $L, $L, $L, $L)", ResizeCoordinates.class,
                    n.describe(), modeField, in[d], out[d], scale, d, roiStart, d, roiEnd, d, width[d], index[d],
                    weight[d], outside[d]);
        }
        if (!crop) {
            java.util.Arrays.fill(outside, null);
        }
        return new Tables(kinds, width, index, weight, outside, crop, setup.build());
    }

    private static CodeBlock intArray(int[] values) {
        CodeBlock.Builder c = CodeBlock.builder().add("{");
        for (int i = 0; i < values.length; i++) {
            c.add(i == 0 ? "$L" : ", $L", values[i]);
        }
        return c.add("}").build();
    }

    /** An optional input that is given: present and not of static length 0 (exporters' "not given"). */
    private static boolean given(dev.kiln.ir.Value v) {
        return !(v.shape().rank() == 1 && v.shape().dim(0).isStatic() && v.shape().dim(0).value() == 0);
    }

    /** Constant roi, scales or sizes: the reference's taps, computed here into static tables. */
    private static Tables staticTables(EmitContext ctx) {
        Node n = ctx.node;
        Shape inShape = n.input(0).shape();
        Shape outShape = n.output(0).shape();
        int rank = inShape.rank();
        int[] in = new int[rank];
        List<Tensor> inputs = new ArrayList<>();
        inputs.add(null);
        for (int i = 1; i < n.inputs().size(); i++) {
            if (!n.hasInput(i) || !ctx.isConstant(n.input(i))) {
                inputs.add(null);
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
        return new Tables(kinds, width, indexTables, weightTables, outsideTables, anyOutside, CodeBlock.of(""));
    }

    /** Emits the loop over the output for the given tables. */
    private static CodeBlock emitLoops(EmitContext ctx, Tables tables) {
        Node n = ctx.node;
        Shape inShape = n.input(0).shape();
        Shape outShape = n.output(0).shape();
        int rank = inShape.rank();
        Kind[] kinds = tables.kinds();
        int[] width = tables.width();
        String[] indexTables = tables.index();
        String[] weightTables = tables.weight();
        String[] outsideTables = tables.outside();
        boolean anyOutside = tables.anyOutside();
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        ElementType t = EmitContext.type(n.output(0));
        CodeBlock.Builder b = CodeBlock.builder().add(tables.setup());
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
