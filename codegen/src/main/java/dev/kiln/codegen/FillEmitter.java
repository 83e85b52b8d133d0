package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.TypeName;
import dev.kiln.ir.Attr;
import dev.kiln.ir.Node;
import dev.kiln.ir.Tensor;
import java.util.Arrays;

/**
 * Ops that fill their output from a few values, whose count those values give: ConstantOfShape (the one element of
 * {@code value}, float32 0 by default, over the shape its input holds) and Range ({@code start + i * delta}, floats
 * computed in double then rounded to the element type, integers in long then wrapped). The output's size is compiled
 * from its static (possibly declared) shape; when the shape or bounds are read at run time, the runtime's
 * {@code ShapeChecks} first checks that they give it.
 */
final class FillEmitter implements KernelEmitter {
    /** Any element type ConstantOfShape's value or Range's numbers have. */
    @Override
    public boolean typed(Node n) {
        return true;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        return ctx.node.op().equals("Range") ? range(ctx) : constantOfShape(ctx);
    }

    private static CodeBlock constantOfShape(EmitContext ctx) {
        Node n = ctx.node;
        CodeBlock.Builder b = CodeBlock.builder();
        if (RunTimeShapes.atRunTime(ctx, 0)) {
            TensorRef shape = RunTimeShapes.longs(ctx, b, 0);
            b.addStatement("$T.constantOfShape($L, $L, $N, $L, $L, $N, batch)", RunTimeShapes.SHAPE_CHECKS,
                    RunTimeShapes.node(ctx), RunTimeShapes.name(ctx, 0), shape.array(), shape.offset(),
                    RunTimeShapes.length(ctx, 0), RunTimeShapes.dims(ctx, n.output(0)));
        }
        ElementType t = EmitContext.type(n.output(0));
        CodeBlock value = n.attributes().get("value").map(a -> t.elementLiteral(((Attr.TensorValue) a).value(), 0))
                .orElseGet(() -> t.elementLiteral(0));
        TensorRef y = ctx.out(0);
        b.addStatement("$T.fill($N, $L, $L, $L)", Arrays.class, y.array(), y.offset(), y.plus(ctx.count(n.output(0))),
                value);
        return b.build();
    }

    private static CodeBlock range(EmitContext ctx) {
        Node n = ctx.node;
        ElementType t = EmitContext.type(n.output(0));
        boolean floating = n.output(0).dtype().isFloat();
        TypeName compute = floating ? TypeName.DOUBLE : TypeName.LONG;
        CodeBlock.Builder b = CodeBlock.builder();
        String[] bounds = {"start", "limit", "delta"};
        boolean atRunTime = false;
        for (int i = 0; i < 3; i++) {
            String local = ctx.locals.newName(bounds[i] + "Value");
            bounds[i] = local;
            CodeBlock v = ctx.isConstant(n.input(i)) ? literal(ctx.constant(n.input(i)), floating)
                    : ctx.in(i).at(CodeBlock.of("0"));
            b.addStatement("$T $N = $L", compute, local, v);
            atRunTime |= RunTimeShapes.atRunTime(ctx, i);
        }
        CodeBlock count = ctx.count(n.output(0));
        if (atRunTime) {
            b.addStatement("$T.range($L, $S, $N, $N, $N, $L)", RunTimeShapes.SHAPE_CHECKS, RunTimeShapes.node(ctx),
                    "'" + n.input(0).name() + "', '" + n.input(1).name() + "', '" + n.input(2).name() + "'",
                    bounds[0], bounds[1], bounds[2], count);
        }
        TensorRef y = ctx.out(0);
        String i = ctx.locals.newName("i");
        CodeBlock value = CodeBlock.of("$N + $N * $N", bounds[0], i, bounds[2]);
        CodeBlock stored = floating && !t.element().equals(TypeName.DOUBLE)
                ? t.narrow(CodeBlock.of("(float) ($L)", value)) : t.narrow(value);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, count, i)
                .addStatement("$L = $L", y.at(CodeBlock.of("$N", i)), stored)
                .endControlFlow();
        return b.build();
    }

    /** A constant scalar as a literal of the computation's type. */
    private static CodeBlock literal(Tensor v, boolean floating) {
        return floating ? ElementType.doubleLiteral(v.getDouble(0)) : CodeBlock.of("$LL", v.getLong(0));
    }
}
