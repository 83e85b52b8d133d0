package dev.kiln.codegen;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.TypeName;
import dev.kiln.ir.Attr;
import dev.kiln.ir.Node;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.BlockedLayoutOps;
import dev.kiln.ir.ops.ConvGeometry;
import dev.kiln.runtime.ConvShape;
import dev.kiln.runtime.NchwcConv;
import java.util.List;

/**
 * The NCHWc ops (dev.kiln.ToBlocked, FromBlocked, BlockedConv, the blocked pools, BlockedZeroPadding) as calls of the runtime's
 * {@code Nchwc}, {@code NchwcConv} and {@code NchwcPool}; conversions and convolutions first check that the
 * runtime's block is the one the model was compiled for (docs/KERNELS.md).
 */
final class BlockedLayoutEmitter implements KernelEmitter {
    private static final ClassName NCHWC = ClassName.get("dev.kiln.runtime", "Nchwc");
    private static final ClassName CONV = ClassName.get("dev.kiln.runtime", "NchwcConv");
    private static final ClassName POOL = ClassName.get("dev.kiln.runtime", "NchwcPool");

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        TensorRef in = ctx.in(0);
        TensorRef out = ctx.out(0);
        Value x = n.input(0);
        Value y = n.output(0);
        CodeBlock batch = ctx.dim(x.shape().dim(0));
        CodeBlock.Builder code = CodeBlock.builder();
        switch (n.op()) {
            case BlockedLayoutOps.TO_BLOCKED -> {
                int block = (int) ctx.intAttr("block");
                code.addStatement("$T.requireBlock($L)", NCHWC, block);
                code.addStatement("$T.toBlocked($L, $L, $L, $L, $L, $N, $L, $N, $L)", NCHWC, batch, ctx.staticDim(x, 1),
                        ctx.staticDim(x, 2), ctx.staticDim(x, 3), block, in.array(), in.offset(), out.array(), out.offset());
            }
            case BlockedLayoutOps.FROM_BLOCKED -> code.addStatement("$T.fromBlocked($L, $L, $L, $L, $L, $N, $L, $N, $L)",
                    NCHWC, batch, ctx.staticDim(y, 1), ctx.staticDim(y, 2), ctx.staticDim(y, 3), ctx.staticDim(x, 4),
                    in.array(), in.offset(), out.array(), out.offset());
            case BlockedLayoutOps.BLOCKED_CONV -> conv(ctx, code, batch, in, out);
            case BlockedLayoutOps.BLOCKED_MAX_POOL, BlockedLayoutOps.BLOCKED_AVERAGE_POOL -> pool(ctx, code, batch, in, out);
            case BlockedLayoutOps.BLOCKED_GLOBAL_AVERAGE_POOL -> code.addStatement(
                    "$T.globalAveragePool($L, $L, $L, $N, $L, $N, $L)", POOL, batch,
                    ctx.staticDim(x, 1) * ctx.staticDim(x, 4), ctx.staticDim(x, 2) * ctx.staticDim(x, 3), in.array(),
                    in.offset(), out.array(), out.offset());
            case BlockedLayoutOps.BLOCKED_ZERO_PADDING -> code.addStatement("$T.zeroPadding($L, $L, $L, $L, $N, $L, $N, $L)",
                    NCHWC, batch, ctx.intAttr("channels"), ctx.staticDim(x, 2) * ctx.staticDim(x, 3), ctx.staticDim(x, 4),
                    in.array(), in.offset(), out.array(), out.offset());
            default -> throw ctx.unsupported("op " + n.op());
        }
        return code.build();
    }

    private static void conv(EmitContext ctx, CodeBlock.Builder code, CodeBlock batch, TensorRef in, TensorRef out) {
        Node n = ctx.node;
        Value x = n.input(0);
        int block = ctx.staticDim(x, 4);
        long[] k = ints(n, "kernel_shape");
        long[] pads = ints(n, "pads");
        long[] strides = ints(n, "strides");
        long[] dilations = ints(n, "dilations");
        ConvShape s = new ConvShape(ctx.staticDim(x, 1) * block, ctx.staticDim(x, 2), ctx.staticDim(x, 3),
                (int) ctx.intAttr("m"), (int) k[0], (int) k[1], (int) strides[0], (int) strides[1], (int) pads[0],
                (int) pads[1], (int) pads[2], (int) pads[3], (int) dilations[0], (int) dilations[1], 1);
        if (!ctx.isConstant(n.input(1)) || (n.hasInput(2) && !ctx.isConstant(n.input(2)))) {
            throw ctx.unsupported(n.op() + " with weights computed at run time");
        }
        float[] packed = ctx.constant(n.input(1)).toFloatArray();
        if (packed.length != NchwcConv.packedLength(s, block)) {
            throw ctx.unsupported("weights of " + packed.length + " floats, not layout " + NchwcConv.LAYOUT + " for " + s);
        }
        String shape = ConvEmitter.shapeField(ctx, s);
        String weights = ctx.weight(n.input(1).name(), packed, ArrayTypeName.of(TypeName.FLOAT),
                Identifiers.camel(n.input(1).name(), "weight"), "$1L");
        CodeBlock bias = n.hasInput(2) ? CodeBlock.of("$L", ctx.ref(n.input(2)).array()) : CodeBlock.of("null");
        String epilogue = Epilogues.field(ctx, true);
        int scratchLength = NchwcConv.scratchLength(s, block);
        CodeBlock scratch = scratchLength == 0 ? CodeBlock.of("null") : CodeBlock.of("this.$N", ctx.scratch(scratchLength));
        code.addStatement("$T.requireBlock($L)", NCHWC, block);
        code.addStatement("$T.conv($N, $L, $N, $L, this.$N, $L, $N, $L, $L, $N$L)", CONV, shape, batch, in.array(),
                in.offset(), weights, bias, out.array(), out.offset(), scratch, epilogue,
                ctx.threaded() ? ", this.workers" : "");
    }

    private static void pool(EmitContext ctx, CodeBlock.Builder code, CodeBlock batch, TensorRef in, TensorRef out) {
        Node n = ctx.node;
        Value x = n.input(0);
        Value y = n.output(0);
        long[] kernel = ints(n, "kernel_shape");
        int h = ctx.staticDim(x, 2);
        int w = ctx.staticDim(x, 3);
        List<ConvGeometry.Axis> axes = ConvGeometry.axesOf(n, kernel, new int[] {h, w});
        ConvGeometry.Axis ah = axes.get(0);
        ConvGeometry.Axis aw = axes.get(1);
        String shape = ctx.staticField("pool:" + axes + ":" + y.type(), PoolEmitter.SHAPE, "BLOCKED_POOL_" + h + "X" + w,
                CodeBlock.of("new $T($L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", PoolEmitter.SHAPE, h, w,
                        ah.kernel(), aw.kernel(), ah.stride(), aw.stride(), ah.padBegin(), aw.padBegin(), ah.padEnd(),
                        aw.padEnd(), ah.dilation(), aw.dilation(), ctx.staticDim(y, 2), ctx.staticDim(y, 3)));
        if (n.op().equals(BlockedLayoutOps.BLOCKED_MAX_POOL)) {
            code.addStatement("$T.maxPool($N, $L, $L, $N, $L, $N, $L)", POOL, shape, batch,
                    ctx.staticDim(x, 1) * ctx.staticDim(x, 4), in.array(), in.offset(), out.array(), out.offset());
        } else {
            code.addStatement("$T.averagePool($N, $L, $L, $L, $N, $L, $N, $L)", POOL, shape,
                    ctx.intAttr("count_include_pad") != 0, batch, ctx.staticDim(x, 1) * ctx.staticDim(x, 4), in.array(),
                    in.offset(), out.array(), out.offset());
        }
    }

    private static long[] ints(Node n, String name) {
        return ((Attr.Ints) n.attributes().get(name).orElseThrow()).toArray();
    }
}
