package dev.kiln.ir.ops;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.GradContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.List;

/**
 * The gradient rule of ConvTranspose(X, W, B), W [C, M/group, k...]. A transposed convolution scatters input cell
 * i to output cells {@code i*stride - padBegin + k*dilation}, which is the adjoint of a Conv over Y-sized inputs
 * whose output cell i gathers from exactly those cells, with the same W read as [M_conv = C, C_conv/group = M/group,
 * k...]. So the forward is that Conv's input gradient, and its gradients are that Conv and its weight gradient:
 * <ul>
 *   <li>dX = Conv(dY, W) (no bias);</li>
 *   <li>dW = ConvGradWeight(dY, X): Conv's weight gradient with dY as the Conv's input and X as its output gradient,
 *       {@code dW[c, m, k] = sum over n, i of X[n, c, i] * dY[n, g*M/group + m, i*stride - padBegin + k*dilation]};</li>
 *   <li>dB = ReduceSum(dY) over all axes but the channel.</li>
 * </ul>
 * Both ops run in the reference evaluator and in generated trainers (with weights that change at run time), so no
 * kernel of its own is needed. The Conv's geometry is the ConvTranspose's resolved one (pads from pads, auto_pad or
 * output_shape) written out as explicit pads, adjusted so that the Conv yields exactly X's spatial sizes
 * ({@link #window}).
 */
final class ConvTransposeGrad {
    private ConvTransposeGrad() {}

    static void rule(GradContext ctx) {
        Value dy = ctx.outputGrad(0);
        if (dy.isAbsent()) {
            return;
        }
        if (ctx.needsGrad(0) || ctx.needsGrad(1)) {
            long[] in = NnGradRules.spatial(ctx, ctx.input(0), "X");
            long[] kernel = ConvPoolOps.kernelShape(ctx, ctx.input(1).shape(), ctx.optInts("kernel_shape"));
            ConvGeometry g = ConvGeometry.read(ctx, in.length, kernel);
            Window w = window(ctx, g, in);
            Value src = crop(ctx, dy, w);
            // kernel_shape is W's extent: optional for the Conv, required by ConvGradWeight.
            Attributes a = Attributes.builder().ints("kernel_shape", kernel).ints("strides", g.strides())
                    .ints("dilations", g.dilations()).ints("pads", w.pads()).i("group", ConvPoolOps.group(ctx)).build();
            if (ctx.needsGrad(0)) {
                ctx.setInputGrad(0, ctx.emit("Conv", a, src, ctx.input(1)));
            }
            if (ctx.needsGrad(1)) {
                ctx.setInputGrad(1, ctx.emitKiln(NnGradOps.CONV_GRAD_WEIGHT, a, src, ctx.input(0)));
            }
        }
        if (ctx.hasInput(2) && ctx.needsGrad(2)) {
            ctx.setInputGrad(2, ctx.reduceSum(dy, NnGradRules.allButChannel(dy.shape().rank()), false));
        }
    }

    /**
     * The Conv over dY that is the ConvTranspose's adjoint: the cells {@code [start, end)} of dY per spatial axis and
     * non-negative pads (begins then ends). Conv pads cannot be negative, so a negative ConvTranspose pad (output_shape
     * past the full result, or SAME with a kernel shorter than the stride) becomes a crop of dY: those cells of Y get
     * only the bias. And with output_padding of a stride or more (allowed when it is below the dilation), the padded
     * extent would give the Conv more output cells than X has: the surplus is taken off the end pad, then off dY's end;
     * those cells of Y are reached by no tap either.
     */
    private record Window(long[] start, long[] end, long[] pads) {}

    private static Window window(GradContext ctx, ConvGeometry g, long[] in) {
        int rank = in.length;
        long[] start = new long[rank];
        long[] end = new long[rank];
        long[] pads = new long[2 * rank];
        List<ConvGeometry.Axis> axes = g.transposedAxes(ctx, toInts(in));
        for (int i = 0; i < rank; i++) {
            ConvGeometry.Axis a = axes.get(i);
            long s = a.stride();
            long surplus = g.outputPadding()[i] / s * s;
            start[i] = Math.max(0, -a.padBegin());
            pads[i] = Math.max(0, a.padBegin());
            long endPad = Math.max(0, a.padEnd());
            end[i] = a.out() + Math.min(0, a.padEnd());
            long fromPad = Math.min(surplus, endPad);
            pads[i + rank] = endPad - fromPad;
            end[i] -= surplus - fromPad;
        }
        return new Window(start, end, pads);
    }

    /** dY cut to the window's cells, or dY itself when the window covers it. */
    private static Value crop(GradContext ctx, Value dy, Window w) {
        int rank = w.start().length;
        boolean whole = true;
        long[] axes = new long[rank];
        for (int i = 0; i < rank; i++) {
            axes[i] = i + 2;
            whole &= w.start()[i] == 0 && w.end()[i] == dy.shape().dim(i + 2).value();
        }
        if (whole) {
            return dy;
        }
        return ctx.emit("Slice", dy, longs(ctx, w.start()), longs(ctx, w.end()), longs(ctx, axes));
    }

    private static Value longs(GradContext ctx, long[] v) {
        return ctx.constant(Tensor.wrapLongs(DType.INT64, new int[] {v.length}, v.clone()));
    }

    private static int[] toInts(long[] v) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = Math.toIntExact(v[i]);
        }
        return out;
    }
}
