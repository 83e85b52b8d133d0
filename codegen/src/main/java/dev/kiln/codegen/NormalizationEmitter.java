package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;

/**
 * BatchNormalization (inference, with its statistics as inputs), InstanceNormalization, LayerNormalization
 * and RMSNormalization (Y only). Each reduces a plane or row to a scale and shift (statistics in double, two
 * passes; one for RMSNormalization) and applies them in a vector loop with a scalar tail.
 */
final class NormalizationEmitter implements KernelEmitter {
    /** BatchNormalization in training mode or with running statistics as outputs goes to {@link MomentNormEmitter}. */
    private static boolean batchStatistics(Node n) {
        return n.op().equals("BatchNormalization") && (dev.kiln.ir.OpTable.get().intAttr(n, "training_mode") != 0
                || n.hasOutput(1) || n.hasOutput(2));
    }

    @Override
    public boolean typed(Node n) {
        return batchStatistics(n);
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        if (batchStatistics(n)) {
            // A trainer's BatchNormalization (float32, running statistics computed beside it) uses the vectorized
            // training kernel; the ONNX form with running-statistic outputs, the generic moments.
            boolean trainer = n.input(0).dtype() == dev.kiln.ir.DType.FLOAT32 && !n.hasOutput(1) && !n.hasOutput(2);
            return trainer ? BatchNormTrainingEmitter.forward(ctx) : new MomentNormEmitter().emit(ctx);
        }
        for (int i = 1; i < n.outputs().size(); i++) {
            if (n.hasOutput(i) && !n.op().equals("LayerNormalization")) {
                throw ctx.unsupported(n.op() + "'s output '" + n.output(i).name() + "'");
            }
        }
        return switch (n.op()) {
            case "BatchNormalization" -> batchNorm(ctx);
            case "InstanceNormalization" -> instanceNorm(ctx);
            default -> layerNorm(ctx);
        };
    }

    private static CodeBlock batchNorm(EmitContext ctx) {
        Node n = ctx.node;
        if (ctx.intAttr("training_mode") != 0) {
            return BatchNormTrainingEmitter.forward(ctx);
        }
        Shape s = n.input(0).shape();
        int channels = ctx.staticDim(n.input(0), 1);
        CodeBlock plane = ctx.dim(spatial(s));
        CodeBlock.Builder b = CodeBlock.builder();
        String base = ctx.locals.newName("base");
        String n0 = ctx.locals.newName("n");
        String c = ctx.locals.newName("c");
        String a = ctx.locals.newName("a");
        String shift = ctx.locals.newName("shift");
        b.addStatement("int $N = 0", base);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", n0, n0, ctx.dim(s.dim(0)), n0);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++, $N += $L)", c, c, channels, c, base, plane);
        CodeBlock cv = CodeBlock.of("$N", c);
        b.addStatement("float $N = (float) ($L / $T.sqrt((double) $L + $L))", a, ctx.in(1).at(cv), Math.class,
                ctx.in(4).at(cv), ctx.floatAttr("epsilon"));
        b.addStatement("float $N = $L - $L * $N", shift, ctx.in(2).at(cv), ctx.in(3).at(cv), a);
        scaleShift(ctx, b, base, plane, a, shift);
        b.endControlFlow();
        b.endControlFlow();
        return b.build();
    }

    private static CodeBlock instanceNorm(EmitContext ctx) {
        Node n = ctx.node;
        Shape s = n.input(0).shape();
        int channels = ctx.staticDim(n.input(0), 1);
        CodeBlock plane = ctx.dim(spatial(s));
        CodeBlock.Builder b = CodeBlock.builder();
        String base = ctx.locals.newName("base");
        String n0 = ctx.locals.newName("n");
        String c = ctx.locals.newName("c");
        b.addStatement("int $N = 0", base);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", n0, n0, ctx.dim(s.dim(0)), n0);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++, $N += $L)", c, c, channels, c, base, plane);
        String[] stats = moments(ctx, b, base, plane);
        String a = ctx.locals.newName("a");
        String shift = ctx.locals.newName("shift");
        CodeBlock cv = CodeBlock.of("$N", c);
        b.addStatement("float $N = (float) ($L / $T.sqrt($N + $L))", a, ctx.in(1).at(cv), Math.class, stats[1],
                ctx.floatAttr("epsilon"));
        b.addStatement("float $N = (float) ($L - $N * $N)", shift, ctx.in(2).at(cv), stats[0], a);
        scaleShift(ctx, b, base, plane, a, shift);
        b.endControlFlow();
        b.endControlFlow();
        return b.build();
    }

    /** LayerNormalization, or RMSNormalization ({@code rms}: no centring, the root mean square for the deviation). */
    private static CodeBlock layerNorm(EmitContext ctx) {
        Node n = ctx.node;
        boolean rms = n.op().equals("RMSNormalization");
        Shape s = n.input(0).shape();
        int axis = Shape.normalizeAxis(ctx.intAttr("axis"), s.rank());
        Dim rows = Dim.of(1);
        Dim inner = Dim.of(1);
        for (int d = 0; d < s.rank(); d++) {
            if (d < axis) {
                rows = rows.times(s.dim(d));
            } else {
                inner = inner.times(s.dim(d));
            }
        }
        if (!inner.isStatic()) {
            throw ctx.unsupported(n.op() + " over the batch axis");
        }
        boolean scaleFull = fullOrScalar(ctx, n.input(1), inner);
        boolean biasFull = n.hasInput(2) && fullOrScalar(ctx, n.input(2), inner);
        CodeBlock len = CodeBlock.of("$L", inner.value());
        CodeBlock.Builder b = CodeBlock.builder();
        String base = ctx.locals.newName("base");
        String r = ctx.locals.newName("r");
        b.addStatement("int $N = 0", base);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++, $N += $L)", r, r, ctx.dim(rows), r, base, len);
        String[] stats = rms ? new String[] {null, meanSquare(ctx, b, base, len)} : moments(ctx, b, base, len);
        String mean = rms ? null : ctx.locals.newName("meanF");
        String inv = ctx.locals.newName(rms ? "invRms" : "invStd");
        if (!rms) {
            b.addStatement("float $N = (float) $N", mean, stats[0]);
        }
        b.addStatement("float $N = (float) (1.0 / $T.sqrt($N + $L))", inv, Math.class, stats[1], ctx.floatAttr("epsilon"));
        // The optional Mean and InvStdDev outputs hold one value per normalized row.
        if (n.outputs().size() > 1 && n.hasOutput(1)) {
            b.addStatement("$L = $N", ctx.out(1).at(CodeBlock.of("$N", r)), mean);
        }
        if (n.outputs().size() > 2 && n.hasOutput(2)) {
            b.addStatement("$L = $N", ctx.out(2).at(CodeBlock.of("$N", r)), inv);
        }
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        TensorRef scale = ctx.in(1);
        String j = ctx.locals.newName("j");
        CodeBlock xi = x.plus(CodeBlock.of("$N + $N", base, j));
        CodeBlock yi = y.plus(CodeBlock.of("$N + $N", base, j));
        CodeBlock jv = CodeBlock.of("$N", j);
        b.addStatement("int $N = 0", j);
        b.beginControlFlow("for (; $N < SPECIES.loopBound($L); $N += SPECIES.length())", j, len, j);
        CodeBlock v = rms
                ? CodeBlock.of("$T.fromArray(SPECIES, $N, $L).mul($N)", PointwiseForms.FLOAT_VECTOR, x.array(), xi, inv)
                : CodeBlock.of("$T.fromArray(SPECIES, $N, $L).sub($N).mul($N)", PointwiseForms.FLOAT_VECTOR, x.array(), xi,
                        mean, inv);
        v = scaleFull ? CodeBlock.of("$L.mul($T.fromArray(SPECIES, $N, $L))", v, PointwiseForms.FLOAT_VECTOR, scale.array(),
                scale.plus(jv)) : CodeBlock.of("$L.mul($L)", v, scale.at(CodeBlock.of("0")));
        if (n.hasInput(2)) {
            TensorRef bias = ctx.in(2);
            v = biasFull ? CodeBlock.of("$L.add($T.fromArray(SPECIES, $N, $L))", v, PointwiseForms.FLOAT_VECTOR, bias.array(),
                    bias.plus(jv)) : CodeBlock.of("$L.add($L)", v, bias.at(CodeBlock.of("0")));
        }
        b.addStatement("$L.intoArray($N, $L)", v, y.array(), yi);
        b.endControlFlow();
        b.beginControlFlow("for (; $N < $L; $N++)", j, len, j);
        CodeBlock scaleAt = scale.at(scaleFull ? jv : CodeBlock.of("0"));
        CodeBlock e = rms ? CodeBlock.of("$N[$L] * $N * $L", x.array(), xi, inv, scaleAt)
                : CodeBlock.of("($N[$L] - $N) * $N * $L", x.array(), xi, mean, inv, scaleAt);
        if (n.hasInput(2)) {
            e = CodeBlock.of("$L + $L", e, ctx.in(2).at(biasFull ? jv : CodeBlock.of("0")));
        }
        b.addStatement("$N[$L] = $L", y.array(), yi, e);
        b.endControlFlow();
        b.endControlFlow();
        return b.build();
    }

    /** True when a Layer/RMSNormalization parameter covers the normalized dims exactly, false when it is one element. */
    private static boolean fullOrScalar(EmitContext ctx, Value p, Dim inner) {
        Dim count = p.shape().elementCount();
        if (count.equals(inner)) {
            return true;
        }
        if (StridedCopy.isOne(count)) {
            return false;
        }
        throw ctx.unsupported(ctx.node.op() + " with '" + p.name() + "' " + p.shape() + " broadcast over part of the "
                + "normalized dims");
    }

    /** The product of the dims after the channel. */
    private static Dim spatial(Shape s) {
        Dim plane = Dim.of(1);
        for (int d = 2; d < s.rank(); d++) {
            plane = plane.times(s.dim(d));
        }
        return plane;
    }

    /** Mean and (biased) variance of x[base .. base + len) as two doubles; returns their names. */
    private static String[] moments(EmitContext ctx, CodeBlock.Builder b, String base, CodeBlock len) {
        TensorRef x = ctx.in(0);
        String sum = ctx.locals.newName("sum");
        String mean = ctx.locals.newName("mean");
        String sq = ctx.locals.newName("squares");
        String variance = ctx.locals.newName("variance");
        String i = ctx.locals.newName("i");
        String d = ctx.locals.newName("d");
        CodeBlock xi = x.at(CodeBlock.of("$N + $N", base, i));
        b.addStatement("double $N = 0", sum);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, len, i);
        b.addStatement("$N += $L", sum, xi);
        b.endControlFlow();
        b.addStatement("double $N = $N / $L", mean, sum, len);
        b.addStatement("double $N = 0", sq);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, len, i);
        b.addStatement("double $N = $L - $N", d, xi, mean);
        b.addStatement("$N += $N * $N", sq, d, d);
        b.endControlFlow();
        b.addStatement("double $N = $N / $L", variance, sq, len);
        return new String[] {mean, variance};
    }

    /** Mean of the squares of x[base .. base + len) as a double; returns its name. */
    private static String meanSquare(EmitContext ctx, CodeBlock.Builder b, String base, CodeBlock len) {
        String sq = ctx.locals.newName("squares");
        String i = ctx.locals.newName("i");
        String v = ctx.locals.newName("v");
        String ms = ctx.locals.newName("meanSquare");
        b.addStatement("double $N = 0", sq);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, len, i);
        b.addStatement("double $N = $L", v, ctx.in(0).at(CodeBlock.of("$N + $N", base, i)));
        b.addStatement("$N += $N * $N", sq, v, v);
        b.endControlFlow();
        b.addStatement("double $N = $N / $L", ms, sq, len);
        return ms;
    }

    /** {@code y = x * a + shift} over {@code len} elements from {@code base}: vector loop, scalar tail. */
    private static void scaleShift(EmitContext ctx, CodeBlock.Builder b, String base, CodeBlock len, String a, String shift) {
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        String i = ctx.locals.newName("i");
        CodeBlock xi = x.plus(CodeBlock.of("$N + $N", base, i));
        CodeBlock yi = y.plus(CodeBlock.of("$N + $N", base, i));
        b.addStatement("int $N = 0", i);
        b.beginControlFlow("for (; $N < SPECIES.loopBound($L); $N += SPECIES.length())", i, len, i);
        b.addStatement("$T.fromArray(SPECIES, $N, $L).mul($N).add($N).intoArray($N, $L)", PointwiseForms.FLOAT_VECTOR,
                x.array(), xi, a, shift, y.array(), yi);
        b.endControlFlow();
        b.beginControlFlow("for (; $N < $L; $N++)", i, len, i);
        b.addStatement("$N[$L] = $N[$L] * $N + $N", y.array(), yi, x.array(), xi, a, shift);
        b.endControlFlow();
    }
}
