package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;
import java.util.List;

/**
 * The ops whose output length is a count of elements that pass a test, known only at run time: Compress (the true
 * elements of its condition pick slices along an axis, or elements of the flattened input) and NonZero (the
 * coordinates of the non-zero elements, [rank, count]). Generated code counts first, checks the count against the
 * compiled length through {@code ValueShapes}, then copies.
 */
final class ConditionEmitter implements KernelEmitter {
    /** Any element type generated code holds. */
    @Override
    public boolean typed(Node n) {
        return true;
    }

    /** Compress copies the kept elements (strings too); NonZero tests them against zero. */
    @Override
    public boolean strings(Node n) {
        return n.op().equals("Compress");
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        return ctx.node.op().equals("NonZero") ? nonZero(ctx) : compress(ctx);
    }

    private static CodeBlock compress(EmitContext ctx) {
        Node n = ctx.node;
        Value x = n.input(0);
        Value condition = n.input(1);
        Shape s = x.shape();
        if (condition.shape().rank() != 1 || !condition.shape().dim(0).isStatic()) {
            throw ctx.unsupported("Compress with a condition of shape " + condition.shape() + " (it must be 1-D, static)");
        }
        int length = Math.toIntExact(condition.shape().dim(0).value());
        boolean flat = n.attributes().get("axis").isEmpty();
        int axis = 0;
        if (!flat) {
            long a = ctx.intAttr("axis");
            axis = (int) (a < 0 ? a + s.rank() : a);
        }
        Dim along = flat ? s.elementCount() : s.dim(axis);
        if (!along.isStatic()) {
            throw ctx.unsupported("Compress along a dim of the batch");
        }
        if (length > along.value()) {
            throw ctx.unsupported("Compress with a condition of " + length + " elements along " + along.value());
        }
        TensorRef xr = ctx.in(0);
        TensorRef cr = ctx.in(1);
        TensorRef yr = ctx.out(0);
        CodeBlock.Builder b = CodeBlock.builder();
        String count = ctx.locals.newName("count");
        String c = ctx.locals.newName("c");
        b.addStatement("int $N = 0", count);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", c, c, length, c)
                .beginControlFlow("if ($L)", cr.at(CodeBlock.of("$N", c)))
                .addStatement("$N++", count)
                .endControlFlow().endControlFlow();
        CodeBlock shape = RunTimeShapes.shapeArray(ctx, b, n.output(0).shape(), "compress:" + n.output(0).name(),
                Identifiers.method(n));
        b.addStatement("$T.kept($S, $S, $N, $L, $L, $N, $L, $L)", RunTimeShapes.VALUE_SHAPES, n.describe(),
                condition.name(), cr.array(), cr.offset(), length, count, axis, shape);
        String j = ctx.locals.newName("j");
        b.addStatement("int $N = 0", j);
        if (flat) {
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", c, c, length, c)
                    .beginControlFlow("if ($L)", cr.at(CodeBlock.of("$N", c)))
                    .addStatement("$L = $L", yr.at(CodeBlock.of("$N++", j)), xr.at(CodeBlock.of("$N", c)))
                    .endControlFlow().endControlFlow();
            return b.build();
        }
        List<Dim> dims = s.dims();
        CodeBlock outer = ctx.dim(dims.subList(0, axis).stream().reduce(Dim.of(1), Dim::times));
        CodeBlock inner = ctx.dim(dims.subList(axis + 1, dims.size()).stream().reduce(Dim.of(1), Dim::times));
        String o = ctx.locals.newName("o");
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", o, o, outer, o)
                .beginControlFlow("for (int $N = 0; $N < $L; $N++)", c, c, length, c)
                .beginControlFlow("if ($L)", cr.at(CodeBlock.of("$N", c)))
                .addStatement("$T.arraycopy($N, $L, $N, $L, $L)", System.class, xr.array(),
                        xr.plus(CodeBlock.of("($N * $L + $N) * $L", o, along.value(), c, inner)), yr.array(),
                        yr.plus(CodeBlock.of("$N", j)), inner)
                .addStatement("$N += $L", j, inner)
                .endControlFlow().endControlFlow().endControlFlow();
        return b.build();
    }

    private static CodeBlock nonZero(EmitContext ctx) {
        Node n = ctx.node;
        Value x = n.input(0);
        Shape s = x.shape();
        if (!s.isStatic()) {
            throw ctx.unsupported("NonZero of an input of shape " + s + " (its dims must be static)");
        }
        int size = Math.toIntExact(s.elementCount().value());
        int rank = s.rank();
        int count = Math.toIntExact(n.output(0).shape().dim(1).value());
        TensorRef xr = ctx.in(0);
        TensorRef yr = ctx.out(0);
        CodeBlock.Builder b = CodeBlock.builder();
        String f = ctx.locals.newName("f");
        CodeBlock element = xr.at(CodeBlock.of("$N", f));
        CodeBlock test = x.dtype() == DType.BOOL ? element : CodeBlock.of("$L != 0", element);
        String found = ctx.locals.newName("found");
        b.addStatement("int $N = 0", found);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", f, f, size, f)
                .beginControlFlow("if ($L)", test).addStatement("$N++", found).endControlFlow()
                .endControlFlow();
        CodeBlock shape = RunTimeShapes.shapeArray(ctx, b, n.output(0).shape(), "nonZero:" + n.output(0).name(),
                Identifiers.method(n));
        b.addStatement("$T.nonZero($S, $S, $N, $L)", RunTimeShapes.VALUE_SHAPES, n.describe(), x.name(), found, shape);
        String j = ctx.locals.newName("j");
        b.addStatement("int $N = 0", j);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", f, f, size, f).beginControlFlow("if ($L)", test);
        int[] dims = s.toIntArray();
        int stride = size;
        for (int a = 0; a < rank; a++) {
            stride = dims[a] == 0 ? 0 : stride / dims[a];
            // Coordinate a of flat index f in row-major order.
            b.addStatement("$L = ($N / $L) % $L", yr.at(CodeBlock.of("$L + $N", a * count, j)), f, Math.max(stride, 1),
                    Math.max(dims[a], 1));
        }
        b.addStatement("$N++", j);
        b.endControlFlow().endControlFlow();
        return b.build();
    }
}
