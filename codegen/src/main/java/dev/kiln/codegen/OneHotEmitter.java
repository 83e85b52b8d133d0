package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import java.util.Arrays;

/**
 * OneHot: the output is the indices' shape with a new axis of {@code depth} at {@code axis}, filled with
 * {@code values[0]} and {@code values[1]} where the index (a negative one counted from depth, a float one truncated)
 * points; out-of-range indices leave their row all {@code values[0]}. The depth is the output's static (possibly
 * declared) dim; read at run time, the runtime's {@code ShapeChecks} first checks that it is that dim.
 */
final class OneHotEmitter implements KernelEmitter {
    /** Indices of any numeric type, values of any type. */
    @Override
    public boolean typed(Node n) {
        return true;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Shape indices = n.input(0).shape();
        Shape out = n.output(0).shape();
        int axis = Shape.normalizeAxis(ctx.intAttr("axis"), out.rank());
        long depth = ctx.staticDim(n.output(0), axis);
        CodeBlock.Builder b = CodeBlock.builder();
        if (RunTimeShapes.atRunTime(ctx, 1)) {
            b.addStatement("$T.oneHot($L, $L, $L, $L)", RunTimeShapes.SHAPE_CHECKS, RunTimeShapes.node(ctx),
                    RunTimeShapes.name(ctx, 1), asLong(ctx, 1, ctx.in(1).at(CodeBlock.of("0"))), depth);
        }
        Dim outer = new Shape(indices.dims().subList(0, axis)).elementCount();
        Dim inner = new Shape(indices.dims().subList(axis, indices.rank())).elementCount();
        TensorRef x = ctx.in(0);
        TensorRef values = ctx.in(2);
        TensorRef y = ctx.out(0);
        b.addStatement("$T.fill($N, $L, $L, $L)", Arrays.class, y.array(), y.offset(), y.plus(ctx.count(n.output(0))),
                values.at(CodeBlock.of("0")));
        String o = ctx.locals.newName("o");
        String i = ctx.locals.newName("i");
        String k = ctx.locals.newName("k");
        // With the new axis last (the default) each index owns one row: no inner loop.
        boolean rows = StridedCopy.isOne(inner);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", o, o, ctx.dim(outer), o);
        if (!rows) {
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, ctx.dim(inner), i);
        }
        CodeBlock at = rows ? CodeBlock.of("$N", o) : CodeBlock.of("$N * $L + $N", o, ctx.dim(inner), i);
        b.addStatement("long $N = $L", k, asLong(ctx, 0, x.at(at)));
        b.beginControlFlow("if ($N < 0)", k).addStatement("$N += $L", k, depth).endControlFlow();
        b.beginControlFlow("if ($N >= 0 && $N < $L)", k, k, depth);
        CodeBlock hot = rows ? CodeBlock.of("$N * $L + (int) $N", o, depth, k)
                : CodeBlock.of("($N * $L + (int) $N) * $L + $N", o, depth, k, ctx.dim(inner), i);
        b.addStatement("$L = $L", y.at(hot), values.at(CodeBlock.of("1")));
        b.endControlFlow();
        if (!rows) {
            b.endControlFlow();
        }
        b.endControlFlow();
        return b.build();
    }

    /** An element of input i as a long: floats truncated toward zero, as ONNX casts indices and depth to int64. */
    private static CodeBlock asLong(EmitContext ctx, int i, CodeBlock element) {
        return EmitContext.type(ctx.node.input(i)).element().equals(com.palantir.javapoet.TypeName.LONG) ? element
                : CodeBlock.of("(long) $L", element);
    }
}
