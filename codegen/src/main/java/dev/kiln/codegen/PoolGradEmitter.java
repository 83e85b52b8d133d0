package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Attr;
import dev.kiln.ir.Node;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.ConvGeometry;
import java.util.List;

/**
 * The gradients of 2-D pools as calls of the runtime's {@code PoolGrad}: {@code dev.kiln.MaxPoolGrad(dY, X)}
 * recomputes each window's pick from the forward input (PyTorch's first-max rule), {@code AveragePoolGrad(dY)}
 * spreads each output cell over its window.
 */
final class PoolGradEmitter implements KernelEmitter {
    static final ClassName POOL_GRAD = ClassName.get("dev.kiln.runtime.train", "PoolGrad");

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Value dy = n.input(0);
        Value dx = n.output(0);
        if (!WindowGeometry.supportedRank(dy)) {
            throw ctx.unsupported(n.op() + " over " + (dy.type().rank() - 2) + " spatial dims (1-D and 2-D only)");
        }
        long[] kernel = ((Attr.Ints) n.attributes().get("kernel_shape").orElseThrow()).toArray();
        List<ConvGeometry.Axis> axes = WindowGeometry.lifted(n, kernel, WindowGeometry.spatial(ctx, dx), false);
        ConvGeometry.Axis ah = axes.get(0);
        ConvGeometry.Axis aw = axes.get(1);
        int h = ah.in();
        int w = aw.in();
        // The pooled extents as the forward produced them (ceil_mode included), lifted like the input's.
        int[] pooled = WindowGeometry.spatial(ctx, dy);
        String shape = ctx.staticField("pool:" + axes, PoolEmitter.SHAPE, "POOL_" + h + "X" + w + "_K" + ah.kernel() + "X"
                + aw.kernel() + "_S" + ah.stride() + "X" + aw.stride(), CodeBlock.of("new $T($L, $L, $L, $L, $L, $L, $L, $L, "
                + "$L, $L, $L, $L, $L, $L)", PoolEmitter.SHAPE, h, w, ah.kernel(), aw.kernel(), ah.stride(), aw.stride(),
                ah.padBegin(), aw.padBegin(), ah.padEnd(), aw.padEnd(), ah.dilation(), aw.dilation(),
                pooled.length == 1 ? 1 : pooled[0], pooled[pooled.length - 1]));
        CodeBlock planes = ctx.dim(dx.shape().dim(0).times(dx.shape().dim(1)));
        TensorRef g = ctx.in(0);
        TensorRef out = ctx.out(0);
        if (n.op().equals("MaxPoolGrad")) {
            TensorRef x = ctx.in(1);
            return CodeBlock.builder().addStatement("$T.maxPoolBackward($N, $L, $N, $L, $N, $L, $N, $L$L)", POOL_GRAD,
                    shape, planes, x.array(), x.offset(), g.array(), g.offset(), out.array(), out.offset(),
                    ctx.threaded() ? ", this.workers" : "").build();
        }
        return CodeBlock.builder().addStatement("$T.averagePoolBackward($N, $L, $L, $N, $L, $N, $L$L)", POOL_GRAD, shape,
                ctx.intAttr("count_include_pad") != 0, planes, g.array(), g.offset(), out.array(), out.offset(),
                ctx.threaded() ? ", this.workers" : "").build();
    }
}
