package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ops.QuantizationOps;

/**
 * QuantizeLinear and DequantizeLinear, one loop over x with the scale (and zero point) each element uses: the
 * first per tensor, the one at its index along axis per axis, its block's when blocked. Arithmetic as the reference
 * evaluator's: the quotient rounded to the division's precision, then half to even, plus the zero point, clamped
 * to the integer type, or (a float8 or float4 target) plus the zero point and converted as Cast with the node's
 * saturate; the dequantized difference times the scale rounded once to the output type.
 */
final class QuantizeEmitter implements KernelEmitter {
    /** Integer and floating operands of the types the op table accepts. */
    @Override
    public boolean typed(Node n) {
        return true;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        boolean quantize = n.op().equals("QuantizeLinear");
        CodeBlock.Builder b = CodeBlock.builder();
        String i = ctx.locals.newName("i");
        String s = ctx.locals.newName("s");
        CodeBlock iv = CodeBlock.of("$N", i);
        CodeBlock sv = CodeBlock.of("$N", s);
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, ctx.count(n.input(0)), i);
        b.addStatement("int $N = $L", s, scaleIndex(ctx, iv));
        CodeBlock x = ctx.in(0).at(iv);
        CodeBlock scale = ctx.in(1).at(sv);
        CodeBlock zero = n.hasInput(2) ? ctx.in(2).at(sv) : CodeBlock.of("0");
        ElementType out = EmitContext.type(n.output(0));
        if (quantize) {
            DType precision = QuantizationOps.divisionPrecision(n.input(1).dtype(), ctx.intAttr("precision"));
            CodeBlock quotient = CodeBlock.of("(double) $L / $L", x, scale);
            CodeBlock rounded = switch (precision) {
                case FLOAT64 -> quotient;
                case FLOAT32 -> CodeBlock.of("(float) ($L)", quotient);
                default -> ElementType.of(precision).narrow(CodeBlock.of("(float) ($L)", quotient));
            };
            if (out.dtype().isFloat()) {
                CodeBlock sum = precision == DType.FLOAT64 ? CodeBlock.of("$L + $L", rounded, zero)
                        : CodeBlock.of("(double) $L + $L", rounded, zero);
                b.addStatement("$L = $L", ctx.out(0).at(iv), out.toLowPrecision(sum, ctx.intAttr("saturate") != 0, "up"));
                b.endControlFlow();
                return b.build();
            }
            // A NaN quotient stays NaN through the clamp and casts to 0.
            b.addStatement("$L = (int) $T.max($LL, $T.min($LL, $T.rint($L) + $L))", ctx.out(0).at(iv), Math.class,
                    out.dtype().minValue(), Math.class, out.dtype().maxValue(), Math.class, rounded, zero);
        } else {
            // In double: a float8 difference may need more bits than a float has.
            CodeBlock product = CodeBlock.of("((double) $L - $L) * $L", x, zero, scale);
            CodeBlock value = out.dtype() == DType.FLOAT64 ? product : out.narrow(CodeBlock.of("(float) ($L)", product));
            b.addStatement("$L = $L", ctx.out(0).at(iv), value);
        }
        b.endControlFlow();
        return b.build();
    }

    /** The index of element {@code i}'s scale: 0, its index along axis, or its block's flat index. */
    private static CodeBlock scaleIndex(EmitContext ctx, CodeBlock i) {
        Node n = ctx.node;
        Shape x = n.input(0).shape();
        Shape scale = n.input(1).shape();
        if (scale.rank() == 0 || scale.rank() == 1 && StridedCopy.isOne(scale.elementCount())) {
            return CodeBlock.of("0");
        }
        int axis = Shape.normalizeAxis(ctx.intAttr("axis"), x.rank());
        Dim innerDim = Dim.of(1);
        for (int d = axis + 1; d < x.rank(); d++) {
            innerDim = innerDim.times(x.dim(d));
        }
        CodeBlock inner = ctx.dim(innerDim);
        CodeBlock along = ctx.dim(x.dim(axis));
        if (scale.rank() == 1) {
            return CodeBlock.of("$L / $L % $L", i, inner, along);
        }
        long block = ctx.intAttr("block_size");
        CodeBlock blocks = ctx.dim(scale.dim(axis));
        return CodeBlock.of("($L / ($L * $L) * $L + $L / $L % $L / $L) * $L + $L % $L", i, inner, along, blocks, i,
                inner, along, block, inner, i, inner);
    }
}
