package dev.kiln.ir.builder;

import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.ShapeException;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.List;

/**
 * The feed-forward layers: each emits the ONNX nodes PyTorch's exporter emits for the equivalent module
 * (in eval mode), creating its parameters through {@link BuildContext}. Output shapes come from the op
 * table; a layer only reads the input dims its parameters' shapes depend on.
 */
final class Layers {
    private Layers() {}

    /** {@code nn.Linear}: Gemm(x, W, b, transB=1) on rank 2; MatMul(x, Transpose(W)) + b on higher ranks. */
    static Value dense(BuildContext c, Value x, Dense spec) {
        requireFloat(x, "dense");
        if (x.shape().rank() < 2) {
            throw new ShapeException("dense layer needs an input of rank >= 2 (batch first), got " + x.type());
        }
        long in = staticDim(x, x.shape().rank() - 1, "dense");
        String name = c.layerName(spec.name(), "fc");
        String desc = "'" + name + "' (Dense " + in + " -> " + spec.units() + ")";
        double bound = InitScheme.linearBound(in);
        DType dt = x.dtype();
        Value w = c.uniformParameter(name, "weight", desc, dt, new int[] {spec.units(), Math.toIntExact(in)}, bound);
        Value b = spec.bias() ? c.uniformParameter(name, "bias", desc, dt, new int[] {spec.units()}, bound) : Value.ABSENT;
        if (x.shape().rank() == 2) {
            return c.node(name, "Gemm", x, w, b).attr("alpha", 1f).attr("beta", 1f).attr("transB", 1).output();
        }
        Value wt = c.node(name, "Transpose", w).attr("perm", new long[] {1, 0}).output();
        Value y = c.node(name, "MatMul", x, wt).output();
        return spec.bias() ? c.node(name, "Add", y, b).output() : y;
    }

    /** {@code nn.Conv2d}: Conv with every attribute explicit, as exported. */
    static Value conv2d(BuildContext c, Value x, Conv2d spec) {
        requireFloat(x, "conv2d");
        requireRank(x, 4, "conv2d (NCHW)");
        long in = staticDim(x, 1, "conv2d");
        if (in % spec.groups() != 0) {
            throw new ShapeException("conv2d input channels (" + in + " in " + x.type() + ") must be divisible by groups ("
                    + spec.groups() + ")");
        }
        String name = c.layerName(spec.name(), "conv");
        String desc = "'" + name + "' (Conv2d " + in + " -> " + spec.filters() + ", " + spec.kernelH() + "x"
                + spec.kernelW() + ")";
        int perGroup = Math.toIntExact(in / spec.groups());
        double bound = InitScheme.linearBound((long) perGroup * spec.kernelH() * spec.kernelW());
        DType dt = x.dtype();
        Value w = c.uniformParameter(name, "weight", desc, dt,
                new int[] {spec.filters(), perGroup, spec.kernelH(), spec.kernelW()}, bound);
        Value b = spec.bias() ? c.uniformParameter(name, "bias", desc, dt, new int[] {spec.filters()}, bound)
                : Value.ABSENT;
        return c.node(name, "Conv", x, w, b)
                .attr("dilations", new long[] {spec.dilationH(), spec.dilationW()})
                .attr("group", spec.groups())
                .attr("kernel_shape", new long[] {spec.kernelH(), spec.kernelW()})
                .attr("pads", new long[] {spec.padH(), spec.padW(), spec.padH(), spec.padW()})
                .attr("strides", new long[] {spec.strideH(), spec.strideW()})
                .output();
    }

    /** {@code F.max_pool2d(x, kernel, stride, padding)}. */
    static Value maxPool2d(BuildContext c, Value x, int kernel, int stride, int padding) {
        requireRank(x, 4, "maxPool2d (NCHW)");
        return c.node("", "MaxPool", x)
                .attr("ceil_mode", 0)
                .attr("kernel_shape", new long[] {kernel, kernel})
                .attr("pads", new long[] {padding, padding, padding, padding})
                .attr("strides", new long[] {stride, stride})
                .output();
    }

    /** {@code F.avg_pool2d(x, kernel, stride, padding)}; padded zeros count, as PyTorch's default does. */
    static Value avgPool2d(BuildContext c, Value x, int kernel, int stride, int padding) {
        requireRank(x, 4, "avgPool2d (NCHW)");
        var node = c.node("", "AveragePool", x)
                .attr("ceil_mode", 0)
                .attr("kernel_shape", new long[] {kernel, kernel})
                .attr("pads", new long[] {padding, padding, padding, padding})
                .attr("strides", new long[] {stride, stride});
        if (padding > 0) {
            node.attr("count_include_pad", 1);
        }
        return node.output();
    }

    /** {@code nn.AdaptiveAvgPool2d(1)}: GlobalAveragePool, keeping the 1x1 spatial dims. */
    static Value globalAvgPool(BuildContext c, Value x) {
        if (x.shape().rank() < 3) {
            throw new ShapeException("globalAvgPool needs an input of rank >= 3 (N, C, spatial...), got " + x.type());
        }
        return c.node("", "GlobalAveragePool", x).output();
    }

    /** {@code nn.BatchNorm1d/2d} in eval mode: BatchNormalization with the running statistics. */
    static Value batchNorm(BuildContext c, Value x, String requestedName, double epsilon) {
        requireFloat(x, "batchNorm");
        if (x.shape().rank() < 2) {
            throw new ShapeException("batchNorm needs an input of rank >= 2 (N, C, ...), got " + x.type());
        }
        long ch = staticDim(x, 1, "batchNorm");
        String name = c.layerName(requestedName, "bn");
        String desc = "'" + name + "' (BatchNorm " + ch + ")";
        int[] shape = {Math.toIntExact(ch)};
        DType dt = x.dtype();
        Value scale = c.filledParameter(name, "weight", desc, dt, shape, 1);
        Value bias = c.filledParameter(name, "bias", desc, dt, shape, 0);
        Value mean = c.filledParameter(name, "running_mean", desc, dt, shape, 0);
        Value var = c.filledParameter(name, "running_var", desc, dt, shape, 1);
        return c.node(name, "BatchNormalization", x, scale, bias, mean, var)
                .attr("epsilon", (float) epsilon).attr("momentum", 0.9f).output();
    }

    /** {@code nn.LayerNorm(C)} over the last axis C: LayerNormalization(axis=-1), weight 1 and bias 0 when fresh. */
    static Value layerNorm(BuildContext c, Value x, String requestedName, double epsilon) {
        requireFloat(x, "layerNorm");
        int rank = x.shape().rank();
        if (rank < 1) {
            throw new ShapeException("layerNorm needs an input of rank >= 1, got " + x.type());
        }
        long ch = staticDim(x, rank - 1, "layerNorm");
        String name = c.layerName(requestedName, "ln");
        String desc = "'" + name + "' (LayerNorm " + ch + ")";
        int[] shape = {Math.toIntExact(ch)};
        Value scale = c.filledParameter(name, "weight", desc, x.dtype(), shape, 1);
        Value bias = c.filledParameter(name, "bias", desc, x.dtype(), shape, 0);
        return c.node(name, "LayerNormalization", x, scale, bias).attr("axis", -1L).attr("epsilon", (float) epsilon)
                .output();
    }

    /**
     * {@code nn.Dropout(p)}: nothing in an inference graph (as an eval-mode export), or a Dropout node with
     * constant ratio (identity unless a training graph sets {@code training_mode}) when the builder keeps it.
     */
    static Value dropout(BuildContext c, Value x, double p) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        }
        if (!c.keepDropout()) {
            return x;
        }
        requireFloat(x, "dropout");
        Value ratio = c.scalar("", x.dtype(), p);
        return c.node("", "Dropout", x, ratio).output();
    }

    /** {@code torch.flatten(x, 1)}: Flatten(axis=1). */
    static Value flatten(BuildContext c, Value x) {
        return c.node("", "Flatten", x).attr("axis", 1).output();
    }

    /** {@code x.view(shape)}: Reshape by a constant ({@code -1} infers one dim, {@code 0} copies it). */
    static Value reshape(BuildContext c, Value x, long... shape) {
        Value target = c.constant("", Tensor.ofInt64s(shape));
        return c.node("", "Reshape", x, target).output();
    }

    /** {@code x.select(axis, index)} / {@code x[:, -1, :]}: Gather with a scalar index, dropping the axis. */
    static Value select(BuildContext c, Value x, int axis, long index) {
        Value idx = c.constant("", Tensor.scalarLong(DType.INT64, index));
        return c.node("", "Gather", x, idx).attr("axis", axis).output();
    }

    static Value add(BuildContext c, Value a, Value b) {
        return c.node("", "Add", a, b).output();
    }

    static Value mul(BuildContext c, Value a, Value b) {
        return c.node("", "Mul", a, b).output();
    }

    static Value matmul(BuildContext c, Value a, Value b) {
        return c.node("", "MatMul", a, b).output();
    }

    static Value div(BuildContext c, Value x, double divisor) {
        requireFloat(x, "div");
        return c.node("", "Div", x, c.scalar("", x.dtype(), divisor)).output();
    }

    static Value transpose(BuildContext c, Value x, long... perm) {
        return c.node("", "Transpose", x).attr("perm", perm).output();
    }

    /** {@code torch.cat(xs, axis)}. */
    static Value concat(BuildContext c, int axis, List<Value> xs) {
        if (xs.isEmpty()) {
            throw new IllegalArgumentException("concat needs at least one input");
        }
        return c.node("", "Concat", 1).inputs(new ArrayList<>(xs)).attr("axis", axis).output();
    }

    static void requireFloat(Value x, String layer) {
        if (!x.dtype().isFloat()) {
            throw new ShapeException(layer + " needs a floating input, got " + x.type());
        }
    }

    static void requireRank(Value x, int rank, String layer) {
        if (x.shape().rank() != rank) {
            throw new ShapeException(layer + " needs an input of rank " + rank + ", got " + x.type());
        }
    }

    /** Dim {@code axis} of {@code x}, which a layer's parameter shape depends on and must therefore be static. */
    static long staticDim(Value x, int axis, String layer) {
        Dim d = x.shape().dim(axis);
        if (!d.isStatic()) {
            throw new ShapeException(layer + " needs dim " + axis + " of its input to be static (it sizes the "
                    + "parameters), got " + x.type());
        }
        return d.value();
    }
}
