package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.OpDef;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Where the sliding windows of Conv, ConvTranspose and the pooling ops fall along each spatial axis, from the
 * ONNX attributes (kernel_shape, strides, dilations, pads or auto_pad, ceil_mode, output_padding/output_shape).
 * Shape rules and evaluators both resolve their geometry here, so the shapes they compute cannot disagree.
 *
 * @param autoPad NOTSET, SAME_UPPER, SAME_LOWER or VALID
 * @param kernel kernel extent per spatial axis (before dilation)
 * @param strides step per spatial axis
 * @param dilations gap between kernel taps per spatial axis
 * @param pads explicit pads, all begins then all ends (used when autoPad is NOTSET)
 * @param ceilMode pools only: round the output size up, dropping a last window that would start in the end padding
 * @param outputPadding ConvTranspose only: extra cells added at the end of each axis (zeros for other ops)
 * @param outputShape ConvTranspose only: requested output spatial sizes, from which pads are derived
 */
public record ConvGeometry(String autoPad, long[] kernel, long[] strides, long[] dilations, long[] pads,
                           boolean ceilMode, long[] outputPadding, Optional<long[]> outputShape) {

    private static final List<String> AUTO_PADS = List.of("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID");

    /** Copies the arrays, so a geometry cannot change under the shape rule or evaluator holding it. */
    public ConvGeometry {
        kernel = kernel.clone();
        strides = strides.clone();
        dilations = dilations.clone();
        pads = pads.clone();
        outputPadding = outputPadding.clone();
        outputShape = outputShape.map(long[]::clone);
    }

    /**
     * How windows fall along one spatial axis. A forward window for output cell {@code o} reads input cells
     * {@code o*stride - padBegin + k*dilation}; a transposed one scatters input cell {@code i} to output cells
     * {@code i*stride - padBegin + k*dilation}, for k in [0, kernel).
     */
    public record Axis(int in, int kernel, int stride, int dilation, int padBegin, int padEnd, int out) {
        /** Span of the dilated kernel. */
        public int effectiveKernel() { return (kernel - 1) * dilation + 1; }
    }

    /** Declares the window attributes Conv and the pools share (ops add ceil_mode etc. themselves). */
    public static OpDef.Builder declareWindowAttributes(OpDef.Builder b, boolean kernelRequired) {
        b.attrString("auto_pad", "NOTSET",
                "NOTSET uses pads; SAME_UPPER/SAME_LOWER pad so that out = ceil(in/stride), extra cell at the "
                        + "end/begin; VALID means no padding");
        b.optionalAttr("dilations", AttrType.INTS, "gap between kernel taps per spatial axis; default 1");
        if (kernelRequired) {
            b.requiredAttr("kernel_shape", AttrType.INTS, "kernel extent per spatial axis");
        } else {
            b.optionalAttr("kernel_shape", AttrType.INTS, "kernel extent per spatial axis; default from W");
        }
        b.optionalAttr("pads", AttrType.INTS, "padding: all begins then all ends; default 0");
        b.optionalAttr("strides", AttrType.INTS, "step per spatial axis; default 1");
        return b;
    }

    /** Reads and validates the geometry of a node with {@code spatialRank} spatial axes and the given kernel. */
    public static ConvGeometry read(NodeContext ctx, int spatialRank, long[] kernel) {
        // Ops without auto_pad (DeformConv) always use explicit pads.
        String autoPad = ctx.def().attribute("auto_pad").isPresent() ? ctx.attrString("auto_pad") : "NOTSET";
        if (!AUTO_PADS.contains(autoPad)) {
            throw ctx.fail("auto_pad must be one of " + AUTO_PADS + " but is '" + autoPad + "'");
        }
        if (kernel.length != spatialRank) {
            throw ctx.fail("kernel_shape " + Arrays.toString(kernel) + " has " + kernel.length
                    + " entries but the input has " + spatialRank + " spatial axes");
        }
        long[] strides = perAxis(ctx, "strides", spatialRank, 1, 1);
        long[] dilations = perAxis(ctx, "dilations", spatialRank, 1, 1);
        long[] pads = ctx.optInts("pads").orElse(new long[2 * spatialRank]);
        if (pads.length != 2 * spatialRank) {
            throw ctx.fail("pads " + Arrays.toString(pads) + " must have 2 entries per spatial axis ("
                    + 2 * spatialRank + ")");
        }
        for (long p : pads) {
            if (p < 0) {
                throw ctx.fail("pads " + Arrays.toString(pads) + " must not be negative");
            }
        }
        for (long k : kernel) {
            if (k < 1) {
                throw ctx.fail("kernel_shape " + Arrays.toString(kernel) + " must be positive");
            }
        }
        boolean ceil = ctx.def().attribute("ceil_mode").isPresent() && ctx.attrInt("ceil_mode") != 0;
        long[] outputPadding = ctx.def().attribute("output_padding").isPresent()
                ? perAxis(ctx, "output_padding", spatialRank, 0, 0) : new long[spatialRank];
        Optional<long[]> outputShape = ctx.def().attribute("output_shape").isPresent()
                ? ctx.optInts("output_shape") : Optional.empty();
        return new ConvGeometry(autoPad, kernel, strides, dilations, pads, ceil, outputPadding, outputShape);
    }

    private static long[] perAxis(NodeContext ctx, String name, int rank, long dflt, long min) {
        Optional<long[]> set = ctx.optInts(name);
        if (set.isEmpty()) {
            long[] out = new long[rank];
            Arrays.fill(out, dflt);
            return out;
        }
        long[] v = set.get();
        if (v.length != rank) {
            throw ctx.fail(name + " " + Arrays.toString(v) + " must have one entry per spatial axis (" + rank + ")");
        }
        for (long e : v) {
            if (e < min) {
                throw ctx.fail(name + " " + Arrays.toString(v) + " must be at least " + min);
            }
        }
        return v;
    }

    /**
     * The resolved windows of a Conv-like node (Conv, pools, Kiln's fused and packed convs) for static spatial
     * input sizes, read from its attributes with its op's defaults: what passes and code generation need to call
     * kernels with exactly the geometry shape inference used.
     */
    public static List<Axis> axesOf(dev.kiln.ir.Node n, long[] kernel, int[] spatialIn) {
        return axesOf(n, kernel, spatialIn, false);
    }

    /** As {@link #axesOf(dev.kiln.ir.Node, long[], int[])}, for a transposed convolution when {@code transposed}. */
    public static List<Axis> axesOf(dev.kiln.ir.Node n, long[] kernel, int[] spatialIn, boolean transposed) {
        dev.kiln.ir.OpDef def = dev.kiln.ir.OpTable.get().require(n.domain(), n.op(), n.describe());
        dev.kiln.ir.ShapeContext sc = new dev.kiln.ir.ShapeContext(def, n.describe(), n.attributes(), n.inputs(),
                n.outputs().size(), new dev.kiln.ir.ShapeContext.ConstantLookup() {
                    @Override
                    public Optional<dev.kiln.ir.Tensor> constant(dev.kiln.ir.Value v) {
                        return Optional.empty();
                    }

                    @Override
                    public Optional<List<Dim>> dims(dev.kiln.ir.Value v) {
                        return Optional.empty();
                    }
                });
        ConvGeometry g = read(sc, spatialIn.length, kernel);
        return transposed ? g.transposedAxes(sc, spatialIn) : g.forwardAxes(sc, spatialIn);
    }

    public int rank() { return kernel.length; }

    private long effectiveKernel(int i) { return (kernel[i] - 1) * dilations[i] + 1; }

    private boolean same() { return autoPad.startsWith("SAME"); }

    /** Resolves a forward (Conv, pool) window along axis i for input size {@code in}. */
    public Axis forward(NodeContext ctx, int i, long in) {
        long eff = effectiveKernel(i);
        long s = strides[i];
        long begin;
        long end;
        long out;
        switch (autoPad) {
            case "SAME_UPPER", "SAME_LOWER" -> {
                out = Math.ceilDiv(in, s);
                long total = Math.max(0, (out - 1) * s + eff - in);
                long small = total / 2;
                begin = autoPad.equals("SAME_UPPER") ? small : total - small;
                end = total - begin;
            }
            default -> {
                // VALID is explicit zero padding.
                boolean valid = autoPad.equals("VALID");
                begin = valid ? 0 : pads[i];
                end = valid ? 0 : pads[i + rank()];
                out = slidingCount(in, begin + end, eff, s);
                if (ceilMode && out > 0 && (out - 1) * s >= in + begin) {
                    // A last window that would start inside the end padding (or past the input) is dropped,
                    // as ONNX and PyTorch do.
                    out--;
                }
            }
        }
        if (out < 1) {
            throw ctx.fail("spatial axis " + i + " of size " + in + " (pads " + begin + "+" + end
                    + ") is smaller than the dilated kernel " + eff + ": no output");
        }
        return new Axis(Math.toIntExact(in), Math.toIntExact(kernel[i]), Math.toIntExact(s),
                Math.toIntExact(dilations[i]), Math.toIntExact(begin), Math.toIntExact(end), Math.toIntExact(out));
    }

    private long slidingCount(long in, long padTotal, long eff, long s) {
        long span = in + padTotal - eff;
        if (span < 0) {
            return 0;
        }
        return (ceilMode ? Math.ceilDiv(span, s) : Math.floorDiv(span, s)) + 1;
    }

    /** Resolves a transposed (ConvTranspose) window along axis i for input size {@code in}. */
    public Axis transposed(NodeContext ctx, int i, long in) {
        long eff = effectiveKernel(i);
        long s = strides[i];
        long full = s * (in - 1) + outputPadding[i] + eff;
        long begin;
        long end;
        long out;
        if (outputShape.isPresent() || same()) {
            out = outputShape.isPresent() ? requestedOutput(ctx, i) : in * s;
            // A negative total (output_shape past the full result) pads the end with zeros; floorDiv keeps
            // ONNX's split for it: SAME_UPPER gives the begin the smaller half, otherwise the begin gets the larger.
            long total = full - out;
            long half = Math.floorDiv(total, 2);
            begin = autoPad.equals("SAME_UPPER") ? half : total - half;
            end = total - begin;
        } else if (autoPad.equals("VALID")) {
            begin = 0;
            end = 0;
            out = full;
        } else {
            begin = pads[i];
            end = pads[i + rank()];
            out = full - begin - end;
        }
        if (out < 1) {
            throw ctx.fail("ConvTranspose output along spatial axis " + i + " would be " + out + " cells");
        }
        return new Axis(Math.toIntExact(in), Math.toIntExact(kernel[i]), Math.toIntExact(s),
                Math.toIntExact(dilations[i]), Math.toIntExact(begin), Math.toIntExact(end), Math.toIntExact(out));
    }

    private long requestedOutput(NodeContext ctx, int i) {
        long[] shape = outputShape.orElseThrow();
        // output_shape lists the spatial sizes; some exporters write the full N,C,spatial shape instead.
        if (shape.length == rank()) {
            return shape[i];
        }
        if (shape.length == rank() + 2) {
            return shape[i + 2];
        }
        throw ctx.fail("output_shape " + Arrays.toString(shape) + " must have one entry per spatial axis ("
                + rank() + ")");
    }

    /**
     * The output size along axis i as a dim: exact when the input size is static or the window maps
     * sizes one to one; otherwise a fresh unknown (sizes like {@code (N-3)/2+1} are not monomials).
     */
    public Dim outDim(NodeContext ctx, int i, Dim in, boolean transposedOp) {
        if (in.isStatic()) {
            Axis a = transposedOp ? transposed(ctx, i, in.value()) : forward(ctx, i, in.value());
            return Dim.of(a.out());
        }
        if (transposedOp) {
            if (outputShape.isPresent()) {
                return Dim.of(requestedOutput(ctx, i));
            }
            if (same()) {
                return in.times(strides[i]);
            }
            long fixed = outputPadding[i] + effectiveKernel(i) - 1
                    - (autoPad.equals("VALID") ? 0 : pads[i] + pads[i + rank()]);
            return strides[i] == 1 && fixed == 0 ? in : Dim.unknown();
        }
        if (strides[i] != 1) {
            return Dim.unknown();
        }
        if (same()) {
            return in;
        }
        long padTotal = autoPad.equals("VALID") ? 0 : pads[i] + pads[i + rank()];
        return padTotal - (effectiveKernel(i) - 1) == 0 ? in : Dim.unknown();
    }

    /** All axes of a forward window for the given input spatial sizes. */
    public List<Axis> forwardAxes(NodeContext ctx, int[] in) {
        List<Axis> axes = new ArrayList<>();
        for (int i = 0; i < in.length; i++) {
            axes.add(forward(ctx, i, in[i]));
        }
        return axes;
    }

    /** All axes of a transposed window for the given input spatial sizes. */
    public List<Axis> transposedAxes(NodeContext ctx, int[] in) {
        List<Axis> axes = new ArrayList<>();
        for (int i = 0; i < in.length; i++) {
            axes.add(transposed(ctx, i, in[i]));
        }
        return axes;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ConvGeometry g && autoPad.equals(g.autoPad) && Arrays.equals(kernel, g.kernel)
                && Arrays.equals(strides, g.strides) && Arrays.equals(dilations, g.dilations)
                && Arrays.equals(pads, g.pads) && ceilMode == g.ceilMode
                && Arrays.equals(outputPadding, g.outputPadding)
                && outputShape.map(Arrays::toString).equals(g.outputShape.map(Arrays::toString));
    }

    @Override
    public int hashCode() {
        return autoPad.hashCode() * 31 + Arrays.hashCode(kernel) * 17 + Arrays.hashCode(strides);
    }

    @Override
    public String toString() {
        return "ConvGeometry[auto_pad=" + autoPad + ", kernel=" + Arrays.toString(kernel) + ", strides="
                + Arrays.toString(strides) + ", dilations=" + Arrays.toString(dilations) + ", pads="
                + Arrays.toString(pads) + ", ceil_mode=" + ceilMode + "]";
    }
}
