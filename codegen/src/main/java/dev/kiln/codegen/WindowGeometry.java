package dev.kiln.codegen;

import dev.kiln.ir.Value;
import dev.kiln.ir.ops.ConvGeometry;
import java.util.List;
import java.util.Map;

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
        Value x = ctx.node.input(0);
        return ConvGeometry.axesOf(ctx.node, kernel, new int[] {ctx.staticDim(x, 2), ctx.staticDim(x, 3)}, transposed);
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
