package dev.kiln.ir.ops;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.GradContext;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.List;
import java.util.Optional;

/**
 * Gradient rules of the neural-network ops on the training path of CNNs and RNNs (Conv, the pools,
 * BatchNormalization, Dropout, Softmax, LogSoftmax, LSTM, GRU), attached to their declarations with
 * {@code .grad(NnGradRules::conv)} etc. Each rule emits the {@link NnGradOps} gradient op or the ONNX ops
 * that compute exactly the gradients the forward's reference semantics imply.
 */
final class NnGradRules {
    private NnGradRules() {}

    private static final List<String> CONV_WINDOW = List.of("auto_pad", "dilations", "kernel_shape", "pads", "strides",
            "group");
    private static final List<String> POOL_WINDOW = List.of("auto_pad", "ceil_mode", "dilations", "kernel_shape",
            "pads", "strides");

    /** The forward node's attributes among {@code names} that it sets (the gradient op declares the same defaults). */
    private static Attributes.Builder copied(GradContext ctx, List<String> names) {
        Attributes.Builder b = Attributes.builder();
        for (String name : names) {
            ctx.attributes().get(name).ifPresent(a -> b.set(name, a));
        }
        return b;
    }

    /** The static spatial sizes (axes 2..) of v; a gradient op's geometry is resolved from them. */
    static long[] spatial(GradContext ctx, Value v, String what) {
        Shape s = v.shape();
        long[] out = new long[s.rank() - 2];
        for (int i = 0; i < out.length; i++) {
            Dim d = s.dim(i + 2);
            if (!d.isStatic()) {
                throw ctx.unsupported("the gradient needs static spatial sizes of " + what + " but it is " + v.type());
            }
            out[i] = d.value();
        }
        return out;
    }

    /** Axes 0 and 2.. of a rank-r tensor: everything but the channel. */
    static long[] allButChannel(int rank) {
        long[] axes = new long[rank - 1];
        axes[0] = 0;
        for (int i = 2; i < rank; i++) {
            axes[i - 1] = i;
        }
        return axes;
    }

    // Conv(X, W, B): dX = ConvGradInput(dY, W), dW = ConvGradWeight(X, dY), dB = ReduceSum(dY, all but channel)
    static void conv(GradContext ctx) {
        Value dy = ctx.outputGrad(0);
        if (dy.isAbsent()) {
            return;
        }
        if (ctx.needsGrad(0)) {
            Attributes a = copied(ctx, CONV_WINDOW).ints("input_shape", spatial(ctx, ctx.input(0), "X")).build();
            ctx.setInputGrad(0, ctx.emitKiln(NnGradOps.CONV_GRAD_INPUT, a, dy, ctx.input(1)));
        }
        if (ctx.needsGrad(1)) {
            Attributes a = copied(ctx, CONV_WINDOW).ints("kernel_shape", spatial(ctx, ctx.input(1), "W")).build();
            ctx.setInputGrad(1, ctx.emitKiln(NnGradOps.CONV_GRAD_WEIGHT, a, ctx.input(0), dy));
        }
        if (ctx.hasInput(2) && ctx.needsGrad(2)) {
            ctx.setInputGrad(2, ctx.reduceSum(dy, allButChannel(dy.shape().rank()), false));
        }
    }

    // MaxPool(X) -> Y, Indices: dX = MaxPoolGrad(dY, X); Indices are integers and carry no gradient
    static void maxPool(GradContext ctx) {
        Value dy = ctx.outputGrad(0);
        if (dy.isAbsent() || !ctx.needsGrad(0)) {
            return;
        }
        ctx.setInputGrad(0, ctx.emitKiln(NnGradOps.MAX_POOL_GRAD, copied(ctx, POOL_WINDOW).build(), dy, ctx.input(0)));
    }

    // AveragePool(X): dX = AveragePoolGrad(dY)
    static void averagePool(GradContext ctx) {
        Value dy = ctx.outputGrad(0);
        if (dy.isAbsent() || !ctx.needsGrad(0)) {
            return;
        }
        List<String> names = List.of("auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads",
                "strides");
        Attributes a = copied(ctx, names).ints("input_shape", spatial(ctx, ctx.input(0), "X")).build();
        ctx.setInputGrad(0, ctx.emitKiln(NnGradOps.AVERAGE_POOL_GRAD, a, dy));
    }

    // GlobalAveragePool(X) = AveragePool(X) with the window covering all spatial cells
    static void globalAveragePool(GradContext ctx) {
        Value dy = ctx.outputGrad(0);
        if (dy.isAbsent() || !ctx.needsGrad(0)) {
            return;
        }
        long[] cells = spatial(ctx, ctx.input(0), "X");
        Attributes a = Attributes.builder().ints("kernel_shape", cells).ints("input_shape", cells).build();
        ctx.setInputGrad(0, ctx.emitKiln(NnGradOps.AVERAGE_POOL_GRAD, a, dy));
    }

    // GlobalMaxPool(X) = MaxPool(X) with the window covering all spatial cells
    static void globalMaxPool(GradContext ctx) {
        Value dy = ctx.outputGrad(0);
        if (dy.isAbsent() || !ctx.needsGrad(0)) {
            return;
        }
        Attributes a = Attributes.builder().ints("kernel_shape", spatial(ctx, ctx.input(0), "X")).build();
        ctx.setInputGrad(0, ctx.emitKiln(NnGradOps.MAX_POOL_GRAD, a, dy, ctx.input(0)));
    }

    /**
     * BatchNormalization(X, scale, B, mean, var): in training mode BatchNormTrainingGrad; in inference mode the
     * statistics are constants of the forward, so {@code dX = dY * scale * inv}, {@code dScale = sum dY *
     * (X - mean) * inv}, {@code dB = sum dY} with {@code inv = 1/sqrt(var + epsilon)} per channel. The
     * statistics themselves never receive a gradient: they are state, not parameters.
     */
    static void batchNormalization(GradContext ctx) {
        Value dy = ctx.outputGrad(0);
        if (dy.isAbsent() || !(ctx.needsGrad(0) || ctx.needsGrad(1) || ctx.needsGrad(2))) {
            return;
        }
        Value x = ctx.input(0);
        Value scale = ctx.input(1);
        float eps = ctx.attrFloat("epsilon");
        if (ctx.attrInt("training_mode") != 0) {
            Attributes a = Attributes.builder().f("epsilon", eps).build();
            List<Value> g = ctx.emitMulti(OpTable.KILN_DOMAIN, NnGradOps.BATCH_NORM_TRAINING_GRAD, a, 3, dy, x, scale);
            for (int i = 0; i < 3; i++) {
                ctx.setInputGrad(i, g.get(i));
            }
            return;
        }
        int rank = x.shape().rank();
        Value inv = ctx.emit("Reciprocal", ctx.emit("Sqrt", ctx.emit("Add", ctx.input(4), ctx.scalar(eps, ctx.input(4)))));
        long[] reduced = allButChannel(rank);
        if (ctx.needsGrad(0)) {
            ctx.setInputGrad(0, ctx.emit("Mul", dy, perChannel(ctx, ctx.emit("Mul", scale, inv), rank)));
        }
        if (ctx.needsGrad(1)) {
            Value centered = ctx.emit("Sub", x, perChannel(ctx, ctx.input(3), rank));
            Value xhat = ctx.emit("Mul", centered, perChannel(ctx, inv, rank));
            ctx.setInputGrad(1, ctx.reduceSum(ctx.emit("Mul", dy, xhat), reduced, false));
        }
        if (ctx.needsGrad(2)) {
            ctx.setInputGrad(2, ctx.reduceSum(dy, reduced, false));
        }
    }

    /** A per-channel vector [C] shaped [C, 1, ...] so that it broadcasts over X [N, C, D...]. */
    private static Value perChannel(GradContext ctx, Value v, int rank) {
        if (rank == 2) {
            return v;
        }
        long[] axes = new long[rank - 2];
        for (int i = 0; i < axes.length; i++) {
            axes[i] = i + 1;
        }
        return ctx.emit("Unsqueeze", v, ctx.constant(Tensor.wrapLongs(DType.INT64, new int[] {axes.length}, axes)));
    }

    /**
     * Dropout(X, ratio, training_mode) -> Y, mask: DropoutGrad(dY, mask, ratio, training_mode), reusing the
     * forward's mask. A Dropout that is the identity (not training, or ratio 0) passes dY through unchanged. The
     * ratio is declared non-differentiable (training_mode is boolean), so only the data asks for a gradient.
     */
    static void dropout(GradContext ctx) {
        Value dy = ctx.outputGrad(0);
        if (dy.isAbsent() || !ctx.needsGrad(0)) {
            return;
        }
        if (isIdentityDropout(ctx)) {
            ctx.setInputGrad(0, dy);
            return;
        }
        if (ctx.outputCount() < 2 || ctx.output(1).isAbsent()) {
            throw ctx.unsupported("a training-mode Dropout needs its mask output for the gradient (the mask cannot be "
                    + "drawn again): give the forward node a mask output");
        }
        Value ratio = ctx.hasInput(1) ? ctx.input(1) : Value.ABSENT;
        Value training = ctx.hasInput(2) ? ctx.input(2) : Value.ABSENT;
        ctx.setInputGrad(0, ctx.emitKiln(NnGradOps.DROPOUT_GRAD, Attributes.EMPTY, dy, ctx.output(1), ratio, training));
    }

    private static boolean isIdentityDropout(GradContext ctx) {
        if (!ctx.hasInput(2)) {
            return true;
        }
        Optional<Tensor> training = ctx.constantValue(ctx.input(2));
        if (training.isPresent() && !training.get().getBool(0)) {
            return true;
        }
        Optional<Tensor> ratio = ctx.hasInput(1) ? ctx.constantValue(ctx.input(1)) : Optional.empty();
        return ratio.isPresent() && ratio.get().getDouble(0) == 0;
    }

    // Softmax: dX = Y * (dY - ReduceSum(dY * Y, axis, keepdims))
    static void softmax(GradContext ctx) {
        Value dy = ctx.outputGrad(0);
        if (dy.isAbsent() || !ctx.needsGrad(0)) {
            return;
        }
        Value y = ctx.output(0);
        Value dot = ctx.reduceSum(ctx.emit("Mul", dy, y), new long[] {ctx.attrInt("axis")}, true);
        ctx.setInputGrad(0, ctx.emit("Mul", y, ctx.emit("Sub", dy, dot)));
    }

    // LogSoftmax: dX = dY - Exp(Y) * ReduceSum(dY, axis, keepdims)
    static void logSoftmax(GradContext ctx) {
        Value dy = ctx.outputGrad(0);
        if (dy.isAbsent() || !ctx.needsGrad(0)) {
            return;
        }
        Value sum = ctx.reduceSum(dy, new long[] {ctx.attrInt("axis")}, true);
        ctx.setInputGrad(0, ctx.emit("Sub", dy, ctx.emit("Mul", ctx.emit("Exp", ctx.output(0)), sum)));
    }

    // Gather(data, indices): dData = GatherGrad(dY, indices, Shape(data)); indices carry no gradient
    static void gather(GradContext ctx) {
        Value dy = ctx.outputGrad(0);
        if (dy.isAbsent() || !ctx.needsGrad(0)) {
            return;
        }
        Attributes a = Attributes.builder().i("axis", ctx.attrInt("axis")).build();
        ctx.setInputGrad(0, ctx.emitKiln(NnGradOps.GATHER_GRAD, a, dy, ctx.input(1), ctx.shapeOf(ctx.input(0))));
    }

    /**
     * RNN trains unrolled: where training graphs are prepared ({@code KilnCompiler.simplifyForTraining}), the pass
     * {@code dev.kiln.passes.RnnUnrolling} writes each RNN node out as its steps in ops that have gradient rules.
     * This rule is reached only by a node that pass left as it was (or in a graph it did not prepare), and says why.
     */
    static void rnn(GradContext ctx) {
        Shape x = ctx.input(0).shape();
        boolean batchFirst = ctx.attrInt("layout") != 0;
        if (ctx.hasInput(4)) {
            throw ctx.unsupported("training through RNN with sequence_lens (RNN trains unrolled into its steps, "
                    + "all of the same length)");
        }
        if (x.rank() != 3 || !x.dim(batchFirst ? 1 : 0).isStatic() || x.dim(batchFirst ? 1 : 0).value() == 0) {
            throw ctx.unsupported("training through RNN whose sequence length is not static and positive (RNN "
                    + "trains unrolled into its steps)");
        }
        if (!x.dim(2).isStatic() || ctx.input(2).shape().rank() != 3 || !ctx.input(2).shape().dim(2).isStatic()) {
            throw ctx.unsupported("training through RNN whose input or hidden size is not static (RNN trains "
                    + "unrolled into its steps)");
        }
        throw ctx.unsupported("differentiating an RNN node that was not unrolled (KilnCompiler.simplifyForTraining "
                + "writes RNN out as its steps, dev.kiln.passes.RnnUnrolling, before differentiating)");
    }

    /** LSTM(X, W, R, B, sequence_lens, initial_h, initial_c, P) -> Y, Y_h, Y_c: one LSTMGrad node. */
    static void lstm(GradContext ctx) {
        requireDefaultCell(ctx, List.of("Sigmoid", "Tanh", "Tanh"));
        if (ctx.hasInput(7)) {
            throw ctx.unsupported("the LSTM gradient does not support peepholes (input P)");
        }
        if (ctx.attrInt("input_forget") != 0) {
            throw ctx.unsupported("the LSTM gradient does not support input_forget=1");
        }
        // Forward inputs X, W, R, B, initial_h, initial_c are LSTMGrad's outputs 0..5.
        int[] forwardInput = {0, 1, 2, 3, 5, 6};
        recurrent(ctx, NnGradOps.LSTM_GRAD, forwardInput, 3, Attributes.builder());
    }

    /** GRU(X, W, R, B, sequence_lens, initial_h) -> Y, Y_h: one GRUGrad node. */
    static void gru(GradContext ctx) {
        requireDefaultCell(ctx, List.of("Sigmoid", "Tanh"));
        int[] forwardInput = {0, 1, 2, 3, 5};
        recurrent(ctx, NnGradOps.GRU_GRAD, forwardInput, 2,
                Attributes.builder().i("linear_before_reset", ctx.attrInt("linear_before_reset")));
    }

    private static void requireDefaultCell(GradContext ctx, List<String> defaults) {
        if (ctx.hasInput(4)) {
            throw ctx.unsupported("the " + ctx.def().name() + " gradient does not support sequence_lens");
        }
        if (ctx.isSet("clip") || ctx.isSet("activation_alpha") || ctx.isSet("activation_beta")) {
            throw ctx.unsupported("the " + ctx.def().name() + " gradient does not support clip or activation parameters");
        }
        if (ctx.isSet("activations")) {
            List<String> acts = ctx.attrStrings("activations");
            for (int i = 0; i < acts.size(); i++) {
                if (!acts.get(i).equalsIgnoreCase(defaults.get(i % defaults.size()))) {
                    throw ctx.unsupported("the " + ctx.def().name() + " gradient supports only the default activations "
                            + defaults + " but the node has " + acts);
                }
            }
        }
    }

    /**
     * Emits the recurrent gradient op with the forward's data inputs and its outputs' gradients, and hands each
     * wanted input gradient over. {@code forwardInput[k]} is the forward input whose gradient is output k.
     */
    private static void recurrent(GradContext ctx, String op, int[] forwardInput, int outputs, Attributes.Builder attrs) {
        boolean anyGrad = false;
        for (int i = 0; i < outputs; i++) {
            anyGrad |= i < ctx.outputCount() && !ctx.outputGrad(i).isAbsent();
        }
        int wanted = 0;
        for (int k = 0; k < forwardInput.length; k++) {
            int i = forwardInput[k];
            if (ctx.hasInput(i) && ctx.needsGrad(i)) {
                wanted = k + 1;
            }
        }
        if (!anyGrad || wanted == 0) {
            return;
        }
        for (String name : List.of("direction", "hidden_size", "layout")) {
            ctx.attributes().get(name).ifPresent(a -> attrs.set(name, a));
        }
        Value[] in = new Value[forwardInput.length + outputs];
        for (int k = 0; k < forwardInput.length; k++) {
            int i = forwardInput[k];
            in[k] = ctx.hasInput(i) ? ctx.input(i) : Value.ABSENT;
        }
        for (int i = 0; i < outputs; i++) {
            in[forwardInput.length + i] = i < ctx.outputCount() ? ctx.outputGrad(i) : Value.ABSENT;
        }
        List<Value> grads = ctx.emitMulti(OpTable.KILN_DOMAIN, op, attrs.build(), wanted, in);
        for (int k = 0; k < wanted; k++) {
            int i = forwardInput[k];
            if (ctx.hasInput(i) && ctx.needsGrad(i)) {
                ctx.setInputGrad(i, grads.get(k));
            }
        }
    }
}
