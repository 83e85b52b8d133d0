package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Kiln's gradient ops (domain {@code dev.kiln}) for the neural-network ops on the training path of CNNs and
 * RNNs: the backward passes of Conv, MaxPool, AveragePool, BatchNormalization in training mode, Dropout,
 * LSTM and GRU. Gradients that are already one ONNX op (Conv's bias gradient is a ReduceSum) have no op here.
 *
 * <p>Each op's Javadoc below is its contract for the runtime kernels: inputs, outputs and attributes, in
 * order. The reference semantics are plain loops in double over the same window tables ({@link WindowTaps})
 * and recurrent weights ({@link RecurrentLoop.Weights}) the forward ops use, so a forward and its gradient
 * cannot disagree on geometry. No op here saves state between nodes: what a backward needs from the forward
 * (MaxPool's argmax, BatchNormalization's batch statistics, the recurrent ops' gates) is recomputed from the
 * forward's inputs, which the graph keeps alive; only Dropout's random mask is taken from the forward, as it
 * cannot be recomputed.
 */
public final class NnGradOps {
    public static final String CONV_GRAD_INPUT = "ConvGradInput";
    public static final String CONV_GRAD_WEIGHT = "ConvGradWeight";
    public static final String MAX_POOL_GRAD = "MaxPoolGrad";
    public static final String AVERAGE_POOL_GRAD = "AveragePoolGrad";
    public static final String BATCH_NORM_TRAINING_GRAD = "BatchNormTrainingGrad";
    public static final String DROPOUT_GRAD = "DropoutGrad";
    public static final String LSTM_GRAD = "LSTMGrad";
    public static final String GRU_GRAD = "GRUGrad";
    public static final String GATHER_GRAD = "GatherGrad";

    private NnGradOps() {}

    public static void register(OpTable.Registrar r) {
        r.add(convGradInput());
        r.add(convGradWeight());
        r.add(maxPoolGrad());
        r.add(averagePoolGrad());
        r.add(batchNormTrainingGrad());
        r.add(dropoutGrad());
        r.add(lstmGrad());
        r.add(gruGrad());
        r.add(gatherGrad());
    }

    private static OpDef.Builder kiln(String name) {
        return OpDef.builder(name).domain(OpTable.KILN_DOMAIN).since(1);
    }

    /**
     * {@code ConvGradInput(dY, W) -> dX}: the gradient of {@code Conv(X, W, B)} with respect to X.
     * <ul>
     *   <li>dY [N, M, O1..On]: gradient of the Conv's output Y;</li>
     *   <li>W [M, C/group, k1..kn]: the Conv's weight;</li>
     *   <li>dX [N, C, I1..In]: {@code dX[n, g*C/group + c, i] = sum over m in group g (m / (M/group) == g), output
     *       cells o and taps k whose input cell is i of dY[n, m, o] * W[m, c, k]}, where tap k of output cell o
     *       reads input cell {@code o*stride - padBegin + k*dilation} per axis (taps in the padding read
     *       nothing).</li>
     * </ul>
     * Attributes: the forward Conv's {@code auto_pad, dilations, kernel_shape, pads, strides, group} (same
     * defaults) and the required {@code input_shape} = [I1..In], X's spatial sizes (strided windows do not
     * determine them from O). Equals ConvTranspose(dY, W) with the Conv's pads and output_padding
     * {@code (I + padBegin + padEnd - effectiveKernel) mod stride} per axis.
     */
    private static OpDef convGradInput() {
        return ConvGeometry.declareWindowAttributes(kiln(CONV_GRAD_INPUT)
                        .doc("Gradient of Conv with respect to its input X: dX [N,C,I...] from dY [N,M,O...] and W.")
                        .inputs("dY", "W").outputs("dX"), false)
                .attrInt("group", 1, "the forward Conv's group")
                .requiredAttr("input_shape", AttrType.INTS, "spatial sizes of the forward Conv's input X")
                .shape(ctx -> {
                    Shape dy = ctx.inputShape(0);
                    Shape w = ctx.inputShape(1);
                    requireWindowed(ctx, dy, w);
                    long[] in = inputShape(ctx, dy.rank() - 2);
                    List<Dim> out = new ArrayList<>(List.of(dy.dim(0), w.dim(1).times(group(ctx))));
                    for (long i : in) {
                        out.add(Dim.of(i));
                    }
                    return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)));
                })
                .eval(ctx -> List.of(convGradInput(ctx)))
                .build();
    }

    /**
     * {@code ConvGradWeight(X, dY) -> dW}: the gradient of {@code Conv(X, W, B)} with respect to W.
     * <ul>
     *   <li>X [N, C, I1..In]: the Conv's input;</li>
     *   <li>dY [N, M, O1..On]: gradient of the Conv's output;</li>
     *   <li>dW [M, C/group, k1..kn]: {@code dW[m, c, k] = sum over n and output cells o of
     *       dY[n, m, o] * X[n, g*C/group + c, cell(o, k)]} with g = m / (M/group); taps in the padding add
     *       nothing.</li>
     * </ul>
     * Attributes: the forward Conv's {@code auto_pad, dilations, pads, strides, group}, and {@code kernel_shape}
     * (required here: W's spatial sizes).
     */
    private static OpDef convGradWeight() {
        return ConvGeometry.declareWindowAttributes(kiln(CONV_GRAD_WEIGHT)
                        .doc("Gradient of Conv with respect to its weight: dW [M,C/group,k...] from X and dY.")
                        .inputs("X", "dY").outputs("dW"), true)
                .attrInt("group", 1, "the forward Conv's group")
                .shape(ctx -> {
                    Shape x = ctx.inputShape(0);
                    Shape dy = ctx.inputShape(1);
                    requireWindowed(ctx, x, dy);
                    long group = group(ctx);
                    Dim c = x.dim(1);
                    if (!c.isStatic() || c.value() % group != 0) {
                        throw ctx.fail("X's channels " + c + " must be static and divisible by group=" + group);
                    }
                    List<Dim> out = new ArrayList<>(List.of(dy.dim(1), Dim.of(c.value() / group)));
                    for (long k : ctx.attrInts("kernel_shape")) {
                        out.add(Dim.of(k));
                    }
                    return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)));
                })
                .eval(ctx -> List.of(convGradWeight(ctx)))
                .build();
    }

    /**
     * {@code MaxPoolGrad(dY, X) -> dX}: the gradient of {@code MaxPool(X)} (output Y) with respect to X.
     * <ul>
     *   <li>dY [N, C, O1..On]: gradient of Y;</li>
     *   <li>X [N, C, I1..In]: the MaxPool's input;</li>
     *   <li>dX like X: each output cell's dY is added to the one input cell that won its window, found again
     *       exactly as MaxPool finds it: the first maximum in row-major tap order (PyTorch's tie rule), padding
     *       and NaN never winning. Overlapping windows add up; a window with no winner (all NaN) adds
     *       nothing.</li>
     * </ul>
     * Attributes: the forward MaxPool's {@code auto_pad, ceil_mode, dilations, kernel_shape, pads, strides}.
     */
    private static OpDef maxPoolGrad() {
        return ConvGeometry.declareWindowAttributes(kiln(MAX_POOL_GRAD)
                        .doc("Gradient of MaxPool: dY routed to each window's first maximum of X, summed where windows overlap.")
                        .inputs("dY", "X").outputs("dX"), true)
                .attrInt("ceil_mode", 0, "the forward MaxPool's ceil_mode")
                .shape(ctx -> {
                    Shape dy = ctx.inputShape(0);
                    Shape x = ctx.inputShape(1);
                    requireWindowed(ctx, dy, x);
                    return List.of(ctx.inputType(1));
                })
                .eval(ctx -> List.of(maxPoolGrad(ctx)))
                .build();
    }

    /**
     * {@code AveragePoolGrad(dY) -> dX}: the gradient of {@code AveragePool(X)} with respect to X.
     * <ul>
     *   <li>dY [N, C, O1..On]: gradient of the pool's output;</li>
     *   <li>dX [N, C, I1..In]: each output cell o adds {@code dY[o] / count(o)} to every input cell its window
     *       reads, where count(o) is the forward's divisor: the window's cells inside X, plus its padding cells
     *       when count_include_pad is 1 (never the cells past the padding a ceil_mode window reaches).</li>
     * </ul>
     * Attributes: the forward AveragePool's {@code auto_pad, ceil_mode, count_include_pad, dilations,
     * kernel_shape, pads, strides}, and the required {@code input_shape} = [I1..In]. GlobalAveragePool's
     * gradient is this op with kernel_shape = input_shape.
     */
    private static OpDef averagePoolGrad() {
        return ConvGeometry.declareWindowAttributes(kiln(AVERAGE_POOL_GRAD)
                        .doc("Gradient of AveragePool: dY[o]/count(o) spread over window o's input cells.")
                        .inputs("dY").outputs("dX"), true)
                .attrInt("ceil_mode", 0, "the forward AveragePool's ceil_mode")
                .attrInt("count_include_pad", 0, "the forward AveragePool's count_include_pad")
                .requiredAttr("input_shape", AttrType.INTS, "spatial sizes of the forward pool's input X")
                .shape(ctx -> {
                    Shape dy = ctx.inputShape(0);
                    Pointwise.requireFloat(ctx, 0);
                    if (dy.rank() < 3) {
                        throw ctx.fail("dY must be N x C x D1 x ... (rank >= 3) but has rank " + dy.rank());
                    }
                    List<Dim> out = new ArrayList<>(List.of(dy.dim(0), dy.dim(1)));
                    for (long i : inputShape(ctx, dy.rank() - 2)) {
                        out.add(Dim.of(i));
                    }
                    return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)));
                })
                .eval(ctx -> List.of(averagePoolGrad(ctx)))
                .build();
    }

    /**
     * {@code BatchNormTrainingGrad(dY, X, scale) -> dX, dScale, dB}: the gradient of a training-mode
     * {@code BatchNormalization(X, scale, B, mean, var)} (normalized with the batch's own statistics) with
     * respect to X, scale and B.
     * <ul>
     *   <li>dY, X [N, C, D...] (rank >= 2), scale [C];</li>
     *   <li>per channel c over its M = N*D cells: mean and biased variance of X (recomputed as the forward
     *       computes them), {@code inv = 1/sqrt(var + epsilon)}, {@code xhat = (X - mean) * inv};</li>
     *   <li>{@code dB[c] = sum dY}, {@code dScale[c] = sum dY * xhat},
     *       {@code dX = scale[c] * inv * (dY - dB[c]/M - xhat * dScale[c]/M)}.</li>
     * </ul>
     * Attribute: {@code epsilon} (the forward's, default 1e-5). The running statistics have no gradient.
     */
    private static OpDef batchNormTrainingGrad() {
        return kiln(BATCH_NORM_TRAINING_GRAD)
                .doc("Gradient of training-mode BatchNormalization with respect to X, scale and B (batch statistics).")
                .inputs("dY", "X", "scale").outputs("dX", "dScale", "dB")
                .attrFloat("epsilon", 1e-5f, "the forward's epsilon")
                .shape(ctx -> {
                    Pointwise.requireFloat(ctx, 0);
                    Shape x = ctx.inputShape(1);
                    if (x.rank() < 2 || ctx.inputShape(0).rank() != x.rank()) {
                        throw ctx.fail("dY and X must both be N x C x ... of the same rank");
                    }
                    if (ctx.inputShape(2).rank() != 1) {
                        throw ctx.fail("scale must be a vector of the channels of X");
                    }
                    TensorType perChannel = new TensorType(ctx.inputDtype(2), Shape.of(x.dim(1)));
                    return List.of(ctx.inputType(1), perChannel, perChannel);
                })
                .eval(NnGradOps::batchNormTrainingGrad)
                .build();
    }

    /**
     * {@code DropoutGrad(dY, mask, ratio?, training_mode?) -> dX}: the gradient of
     * {@code Dropout(X, ratio, training_mode) -> (Y, mask)} with respect to X, reusing the forward's mask.
     * <ul>
     *   <li>dY: gradient of Y; mask: the forward's BOOL mask (same shape); ratio: the forward's ratio (scalar,
     *       default 0.5); training_mode: the forward's (BOOL scalar, default false);</li>
     *   <li>{@code dX = mask ? dY * scale : 0} with {@code scale = 1/(1 - ratio)} when training_mode is true and
     *       ratio is not 0, else 1 (the forward was then the identity).</li>
     * </ul>
     */
    private static OpDef dropoutGrad() {
        return kiln(DROPOUT_GRAD)
                .doc("Gradient of Dropout: dY where the forward's mask kept the element, scaled by 1/(1-ratio) in training.")
                .inputs("dY", "mask", "ratio?", "training_mode?").outputs("dX")
                .shape(ctx -> {
                    Pointwise.requireFloat(ctx, 0);
                    if (ctx.inputDtype(1) != DType.BOOL) {
                        throw ctx.fail("mask must be BOOL");
                    }
                    return List.of(ctx.inputType(0));
                })
                .eval(ctx -> {
                    Tensor dy = ctx.input(0);
                    Tensor mask = ctx.input(1);
                    if (!Arrays.equals(dy.shape(), mask.shape())) {
                        throw ctx.fail("mask must have dY's shape");
                    }
                    boolean training = ctx.hasInput(3) && ctx.input(3).getBool(0);
                    double ratio = ctx.hasInput(2) ? ctx.input(2).getDouble(0) : 0.5;
                    double scale = training && ratio != 0 ? 1 / (1 - ratio) : 1;
                    double[] g = dy.doubles();
                    boolean[] keep = mask.bools();
                    double[] dx = new double[g.length];
                    for (int i = 0; i < g.length; i++) {
                        dx[i] = keep[i] ? g[i] * scale : 0;
                    }
                    return List.of(Tensor.wrapDoubles(dy.dtype(), dy.shape(), dx));
                })
                .build();
    }

    /**
     * {@code LSTMGrad(X, W, R, B?, initial_h?, initial_c?, dY?, dY_h?, dY_c?) -> dX?, dW?, dR?, dB?,
     * dinitial_h?, dinitial_c?}: backpropagation through time of
     * {@code LSTM(X, W, R, B, _, initial_h, initial_c) -> (Y, Y_h, Y_c)}.
     * <ul>
     *   <li>Inputs 0-5 are the LSTM's X, W, R, B, initial_h, initial_c, shaped as the LSTM's for the given
     *       layout and direction (absent B, initial_h, initial_c mean zeros); dY, dY_h, dY_c are the
     *       gradients of the LSTM's outputs (absent: zero).</li>
     *   <li>Outputs are shaped like X, W, R, B ([dirs, 8*hidden]), initial_h and initial_c. dB's Wb and Rb halves
     *       are equal (both biases add to the same gate pre-activation).</li>
     *   <li>The forward is recomputed from the inputs (gates i, o, f, the cell candidate g (ONNX's gate c) and
     *       cell states per step; gate order i, o, f, c in W, R, B), then the steps are walked backwards in the
     *       direction's processing order (so for a reverse direction the "last" step is t = 0). With
     *       {@code c = f*cPrev + i*g, h = o*tanh(c)} and the incoming dh (dY at that step plus the later step's
     *       dhPrev, dY_h at the last step) and dc (dY_c at the last step, then the later step's dcPrev):
     *       {@code dc += dh*o*(1-tanh(c)^2)}, pre-activation gradients
     *       {@code ai = dc*g*i(1-i), ao = dh*tanh(c)*o(1-o), af = dc*cPrev*f(1-f), ac = dc*i*(1-g^2)};
     *       {@code dW[gate] += a x^T, dR[gate] += a hPrev^T, dB += a} (both halves),
     *       {@code dx = W^T a, dhPrev = R^T a, dcPrev = dc*f}.</li>
     * </ul>
     * <p>Nothing is saved by the forward node: its outputs do not hold the gates or (for Y alone) the cell
     * states, so LSTMGrad recomputes them, at the cost of one more forward (an input-projection GEMM over all
     * steps, then one recurrent GEMM per step). Generated trainers skip that cost: their forward keeps the gates
     * for the one LSTMGrad that differentiates it (docs/TRAINING.md). Direction d of a bidirectional node uses rows d of W, R, B and the
     * states and walks time backwards for d = 1. Outputs may be cut after the last one needed.
     *
     * <p>Attributes: the forward's {@code direction} (forward, reverse, bidirectional), {@code layout} (0, 1) and
     * {@code hidden_size} (optional). Supported forward LSTMs use the default activations (Sigmoid, Tanh, Tanh),
     * no clip, no peepholes, input_forget 0 and no sequence_lens; the gradient rule rejects others.
     */
    private static OpDef lstmGrad() {
        return recurrentAttributes(kiln(LSTM_GRAD)
                .doc("Backpropagation through time of a one-layer LSTM, recomputing its forward from its inputs.")
                .inputs("X", "W", "R", "B?", "initial_h?", "initial_c?", "dY?", "dY_h?", "dY_c?")
                .outputs("dX?", "dW?", "dR?", "dB?", "dinitial_h?", "dinitial_c?"))
                .shape(ctx -> recurrentGradShape(ctx, 4, 2))
                .eval(ctx -> RecurrentGrads.lstm(ctx))
                .build();
    }

    /**
     * {@code GRUGrad(X, W, R, B?, initial_h?, dY?, dY_h?) -> dX?, dW?, dR?, dB?, dinitial_h?}:
     * backpropagation through time of {@code GRU(X, W, R, B, _, initial_h) -> (Y, Y_h)}.
     * <ul>
     *   <li>Inputs and outputs as for LSTMGrad, without the cell state; dB is [dirs, 6*hidden], gate order
     *       z, r, h.</li>
     *   <li>Forward recomputed per step: {@code z = s(Wz x + Rz hPrev + Wbz + Rbz)}, r likewise, and
     *       {@code n = tanh(Wh x + Wbh + r*(Rh hPrev + Rbh))} when linear_before_reset is 1 (PyTorch's form),
     *       {@code n = tanh(Wh x + Rh (r*hPrev) + Rbh + Wbh)} when 0; {@code h = (1-z)*n + z*hPrev}.</li>
     *   <li>Backward per step, latest first, with the incoming dh (dY at that step plus the later step's
     *       dhPrev; dY_h at the last step): {@code an = dh*(1-z)*(1-n^2)}, {@code az = dh*(hPrev-n)*z(1-z)};
     *       {@code dW[h] += an x^T, dWbh += an}. linear_before_reset 1: {@code q = Rh hPrev + Rbh},
     *       {@code ar = an*q*r(1-r)}, {@code dR[h] += (an*r) hPrev^T, dRbh += an*r, dhPrev += Rh^T (an*r)};
     *       linear_before_reset 0: {@code s = r*hPrev}, {@code dR[h] += an s^T, dRbh += an},
     *       {@code ds = Rh^T an, ar = ds*hPrev*r(1-r), dhPrev += ds*r}. Then for gates z and r (a = az, ar):
     *       {@code dW[gate] += a x^T, dR[gate] += a hPrev^T, dWb[gate] += a, dRb[gate] += a};
     *       {@code dx = Wz^T az + Wr^T ar + Wh^T an}, {@code dhPrev += dh*z + Rz^T az + Rr^T ar}.</li>
     * </ul>
     * Attributes: {@code direction}, {@code layout}, {@code hidden_size} (optional) and
     * {@code linear_before_reset} (default 0). Default activations (Sigmoid, Tanh), no clip, no sequence_lens.
     */
    private static OpDef gruGrad() {
        return recurrentAttributes(kiln(GRU_GRAD)
                .doc("Backpropagation through time of a one-layer GRU, recomputing its forward from its inputs.")
                .inputs("X", "W", "R", "B?", "initial_h?", "dY?", "dY_h?")
                .outputs("dX?", "dW?", "dR?", "dB?", "dinitial_h?"))
                .attrInt("linear_before_reset", 0, "the forward GRU's linear_before_reset")
                .shape(ctx -> recurrentGradShape(ctx, 3, 1))
                .eval(ctx -> RecurrentGrads.gru(ctx))
                .build();
    }

    /**
     * {@code GatherGrad(dY, indices, shape) -> dX}: the gradient of {@code Gather(data, indices)} with respect to
     * data (how the exported RNN models pick their last time step).
     * <ul>
     *   <li>dY: gradient of the Gather's output, shaped data[:axis] + indices + data[axis+1:];</li>
     *   <li>indices: the Gather's int32/int64 indices (negative ones count from the end);</li>
     *   <li>shape: data's shape as an int64 vector (a Shape node when the batch is symbolic);</li>
     *   <li>dX of that shape: zeros, plus {@code dX[o, indices[k], i] += dY[o, k, i]} (flattening the axes before
     *       axis into o, the indices into k, the axes after into i); repeated indices add up.</li>
     * </ul>
     * Attribute: the Gather's {@code axis} (default 0).
     */
    private static OpDef gatherGrad() {
        return kiln(GATHER_GRAD)
                .doc("Gradient of Gather with respect to data: dY scatter-added into zeros of data's shape at the indices.")
                .inputs("dY", "indices", "shape").outputs("dX")
                .attrInt("axis", 0, "the Gather's axis")
                .shape(ctx -> {
                    Pointwise.requireFloat(ctx, 0);
                    List<Dim> dims = ctx.dimsValue(2).orElseThrow(
                            () -> ctx.fail("shape must be a known int64 vector (constant or Shape of a value)"));
                    Indexing.axis(ctx, ctx.attrInt("axis"), dims.size());
                    return List.of(new TensorType(ctx.inputDtype(0), new Shape(dims)));
                })
                .eval(ctx -> List.of(gatherGrad(ctx)))
                .build();
    }

    private static OpDef.Builder recurrentAttributes(OpDef.Builder b) {
        return b.attrString("direction", "forward", "the forward op's direction: forward, reverse or bidirectional")
                .optionalAttr("hidden_size", AttrType.INT, "the forward op's hidden size; taken from R when absent")
                .attrInt("layout", 0, "the forward op's layout: 0 seq-major, 1 batch-major X, Y and states");
    }

    // ---- shape rules ----

    /** dY (or X) and the second operand must be N x C x spatial of one rank and one floating element type. */
    private static void requireWindowed(ShapeContext ctx, Shape a, Shape b) {
        Pointwise.requireFloat(ctx, 0);
        if (a.rank() < 3 || b.rank() != a.rank()) {
            throw ctx.fail("operands must be N x C x D1 x ... of one rank (>= 3) but are " + a + " and " + b);
        }
        if (ctx.inputDtype(1) != ctx.inputDtype(0)) {
            throw ctx.fail("operands must have one element type");
        }
    }

    private static long[] inputShape(NodeContext ctx, int spatialRank) {
        long[] in = ctx.attrInts("input_shape");
        if (in.length != spatialRank) {
            throw ctx.fail("input_shape " + Arrays.toString(in) + " must have one entry per spatial axis ("
                    + spatialRank + ")");
        }
        for (long i : in) {
            if (i < 1) {
                throw ctx.fail("input_shape " + Arrays.toString(in) + " must be positive");
            }
        }
        return in;
    }

    private static long group(NodeContext ctx) {
        long group = ctx.attrInt("group");
        if (group < 1) {
            throw ctx.fail("group must be positive but is " + group);
        }
        return group;
    }

    /** Types of dX, dW, dR, dB, dinitial_h (, dinitial_c): those of the forward's inputs, B's when B is absent. */
    private static List<TensorType> recurrentGradShape(ShapeContext ctx, int gates, int states) {
        for (int i = 0; i < 3; i++) {
            Pointwise.requireFloat(ctx, i);
            if (ctx.inputShape(i).rank() != 3) {
                throw ctx.fail(ctx.def().inputName(i) + " must have rank 3 but has rank " + ctx.inputShape(i).rank());
            }
        }
        boolean batchFirst = RecurrentLoop.layout(ctx);
        Dim dirs = Dim.of(RecurrentLoop.numDirections(ctx));
        DType t = ctx.inputDtype(0);
        Shape x = ctx.inputShape(0);
        Shape r = ctx.inputShape(2);
        Dim hidden = ctx.isSet("hidden_size") ? Dim.of(ctx.attrInt("hidden_size")) : r.dim(2);
        Dim batch = x.dim(batchFirst ? 0 : 1);
        Shape state = batchFirst ? Shape.of(batch, dirs, hidden) : Shape.of(dirs, batch, hidden);
        List<TensorType> out = new ArrayList<>(List.of(ctx.inputType(0), ctx.inputType(1), ctx.inputType(2),
                new TensorType(t, Shape.of(dirs, hidden.times(2L * gates)))));
        for (int k = 0; k < states; k++) {
            out.add(new TensorType(t, state));
        }
        return out.subList(0, Math.min(out.size(), Math.max(1, ctx.outputCount())));
    }

    // ---- reference semantics ----

    private static WindowTaps forwardTaps(EvalContext ctx, int[] spatialIn, long[] kernel) {
        ConvGeometry g = ConvGeometry.read(ctx, spatialIn.length, kernel);
        return new WindowTaps(g.forwardAxes(ctx, spatialIn));
    }

    private static long[] kernelOf(int[] wShape) {
        long[] k = new long[wShape.length - 2];
        for (int i = 0; i < k.length; i++) {
            k[i] = wShape[i + 2];
        }
        return k;
    }

    private static void requireOutSpatial(EvalContext ctx, WindowTaps taps, int[] dyShape) {
        int[] expected = taps.outShape();
        if (!Arrays.equals(expected, Arrays.copyOfRange(dyShape, 2, dyShape.length))) {
            throw ctx.fail("dY's spatial sizes " + Arrays.toString(Arrays.copyOfRange(dyShape, 2, dyShape.length))
                    + " are not the forward's output sizes " + Arrays.toString(expected));
        }
    }

    private static int[] withSpatial(int n, int c, int[] spatial) {
        int[] shape = new int[spatial.length + 2];
        shape[0] = n;
        shape[1] = c;
        System.arraycopy(spatial, 0, shape, 2, spatial.length);
        return shape;
    }

    private static int[] toInts(long[] v) {
        return Arrays.stream(v).mapToInt(Math::toIntExact).toArray();
    }

    private static Tensor convGradInput(EvalContext ctx) {
        Tensor dyt = ctx.input(0);
        Tensor wt = ctx.input(1);
        int[] dys = dyt.shape();
        int[] ws = wt.shape();
        int n = dys[0];
        int m = dys[1];
        int cg = ws[1];
        int group = Math.toIntExact(group(ctx));
        if (ws[0] != m || m % group != 0) {
            throw ctx.fail("W has " + ws[0] + " output channels but dY has " + m + " (group=" + group + ")");
        }
        int mg = m / group;
        int c = cg * group;
        int[] spatialIn = toInts(inputShape(ctx, dys.length - 2));
        WindowTaps taps = forwardTaps(ctx, spatialIn, kernelOf(ws));
        requireOutSpatial(ctx, taps, dys);
        int[] table = taps.gather();
        int inSize = taps.inSize();
        int outSize = taps.outSize();
        int kSize = taps.kernelSize();
        double[] dy = dyt.doubles();
        double[] w = wt.doubles();
        double[] dx = new double[n * c * inSize];
        for (int ni = 0; ni < n; ni++) {
            for (int mi = 0; mi < m; mi++) {
                int firstChannel = (mi / mg) * cg;
                for (int o = 0; o < outSize; o++) {
                    double g = dy[(ni * m + mi) * outSize + o];
                    for (int ci = 0; ci < cg; ci++) {
                        int xBase = (ni * c + firstChannel + ci) * inSize;
                        int wBase = (mi * cg + ci) * kSize;
                        for (int k = 0; k < kSize; k++) {
                            int cell = table[o * kSize + k];
                            if (cell >= 0) {
                                dx[xBase + cell] += g * w[wBase + k];
                            }
                        }
                    }
                }
            }
        }
        return Tensor.wrapDoubles(dyt.dtype(), withSpatial(n, c, spatialIn), dx);
    }

    private static Tensor convGradWeight(EvalContext ctx) {
        Tensor xt = ctx.input(0);
        Tensor dyt = ctx.input(1);
        int[] xs = xt.shape();
        int[] dys = dyt.shape();
        int n = xs[0];
        int c = xs[1];
        int m = dys[1];
        int group = Math.toIntExact(group(ctx));
        if (dys[0] != n || c % group != 0 || m % group != 0) {
            throw ctx.fail("X " + Arrays.toString(xs) + " and dY " + Arrays.toString(dys)
                    + " do not fit a Conv with group=" + group);
        }
        int cg = c / group;
        int mg = m / group;
        long[] kernel = ctx.attrInts("kernel_shape");
        WindowTaps taps = forwardTaps(ctx, Arrays.copyOfRange(xs, 2, xs.length), kernel);
        requireOutSpatial(ctx, taps, dys);
        int[] table = taps.gather();
        int inSize = taps.inSize();
        int outSize = taps.outSize();
        int kSize = taps.kernelSize();
        double[] x = xt.doubles();
        double[] dy = dyt.doubles();
        double[] dw = new double[m * cg * kSize];
        for (int ni = 0; ni < n; ni++) {
            for (int mi = 0; mi < m; mi++) {
                int firstChannel = (mi / mg) * cg;
                for (int o = 0; o < outSize; o++) {
                    double g = dy[(ni * m + mi) * outSize + o];
                    for (int ci = 0; ci < cg; ci++) {
                        int xBase = (ni * c + firstChannel + ci) * inSize;
                        int wBase = (mi * cg + ci) * kSize;
                        for (int k = 0; k < kSize; k++) {
                            int cell = table[o * kSize + k];
                            if (cell >= 0) {
                                dw[wBase + k] += g * x[xBase + cell];
                            }
                        }
                    }
                }
            }
        }
        return Tensor.wrapDoubles(xt.dtype(), withSpatial(m, cg, toInts(kernel)), dw);
    }

    private static Tensor maxPoolGrad(EvalContext ctx) {
        Tensor dyt = ctx.input(0);
        Tensor xt = ctx.input(1);
        int[] xs = xt.shape();
        int[] dys = dyt.shape();
        if (dys[0] != xs[0] || dys[1] != xs[1]) {
            throw ctx.fail("dY " + Arrays.toString(dys) + " and X " + Arrays.toString(xs) + " differ in N or C");
        }
        int planes = xs[0] * xs[1];
        WindowTaps taps = forwardTaps(ctx, Arrays.copyOfRange(xs, 2, xs.length), ctx.attrInts("kernel_shape"));
        requireOutSpatial(ctx, taps, dys);
        int[] table = taps.gather();
        int inSize = taps.inSize();
        int outSize = taps.outSize();
        int kSize = taps.kernelSize();
        double[] x = xt.doubles();
        double[] dy = dyt.doubles();
        double[] dx = new double[x.length];
        for (int p = 0; p < planes; p++) {
            for (int o = 0; o < outSize; o++) {
                double best = Double.NEGATIVE_INFINITY;
                int bestCell = -1;
                for (int k = 0; k < kSize; k++) {
                    int cell = table[o * kSize + k];
                    if (cell >= 0) {
                        double v = x[p * inSize + cell];
                        // The forward's rule (ConvPoolOps.maxPool): strictly greater replaces, so the first of
                        // equal maxima wins; NaN never wins.
                        if (v > best || (bestCell < 0 && !Double.isNaN(v))) {
                            best = v;
                            bestCell = cell;
                        }
                    }
                }
                if (bestCell >= 0) {
                    dx[p * inSize + bestCell] += dy[p * outSize + o];
                }
            }
        }
        return Tensor.wrapDoubles(xt.dtype(), xs, dx);
    }

    private static Tensor averagePoolGrad(EvalContext ctx) {
        Tensor dyt = ctx.input(0);
        int[] dys = dyt.shape();
        int planes = dys[0] * dys[1];
        int[] spatialIn = toInts(inputShape(ctx, dys.length - 2));
        WindowTaps taps = forwardTaps(ctx, spatialIn, ctx.attrInts("kernel_shape"));
        requireOutSpatial(ctx, taps, dys);
        int[] table = taps.gather();
        int inSize = taps.inSize();
        int outSize = taps.outSize();
        int kSize = taps.kernelSize();
        boolean includePad = ctx.attrInt("count_include_pad") != 0;
        double[] dy = dyt.doubles();
        double[] dx = new double[planes * inSize];
        for (int o = 0; o < outSize; o++) {
            int count = 0;
            for (int k = 0; k < kSize; k++) {
                int cell = table[o * kSize + k];
                if (cell >= 0 || (cell == WindowTaps.PAD && includePad)) {
                    count++;
                }
            }
            for (int p = 0; p < planes; p++) {
                double share = dy[p * outSize + o] / count;
                for (int k = 0; k < kSize; k++) {
                    int cell = table[o * kSize + k];
                    if (cell >= 0) {
                        dx[p * inSize + cell] += share;
                    }
                }
            }
        }
        return Tensor.wrapDoubles(dyt.dtype(), withSpatial(dys[0], dys[1], spatialIn), dx);
    }

    private static Tensor gatherGrad(EvalContext ctx) {
        Tensor dyt = ctx.input(0);
        long[] indices = Indexing.longs(ctx, 1);
        int[] shape = ctx.input(2).toIntArray();
        int axis = Indexing.axis(ctx, ctx.attrInt("axis"), shape.length);
        int outer = Indexing.product(shape, 0, axis);
        int d = shape[axis];
        int inner = Indexing.product(shape, axis + 1, shape.length);
        double[] dy = dyt.doubles();
        if (dy.length != outer * indices.length * inner) {
            throw ctx.fail("dY " + dyt.type() + " does not fit a Gather of " + Arrays.toString(shape) + " with "
                    + indices.length + " indices on axis " + axis);
        }
        double[] dx = new double[Tensor.sizeOf(shape)];
        int f = 0;
        for (int o = 0; o < outer; o++) {
            for (long raw : indices) {
                int i = Indexing.index(ctx, raw, d);
                for (int j = 0; j < inner; j++) {
                    dx[(o * d + i) * inner + j] += dy[f++];
                }
            }
        }
        return Tensor.wrapDoubles(dyt.dtype(), shape, dx);
    }

    private static List<Tensor> batchNormTrainingGrad(EvalContext ctx) {
        Tensor dyt = ctx.input(0);
        Tensor xt = ctx.input(1);
        Tensor scaleT = ctx.input(2);
        int[] xs = xt.shape();
        if (!Arrays.equals(xs, dyt.shape())) {
            throw ctx.fail("dY " + Arrays.toString(dyt.shape()) + " must have X's shape " + Arrays.toString(xs));
        }
        int c = xs[1];
        if (scaleT.rank() != 1 || scaleT.dim(0) != c) {
            throw ctx.fail("scale must have shape [" + c + "] but has " + scaleT.type());
        }
        int cells = 1;
        for (int d = 2; d < xs.length; d++) {
            cells *= xs[d];
        }
        double[] x = xt.doubles();
        double[] dy = dyt.doubles();
        double[] scale = scaleT.doubles();
        double eps = ctx.attrFloat("epsilon");
        boolean[] reduced = new boolean[xs.length];
        Arrays.fill(reduced, true);
        reduced[1] = false;
        double[][] m = NormalizationOps.moments(x, NormalizationOps.groupIndex(xs, reduced), c);
        double count = (double) xs[0] * cells;
        double[] inv = new double[c];
        for (int ch = 0; ch < c; ch++) {
            inv[ch] = 1 / Math.sqrt(m[1][ch] + eps);
        }
        double[] dScale = new double[c];
        double[] dBias = new double[c];
        for (int i = 0; i < x.length; i++) {
            int ch = (i / cells) % c;
            dBias[ch] += dy[i];
            dScale[ch] += dy[i] * (x[i] - m[0][ch]) * inv[ch];
        }
        double[] dx = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            int ch = (i / cells) % c;
            double xhat = (x[i] - m[0][ch]) * inv[ch];
            dx[i] = scale[ch] * inv[ch] * (dy[i] - dBias[ch] / count - xhat * dScale[ch] / count);
        }
        DType statsType = scaleT.dtype();
        return List.of(Tensor.wrapDoubles(xt.dtype(), xs, dx), Tensor.wrapDoubles(statsType, new int[] {c}, dScale),
                Tensor.wrapDoubles(statsType, new int[] {c}, dBias));
    }
}
