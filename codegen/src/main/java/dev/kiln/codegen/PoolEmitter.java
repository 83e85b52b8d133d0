package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Attr;
import dev.kiln.ir.Node;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.ConvGeometry;
import java.util.List;

/**
 * 2-D MaxPool / AveragePool and the global pools, as calls of the runtime's {@code Pooling} over all planes (the
 * 2-D pools split over the worker pool in a threaded class).
 */
final class PoolEmitter implements KernelEmitter {
    private static final WindowPoolEmitter GENERAL = new WindowPoolEmitter();

    /** Windows the 2-D float32 kernels do not take go to {@link WindowPoolEmitter}, which handles other types. */
    @Override
    public boolean typed(Node n) {
        return !n.op().startsWith("Global") && WindowPoolEmitter.handles(n) && GENERAL.typed(n);
    }

    static final ClassName POOLING = ClassName.get("dev.kiln.runtime", "Pooling");
    static final ClassName SHAPE = ClassName.get("dev.kiln.runtime", "PoolShape");

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Value x = n.input(0);
        if (!n.op().startsWith("Global") && WindowPoolEmitter.handles(n)) {
            return GENERAL.emit(ctx);
        }
        if (!WindowGeometry.supportedRank(x)) {
            throw ctx.unsupported(n.op() + " over " + (x.type().rank() - 2) + " spatial dims (1-D and 2-D only)");
        }
        if (n.outputs().size() > 1 && n.hasOutput(1)) {
            throw ctx.unsupported("MaxPool's Indices output");
        }
        TensorRef in = ctx.in(0);
        TensorRef out = ctx.out(0);
        CodeBlock planes = ctx.dim(x.shape().dim(0).times(x.shape().dim(1)));
        boolean lifted = x.type().rank() == 3;
        int h = lifted ? 1 : ctx.staticDim(x, 2);
        int w = ctx.staticDim(x, lifted ? 2 : 3);
        if (n.op().startsWith("Global")) {
            String kernel = n.op().equals("GlobalMaxPool") ? "globalMaxPool" : "globalAveragePool";
            return CodeBlock.builder().addStatement("$T.$N($L, $L, $N, $L, $N, $L)", POOLING, kernel, planes, h * w,
                    in.array(), in.offset(), out.array(), out.offset()).build();
        }
        long[] kernel = ((Attr.Ints) n.attributes().get("kernel_shape").orElseThrow()).toArray();
        List<ConvGeometry.Axis> axes = WindowGeometry.axes(ctx, kernel);
        ConvGeometry.Axis ah = axes.get(0);
        ConvGeometry.Axis aw = axes.get(1);
        Value y = n.output(0);
        String shape = ctx.staticField("pool:" + axes, SHAPE, "POOL_" + h + "X" + w + "_K" + ah.kernel() + "X" + aw.kernel()
                + "_S" + ah.stride() + "X" + aw.stride(), CodeBlock.of("new $T($L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, "
                + "$L, $L, $L)", SHAPE, h, w, ah.kernel(), aw.kernel(), ah.stride(), aw.stride(), ah.padBegin(),
                aw.padBegin(), ah.padEnd(), aw.padEnd(), ah.dilation(), aw.dilation(), lifted ? 1 : ctx.staticDim(y, 2),
                ctx.staticDim(y, lifted ? 2 : 3)));
        // A threaded class passes its pool: the kernel splits the planes when there are enough of them.
        String pool = ctx.threaded() ? ", this.workers" : "";
        if (n.op().equals("MaxPool")) {
            return CodeBlock.builder().addStatement("$T.maxPool($N, $L, $N, $L, $N, $L$L)", POOLING, shape, planes,
                    in.array(), in.offset(), out.array(), out.offset(), pool).build();
        }
        return CodeBlock.builder().addStatement("$T.averagePool($N, $L, $L, $N, $L, $N, $L$L)", POOLING, shape,
                ctx.intAttr("count_include_pad") != 0, planes, in.array(), in.offset(), out.array(), out.offset(),
                pool).build();
    }
}
