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
 * MaxUnpool: zeros, then each element of X at the flat position its index in I gives within the unpooled shape
 * (the inverse of the MaxPool the attributes describe). A larger output_shape holds that result in its leading
 * corner; given as a graph input, its values are checked against the compiled shape by {@code ValueShapes.shape}.
 */
final class MaxUnpoolEmitter implements KernelEmitter {
    /** Floating elements of any width (the op's type constraint). */
    @Override
    public boolean typed(Node n) {
        return n.input(0).dtype().isFloat();
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Value x = n.input(0);
        Shape xs = x.shape();
        Shape out = n.output(0).shape();
        int spatial = xs.rank() - 2;
        long[] kernel = ints(n, "kernel_shape", spatial, 0);
        long[] strides = ints(n, "strides", spatial, 1);
        long[] pads = ints(n, "pads", 2 * spatial, 0);
        List<Dim> unpooled = new ArrayList<>(xs.dims().subList(0, 2));
        for (int i = 0; i < spatial; i++) {
            Dim in = xs.dim(i + 2);
            if (!in.isStatic()) {
                throw ctx.unsupported("MaxUnpool with spatial dims of the batch");
            }
            unpooled.add(Dim.of((in.value() - 1) * strides[i] + kernel[i] - pads[i] - pads[i + spatial]));
        }
        Shape unpooledShape = new Shape(unpooled);
        boolean same = unpooledShape.equals(out);
        if (!same && (!out.isStatic() || !unpooledShape.isStatic())) {
            throw ctx.unsupported("MaxUnpool into an output_shape " + out + " other than the unpooled " + unpooledShape
                    + " with a batch");
        }
        if (!same) {
            for (int d = 0; d < out.rank(); d++) {
                if (out.dim(d).value() < unpooledShape.dim(d).value()) {
                    throw ctx.unsupported("MaxUnpool with output_shape " + out + " smaller than the unpooled "
                            + unpooledShape);
                }
            }
        }
        TensorRef xr = ctx.in(0);
        TensorRef ir = ctx.in(1);
        TensorRef yr = ctx.out(0);
        CodeBlock.Builder b = CodeBlock.builder();
        if (n.hasInput(2) && !ctx.isConstant(n.input(2))) {
            CodeBlock shape = RunTimeShapes.shapeArray(ctx, b, out, "maxUnpool:" + n.output(0).name(), Identifiers.method(n));
            TensorRef sr = ctx.in(2);
            b.addStatement("$T.shape($S, $S, $N, $L, $L)", RunTimeShapes.VALUE_SHAPES, n.describe(), n.input(2).name(),
                    sr.array(), sr.offset(), shape);
        }
        CodeBlock outCount = ctx.count(n.output(0));
        b.addStatement("$T.fill($N, $L, $L, $L)", Arrays.class, yr.array(), yr.offset(), yr.plus(outCount),
                EmitContext.type(n.output(0)).zero());
        CodeBlock limit = ctx.dim(unpooledShape.elementCount());
        String j = ctx.locals.newName("j");
        String at = ctx.locals.newName("at");
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, ctx.count(x), j);
        b.addStatement("long $N = $L", at, ir.at(CodeBlock.of("$N", j)));
        b.beginControlFlow("if ($N < 0 || $N >= $L)", at, at, limit)
                .addStatement("throw new $T($S + $N + $S)", IllegalArgumentException.class,
                        n.describe() + ": index ", at, " in input '" + n.input(1).name() + "' is outside the unpooled shape "
                                + unpooledShape)
                .endControlFlow();
        CodeBlock target = CodeBlock.of("(int) $N", at);
        if (!same) {
            // Coordinates in the unpooled shape, placed at the same coordinates of the larger output.
            int[] u = unpooledShape.toIntArray();
            int[] o = out.toIntArray();
            List<CodeBlock> terms = new ArrayList<>();
            long uStride = 1;
            long oStride = 1;
            for (int d = u.length - 1; d >= 0; d--) {
                terms.add(CodeBlock.of("($N / $L % $L) * $L", at, uStride, Math.max(u[d], 1), oStride));
                uStride *= u[d];
                oStride *= o[d];
            }
            target = CodeBlock.of("(int) ($L)", CodeBlock.join(terms, " + "));
        }
        b.addStatement("$L = $L", yr.at(target), xr.at(CodeBlock.of("$N", j)));
        b.endControlFlow();
        return b.build();
    }

    private static long[] ints(Node n, String name, int length, long fill) {
        return n.attributes().get(name).map(a -> ((dev.kiln.ir.Attr.Ints) a).values().stream().mapToLong(Long::longValue)
                .toArray()).orElseGet(() -> {
                    long[] v = new long[length];
                    Arrays.fill(v, fill);
                    return v;
                });
    }
}
