package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Attr;
import dev.kiln.ir.Node;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.ConvGeometry;
import dev.kiln.runtime.ConvShape;
import java.util.List;

/**
 * The gradients of a 2-D Conv as calls of the runtime's {@code ConvGrad} (GEMMs through the inference
 * micro-kernel, per-thread scratch): {@code dev.kiln.ConvGradWeight(X, dY)} and {@code ConvGradInput(dY, W)},
 * whose forward geometry is rebuilt from the same attributes with the op table's {@code ConvGeometry}.
 */
final class ConvGradEmitter implements KernelEmitter {
    static final ClassName CONV_GRAD = ClassName.get("dev.kiln.runtime.train", "ConvGrad");

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        boolean weight = n.op().equals("ConvGradWeight");
        Value dyValue = weight ? n.input(1) : n.input(0);
        if (!WindowGeometry.supportedRank(dyValue)) {
            throw ctx.unsupported(n.op() + " with " + (dyValue.type().rank() - 2) + " spatial dims (1-D and 2-D only)");
        }
        // kernel_shape is optional in ONNX (then W's spatial dims): dW and W have them either way.
        Value weightShaped = weight ? n.output(0) : n.input(1);
        long[] kernel = n.attributes().get("kernel_shape").map(a -> ((Attr.Ints) a).toArray())
                .orElseGet(() -> java.util.Arrays.stream(WindowGeometry.spatial(ctx, weightShaped)).asLongStream().toArray());
        int group = (int) ctx.intAttr("group");
        ConvShape s;
        if (weight) {
            Value x = n.input(0);
            s = ConvEmitter.shape(ctx.staticDim(x, 1), ctx.staticDim(n.output(0), 0), group,
                    WindowGeometry.axes(ctx, kernel));
        } else {
            Value w = n.input(1);
            int[] in = java.util.Arrays.stream(((Attr.Ints) n.attributes().get("input_shape").orElseThrow()).toArray())
                    .mapToInt(Math::toIntExact).toArray();
            List<ConvGeometry.Axis> axes = WindowGeometry.lifted(n, kernel, in, false);
            s = ConvEmitter.shape(ctx.staticDim(w, 1) * group, ctx.staticDim(w, 0), group, axes);
        }
        String shape = ConvEmitter.shapeField(ctx, s);
        TensorRef a = ctx.in(0);
        TensorRef b = ctx.in(1);
        TensorRef out = ctx.out(0);
        CodeBlock batch = ctx.dim(dyValue.shape().dim(0));
        CodeBlock pool = CodeBlock.of(ctx.threaded() ? "this.workers" : "null");
        return CodeBlock.builder().addStatement("$T.$N($N, $L, $N, $L, $N, $L, $N, $L, $L)", CONV_GRAD,
                weight ? "weightGrad" : "inputGrad", shape, batch, a.array(), a.offset(), b.array(), b.offset(),
                out.array(), out.offset(), pool).build();
    }
}
