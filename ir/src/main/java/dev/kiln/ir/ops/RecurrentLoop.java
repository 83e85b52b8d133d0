package dev.kiln.ir.ops;

import dev.kiln.ir.DType;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The reference time loop shared by LSTM, GRU and RNN: reads X in either layout, runs one {@link Cell} per
 * direction over each batch row's valid steps, and assembles Y and the final states.
 *
 * <p>Semantics (as ONNX Runtime implements the spec): batch row b has {@code len = sequence_lens[b]} valid
 * steps (all {@code seq_length} when the input is absent). The forward direction reads steps 0..len-1, the
 * reverse direction steps len-1..0; Y at step t holds the state computed from X at step t, and is zero for
 * t >= len. The final state is the one after the last valid step, or zero when len is 0. Batch rows are
 * independent, so each is run on its own; everything is computed in double and rounded once at the end.
 */
final class RecurrentLoop {
    private RecurrentLoop() {}

    /** One direction of a recurrent op: advances a batch row's state by one time step. */
    interface Cell {
        /**
         * Returns the next state from input x ([input_size]) and the previous state ({@code state[k]} is
         * [hidden_size]; LSTM has H and C, GRU and RNN only H). Must not modify its arguments.
         */
        double[][] step(double[] x, double[][] state);
    }

    /** What a recurrent op's evaluation needs beyond its cells, read from the node's inputs and attributes. */
    record Setup(int seqLength, int batch, int inputSize, int hidden, int numDirections, boolean batchFirst,
                 int[] lengths) {}

    /**
     * Reads the shapes of X and the optional sequence_lens input (input 4) and checks sequence_lens values.
     *
     * @param hidden the hidden size (already checked against W and R)
     */
    static Setup setup(EvalContext ctx, int hidden, int numDirections) {
        Tensor x = ctx.input(0);
        boolean batchFirst = layout(ctx);
        int seq = x.dim(batchFirst ? 1 : 0);
        int batch = x.dim(batchFirst ? 0 : 1);
        int[] lengths = new int[batch];
        Arrays.fill(lengths, seq);
        if (ctx.hasInput(4)) {
            Tensor lens = ctx.input(4);
            if (lens.rank() != 1 || lens.dim(0) != batch) {
                throw ctx.fail("sequence_lens must have shape [" + batch + "] but has " + lens.type());
            }
            for (int b = 0; b < batch; b++) {
                long len = lens.getLong(b);
                if (len < 0 || len > seq) {
                    throw ctx.fail("sequence_lens[" + b + "] = " + len + " is outside [0, " + seq + "]");
                }
                lengths[b] = (int) len;
            }
        }
        return new Setup(seq, batch, x.dim(2), hidden, numDirections, batchFirst, lengths);
    }

    /** True for layout 1 (batch-first X, Y, initial and final states). */
    static boolean layout(NodeContext ctx) {
        long layout = ctx.attrInt("layout");
        if (layout != 0 && layout != 1) {
            throw ctx.fail("layout must be 0 or 1 but is " + layout);
        }
        return layout == 1;
    }

    /** 1 for forward or reverse, 2 for bidirectional. */
    static int numDirections(NodeContext ctx) {
        return switch (ctx.attrString("direction")) {
            case "forward", "reverse" -> 1;
            case "bidirectional" -> 2;
            default -> throw ctx.fail("direction must be forward, reverse or bidirectional but is '"
                    + ctx.attrString("direction") + "'");
        };
    }

    /** Whether direction d of the node runs backwards in time. */
    static boolean reversed(NodeContext ctx, int d) {
        String direction = ctx.attrString("direction");
        return direction.equals("reverse") || (direction.equals("bidirectional") && d == 1);
    }

    /**
     * Runs the loop and returns {Y, final state 0, final state 1, ...} as tensors of {@code dtype}.
     *
     * @param cells one cell per direction
     * @param initial initial state k as a tensor in the node's layout, or {@code null} for zeros
     */
    static List<Tensor> run(EvalContext ctx, Setup s, DType dtype, Cell[] cells, Tensor[] initial) {
        Tensor x = ctx.input(0);
        double[] xs = x.doubles();
        int states = initial.length;
        int h = s.hidden();
        double[] y = new double[s.seqLength() * s.numDirections() * s.batch() * h];
        double[][] finals = new double[states][s.numDirections() * s.batch() * h];
        for (int d = 0; d < s.numDirections(); d++) {
            boolean reverse = reversed(ctx, d);
            for (int b = 0; b < s.batch(); b++) {
                double[][] state = new double[states][h];
                for (int k = 0; k < states; k++) {
                    if (initial[k] != null) {
                        double[] init = initial[k].doubles();
                        for (int j = 0; j < h; j++) {
                            state[k][j] = init[stateIndex(s, d, b, j)];
                        }
                    }
                }
                int len = s.lengths()[b];
                for (int step = 0; step < len; step++) {
                    int t = reverse ? len - 1 - step : step;
                    double[] xt = new double[s.inputSize()];
                    for (int i = 0; i < xt.length; i++) {
                        xt[i] = xs[inputIndex(s, t, b, i)];
                    }
                    state = cells[d].step(xt, state);
                    for (int j = 0; j < h; j++) {
                        y[outputIndex(s, t, d, b, j)] = state[0][j];
                    }
                }
                if (len > 0) {
                    for (int k = 0; k < states; k++) {
                        for (int j = 0; j < h; j++) {
                            finals[k][stateIndex(s, d, b, j)] = state[k][j];
                        }
                    }
                }
            }
        }
        List<Tensor> out = new ArrayList<>();
        int[] yShape = s.batchFirst()
                ? new int[] {s.batch(), s.seqLength(), s.numDirections(), h}
                : new int[] {s.seqLength(), s.numDirections(), s.batch(), h};
        out.add(Tensor.wrapDoubles(dtype, yShape, y));
        int[] stateShape = s.batchFirst()
                ? new int[] {s.batch(), s.numDirections(), h}
                : new int[] {s.numDirections(), s.batch(), h};
        for (double[] f : finals) {
            out.add(Tensor.wrapDoubles(dtype, stateShape, f));
        }
        return out;
    }

    private static int inputIndex(Setup s, int t, int b, int i) {
        return s.batchFirst()
                ? (b * s.seqLength() + t) * s.inputSize() + i
                : (t * s.batch() + b) * s.inputSize() + i;
    }

    private static int outputIndex(Setup s, int t, int d, int b, int j) {
        return s.batchFirst()
                ? ((b * s.seqLength() + t) * s.numDirections() + d) * s.hidden() + j
                : ((t * s.numDirections() + d) * s.batch() + b) * s.hidden() + j;
    }

    private static int stateIndex(Setup s, int d, int b, int j) {
        return s.batchFirst()
                ? (b * s.numDirections() + d) * s.hidden() + j
                : (d * s.batch() + b) * s.hidden() + j;
    }

    /**
     * Weights of one direction: rows {@code [gate * hidden + r]} of W ([gates*hidden, input]) and R
     * ([gates*hidden, hidden]), and the sum-ready biases Wb and Rb (zeros when B is absent).
     */
    record Weights(int gates, int hidden, int inputSize, double[] w, double[] r, double[] wb, double[] rb) {

        /** Reads direction d from inputs W (1), R (2) and the optional B (3), checking their shapes. */
        static Weights read(EvalContext ctx, int d, int gates, int hidden, int numDirections) {
            Tensor w = ctx.input(1);
            Tensor r = ctx.input(2);
            int input = ctx.input(0).dim(2);
            int rows = gates * hidden;
            requireShape(ctx, w, "W", numDirections, rows, input);
            requireShape(ctx, r, "R", numDirections, rows, hidden);
            double[] wd = Arrays.copyOfRange(w.doubles(), d * rows * input, (d + 1) * rows * input);
            double[] rd = Arrays.copyOfRange(r.doubles(), d * rows * hidden, (d + 1) * rows * hidden);
            double[] wb = new double[rows];
            double[] rb = new double[rows];
            if (ctx.hasInput(3)) {
                Tensor b = ctx.input(3);
                requireShape(ctx, b, "B", numDirections, 2 * rows);
                double[] bd = b.doubles();
                for (int i = 0; i < rows; i++) {
                    wb[i] = bd[d * 2 * rows + i];
                    rb[i] = bd[d * 2 * rows + rows + i];
                }
            }
            return new Weights(gates, hidden, input, wd, rd, wb, rb);
        }

        /** Row {@code gate*hidden + row} of W times x. */
        double inputTerm(int gate, int row, double[] x) {
            int base = (gate * hidden + row) * inputSize;
            double sum = 0;
            for (int k = 0; k < inputSize; k++) {
                sum += w[base + k] * x[k];
            }
            return sum;
        }

        /** Row {@code gate*hidden + row} of R times h. */
        double recurrentTerm(int gate, int row, double[] h) {
            int base = (gate * hidden + row) * hidden;
            double sum = 0;
            for (int k = 0; k < hidden; k++) {
                sum += r[base + k] * h[k];
            }
            return sum;
        }

        double inputBias(int gate, int row) { return wb[gate * hidden + row]; }

        double recurrentBias(int gate, int row) { return rb[gate * hidden + row]; }
    }

    /** Fails unless tensor t has exactly the given shape. */
    static void requireShape(EvalContext ctx, Tensor t, String name, int... dims) {
        if (!Arrays.equals(t.shape(), dims)) {
            throw ctx.fail(name + " must have shape " + Arrays.toString(dims) + " but has " + t.type());
        }
    }
}
