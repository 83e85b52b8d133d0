package dev.kiln.codegen;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.TypeName;
import dev.kiln.ir.DType;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;

/**
 * TopK with K a constant or read at run time (then checked against the compiled K by {@code ValueShapes.topK}):
 * the input is (outer, length, inner) around the axis; each of the outer x inner lines is copied into a key array
 * (double for floating types, long for integers), ordered by {@code TopKOrder.sort} (largest or smallest first,
 * ties by lower index, NaN largest) and its first K elements and their positions written out. Always sorted, as
 * the reference evaluator does whatever {@code sorted} says.
 */
final class TopKEmitter implements KernelEmitter {
    /** Numeric elements of any type (uint64 compared unsigned). */
    @Override
    public boolean typed(Node n) {
        return n.input(0).dtype().isNumeric();
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Value x = n.input(0);
        Shape s = x.shape();
        int rank = s.rank();
        long axisAttr = ctx.intAttr("axis");
        int axis = (int) (axisAttr < 0 ? axisAttr + rank : axisAttr);
        if (!s.dim(axis).isStatic()) {
            throw ctx.unsupported("TopK along axis " + axis + " of " + s + " (its length must be static)");
        }
        int length = Math.toIntExact(s.dim(axis).value());
        Shape outShape = n.output(0).shape();
        int k = Math.toIntExact(outShape.dim(axis).value());
        boolean largest = ctx.intAttr("largest") != 0;
        boolean floating = x.dtype().isFloat();
        String method = Identifiers.method(n);
        String key = "topK:" + n.output(0).name();
        TypeName keyType = floating ? TypeName.DOUBLE : TypeName.LONG;
        String keys = "this." + ctx.derivedField(key + ".keys", ArrayTypeName.of(keyType), method + "Keys",
                CodeBlock.of("new $T[$L]", keyType, length));
        String order = "this." + ctx.derivedField(key + ".order", ArrayTypeName.of(TypeName.INT), method + "Order",
                CodeBlock.of("new int[$L]", length));
        String scratch = "this." + ctx.derivedField(key + ".scratch", ArrayTypeName.of(TypeName.INT), method + "Scratch",
                CodeBlock.of("new int[$L]", length));
        CodeBlock.Builder b = CodeBlock.builder();
        if (!ctx.isConstant(n.input(1))) {
            CodeBlock shape = RunTimeShapes.shapeArray(ctx, b, outShape, key + ".shape", method);
            TensorRef kr = ctx.in(1);
            b.addStatement("$T.topK($S, $S, $N, $L, $L, $L, $L)", RunTimeShapes.VALUE_SHAPES, n.describe(),
                    n.input(1).name(), kr.array(), kr.offset(), length, axis, shape);
        }
        CodeBlock outer = ctx.dim(s.dims().subList(0, axis).stream().reduce(dev.kiln.ir.Dim.of(1), dev.kiln.ir.Dim::times));
        int inner = Math.toIntExact(s.dims().subList(axis + 1, rank).stream().reduce(dev.kiln.ir.Dim.of(1),
                dev.kiln.ir.Dim::times).value());
        TensorRef xr = ctx.in(0);
        TensorRef vr = ctx.out(0);
        String o = ctx.locals.newName("o");
        String i = ctx.locals.newName("i");
        String j = ctx.locals.newName("j");
        String base = ctx.locals.newName("base");
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", o, o, outer, o);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, inner, i);
        b.addStatement("int $N = $N * $L + $N", base, o, length * inner, i);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, length, j)
                .addStatement("$L[$N] = $L", keys, j, xr.at(CodeBlock.of("$N + $N * $L", base, j, inner)))
                .endControlFlow();
        if (floating) {
            b.addStatement("$T.sort($L, $L, $L, $L, $L)", RunTimeShapes.TOP_K_ORDER, keys, length, largest, order, scratch);
        } else {
            b.addStatement("$T.sort($L, $L, $L, $L, $L, $L)", RunTimeShapes.TOP_K_ORDER, keys, length, largest,
                    x.dtype() == DType.UINT64, order, scratch);
        }
        String f = ctx.locals.newName("f");
        String p = ctx.locals.newName("p");
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, k, j);
        b.addStatement("int $N = $L[$N]", p, order, j);
        b.addStatement("int $N = ($N * $L + $N) * $L + $N", f, o, k, j, inner, i);
        b.addStatement("$L = $L", vr.at(CodeBlock.of("$N", f)), xr.at(CodeBlock.of("$N + $N * $L", base, p, inner)));
        if (n.hasOutput(1)) {
            b.addStatement("$L = $N", ctx.out(1).at(CodeBlock.of("$N", f)), p);
        }
        b.endControlFlow();
        b.endControlFlow().endControlFlow();
        return b.build();
    }
}
