package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;

/**
 * BatchNormalization in training mode (Y from the batch's own statistics; a training graph computes the next
 * running statistics beside it with plain ops) and its gradient {@code dev.kiln.BatchNormTrainingGrad(dY, X, scale)
 * -> dX, dScale, dB}, as calls of the runtime's {@code BatchNormTraining} over X viewed as [N, C, spatial].
 */
final class BatchNormTrainingEmitter implements KernelEmitter {
    static final ClassName BN = ClassName.get("dev.kiln.runtime.train", "BatchNormTraining");

    /** The training-mode forward: Y only (the running-statistics outputs, if any, are refused by the caller). */
    static CodeBlock forward(EmitContext ctx) {
        Node n = ctx.node;
        Value x = n.input(0);
        TensorRef in = ctx.in(0);
        TensorRef scale = ctx.in(1);
        TensorRef bias = ctx.in(2);
        TensorRef mean = ctx.in(3);
        TensorRef var = ctx.in(4);
        TensorRef y = ctx.out(0);
        return CodeBlock.builder().addStatement("$T.forward($L, $L, $L, $Lf, $Lf, true, $N, $L, $N, $L, $N, $L, $N, $L, "
                        + "$N, $L, $N, $L, null, 0, null, 0, null, 0, null, 0$L)", BN, ctx.dim(x.shape().dim(0)),
                ctx.staticDim(x, 1), spatial(ctx, x), ctx.floatAttr("epsilon"), ctx.floatAttr("momentum"),
                in.array(), in.offset(), scale.array(), scale.offset(), bias.array(), bias.offset(), mean.array(),
                mean.offset(), var.array(), var.offset(), y.array(), y.offset(), pool(ctx)).build();
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Value x = n.input(1);
        TensorRef dy = ctx.in(0);
        TensorRef in = ctx.in(1);
        TensorRef scale = ctx.in(2);
        return CodeBlock.builder().addStatement("$T.backward($L, $L, $L, $Lf, $N, $L, $N, $L, $N, $L, null, 0, null, 0, "
                        + "$L$L$L$L)", BN, ctx.dim(x.shape().dim(0)), ctx.staticDim(x, 1), spatial(ctx, x),
                ctx.floatAttr("epsilon"), in.array(), in.offset(), dy.array(), dy.offset(), scale.array(), scale.offset(),
                output(ctx, 0, ", "), output(ctx, 1, ", "), output(ctx, 2, ""), pool(ctx)).build();
    }

    /** The trailing pool argument: the channels split over the class's workers when it has them. */
    private static String pool(EmitContext ctx) {
        return ctx.threaded() ? ", this.workers" : "";
    }

    private static CodeBlock output(EmitContext ctx, int i, String separator) {
        if (!ctx.node.hasOutput(i) || !ctx.isRead(ctx.node.output(i))) {
            return CodeBlock.of("null, 0$L", separator);
        }
        TensorRef r = ctx.out(i);
        return CodeBlock.of("$N, $L$L", r.array(), r.offset(), separator);
    }

    /** The values per image and channel, which must be static. */
    private static CodeBlock spatial(EmitContext ctx, Value x) {
        Shape s = x.shape();
        Dim plane = Dim.of(1);
        for (int d = 2; d < s.rank(); d++) {
            plane = plane.times(s.dim(d));
        }
        if (!plane.isStatic()) {
            throw ctx.unsupported(ctx.node.op() + " over spatial dims " + s + " that depend on the batch");
        }
        return CodeBlock.of("$L", plane.value());
    }
}
