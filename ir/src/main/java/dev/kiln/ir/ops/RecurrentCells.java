package dev.kiln.ir.ops;

import dev.kiln.ir.ops.RecurrentLoop.Cell;
import dev.kiln.ir.ops.RecurrentLoop.Weights;

/**
 * One time step of LSTM, GRU and simple RNN, written as the ONNX spec's equations for a single batch row.
 * {@code clip} bounds the argument of every gate activation to [-clip, clip] (infinite when the node sets no
 * clip); it does not touch the cell state itself, as in ONNX Runtime.
 */
final class RecurrentCells {
    private RecurrentCells() {}

    /** Gate rows of W/R/B for LSTM, in the spec's i, o, f, c order. */
    static final int LSTM_I = 0;
    static final int LSTM_O = 1;
    static final int LSTM_F = 2;
    static final int LSTM_C = 3;

    /** Gate rows of W/R/B for GRU, in the spec's z, r, h order. */
    static final int GRU_Z = 0;
    static final int GRU_R = 1;
    static final int GRU_H = 2;

    static double clip(double x, double clip) {
        return Math.min(Math.max(x, -clip), clip);
    }

    /** Xt*(W^T) + Ht-1*(R^T) + Wb + Rb for one gate row. */
    private static double linear(Weights w, int gate, int row, double[] x, double[] h) {
        return w.inputTerm(gate, row, x) + w.recurrentTerm(gate, row, h) + w.inputBias(gate, row)
                + w.recurrentBias(gate, row);
    }

    /**
     * LSTM: state {H, C}; f, g, h are the direction's three activations; peephole holds P[iof] of the
     * direction (zeros when P is absent).
     */
    static Cell lstm(Weights w, double[] peephole, RnnActivation f, RnnActivation g, RnnActivation h,
                     double clip, boolean inputForget) {
        int n = w.hidden();
        return (x, state) -> {
            double[] hPrev = state[0];
            double[] cPrev = state[1];
            double[] hNext = new double[n];
            double[] cNext = new double[n];
            for (int j = 0; j < n; j++) {
                double pi = peephole[j];
                double po = peephole[n + j];
                double pf = peephole[2 * n + j];
                double it = f.apply(clip(linear(w, LSTM_I, j, x, hPrev) + pi * cPrev[j], clip));
                double ft = inputForget
                        ? 1 - it
                        : f.apply(clip(linear(w, LSTM_F, j, x, hPrev) + pf * cPrev[j], clip));
                double ct = g.apply(clip(linear(w, LSTM_C, j, x, hPrev), clip));
                cNext[j] = ft * cPrev[j] + it * ct;
                double ot = f.apply(clip(linear(w, LSTM_O, j, x, hPrev) + po * cNext[j], clip));
                hNext[j] = ot * h.apply(cNext[j]);
            }
            return new double[][] {hNext, cNext};
        };
    }

    /** GRU: state {H}; f and g are the direction's two activations. */
    static Cell gru(Weights w, RnnActivation f, RnnActivation g, double clip, boolean linearBeforeReset) {
        int n = w.hidden();
        return (x, state) -> {
            double[] hPrev = state[0];
            double[] z = new double[n];
            double[] r = new double[n];
            for (int j = 0; j < n; j++) {
                z[j] = f.apply(clip(linear(w, GRU_Z, j, x, hPrev), clip));
                r[j] = f.apply(clip(linear(w, GRU_R, j, x, hPrev), clip));
            }
            double[] resetHidden = new double[n];
            for (int k = 0; k < n; k++) {
                resetHidden[k] = r[k] * hPrev[k];
            }
            double[] hNext = new double[n];
            for (int j = 0; j < n; j++) {
                double pre;
                if (linearBeforeReset) {
                    // ht = g(Xt*(Wh^T) + (rt (.) (Ht-1*(Rh^T) + Rbh)) + Wbh)
                    pre = w.inputTerm(GRU_H, j, x)
                            + r[j] * (w.recurrentTerm(GRU_H, j, hPrev) + w.recurrentBias(GRU_H, j))
                            + w.inputBias(GRU_H, j);
                } else {
                    // ht = g(Xt*(Wh^T) + (rt (.) Ht-1)*(Rh^T) + Rbh + Wbh)
                    pre = w.inputTerm(GRU_H, j, x) + w.recurrentTerm(GRU_H, j, resetHidden)
                            + w.recurrentBias(GRU_H, j) + w.inputBias(GRU_H, j);
                }
                double ht = g.apply(clip(pre, clip));
                hNext[j] = (1 - z[j]) * ht + z[j] * hPrev[j];
            }
            return new double[][] {hNext};
        };
    }

    /** Simple RNN: state {H}; Ht = f(Xt*(Wi^T) + Ht-1*(Ri^T) + Wbi + Rbi). */
    static Cell rnn(Weights w, RnnActivation f, double clip) {
        int n = w.hidden();
        return (x, state) -> {
            double[] hNext = new double[n];
            for (int j = 0; j < n; j++) {
                hNext[j] = f.apply(clip(linear(w, 0, j, x, state[0]), clip));
            }
            return new double[][] {hNext};
        };
    }
}
