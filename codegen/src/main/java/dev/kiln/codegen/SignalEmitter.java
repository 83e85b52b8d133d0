package dev.kiln.codegen;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.TypeName;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.SignalOps;

/**
 * The signal ops over float32, through the runtime's {@code Signal}: the cosine-sum windows and MelWeightMatrix
 * (their sizes read at run time are checked against the compiled output shape), DFT (axis and length constant or
 * read at run time) and STFT, both through the runtime's {@code Fft}: a per-instance plan (twiddles, bit reversal,
 * Bluestein's chirp and filter for lengths other than powers of two) built with the instance when the transform's
 * length is known at generation time, otherwise on the first call (and again only when the length changes).
 */
final class SignalEmitter implements KernelEmitter {
    private static final ClassName SIGNAL = ClassName.get("dev.kiln.runtime", "Signal");
    private static final ClassName FFT_CACHE = ClassName.get("dev.kiln.runtime", "Fft").nestedClass("Cache");
    private static final TypeName INTS = ArrayTypeName.of(TypeName.INT);

    /** Integer operands of any integer type; every floating tensor float32. */
    @Override
    public boolean typed(Node n) {
        return KernelEmitter.integersOrFloat32(n);
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Value out = n.output(0);
        if (!out.shape().isStatic()) {
            throw ctx.unsupported(n.op() + " with output shape " + out.shape()
                    + " (generated code needs it static or declared)");
        }
        return switch (n.op()) {
            case "MelWeightMatrix" -> mel(ctx);
            case "DFT" -> dft(ctx);
            case "STFT" -> stft(ctx);
            default -> window(ctx);
        };
    }

    private static CodeBlock window(EmitContext ctx) {
        Node n = ctx.node;
        int size = ctx.staticDim(n.output(0), 0);
        CodeBlock.Builder b = CodeBlock.builder();
        checkScalar(ctx, b, 0, size, "which gives a window of that many samples");
        double[] a = SignalOps.WINDOWS.get(n.op());
        TensorRef y = ctx.out(0);
        b.addStatement("$T.cosineWindow($L, $L, $L, $L, $N, $L, $L)", SIGNAL, ElementType.doubleLiteral(a[0]),
                ElementType.doubleLiteral(a[1]), ElementType.doubleLiteral(a[2]), ctx.intAttr("periodic") != 0,
                y.array(), y.offset(), size);
        return b.build();
    }

    private static CodeBlock mel(EmitContext ctx) {
        Node n = ctx.node;
        int rows = ctx.staticDim(n.output(0), 0);
        int bins = ctx.staticDim(n.output(0), 1);
        CodeBlock.Builder b = CodeBlock.builder();
        checkScalar(ctx, b, 0, bins, "which gives that many mel bins");
        String length = ctx.locals.newName("dftLength");
        b.addStatement("int $N = (int) $L", length, scalar(ctx, 1));
        b.beginControlFlow("if ($N / 2 + 1 != $L)", length, rows)
                .addStatement("throw new $T($L + $S + $N + $S)", IllegalArgumentException.class,
                        RunTimeShapes.node(ctx), ": dft_length ", length, " gives " + "a matrix of other than " + rows
                                + " rows, the number the code was compiled for")
                .endControlFlow();
        TensorRef y = ctx.out(0);
        b.addStatement("$T.melWeights($L, $N, $L, $L, $L, $N, $L)", SIGNAL, bins, length, scalar(ctx, 2),
                CodeBlock.of("(double) $L", ctx.in(3).at(CodeBlock.of("0"))),
                CodeBlock.of("(double) $L", ctx.in(4).at(CodeBlock.of("0"))), y.array(), y.offset());
        return b.build();
    }

    private static CodeBlock dft(EmitContext ctx) {
        Node n = ctx.node;
        Value x = n.input(0);
        Value out = n.output(0);
        if (!x.shape().isStatic()) {
            throw ctx.unsupported("DFT of " + x.type() + " (generated code needs a static input shape)");
        }
        int[] in = dims(x.shape());
        int[] outDims = dims(out.shape());
        boolean inverse = ctx.intAttr("inverse") != 0;
        boolean onesided = ctx.intAttr("onesided") != 0;
        CodeBlock axis = n.hasInput(2) ? scalar(ctx, 2) : CodeBlock.of("-2L");
        CodeBlock length = n.hasInput(1) ? scalar(ctx, 1) : CodeBlock.of("0L");
        String key = "dft:" + n.output(0).name();
        String upper = Identifiers.method(n).toUpperCase(java.util.Locale.ROOT);
        String inField = ctx.staticField(key + ".in", INTS, upper + "_IN_DIMS", ints(in));
        String outField = ctx.staticField(key + ".out", INTS, upper + "_OUT_DIMS", ints(outDims));
        boolean known = (!n.hasInput(2) || ctx.isConstant(n.input(2))) && (!n.hasInput(1) || ctx.isConstant(n.input(1)));
        CodeBlock plan = CodeBlock.of("new $T()", FFT_CACHE);
        if (known) {
            long a = n.hasInput(2) ? ctx.constant(n.input(2)).getLong(0) : -2;
            int ax = (int) (a < 0 ? a + in.length : a);
            int len = n.hasInput(1) ? Math.toIntExact(ctx.constant(n.input(1)).getLong(0))
                    : inverse && onesided ? 2 * (in[ax] - 1) : in[ax];
            if (len > 0) {
                plan = CodeBlock.of("new $T($L)", FFT_CACHE, len);
            }
        }
        String ffts = "this." + ctx.derivedField(key + ".fft", FFT_CACHE, Identifiers.method(n) + "Fft", plan);
        TensorRef xr = ctx.in(0);
        TensorRef y = ctx.out(0);
        return CodeBlock.builder()
                .addStatement("$T.dft($L, $N, $L, $N, $L, $L, $L, $L, $N, $L, $N, $L)", SIGNAL,
                        RunTimeShapes.node(ctx), xr.array(), xr.offset(), inField, axis, length, inverse, onesided,
                        y.array(), y.offset(), outField, ffts)
                .build();
    }

    private static CodeBlock stft(EmitContext ctx) {
        Node n = ctx.node;
        Value x = n.input(0);
        if (!x.shape().isStatic()) {
            throw ctx.unsupported("STFT of " + x.type() + " (generated code needs a static signal shape)");
        }
        int[] in = dims(x.shape());
        int frames = ctx.staticDim(n.output(0), 1);
        int bins = ctx.staticDim(n.output(0), 2);
        boolean onesided = ctx.intAttr("onesided") != 0;
        if (onesided && in[2] == 2) {
            throw new IllegalStateException(n.describe() + ": onesided STFT of a complex signal " + x.type());
        }
        boolean hasWindow = n.hasInput(2);
        // frame_length is the window's length, else the input, else the whole signal; bins follow from it.
        int frame = hasWindow ? ctx.staticDim(n.input(2), 0) : !n.hasInput(3) ? in[1]
                : ctx.isConstant(n.input(3)) ? Math.toIntExact(ctx.constant(n.input(3)).getLong(0)) : -1;
        CodeBlock.Builder b = CodeBlock.builder();
        String frameLocal = ctx.locals.newName("frameLength");
        if (frame < 0) {
            b.addStatement("int $N = (int) $L", frameLocal, scalar(ctx, 3));
            b.beginControlFlow("if ($L != $L)", onesided ? CodeBlock.of("$N / 2 + 1", frameLocal)
                            : CodeBlock.of("$N", frameLocal), bins)
                    .addStatement("throw new $T($L + $S + $N + $S)", IllegalArgumentException.class,
                            RunTimeShapes.node(ctx), ": frame_length ", frameLocal,
                            " gives other than the " + bins + " bins the code was compiled for")
                    .endControlFlow();
        } else {
            b.addStatement("int $N = $L", frameLocal, frame);
            if (n.hasInput(3) && RunTimeShapes.atRunTime(ctx, 3)) {
                b.beginControlFlow("if ($L != $L)", scalar(ctx, 3), frame)
                        .addStatement("throw new $T($L + $S)", IllegalArgumentException.class, RunTimeShapes.node(ctx),
                                ": frame_length differs from the " + frame + " samples the code was compiled for")
                        .endControlFlow();
            }
        }
        // The FFT plan of a frame length known now is built with the instance; one read at run time, on first use.
        String ffts = "this." + ctx.derivedField("stft:" + n.output(0).name() + ".fft", FFT_CACHE,
                Identifiers.method(n) + "Fft", frame > 0 ? CodeBlock.of("new $T($L)", FFT_CACHE, frame)
                        : CodeBlock.of("new $T()", FFT_CACHE));
        TensorRef xr = ctx.in(0);
        TensorRef y = ctx.out(0);
        CodeBlock window = hasWindow ? CodeBlock.of("$N, $L", ctx.in(2).array(), ctx.in(2).offset())
                : CodeBlock.of("null, 0");
        b.addStatement("$T.stft($L, $N, $L, $L, $L, $L, $L, $L, $N, $N, $L, $L, $L, $L)", SIGNAL,
                RunTimeShapes.node(ctx), xr.array(), xr.offset(), in[0], in[1], in[2], scalar(ctx, 1), window,
                frameLocal, y.array(), y.offset(), frames, bins, ffts);
        return b.build();
    }

    /** Checks that scalar input i holds {@code compiled} when read at run time. */
    private static void checkScalar(EmitContext ctx, CodeBlock.Builder b, int i, long compiled, String gives) {
        Node n = ctx.node;
        if (!RunTimeShapes.atRunTime(ctx, i)) {
            return;
        }
        b.beginControlFlow("if ($L != $LL)", scalar(ctx, i), compiled)
                .addStatement("throw new $T($L + $S + $L + $S)", IllegalArgumentException.class, RunTimeShapes.node(ctx),
                        ": input '" + n.input(i).name() + "' holds ", scalar(ctx, i),
                        ", " + gives + ", but the code was compiled for " + compiled)
                .endControlFlow();
    }

    /** Scalar input i as a long expression: its constant, or its one element read at run time. */
    private static CodeBlock scalar(EmitContext ctx, int i) {
        Value v = ctx.node.input(i);
        if (ctx.isConstant(v)) {
            return CodeBlock.of("$LL", ctx.constant(v).getLong(0));
        }
        CodeBlock element = ctx.in(i).at(CodeBlock.of("0"));
        return EmitContext.type(v).element().equals(TypeName.LONG) ? element : CodeBlock.of("((long) $L)", element);
    }

    private static int[] dims(Shape s) {
        int[] d = new int[s.rank()];
        for (int i = 0; i < d.length; i++) {
            d[i] = Math.toIntExact(s.dim(i).value());
        }
        return d;
    }

    static CodeBlock ints(int[] v) {
        CodeBlock.Builder b = CodeBlock.builder().add("{");
        for (int i = 0; i < v.length; i++) {
            b.add(i == 0 ? "$L" : ", $L", v[i]);
        }
        return b.add("}").build();
    }
}
