package dev.kiln.ir.builder;

import dev.kiln.ir.Attr;
import dev.kiln.ir.DType;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.List;

/**
 * {@code nn.LSTM} and {@code nn.GRU} (one layer, one direction) as PyTorch's exporter writes them: zero
 * initial states built from the input's runtime batch size ({@code Shape -> Gather -> Unsqueeze -> Concat ->
 * ConstantOfShape}), a transpose to time-major when {@code batch_first}, the ONNX op, then a Squeeze of the
 * direction axis and the transpose back.
 *
 * <p>Parameters are in ONNX layout, one tensor each: {@code <name>.W} {@code [1, G*H, in]}, {@code <name>.R}
 * {@code [1, G*H, H]} and {@code <name>.B} {@code [1, 2*G*H]} (input biases then recurrent biases), with the
 * gates in ONNX order (LSTM {@code i, o, f, c}; GRU {@code z, r, h}), G = 4 for LSTM and 3 for GRU.
 * PyTorch's {@code weight_ih_l0} etc. hold the same numbers with LSTM gates in {@code i, f, g, o} and GRU
 * gates in {@code r, z, n} order.
 */
final class RecurrentLayers {
    private RecurrentLayers() {}

    static Value lstm(BuildContext c, Value x, String requestedName, int hidden, boolean batchFirst) {
        return recurrent(c, x, requestedName, "lstm", "LSTM", 4, hidden, batchFirst);
    }

    static Value gru(BuildContext c, Value x, String requestedName, int hidden, boolean batchFirst) {
        return recurrent(c, x, requestedName, "gru", "GRU", 3, hidden, batchFirst);
    }

    private static Value recurrent(BuildContext c, Value x, String requestedName, String prefix, String op, int gates,
                                   int hidden, boolean batchFirst) {
        Layers.requireFloat(x, op);
        Layers.requireRank(x, 3, op + (batchFirst ? " (batch, seq, features)" : " (seq, batch, features)"));
        if (hidden <= 0) {
            throw new IllegalArgumentException(op + " needs hidden size > 0, got " + hidden);
        }
        long in = Layers.staticDim(x, 2, op);
        String name = c.layerName(requestedName, prefix);
        String desc = "'" + name + "' (" + op + " " + in + " -> " + hidden + ")";
        DType dt = x.dtype();

        Value h0 = zeroState(c, name, x, batchFirst ? 0 : 1, hidden);
        Value timeMajor = batchFirst ? transpose(c, name, x) : x;
        double bound = InitScheme.recurrentBound(hidden);
        int gh = gates * hidden;
        Value w = c.uniformParameter(name, "W", desc, dt, new int[] {1, gh, Math.toIntExact(in)}, bound);
        Value r = c.uniformParameter(name, "R", desc, dt, new int[] {1, gh, hidden}, bound);
        Value b = c.uniformParameter(name, "B", desc, dt, new int[] {1, 2 * gh}, bound);

        List<Value> outs;
        if (gates == 4) {
            outs = c.node(name, op, 3).inputs(timeMajor, w, r, b, Value.ABSENT, h0, h0)
                    .attr("hidden_size", hidden).build();
        } else {
            outs = c.node(name, op, 2).inputs(timeMajor, w, r, b, Value.ABSENT, h0)
                    .attr("hidden_size", hidden).attr("linear_before_reset", 1).build();
        }
        // Y is [seq, num_directions=1, batch, hidden]: drop the direction axis.
        Value squeezed = c.node(name, "Squeeze", outs.get(0), c.constant(name, Tensor.ofInt64s(1))).output();
        return batchFirst ? transpose(c, name, squeezed) : squeezed;
    }

    /** Zeros of shape {@code [1, batch, hidden]}, the batch read from dim {@code batchAxis} of {@code x} at run time. */
    private static Value zeroState(BuildContext c, String scope, Value x, int batchAxis, int hidden) {
        Value shape = c.node(scope, "Shape", x).output();
        Value batch = c.node(scope, "Gather", shape, c.constant(scope, Tensor.scalarLong(DType.INT64, batchAxis)))
                .attr("axis", 0).output();
        Value directions = c.constant(scope, Tensor.ofInt64s(1));
        Value batch1 = c.node(scope, "Unsqueeze", batch, c.constant(scope, Tensor.ofInt64s(0))).output();
        Value hiddenDim = c.constant(scope, Tensor.ofInt64s(hidden));
        Value stateShape = c.node(scope, "Concat", directions, batch1, hiddenDim).attr("axis", 0).output();
        Tensor zero = Tensor.ofDoubles(x.dtype(), new int[] {1}, 0);
        return c.node(scope, "ConstantOfShape", stateShape).attr("value", new Attr.TensorValue(zero)).output();
    }

    private static Value transpose(BuildContext c, String scope, Value x) {
        return c.node(scope, "Transpose", x).attr("perm", new long[] {1, 0, 2}).output();
    }
}
