package dev.kiln.codegen;

import dev.kiln.ir.Value;
import dev.kiln.ir.ops.ConvGeometry;
import java.util.List;
import java.util.Map;

/**
 * The resolved window (pads per side, strides, dilations) of a Conv or pool node along its two spatial axes (a
 * 1-D node gets a unit height axis first),
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
        return lifted(ctx.node, kernel, x.type().rank() == 3 ? new int[] {ctx.staticDim(x, 2)}
                : new int[] {ctx.staticDim(x, 2), ctx.staticDim(x, 3)}, transposed);
    }

    /**
     * The two axes the 2-D kernels take for a window over {@code spatial} (one or two input extents): 1-D windows
     * run as 2-D ones over a height of 1, [N, C, L] laid out as [N, C, 1, L].
     */
    static List<ConvGeometry.Axis> lifted(dev.kiln.ir.Node n, long[] kernel, int[] spatial, boolean transposed) {
        List<ConvGeometry.Axis> axes = ConvGeometry.axesOf(n, kernel, spatial, transposed);
        return spatial.length == 1 ? List.of(new ConvGeometry.Axis(1, 1, 1, 1, 0, 0, 1), axes.get(0)) : axes;
    }

    /** The static spatial extents of {@code v} (rank 3 or 4: one or two). */
    static int[] spatial(EmitContext ctx, Value v) {
        return v.type().rank() == 3 ? new int[] {ctx.staticDim(v, 2)}
                : new int[] {ctx.staticDim(v, 2), ctx.staticDim(v, 3)};
    }

    /** True for the spatial ranks the 2-D kernels take: 2, or 1 (lifted to a height of 1). */
    static boolean supportedRank(Value x) {
        return x.type().rank() == 4 || x.type().rank() == 3;
    }

    /** The kernel extent of a Conv: its kernel_shape, or the weights' spatial dims. */
    static long[] convKernel(EmitContext ctx) {
        Map<String, dev.kiln.ir.Attr> attrs = ctx.node.attributes().asMap();
        if (attrs.containsKey("kernel_shape")) {
            return ((dev.kiln.ir.Attr.Ints) attrs.get("kernel_shape")).toArray();
        }
        Value w = ctx.node.input(1);
        return w.type().rank() == 3 ? new long[] {ctx.staticDim(w, 2)} : new long[] {ctx.staticDim(w, 2), ctx.staticDim(w, 3)};
    }
}
