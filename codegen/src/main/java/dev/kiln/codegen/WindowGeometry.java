package dev.kiln.codegen;

import dev.kiln.ir.Node;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.ConvGeometry;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The resolved window (pads per side, strides, dilations) of a Conv or pool node along its two spatial axes,
 * computed by the op table's own {@link ConvGeometry}, so kernels see exactly what shape inference and the
 * reference evaluator saw (auto_pad, ceil_mode included).
 */
final class WindowGeometry {
    private WindowGeometry() {}

    /** The two spatial axes of a 2-D Conv/pool node, for its static input height and width. */
    static List<ConvGeometry.Axis> axes(EmitContext ctx, long[] kernel) {
        return axes(ctx, kernel, false);
    }

    /** The two spatial axes of a 2-D ConvTranspose node (pads from pads, auto_pad or output_shape). */
    static List<ConvGeometry.Axis> transposedAxes(EmitContext ctx, long[] kernel) {
        return axes(ctx, kernel, true);
    }

    private static List<ConvGeometry.Axis> axes(EmitContext ctx, long[] kernel, boolean transposed) {
        Node n = ctx.node;
        OpDef def = OpTable.get().require(n.domain(), n.op(), n.describe());
        ShapeContext sc = new ShapeContext(def, n.describe(), n.attributes(), n.inputs(), n.outputs().size(),
                new ShapeContext.ConstantLookup() {
                    @Override
                    public Optional<Tensor> constant(Value v) {
                        return ctx.isConstant(v) ? Optional.of(ctx.constant(v)) : Optional.empty();
                    }

                    @Override
                    public Optional<List<dev.kiln.ir.Dim>> dims(Value v) {
                        return Optional.empty();
                    }
                });
        ConvGeometry g = ConvGeometry.read(sc, 2, kernel);
        Value x = n.input(0);
        int[] in = {ctx.staticDim(x, 2), ctx.staticDim(x, 3)};
        return transposed ? g.transposedAxes(sc, in) : g.forwardAxes(sc, in);
    }

    /** The kernel extent of a Conv: its kernel_shape, or the weights' spatial dims. */
    static long[] convKernel(EmitContext ctx) {
        Map<String, dev.kiln.ir.Attr> attrs = ctx.node.attributes().asMap();
        if (attrs.containsKey("kernel_shape")) {
            return ((dev.kiln.ir.Attr.Ints) attrs.get("kernel_shape")).toArray();
        }
        Value w = ctx.node.input(1);
        return new long[] {ctx.staticDim(w, 2), ctx.staticDim(w, 3)};
    }
}
