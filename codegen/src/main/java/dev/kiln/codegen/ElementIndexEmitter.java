package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.DType;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;

/**
 * GatherElements and ScatterElements with indices read at run time: one loop nest over the indices' shape; the
 * coordinate along {@code axis} is replaced by the index (negative counts from the end, out of range is an
 * {@code IndexOutOfBoundsException} naming the node). ScatterElements first copies data to the output, then
 * stores or combines (add, mul, max, min) each update.
 */
final class ElementIndexEmitter implements KernelEmitter {
    /** Moves (or for ScatterElements' reductions, combines) elements of any type but bool and uint64. */
    @Override
    public boolean typed(Node n) {
        DType t = n.input(0).dtype();
        return n.op().equals("GatherElements") || t.isFloat() || (t.isInteger() && t != DType.UINT64)
                || ctxReduction(n).equals("none");
    }

    /** Gathers, and scatters that replace, copy strings; reductions compute. */
    @Override
    public boolean strings(Node n) {
        return n.op().equals("GatherElements") || ctxReduction(n).equals("none");
    }

    private static String ctxReduction(Node n) {
        return n.op().equals("ScatterElements") ? dev.kiln.ir.OpTable.get().stringAttr(n, "reduction") : "none";
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        if (!typed(n)) {
            throw ctx.unsupported(n.op() + " with reduction " + ctxReduction(n) + " on " + n.input(0).type());
        }
        boolean gather = n.op().equals("GatherElements");
        Shape data = n.input(0).shape();
        Shape idxShape = n.input(1).shape();
        int axis = Shape.normalizeAxis(ctx.intAttr("axis"), data.rank());
        int axisDim = ctx.staticDim(n.input(0), axis);
        TensorRef x = ctx.in(0);
        TensorRef indices = ctx.in(1);
        TensorRef y = ctx.out(0);
        CodeBlock.Builder b = CodeBlock.builder();
        if (!gather) {
            b.addStatement("$T.arraycopy($N, $L, $N, $L, $L)", System.class, x.array(), x.offset(), y.array(), y.offset(),
                    ctx.count(n.output(0)));
        }
        IndexLoops loops = IndexLoops.open(ctx, b, idxShape);
        String f = ctx.locals.newName("f");
        String j = ctx.locals.newName("j");
        b.addStatement("int $N = $L", f, loops.offset(idxShape));
        b.addStatement("long $N = $L", j, indices.at(CodeBlock.of("$N", f)));
        b.beginControlFlow("if ($N < 0)", j).addStatement("$N += $L", j, axisDim).endControlFlow();
        b.beginControlFlow("if ($N < 0 || $N >= $L)", j, j, axisDim)
                .addStatement("throw new $T($S + $L + $S)", IndexOutOfBoundsException.class,
                        ModelPlan.describe(n) + ": index ", indices.at(CodeBlock.of("$N", f)),
                        " is out of bounds for axis " + axis + " of size " + axisDim)
                .endControlFlow();
        CodeBlock at = loops.offset(data, axis, CodeBlock.of("(int) $N", j));
        if (gather) {
            b.addStatement("$L = $L", y.at(CodeBlock.of("$N", f)), x.at(at));
        } else {
            TensorRef updates = ctx.in(2);
            CodeBlock u = updates.at(CodeBlock.of("$N", f));
            CodeBlock target = y.at(at);
            ElementType t = EmitContext.type(n.output(0));
            String reduction = ctx.stringAttr("reduction");
            CodeBlock value = switch (reduction) {
                case "none" -> u;
                case "add" -> t.narrow(CodeBlock.of("$L + $L", target, u));
                case "mul" -> t.narrow(CodeBlock.of("$L * $L", target, u));
                case "max", "min" -> t.narrow(CodeBlock.of("$T.$N($L, $L)", Math.class, reduction, target, u));
                default -> throw ctx.unsupported("ScatterElements reduction '" + reduction + "'");
            };
            b.addStatement("$L = $L", target, value);
        }
        loops.close();
        return b.build();
    }
}
