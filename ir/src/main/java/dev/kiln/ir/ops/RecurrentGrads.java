package dev.kiln.ir.ops;

import dev.kiln.ir.EvalContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.ops.RecurrentLoop.Weights;
import java.util.ArrayList;
import java.util.List;

/**
 * Reference semantics of LSTMGrad and GRUGrad (see {@link NnGradOps}): for each direction and batch row, the
 * forward steps are recomputed with the ONNX equations (default activations, no clip), their gates kept, and
 * then walked backwards accumulating the weight gradients. Plain loops in double, one batch row at a time.
 */
final class RecurrentGrads {
    private RecurrentGrads() {}

    private static final int X = 0;
    private static final int B = 3;
    private static final int INITIAL_H = 4;

    /** Sizes and layout of a recurrent gradient node, with the flat index of every tensor it reads or writes. */
    private record Dims(int seq, int batch, int input, int hidden, int dirs, boolean batchFirst) {
        int x(int t, int b, int i) {
            return batchFirst ? (b * seq + t) * input + i : (t * batch + b) * input + i;
        }

        int y(int t, int d, int b, int j) {
            return batchFirst ? ((b * seq + t) * dirs + d) * hidden + j : ((t * dirs + d) * batch + b) * hidden + j;
        }

        int state(int d, int b, int j) {
            return batchFirst ? (b * dirs + d) * hidden + j : (d * batch + b) * hidden + j;
        }

        int[] stateShape() {
            return batchFirst ? new int[] {batch, dirs, hidden} : new int[] {dirs, batch, hidden};
        }

        int[] yShape() {
            return batchFirst ? new int[] {batch, seq, dirs, hidden} : new int[] {seq, dirs, batch, hidden};
        }
    }

    private static Dims dims(EvalContext ctx) {
        Tensor x = ctx.input(X);
        Tensor r = ctx.input(2);
        if (x.rank() != 3 || r.rank() != 3) {
            throw ctx.fail("X and R must have rank 3 but are " + x.type() + " and " + r.type());
        }
        boolean batchFirst = RecurrentLoop.layout(ctx);
        int hidden = ctx.isSet("hidden_size") ? Math.toIntExact(ctx.attrInt("hidden_size")) : r.dim(2);
        return new Dims(x.dim(batchFirst ? 1 : 0), x.dim(batchFirst ? 0 : 1), x.dim(2), hidden,
                RecurrentLoop.numDirections(ctx), batchFirst);
    }

    /** Input i's values after checking its shape, or zeros of that shape when the input is absent. */
    private static double[] orZeros(EvalContext ctx, int i, String name, int[] shape) {
        if (!ctx.hasInput(i)) {
            return new double[Tensor.sizeOf(shape)];
        }
        RecurrentLoop.requireShape(ctx, ctx.input(i), name, shape);
        return ctx.input(i).doubles();
    }

    private static double sigmoid(double v) {
        return 1 / (1 + Math.exp(-v));
    }

    /** Xt*(W^T) + Ht-1*(R^T) + Wb + Rb for one gate row, as the forward cells compute it. */
    private static double linear(Weights w, int gate, int row, double[] x, double[] h) {
        return w.inputTerm(gate, row, x) + w.recurrentTerm(gate, row, h) + w.inputBias(gate, row)
                + w.recurrentBias(gate, row);
    }

    /** Where one direction's gradients accumulate: slices of the node's dW, dR, dB at the direction's offset. */
    private record Sinks(double[] dx, double[] dw, double[] dr, double[] db, int wBase, int rBase, int bBase,
                         int gates, Dims s) {
        /** Adds pre-activation gradient {@code a} of gate row (gate, j) into dW (with x), dR (with h) and dx. */
        void input(Weights w, int gate, int j, double a, double[] x, int t, int b) {
            int row = gate * s.hidden() + j;
            for (int k = 0; k < s.input(); k++) {
                dw[wBase + row * s.input() + k] += a * x[k];
                dx[s.x(t, b, k)] += a * w.w()[row * s.input() + k];
            }
            db[bBase + row] += a;
        }

        /** Adds {@code a} (the gradient of the recurrent term of gate row (gate, j)) into dR (with h) and dh. */
        void recurrent(Weights w, int gate, int j, double a, double[] h, double[] dhPrev) {
            int row = gate * s.hidden() + j;
            for (int k = 0; k < s.hidden(); k++) {
                dr[rBase + row * s.hidden() + k] += a * h[k];
                dhPrev[k] += a * w.r()[row * s.hidden() + k];
            }
            db[bBase + gates * s.hidden() + row] += a;
        }
    }

    static List<Tensor> lstm(EvalContext ctx) {
        Dims s = dims(ctx);
        int h = s.hidden();
        int seq = s.seq();
        Tensor xt = ctx.input(X);
        double[] x = xt.doubles();
        double[] h0 = orZeros(ctx, INITIAL_H, "initial_h", s.stateShape());
        double[] c0 = orZeros(ctx, 5, "initial_c", s.stateShape());
        double[] dy = orZeros(ctx, 6, "dY", s.yShape());
        double[] dyH = orZeros(ctx, 7, "dY_h", s.stateShape());
        double[] dyC = orZeros(ctx, 8, "dY_c", s.stateShape());
        double[] dx = new double[x.length];
        double[] dw = new double[ctx.input(1).size()];
        double[] dr = new double[ctx.input(2).size()];
        double[] db = new double[s.dirs() * 8 * h];
        double[] dh0 = new double[h0.length];
        double[] dc0 = new double[c0.length];
        for (int d = 0; d < s.dirs(); d++) {
            Weights w = Weights.read(ctx, d, 4, h, s.dirs());
            Sinks sinks = new Sinks(dx, dw, dr, db, d * 4 * h * s.input(), d * 4 * h * h, d * 8 * h, 4, s);
            boolean reverse = RecurrentLoop.reversed(ctx, d);
            for (int b = 0; b < s.batch(); b++) {
                if (seq == 0) {
                    continue;
                }
                // Forward: state before step k is hs[k], cs[k]; gates of step k in gi/go/gf/gc[k].
                double[][] xs = new double[seq][s.input()];
                double[][] hs = new double[seq + 1][h];
                double[][] cs = new double[seq + 1][h];
                double[][] gi = new double[seq][h];
                double[][] go = new double[seq][h];
                double[][] gf = new double[seq][h];
                double[][] gc = new double[seq][h];
                for (int j = 0; j < h; j++) {
                    hs[0][j] = h0[s.state(d, b, j)];
                    cs[0][j] = c0[s.state(d, b, j)];
                }
                for (int k = 0; k < seq; k++) {
                    int t = reverse ? seq - 1 - k : k;
                    for (int i = 0; i < s.input(); i++) {
                        xs[k][i] = x[s.x(t, b, i)];
                    }
                    for (int j = 0; j < h; j++) {
                        gi[k][j] = sigmoid(linear(w, RecurrentCells.LSTM_I, j, xs[k], hs[k]));
                        go[k][j] = sigmoid(linear(w, RecurrentCells.LSTM_O, j, xs[k], hs[k]));
                        gf[k][j] = sigmoid(linear(w, RecurrentCells.LSTM_F, j, xs[k], hs[k]));
                        gc[k][j] = Math.tanh(linear(w, RecurrentCells.LSTM_C, j, xs[k], hs[k]));
                        cs[k + 1][j] = gf[k][j] * cs[k][j] + gi[k][j] * gc[k][j];
                        hs[k + 1][j] = go[k][j] * Math.tanh(cs[k + 1][j]);
                    }
                }
                // Backward: dh, dc are the gradients of the state after step k.
                double[] dh = new double[h];
                double[] dc = new double[h];
                for (int j = 0; j < h; j++) {
                    dh[j] = dyH[s.state(d, b, j)];
                    dc[j] = dyC[s.state(d, b, j)];
                }
                for (int k = seq - 1; k >= 0; k--) {
                    int t = reverse ? seq - 1 - k : k;
                    double[] dhPrev = new double[h];
                    double[] dcPrev = new double[h];
                    for (int j = 0; j < h; j++) {
                        dh[j] += dy[s.y(t, d, b, j)];
                        double tc = Math.tanh(cs[k + 1][j]);
                        double dcj = dc[j] + dh[j] * go[k][j] * (1 - tc * tc);
                        double ai = dcj * gc[k][j] * gi[k][j] * (1 - gi[k][j]);
                        double ao = dh[j] * tc * go[k][j] * (1 - go[k][j]);
                        double af = dcj * cs[k][j] * gf[k][j] * (1 - gf[k][j]);
                        double ac = dcj * gi[k][j] * (1 - gc[k][j] * gc[k][j]);
                        double[] a = {ai, ao, af, ac};
                        for (int gate = 0; gate < 4; gate++) {
                            sinks.input(w, gate, j, a[gate], xs[k], t, b);
                            sinks.recurrent(w, gate, j, a[gate], hs[k], dhPrev);
                        }
                        dcPrev[j] = dcj * gf[k][j];
                    }
                    dh = dhPrev;
                    dc = dcPrev;
                }
                for (int j = 0; j < h; j++) {
                    dh0[s.state(d, b, j)] = dh[j];
                    dc0[s.state(d, b, j)] = dc[j];
                }
            }
        }
        return outputs(ctx, s, xt, dx, dw, dr, db, dh0, dc0);
    }

    static List<Tensor> gru(EvalContext ctx) {
        Dims s = dims(ctx);
        int h = s.hidden();
        int seq = s.seq();
        boolean linearBeforeReset = ctx.attrInt("linear_before_reset") != 0;
        Tensor xt = ctx.input(X);
        double[] x = xt.doubles();
        double[] h0 = orZeros(ctx, INITIAL_H, "initial_h", s.stateShape());
        double[] dy = orZeros(ctx, 5, "dY", s.yShape());
        double[] dyH = orZeros(ctx, 6, "dY_h", s.stateShape());
        double[] dx = new double[x.length];
        double[] dw = new double[ctx.input(1).size()];
        double[] dr = new double[ctx.input(2).size()];
        double[] db = new double[s.dirs() * 6 * h];
        double[] dh0 = new double[h0.length];
        int z = RecurrentCells.GRU_Z;
        int rg = RecurrentCells.GRU_R;
        int hg = RecurrentCells.GRU_H;
        for (int d = 0; d < s.dirs(); d++) {
            Weights w = Weights.read(ctx, d, 3, h, s.dirs());
            Sinks sinks = new Sinks(dx, dw, dr, db, d * 3 * h * s.input(), d * 3 * h * h, d * 6 * h, 3, s);
            boolean reverse = RecurrentLoop.reversed(ctx, d);
            for (int b = 0; b < s.batch(); b++) {
                if (seq == 0) {
                    continue;
                }
                double[][] xs = new double[seq][s.input()];
                double[][] hs = new double[seq + 1][h];
                double[][] gz = new double[seq][h];
                double[][] gr = new double[seq][h];
                double[][] gn = new double[seq][h];
                // linear_before_reset 1: q = Rh hPrev + Rbh; 0: the reset hidden state r*hPrev.
                double[][] q = new double[seq][h];
                for (int j = 0; j < h; j++) {
                    hs[0][j] = h0[s.state(d, b, j)];
                }
                for (int k = 0; k < seq; k++) {
                    int t = reverse ? seq - 1 - k : k;
                    for (int i = 0; i < s.input(); i++) {
                        xs[k][i] = x[s.x(t, b, i)];
                    }
                    for (int j = 0; j < h; j++) {
                        gz[k][j] = sigmoid(linear(w, z, j, xs[k], hs[k]));
                        gr[k][j] = sigmoid(linear(w, rg, j, xs[k], hs[k]));
                    }
                    for (int j = 0; j < h; j++) {
                        q[k][j] = linearBeforeReset
                                ? w.recurrentTerm(hg, j, hs[k]) + w.recurrentBias(hg, j)
                                : gr[k][j] * hs[k][j];
                    }
                    for (int j = 0; j < h; j++) {
                        double pre = linearBeforeReset
                                ? w.inputTerm(hg, j, xs[k]) + w.inputBias(hg, j) + gr[k][j] * q[k][j]
                                : w.inputTerm(hg, j, xs[k]) + w.recurrentTerm(hg, j, q[k]) + w.recurrentBias(hg, j)
                                        + w.inputBias(hg, j);
                        gn[k][j] = Math.tanh(pre);
                        hs[k + 1][j] = (1 - gz[k][j]) * gn[k][j] + gz[k][j] * hs[k][j];
                    }
                }
                double[] dh = new double[h];
                for (int j = 0; j < h; j++) {
                    dh[j] = dyH[s.state(d, b, j)];
                }
                for (int k = seq - 1; k >= 0; k--) {
                    int t = reverse ? seq - 1 - k : k;
                    double[] dhPrev = new double[h];
                    double[] an = new double[h];
                    for (int j = 0; j < h; j++) {
                        dh[j] += dy[s.y(t, d, b, j)];
                        an[j] = dh[j] * (1 - gz[k][j]) * (1 - gn[k][j] * gn[k][j]);
                        dhPrev[j] += dh[j] * gz[k][j];
                    }
                    // Gradient of the reset gate's output r, through the h gate's recurrent term.
                    double[] dReset = new double[h];
                    if (linearBeforeReset) {
                        for (int j = 0; j < h; j++) {
                            dReset[j] = an[j] * q[k][j];
                            sinks.recurrent(w, hg, j, an[j] * gr[k][j], hs[k], dhPrev);
                        }
                    } else {
                        // Rh's term reads s = r*hPrev: its gradient ds = Rh^T an splits into r and hPrev.
                        double[] ds = new double[h];
                        for (int j = 0; j < h; j++) {
                            sinks.recurrent(w, hg, j, an[j], q[k], ds);
                        }
                        for (int j = 0; j < h; j++) {
                            dReset[j] = ds[j] * hs[k][j];
                            dhPrev[j] += ds[j] * gr[k][j];
                        }
                    }
                    for (int j = 0; j < h; j++) {
                        double az = dh[j] * (hs[k][j] - gn[k][j]) * gz[k][j] * (1 - gz[k][j]);
                        double ar = dReset[j] * gr[k][j] * (1 - gr[k][j]);
                        sinks.input(w, z, j, az, xs[k], t, b);
                        sinks.recurrent(w, z, j, az, hs[k], dhPrev);
                        sinks.input(w, rg, j, ar, xs[k], t, b);
                        sinks.recurrent(w, rg, j, ar, hs[k], dhPrev);
                        sinks.input(w, hg, j, an[j], xs[k], t, b);
                    }
                    dh = dhPrev;
                }
                for (int j = 0; j < h; j++) {
                    dh0[s.state(d, b, j)] = dh[j];
                }
            }
        }
        return outputs(ctx, s, xt, dx, dw, dr, db, dh0);
    }

    /** The gradients as tensors shaped like the inputs they belong to, as many as the node has outputs. */
    private static List<Tensor> outputs(EvalContext ctx, Dims s, Tensor xt, double[] dx, double[] dw, double[] dr,
                                        double[] db, double[]... states) {
        List<Tensor> out = new ArrayList<>();
        out.add(Tensor.wrapDoubles(xt.dtype(), xt.shape(), dx));
        out.add(Tensor.wrapDoubles(ctx.input(1).dtype(), ctx.input(1).shape(), dw));
        out.add(Tensor.wrapDoubles(ctx.input(2).dtype(), ctx.input(2).shape(), dr));
        out.add(Tensor.wrapDoubles(xt.dtype(), new int[] {s.dirs(), db.length / s.dirs()}, db));
        for (double[] st : states) {
            out.add(Tensor.wrapDoubles(xt.dtype(), s.stateShape(), st));
        }
        return List.copyOf(out.subList(0, Math.min(out.size(), Math.max(1, ctx.outputCount()))));
    }
}
