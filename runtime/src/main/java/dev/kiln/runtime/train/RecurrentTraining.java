package dev.kiln.runtime.train;

import static dev.kiln.runtime.train.Lanes.S;
import static dev.kiln.runtime.train.Lanes.VL;

import dev.kiln.runtime.Epilogue;
import dev.kiln.runtime.Gemm;
import dev.kiln.runtime.PackedMatrix;
import dev.kiln.runtime.GateMath;
import dev.kiln.runtime.Recurrent;
import dev.kiln.runtime.ThreadRangeBody;
import dev.kiln.runtime.WorkerPool;
import java.util.Arrays;
import java.util.Objects;
import jdk.incubator.vector.FloatVector;

/**
 * Training kernels of one direction of the ONNX LSTM (gates i, o, f, c) and GRU (gates z, r, h; with
 * {@code linear_before_reset} 1, the form PyTorch exports, or 0, ONNX's default): a forward that keeps every
 * step's gate activations and states in a caller-given buffer, and backpropagation through time from that buffer,
 * giving the gradients of X, W, R, B and the initial states (Kiln's LSTMGrad / GRUGrad ops; {@link #lstmGrad} and
 * {@link #gruGrad} run both, recomputing the forward as those ops specify). Layout 0
 * ({@code X [seq, batch, input]}), default activations, no clip, peepholes or sequence_lens; a bidirectional node
 * is two calls, the second with {@code reverse}, its W/R/B and state offsets, {@code yStep}/{@code dyStep} =
 * 2 * batch * H, and {@code accumulateDx}.
 *
 * <p>As in inference, the input projection of all steps is one GEMM and each step adds one recurrent GEMM; the
 * gate math runs vectorized along the hidden axis. Backwards, each step's pre-activation gradients form a
 * [batch, gates*H] block of a buffer dG and the hidden-state gradient is {@code dG_t · R} (one GEMM per step);
 * after the loop the weight gradients over all steps are three GEMMs: {@code dX = dG · W},
 * {@code dW = dG^T · X}, {@code dR = dG^T · H_prev}, and dB the column sums of dG. Weights are packed at run time
 * into per-thread scratch; with a pool the GEMMs split, bit-identically for any thread count.
 *
 * <p>Saved layout, per step t and batch row b at {@code savedOff + (t * batch + b) * rowLength}: LSTM
 * {@code [i, o, f, c~, C_t, tanh(C_t), H_t]} (7H), GRU {@code [z, r, n, Rh·H_prev + Rbh, H_t]} (5H) or, with
 * {@code linear_before_reset = 0}, {@code [z, r, n, r ⊙ H_prev, H_t]}, gates activated. That GRU's h gate reads
 * the reset state {@code r ⊙ H_prev}, which needs r first: its steps run two recurrent GEMMs, R's z and r rows then
 * its h rows, and the backward two as well.
 * The {@code *Scalar} methods are the equations in double for tests.
 */
public final class RecurrentTraining {
    // work arrays (PanelScratch.work) and packed operands (PanelScratch.packed) are kept apart by kind
    private static final int T_BIAS = 16;
    private static final int T_BIAS_R = 17;
    private static final int T_ZERO = 18;
    private static final int T_TEMP = 19;
    private static final int T_DG = 20;
    private static final int T_DG2 = 21;
    private static final int T_DGT = 22;
    private static final int T_DH = 23;
    private static final int T_DC = 24;
    private static final int T_HPREV = 25;
    private static final int T_SAVED = 26;
    private static final int T_BIAS_RH = 27;
    private static final int T_DS = 28;
    private static final int P_W = 16;
    private static final int P_R = 17;
    private static final int P_R_ROWS = 18;
    private static final int P_W_ROWS = 19;
    private static final int P_X = 20;
    private static final int P_HP = 21;
    private static final int P_RH = 22;
    private static final int P_RH_ROWS = 23;
    private static final int P_S = 24;

    private RecurrentTraining() {}

    /** Floats of the saved buffer of {@link #lstmForward}: 7H per step and batch row. */
    public static int lstmSavedLength(int hidden, int seq, int batch) {
        return Math.multiplyExact(Math.multiplyExact(seq, batch), 7 * hidden);
    }

    /** Floats of the saved buffer of {@link #gruForward}: 5H per step and batch row. */
    public static int gruSavedLength(int hidden, int seq, int batch) {
        return Math.multiplyExact(Math.multiplyExact(seq, batch), 5 * hidden);
    }

    // ---- LSTM ----------------------------------------------------------------------------------------------------

    /**
     * LSTM training forward: the outputs of {@link dev.kiln.runtime.Recurrent#lstm} plus the saved gates and states.
     *
     * @param w W [4H, input] of this direction from {@code wOff}; r R [4H, H] from {@code rOff}
     * @param b B [8H] (Wb then Rb) from {@code bOff}, or null for zeros
     * @param h0 initial hidden state [batch, H] from {@code h0Off}, or null for zeros; likewise c0
     * @param y step t's hidden states written at {@code yOff + t * yStep} ([batch, H]), or null
     * @param yh, yc last hidden and cell state [batch, H], or null
     * @param saved written: {@link #lstmSavedLength} floats from {@code savedOff}
     * @param pool threads for the GEMMs, or null
     */
    public static void lstmForward(int input, int hidden, int seq, int batch, boolean reverse, float[] x, int xOff,
                                   float[] w, int wOff, float[] r, int rOff, float[] b, int bOff, float[] h0, int h0Off,
                                   float[] c0, int c0Off, float[] y, int yOff, int yStep, float[] yh, int yhOff,
                                   float[] yc, int ycOff, float[] saved, int savedOff, WorkerPool pool) {
        int h = hidden;
        int g4 = 4 * h;
        int sw = 7 * h;
        int bh = batch * h;
        checkRun("LSTM", 4, input, h, seq, batch, x, xOff, w, wOff, r, rOff, b, bOff);
        span("LSTM", "saved", saved, savedOff, lstmSavedLength(h, seq, batch));
        PackedMatrix wt = PanelScratch.pack(w, wOff, input, true, PanelScratch.packed(P_W, input, g4));
        PackedMatrix rt = PanelScratch.pack(r, rOff, h, true, PanelScratch.packed(P_R, h, g4));
        float[] bias = PanelScratch.work(T_BIAS, g4);
        for (int j = 0; j < g4; j++) {
            bias[j] = b == null ? 0f : b[bOff + j] + b[bOff + g4 + j];
        }
        float[] zero = zeros(bh);
        LstmSteps steps = LSTM_STEPS.get();
        steps.set(false, h, seq, batch, reverse, rt, saved, savedOff, zero, h0, h0Off);
        // Each step's input projection and recurrent product in one register tile where the steps run their rows
        // on one thread (all of them, or a block each); else the projection for all steps first, in one GEMM
        // split over the pool. The same bits either way (Gemm.gemmTwo).
        if (Gemm.fusesTwo(wt, rt) && (pool == null || splitsRows(pool, seq, batch, input, h, 4))) {
            steps.projection(x, xOff, input, wt, bias);
        } else {
            gemm(pool, seq * batch, x, xOff, input, wt, bias, saved, savedOff, sw, false);
        }
        steps.cells(c0, c0Off);
        steps.outputs(y, yOff, yStep);
        steps.run(pool, input, 4);
        int prev = reverse ? 0 : seq - 1;
        for (int bi = 0; bi < batch; bi++) {
            int last = savedOff + (prev * batch + bi) * sw;
            if (yh != null) {
                copyState(seq, saved, last + 6 * h, h0, h0Off + bi * h, yh, yhOff + bi * h, h);
            }
            if (yc != null) {
                copyState(seq, saved, last + 4 * h, c0, c0Off + bi * h, yc, ycOff + bi * h, h);
            }
        }
    }

    /**
     * LSTM backpropagation through time from the buffer {@link #lstmForward} saved (same sizes, x, w, r, h0, c0).
     *
     * @param dy gradient of Y, step t at {@code dyOff + t * dyStep} ([batch, H]), or null for zeros
     * @param dyh, dyc gradients of Y_h and Y_c [batch, H], or null for zeros
     * @param dx gradient of X [seq, batch, input], added to its contents when {@code accumulateDx}; null to skip
     * @param dw [4H, input], dr [4H, H], db [8H] (its Wb and Rb halves equal), dh0 and dc0 [batch, H]: written, each
     *     skipped when null
     */
    public static void lstmBackward(int input, int hidden, int seq, int batch, boolean reverse, float[] x, int xOff,
                                    float[] w, int wOff, float[] r, int rOff, float[] h0, int h0Off, float[] c0,
                                    int c0Off, float[] saved, int savedOff, float[] dy, int dyOff, int dyStep,
                                    float[] dyh, int dyhOff, float[] dyc, int dycOff, float[] dx, int dxOff,
                                    boolean accumulateDx, float[] dw, int dwOff, float[] dr, int drOff, float[] db,
                                    int dbOff, float[] dh0, int dh0Off, float[] dc0, int dc0Off, WorkerPool pool) {
        int h = hidden;
        int g4 = 4 * h;
        int sw = 7 * h;
        int bh = batch * h;
        int rows = seq * batch;
        checkRun("LSTM", 4, input, h, seq, batch, x, xOff, w, wOff, r, rOff, null, 0);
        span("LSTM", "saved", saved, savedOff, lstmSavedLength(h, seq, batch));
        float[] dg = PanelScratch.work(T_DG, rows * g4);
        float[] dh = PanelScratch.work(T_DH, bh);
        float[] dc = PanelScratch.work(T_DC, bh);
        float[] zero = zeros(bh);
        initState(dyh, dyhOff, dh, bh);
        initState(dyc, dycOff, dc, bh);
        PackedMatrix rp = PanelScratch.pack(r, rOff, h, false, PanelScratch.packed(P_R_ROWS, g4, h));
        LstmSteps steps = LSTM_STEPS.get();
        steps.set(true, h, seq, batch, reverse, rp, saved, savedOff, zero, h0, h0Off);
        steps.cells(c0, c0Off);
        steps.gradients(dy, dyOff, dyStep, dh);
        steps.cellGradients(dc, dg);
        steps.run(pool, input, 4);
        if (dh0 != null) {
            System.arraycopy(dh, 0, dh0, dh0Off, bh);
        }
        if (dc0 != null) {
            System.arraycopy(dc, 0, dc0, dc0Off, bh);
        }
        weightGradients(input, h, 4, seq, batch, reverse, x, xOff, w, wOff, h0, h0Off, saved, savedOff, sw, 6 * h, -1,
                dg, dg, dx, dxOff, accumulateDx, dw, dwOff, dr, drOff, db, dbOff, pool);
    }

    /**
     * Whether a call's batch rows are split over the pool for the whole sequence: each thread runs every step of its
     * own block of rows ({@link Recurrent#rowBlocks}), forward or backward, as inference does. Rows are independent
     * through the recurrence both ways and the GEMM gives a row the same bits alone or in a batch, so any split
     * gives the bits of one thread. Below ~1 MFLOP of recurrence (~20 µs) the hand-off does not pay; there each
     * step's GEMM splits instead.
     */
    static boolean splitsRows(WorkerPool pool, int seq, int batch, int input, int hidden, int gates) {
        return pool != null && pool.threads() > 1 && batch >= 2
                && 2L * seq * batch * (input + hidden) * gates * hidden > 1_000_000L;
    }

    /**
     * The step loop of a recurrence over batch rows [b0, b1), forward or backward, reused per calling thread (a
     * capturing lambda would allocate per call): {@link #run} either runs all rows on the calling thread (each
     * step's GEMM split over the pool) or hands blocks of rows to the pool's threads, whose GEMMs then run alone.
     * Arrays from the calling thread's scratch are shared: each block writes only its rows' entries.
     */
    private abstract static class Steps implements ThreadRangeBody {
        boolean backward;
        int h;
        int seq;
        int batch;
        boolean reverse;
        /** R^T (forward) or R (backward), packed. */
        PackedMatrix r;
        float[] saved;
        int savedOff;
        float[] zero;
        float[] h0;
        int h0Off;
        float[] y;
        int yOff;
        int yStep;
        float[] dy;
        int dyOff;
        int dyStep;
        float[] dh;
        /** X [seq, batch, input], W^T packed and the gate bias when the steps project their inputs, else null. */
        float[] x;
        int xOff;
        int input;
        PackedMatrix w;
        float[] bias;
        private int blocks;

        void set(boolean backward, int h, int seq, int batch, boolean reverse, PackedMatrix r, float[] saved,
                 int savedOff, float[] zero, float[] h0, int h0Off) {
            this.backward = backward;
            this.h = h;
            this.seq = seq;
            this.batch = batch;
            this.reverse = reverse;
            this.r = r;
            this.saved = saved;
            this.savedOff = savedOff;
            this.zero = zero;
            this.h0 = h0;
            this.h0Off = h0Off;
        }

        /** The input projection X_t · W^T + bias, for a forward whose steps compute it ({@link #projects}). */
        void projection(float[] x, int xOff, int input, PackedMatrix w, float[] bias) {
            this.x = x;
            this.xOff = xOff;
            this.input = input;
            this.w = w;
            this.bias = bias;
        }

        /** Whether each step computes its own input projection, fused with its recurrent product. */
        boolean projects() {
            return x != null;
        }

        void outputs(float[] y, int yOff, int yStep) {
            this.y = y;
            this.yOff = yOff;
            this.yStep = yStep;
        }

        void gradients(float[] dy, int dyOff, int dyStep, float[] dh) {
            this.dy = dy;
            this.dyOff = dyOff;
            this.dyStep = dyStep;
            this.dh = dh;
        }

        /** All rows, split when {@link #splitsRows}; then drops the call's arrays. */
        final void run(WorkerPool pool, int input, int gates) {
            try {
                if (!splitsRows(pool, seq, batch, input, h, gates)) {
                    rows(0, batch, pool);
                } else {
                    blocks = Recurrent.rowBlocks(batch, pool.threads());
                    pool.parallelForBalanced(blocks, this);
                }
            } finally {
                r = null;
                x = null;
                w = null;
                bias = null;
                saved = null;
                zero = null;
                h0 = null;
                y = null;
                dy = null;
                dh = null;
                clear();
            }
        }

        @Override
        public final void run(int thread, int from, int to) {
            for (int block = from; block < to; block++) {
                rows((int) ((long) batch * block / blocks), (int) ((long) batch * (block + 1) / blocks), null);
            }
        }

        /** Every step for rows [b0, b1), the GEMMs split over {@code pool} (or null). */
        private void rows(int b0, int b1, WorkerPool pool) {
            if (backward) {
                backwardRows(b0, b1, pool);
            } else {
                forwardRows(b0, b1, pool);
            }
        }

        abstract void forwardRows(int b0, int b1, WorkerPool pool);

        abstract void backwardRows(int b0, int b1, WorkerPool pool);

        /** Drops the subclass's own arrays. */
        abstract void clear();
    }

    private static final ThreadLocal<LstmSteps> LSTM_STEPS = ThreadLocal.withInitial(LstmSteps::new);

    /** {@link #lstmForward}'s and {@link #lstmBackward}'s step loops. */
    private static final class LstmSteps extends Steps {
        private float[] c0;
        private int c0Off;
        private float[] dc;
        private float[] dg;

        void cells(float[] c0, int c0Off) {
            this.c0 = c0;
            this.c0Off = c0Off;
        }

        void cellGradients(float[] dc, float[] dg) {
            this.dc = dc;
            this.dg = dg;
        }

        @Override
        void clear() {
            c0 = null;
            dc = null;
            dg = null;
        }

        @Override
        void forwardRows(int b0, int b1, WorkerPool pool) {
            int sw = 7 * h;
            int prev = -1;
            for (int step = 0; step < seq; step++) {
                int t = reverse ? seq - 1 - step : step;
                int row0 = savedOff + (t * batch + b0) * sw;
                int prev0 = savedOff + (prev * batch + b0) * sw;
                if (projects()) {
                    // rows b0..b1 of step t's X, the previous H (or H0) and the gate rows, indexed from row 0
                    int xt = xOff + t * batch * input;
                    int st = savedOff + t * batch * sw;
                    if (prev >= 0) {
                        Gemm.gemmTwo(b0, b1, x, xt, input, w, bias, saved, savedOff + prev * batch * sw + 6 * h, sw,
                                r, saved, st, sw);
                    } else if (h0 != null) {
                        Gemm.gemmTwo(b0, b1, x, xt, input, w, bias, h0, h0Off, h, r, saved, st, sw);
                    } else {
                        gemm(null, b1 - b0, x, xt + b0 * input, input, w, bias, saved, row0, sw, false);
                    }
                } else if (prev >= 0) {
                    gemm(pool, b1 - b0, saved, prev0 + 6 * h, sw, r, null, saved, row0, sw, true);
                } else if (h0 != null) {
                    gemm(pool, b1 - b0, h0, h0Off + b0 * h, h, r, null, saved, row0, sw, true);
                }
                for (int bi = b0; bi < b1; bi++) {
                    int go = row0 + (bi - b0) * sw;
                    if (prev >= 0) {
                        lstmCell(saved, go, saved, prev0 + (bi - b0) * sw + 4 * h, h);
                    } else if (c0 != null) {
                        lstmCell(saved, go, c0, c0Off + bi * h, h);
                    } else {
                        lstmCell(saved, go, zero, 0, h);
                    }
                    if (y != null) {
                        System.arraycopy(saved, go + 6 * h, y, yOff + t * yStep + bi * h, h);
                    }
                }
                prev = t;
            }
        }

        @Override
        void backwardRows(int b0, int b1, WorkerPool pool) {
            int sw = 7 * h;
            int g4 = 4 * h;
            int rows = b1 - b0;
            for (int step = seq - 1; step >= 0; step--) {
                int t = reverse ? seq - 1 - step : step;
                int prev = step == 0 ? -1 : (reverse ? t + 1 : t - 1);
                if (dy != null) {
                    Lanes.add(dy, dyOff + t * dyStep + b0 * h, dh, b0 * h, rows * h);
                }
                for (int bi = b0; bi < b1; bi++) {
                    int go = savedOff + (t * batch + bi) * sw;
                    float[] cp = prev >= 0 ? saved : c0 != null ? c0 : zero;
                    int cpOff = prev >= 0 ? savedOff + (prev * batch + bi) * sw + 4 * h
                            : c0 != null ? c0Off + bi * h : 0;
                    lstmCellBackward(saved, go, cp, cpOff, dh, bi * h, dc, bi * h, dg, (t * batch + bi) * g4, h);
                }
                gemm(pool, rows, dg, (t * batch + b0) * g4, g4, r, null, dh, b0 * h, h, false);
            }
        }
    }

    /**
     * The LSTMGrad op: the training forward into per-thread scratch, then {@link #lstmBackward}. Arguments as those
     * two methods'.
     */
    public static void lstmGrad(int input, int hidden, int seq, int batch, boolean reverse, float[] x, int xOff,
                                float[] w, int wOff, float[] r, int rOff, float[] b, int bOff, float[] h0, int h0Off,
                                float[] c0, int c0Off, float[] dy, int dyOff, int dyStep, float[] dyh, int dyhOff,
                                float[] dyc, int dycOff, float[] dx, int dxOff, boolean accumulateDx, float[] dw,
                                int dwOff, float[] dr, int drOff, float[] db, int dbOff, float[] dh0, int dh0Off,
                                float[] dc0, int dc0Off, WorkerPool pool) {
        float[] saved = PanelScratch.work(T_SAVED, lstmSavedLength(hidden, seq, batch));
        lstmForward(input, hidden, seq, batch, reverse, x, xOff, w, wOff, r, rOff, b, bOff, h0, h0Off, c0, c0Off,
                null, 0, 0, null, 0, null, 0, saved, 0, pool);
        lstmBackward(input, hidden, seq, batch, reverse, x, xOff, w, wOff, r, rOff, h0, h0Off, c0, c0Off, saved, 0,
                dy, dyOff, dyStep, dyh, dyhOff, dyc, dycOff, dx, dxOff, accumulateDx, dw, dwOff, dr, drOff, db, dbOff,
                dh0, dh0Off, dc0, dc0Off, pool);
    }

    // ---- GRU -----------------------------------------------------------------------------------------------------

    /**
     * GRU training forward: the outputs of {@link dev.kiln.runtime.Recurrent#gru} plus the saved gates and states.
     * Parameters as {@link #lstmForward} without the cell state; W [3H, input], R [3H, H], B [6H].
     *
     * @param linearBeforeReset the ONNX attribute: true for PyTorch's GRU
     * @param saved written: {@link #gruSavedLength} floats from {@code savedOff}
     */
    public static void gruForward(int input, int hidden, int seq, int batch, boolean reverse, boolean linearBeforeReset,
                                  float[] x, int xOff, float[] w, int wOff, float[] r, int rOff, float[] b, int bOff,
                                  float[] h0, int h0Off, float[] y, int yOff, int yStep, float[] yh, int yhOff,
                                  float[] saved, int savedOff, WorkerPool pool) {
        int h = hidden;
        int g3 = 3 * h;
        int sw = 5 * h;
        int bh = batch * h;
        checkRun("GRU", 3, input, h, seq, batch, x, xOff, w, wOff, r, rOff, b, bOff);
        span("GRU", "saved", saved, savedOff, gruSavedLength(h, seq, batch));
        PackedMatrix wt = PanelScratch.pack(w, wOff, input, true, PanelScratch.packed(P_W, input, g3));
        // R^T whole, or without reset before the h gate, of the z and r rows and of the h rows apart
        int rCols = linearBeforeReset ? g3 : 2 * h;
        PackedMatrix rt = PanelScratch.pack(r, rOff, h, true, PanelScratch.packed(P_R, h, rCols));
        float[] biasW = PanelScratch.work(T_BIAS, g3);
        float[] biasR = PanelScratch.work(T_BIAS_R, g3);
        for (int j = 0; j < g3; j++) {
            biasW[j] = b == null ? 0f : b[bOff + j];
            biasR[j] = b == null ? 0f : b[bOff + g3 + j];
        }
        float[] zero = zeros(bh);
        float[] hr = PanelScratch.work(T_TEMP, batch * g3);
        gemm(pool, seq * batch, x, xOff, input, wt, biasW, saved, savedOff, sw, false);
        GruSteps steps = GRU_STEPS.get();
        steps.set(false, h, seq, batch, reverse, rt, saved, savedOff, zero, h0, h0Off);
        steps.recurrentBias(biasR, hr);
        if (!linearBeforeReset) {
            float[] biasRh = PanelScratch.work(T_BIAS_RH, h);
            System.arraycopy(biasR, 2 * h, biasRh, 0, h);
            steps.resetFirst(PanelScratch.pack(r, rOff + 2 * h * h, h, true, PanelScratch.packed(P_RH, h, h)), biasRh);
        }
        steps.outputs(y, yOff, yStep);
        steps.run(pool, input, 3);
        int prev = reverse ? 0 : seq - 1;
        if (yh != null) {
            for (int bi = 0; bi < batch; bi++) {
                copyState(seq, saved, savedOff + (prev * batch + bi) * sw + 4 * h, h0, h0Off + bi * h, yh,
                        yhOff + bi * h, h);
            }
        }
    }

    /**
     * GRU backpropagation through time from the buffer {@link #gruForward} saved. Parameters as
     * {@link #lstmBackward} without the cell state; dw [3H, input], dr [3H, H], db [6H].
     */
    public static void gruBackward(int input, int hidden, int seq, int batch, boolean reverse,
                                   boolean linearBeforeReset, float[] x, int xOff, float[] w, int wOff, float[] r,
                                   int rOff, float[] h0, int h0Off, float[] saved, int savedOff, float[] dy, int dyOff,
                                   int dyStep, float[] dyh, int dyhOff, float[] dx, int dxOff, boolean accumulateDx,
                                   float[] dw, int dwOff, float[] dr, int drOff, float[] db, int dbOff, float[] dh0,
                                   int dh0Off, WorkerPool pool) {
        int h = hidden;
        int g3 = 3 * h;
        int sw = 5 * h;
        int bh = batch * h;
        int rows = seq * batch;
        checkRun("GRU", 3, input, h, seq, batch, x, xOff, w, wOff, r, rOff, null, 0);
        span("GRU", "saved", saved, savedOff, gruSavedLength(h, seq, batch));
        float[] dgx = PanelScratch.work(T_DG, rows * g3);
        // Without reset before the h gate every recurrent pre-activation gradient is its input one: dGr is dGx.
        float[] dgr = linearBeforeReset ? PanelScratch.work(T_DG2, rows * g3) : dgx;
        float[] dh = PanelScratch.work(T_DH, bh);
        float[] zero = zeros(bh);
        initState(dyh, dyhOff, dh, bh);
        PackedMatrix rp = PanelScratch.pack(r, rOff, h, false,
                PanelScratch.packed(P_R_ROWS, linearBeforeReset ? g3 : 2 * h, h));
        GruSteps steps = GRU_STEPS.get();
        steps.set(true, h, seq, batch, reverse, rp, saved, savedOff, zero, h0, h0Off);
        steps.gradients(dy, dyOff, dyStep, dh);
        steps.gateGradients(dgx, dgr);
        if (!linearBeforeReset) {
            steps.resetFirst(PanelScratch.pack(r, rOff + 2 * h * h, h, false, PanelScratch.packed(P_RH_ROWS, h, h)),
                    PanelScratch.work(T_DS, bh));
        }
        steps.run(pool, input, 3);
        if (dh0 != null) {
            System.arraycopy(dh, 0, dh0, dh0Off, bh);
        }
        weightGradients(input, h, 3, seq, batch, reverse, x, xOff, w, wOff, h0, h0Off, saved, savedOff, sw, 4 * h,
                linearBeforeReset ? -1 : 3 * h, dgx, dgr, dx, dxOff, accumulateDx, dw, dwOff, dr, drOff, db, dbOff,
                pool);
    }

    private static final ThreadLocal<GruSteps> GRU_STEPS = ThreadLocal.withInitial(GruSteps::new);

    /**
     * {@link #gruForward}'s and {@link #gruBackward}'s step loops, as {@link LstmSteps}. With reset before the h gate
     * ({@link #resetFirst}), {@code r} holds R's z and r rows only and {@code rHidden} its h rows.
     */
    private static final class GruSteps extends Steps {
        private float[] biasR;
        private float[] hr;
        private float[] dgx;
        private float[] dgr;
        /** R's h rows, R_h^T forward and R_h backward, when linear_before_reset = 0; else null. */
        private PackedMatrix rHidden;
        /** Forward Rbh; backward the gradient of the reset state r ⊙ H_prev, [batch, H]. */
        private float[] resetWork;

        void recurrentBias(float[] biasR, float[] hr) {
            this.biasR = biasR;
            this.hr = hr;
        }

        void gateGradients(float[] dgx, float[] dgr) {
            this.dgx = dgx;
            this.dgr = dgr;
        }

        /** linear_before_reset = 0: R's h rows packed apart, and Rbh (forward) or a [batch, H] temporary. */
        void resetFirst(PackedMatrix rHidden, float[] resetWork) {
            this.rHidden = rHidden;
            this.resetWork = resetWork;
        }

        @Override
        void clear() {
            biasR = null;
            hr = null;
            dgx = null;
            dgr = null;
            rHidden = null;
            resetWork = null;
        }

        /** Rows [b0, b1): their Rh·H_prev + Rbh go to rows b0.. of the shared temporary {@code hr}. */
        @Override
        void forwardRows(int b0, int b1, WorkerPool pool) {
            if (rHidden != null) {
                resetFirstForwardRows(b0, b1, pool);
                return;
            }
            int sw = 5 * h;
            int g3 = 3 * h;
            int rows = b1 - b0;
            int prev = -1;
            for (int step = 0; step < seq; step++) {
                int t = reverse ? seq - 1 - step : step;
                int row0 = savedOff + (t * batch + b0) * sw;
                int prev0 = savedOff + (prev * batch + b0) * sw;
                if (prev >= 0) {
                    gemm(pool, rows, saved, prev0 + 4 * h, sw, r, biasR, hr, b0 * g3, g3, false);
                } else if (h0 != null) {
                    gemm(pool, rows, h0, h0Off + b0 * h, h, r, biasR, hr, b0 * g3, g3, false);
                } else {
                    for (int bi = b0; bi < b1; bi++) {
                        System.arraycopy(biasR, 0, hr, bi * g3, g3);
                    }
                }
                for (int bi = b0; bi < b1; bi++) {
                    int go = row0 + (bi - b0) * sw;
                    if (prev >= 0) {
                        gruCell(saved, go, hr, bi * g3, saved, prev0 + (bi - b0) * sw + 4 * h, h);
                    } else if (h0 != null) {
                        gruCell(saved, go, hr, bi * g3, h0, h0Off + bi * h, h);
                    } else {
                        gruCell(saved, go, hr, bi * g3, zero, 0, h);
                    }
                    if (y != null) {
                        System.arraycopy(saved, go + 4 * h, y, yOff + t * yStep + bi * h, h);
                    }
                }
                prev = t;
            }
        }

        @Override
        void backwardRows(int b0, int b1, WorkerPool pool) {
            if (rHidden != null) {
                resetFirstBackwardRows(b0, b1, pool);
                return;
            }
            int sw = 5 * h;
            int g3 = 3 * h;
            int rows = b1 - b0;
            for (int step = seq - 1; step >= 0; step--) {
                int t = reverse ? seq - 1 - step : step;
                int prev = step == 0 ? -1 : (reverse ? t + 1 : t - 1);
                if (dy != null) {
                    Lanes.add(dy, dyOff + t * dyStep + b0 * h, dh, b0 * h, rows * h);
                }
                for (int bi = b0; bi < b1; bi++) {
                    int go = savedOff + (t * batch + bi) * sw;
                    float[] hp = prev >= 0 ? saved : h0 != null ? h0 : zero;
                    int hpOff = prev >= 0 ? savedOff + (prev * batch + bi) * sw + 4 * h
                            : h0 != null ? h0Off + bi * h : 0;
                    gruCellBackward(saved, go, hp, hpOff, dh, bi * h, dgx, dgr, (t * batch + bi) * g3, h);
                }
                // dh now holds dh * z, the direct path; the recurrent GEMM adds the three gates' terms
                gemm(pool, rows, dgr, (t * batch + b0) * g3, g3, r, null, dh, b0 * h, h, true);
            }
        }

        /**
         * linear_before_reset = 0, rows [b0, b1): per step z and r from R's z and r rows, the reset state
         * r ⊙ H_prev saved, then the h gate's recurrent term from it ({@code hr}'s last H columns).
         */
        private void resetFirstForwardRows(int b0, int b1, WorkerPool pool) {
            int sw = 5 * h;
            int g3 = 3 * h;
            int rows = b1 - b0;
            int prev = -1;
            for (int step = 0; step < seq; step++) {
                int t = reverse ? seq - 1 - step : step;
                int row0 = savedOff + (t * batch + b0) * sw;
                int prev0 = savedOff + (prev * batch + b0) * sw;
                if (prev >= 0) {
                    gemm(pool, rows, saved, prev0 + 4 * h, sw, r, biasR, hr, b0 * g3, g3, false);
                } else if (h0 != null) {
                    gemm(pool, rows, h0, h0Off + b0 * h, h, r, biasR, hr, b0 * g3, g3, false);
                } else {
                    for (int bi = b0; bi < b1; bi++) {
                        System.arraycopy(biasR, 0, hr, bi * g3, 2 * h);
                    }
                }
                for (int bi = b0; bi < b1; bi++) {
                    int go = row0 + (bi - b0) * sw;
                    float[] hp = prev >= 0 ? saved : h0 != null ? h0 : zero;
                    int hpOff = prev >= 0 ? prev0 + (bi - b0) * sw + 4 * h : h0 != null ? h0Off + bi * h : 0;
                    gruResetGates(saved, go, hr, bi * g3, hp, hpOff, h);
                }
                gemm(pool, rows, saved, row0 + 3 * h, sw, rHidden, resetWork, hr, b0 * g3 + 2 * h, g3, false);
                for (int bi = b0; bi < b1; bi++) {
                    int go = row0 + (bi - b0) * sw;
                    float[] hp = prev >= 0 ? saved : h0 != null ? h0 : zero;
                    int hpOff = prev >= 0 ? prev0 + (bi - b0) * sw + 4 * h : h0 != null ? h0Off + bi * h : 0;
                    gruResetOutput(saved, go, hr, bi * g3 + 2 * h, hp, hpOff, h);
                    if (y != null) {
                        System.arraycopy(saved, go + 4 * h, y, yOff + t * yStep + bi * h, h);
                    }
                }
                prev = t;
            }
        }

        /**
         * linear_before_reset = 0, rows [b0, b1) backwards: per step the gradients of z and n's pre-activations and
         * the direct path dh * z; the reset state's gradient {@code dS = dn · R_h} (a GEMM); from it r's gradient and
         * dh's path through the reset state; then the z and r rows' recurrent GEMM into dh.
         */
        private void resetFirstBackwardRows(int b0, int b1, WorkerPool pool) {
            int sw = 5 * h;
            int g3 = 3 * h;
            int rows = b1 - b0;
            for (int step = seq - 1; step >= 0; step--) {
                int t = reverse ? seq - 1 - step : step;
                int prev = step == 0 ? -1 : (reverse ? t + 1 : t - 1);
                if (dy != null) {
                    Lanes.add(dy, dyOff + t * dyStep + b0 * h, dh, b0 * h, rows * h);
                }
                for (int bi = b0; bi < b1; bi++) {
                    int go = savedOff + (t * batch + bi) * sw;
                    float[] hp = prev >= 0 ? saved : h0 != null ? h0 : zero;
                    int hpOff = prev >= 0 ? savedOff + (prev * batch + bi) * sw + 4 * h
                            : h0 != null ? h0Off + bi * h : 0;
                    gruResetOutputBackward(saved, go, hp, hpOff, dh, bi * h, dgx, (t * batch + bi) * g3, h);
                }
                int dg0 = (t * batch + b0) * g3;
                gemm(pool, rows, dgx, dg0 + 2 * h, g3, rHidden, null, resetWork, b0 * h, h, false);
                for (int bi = b0; bi < b1; bi++) {
                    int go = savedOff + (t * batch + bi) * sw;
                    float[] hp = prev >= 0 ? saved : h0 != null ? h0 : zero;
                    int hpOff = prev >= 0 ? savedOff + (prev * batch + bi) * sw + 4 * h
                            : h0 != null ? h0Off + bi * h : 0;
                    gruResetGatesBackward(saved, go, hp, hpOff, resetWork, bi * h, dh, bi * h, dgx,
                            (t * batch + bi) * g3, h);
                }
                gemm(pool, rows, dgx, dg0, g3, r, null, dh, b0 * h, h, true);
            }
        }
    }

    /** The GRUGrad op: {@link #gruForward} into per-thread scratch, then {@link #gruBackward}. */
    public static void gruGrad(int input, int hidden, int seq, int batch, boolean reverse, boolean linearBeforeReset,
                               float[] x, int xOff, float[] w, int wOff, float[] r, int rOff, float[] b, int bOff,
                               float[] h0, int h0Off, float[] dy, int dyOff, int dyStep, float[] dyh, int dyhOff,
                               float[] dx, int dxOff, boolean accumulateDx, float[] dw, int dwOff, float[] dr,
                               int drOff, float[] db, int dbOff, float[] dh0, int dh0Off, WorkerPool pool) {
        float[] saved = PanelScratch.work(T_SAVED, gruSavedLength(hidden, seq, batch));
        gruForward(input, hidden, seq, batch, reverse, linearBeforeReset, x, xOff, w, wOff, r, rOff, b, bOff, h0,
                h0Off, null, 0, 0, null, 0, saved, 0, pool);
        gruBackward(input, hidden, seq, batch, reverse, linearBeforeReset, x, xOff, w, wOff, r, rOff, h0, h0Off, saved,
                0, dy, dyOff, dyStep, dyh, dyhOff, dx, dxOff, accumulateDx, dw, dwOff, dr, drOff, db, dbOff, dh0,
                dh0Off, pool);
    }

    // ---- shared backward GEMMs -----------------------------------------------------------------------------------

    /**
     * After the steps: {@code dX (+)= dGx · W}, {@code dW = dGx^T · X}, {@code dR = dGr^T · H_prev}, and dB the
     * column sums of dGx (input biases) and dGr (recurrent biases). H_prev's rows are gathered in step order: the
     * initial state (or zeros) for the first step processed, the previous step's saved H for the others. With
     * {@code resetAt} ≥ 0 (GRU, linear_before_reset = 0) R's last H rows read the reset state saved there instead.
     */
    private static void weightGradients(int input, int h, int gates, int seq, int batch, boolean reverse, float[] x,
                                        int xOff, float[] w, int wOff, float[] h0, int h0Off, float[] saved,
                                        int savedOff, int sw, int hAt, int resetAt, float[] dgx, float[] dgr,
                                        float[] dx, int dxOff, boolean accumulateDx, float[] dw, int dwOff, float[] dr,
                                        int drOff, float[] db, int dbOff, WorkerPool pool) {
        int gh = gates * h;
        int rows = seq * batch;
        if (dx != null) {
            PackedMatrix wp = PanelScratch.pack(w, wOff, input, false, PanelScratch.packed(P_W_ROWS, gh, input));
            if (rows > 0) {
                gemm(pool, rows, dgx, 0, gh, wp, null, dx, dxOff, input, accumulateDx);
            }
        }
        if (dw != null || dr != null) {
            float[] dgt = PanelScratch.work(T_DGT, rows * gh);
            if (dw != null) {
                PanelScratch.transpose(rows, gh, dgx, 0, gh, dgt, 0, rows);
                PackedMatrix xp = PanelScratch.pack(x, xOff, input, false, PanelScratch.packed(P_X, rows, input));
                gemm(pool, gh, dgt, 0, rows, xp, null, dw, dwOff, input, false);
            }
            if (dr != null) {
                if (dgr != dgx || dw == null) {
                    PanelScratch.transpose(rows, gh, dgr, 0, gh, dgt, 0, rows);
                }
                float[] hprev = PanelScratch.work(T_HPREV, rows * h);
                for (int step = 0; step < seq; step++) {
                    int t = reverse ? seq - 1 - step : step;
                    int prev = reverse ? t + 1 : t - 1;
                    for (int bi = 0; bi < batch; bi++) {
                        int dst = (t * batch + bi) * h;
                        if (step > 0) {
                            System.arraycopy(saved, savedOff + (prev * batch + bi) * sw + hAt, hprev, dst, h);
                        } else if (h0 != null) {
                            System.arraycopy(h0, h0Off + bi * h, hprev, dst, h);
                        } else {
                            Arrays.fill(hprev, dst, dst + h, 0f);
                        }
                    }
                }
                PackedMatrix hp = PanelScratch.pack(hprev, 0, h, false, PanelScratch.packed(P_HP, rows, h));
                if (resetAt < 0) {
                    gemm(pool, gh, dgt, 0, rows, hp, null, dr, drOff, h, false);
                } else {
                    // the saved reset states are rows of stride sw already in step-row order
                    PackedMatrix sp = PanelScratch.pack(saved, savedOff + resetAt, sw, false,
                            PanelScratch.packed(P_S, rows, h));
                    gemm(pool, gh - h, dgt, 0, rows, hp, null, dr, drOff, h, false);
                    gemm(pool, h, dgt, (gh - h) * rows, rows, sp, null, dr, drOff + (gh - h) * h, h, false);
                }
            }
        }
        if (db != null) {
            Lanes.columnSums(rows, gh, dgx, 0, gh, db, dbOff, false);
            Lanes.columnSums(rows, gh, dgr, 0, gh, db, dbOff + gh, false);
        }
    }

    // ---- gate math, vectorized along the hidden axis -------------------------------------------------------------
    //
    // As in the inference kernels, the activations are GateMath's array passes (the same operations on each lane
    // as Recurrent, so the forwards agree bit for bit), and no loop passes a vector to a call, so none is boxed.

    /** One LSTM row: pre-activations i, o, f, c at go activated in place, then C, tanh(C) and H after them. */
    private static void lstmCell(float[] s, int go, float[] cp, int cpOff, int h) {
        sigmoidInPlace(s, go, 3 * h);
        tanh(s, go + 3 * h, s, go + 3 * h, h);
        int j = 0;
        for (int bound = S.loopBound(h); j < bound; j += VL) {
            FloatVector i = FloatVector.fromArray(S, s, go + j);
            FloatVector f = FloatVector.fromArray(S, s, go + 2 * h + j);
            FloatVector g = FloatVector.fromArray(S, s, go + 3 * h + j);
            f.mul(FloatVector.fromArray(S, cp, cpOff + j)).add(i.mul(g)).intoArray(s, go + 4 * h + j);
        }
        for (; j < h; j++) {
            s[go + 4 * h + j] = s[go + 2 * h + j] * cp[cpOff + j] + s[go + j] * s[go + 3 * h + j];
        }
        tanh(s, go + 4 * h, s, go + 5 * h, h);
        j = 0;
        for (int bound = S.loopBound(h); j < bound; j += VL) {
            FloatVector.fromArray(S, s, go + h + j).mul(FloatVector.fromArray(S, s, go + 5 * h + j))
                    .intoArray(s, go + 6 * h + j);
        }
        for (; j < h; j++) {
            s[go + 6 * h + j] = s[go + h + j] * s[go + 5 * h + j];
        }
    }

    /**
     * One LSTM row backwards: from the incoming dh and dc (gradients of this step's H and C), the pre-activation
     * gradients of i, o, f, c into dG, and dc replaced by the gradient of the previous cell state.
     */
    private static void lstmCellBackward(float[] s, int go, float[] cp, int cpOff, float[] dh, int dhOff, float[] dc,
                                         int dcOff, float[] dg, int dgOff, int h) {
        int j = 0;
        for (int bound = S.loopBound(h); j < bound; j += VL) {
            FloatVector i = FloatVector.fromArray(S, s, go + j);
            FloatVector o = FloatVector.fromArray(S, s, go + h + j);
            FloatVector f = FloatVector.fromArray(S, s, go + 2 * h + j);
            FloatVector g = FloatVector.fromArray(S, s, go + 3 * h + j);
            FloatVector tc = FloatVector.fromArray(S, s, go + 5 * h + j);
            FloatVector d = FloatVector.fromArray(S, dh, dhOff + j);
            FloatVector one = i.broadcast(1f);
            FloatVector dC = d.mul(o).mul(one.sub(tc.mul(tc))).add(FloatVector.fromArray(S, dc, dcOff + j));
            d.mul(tc).mul(o).mul(one.sub(o)).intoArray(dg, dgOff + h + j);
            dC.mul(g).mul(i).mul(one.sub(i)).intoArray(dg, dgOff + j);
            dC.mul(FloatVector.fromArray(S, cp, cpOff + j)).mul(f).mul(one.sub(f)).intoArray(dg, dgOff + 2 * h + j);
            dC.mul(i).mul(one.sub(g.mul(g))).intoArray(dg, dgOff + 3 * h + j);
            dC.mul(f).intoArray(dc, dcOff + j);
        }
        for (; j < h; j++) {
            float i = s[go + j];
            float o = s[go + h + j];
            float f = s[go + 2 * h + j];
            float g = s[go + 3 * h + j];
            float tc = s[go + 5 * h + j];
            float d = dh[dhOff + j];
            float dC = d * o * (1f - tc * tc) + dc[dcOff + j];
            dg[dgOff + h + j] = d * tc * o * (1f - o);
            dg[dgOff + j] = dC * g * i * (1f - i);
            dg[dgOff + 2 * h + j] = dC * cp[cpOff + j] * f * (1f - f);
            dg[dgOff + 3 * h + j] = dC * i * (1f - g * g);
            dc[dcOff + j] = dC * f;
        }
    }

    /**
     * One GRU row: z, r = sigmoid(input projection + recurrent projection), the recurrent h-gate term kept,
     * n = tanh(input h-gate + r * that term), H = (1 - z) n + z H_prev.
     *
     * @param hr the row's recurrent projection {@code H_prev · R^T + Rb} (3H)
     */
    private static void gruCell(float[] s, int go, float[] hr, int hrOff, float[] hp, int hpOff, int h) {
        int zr = 2 * h;
        Lanes.add(hr, hrOff, s, go, zr);
        sigmoidInPlace(s, go, zr);
        System.arraycopy(hr, hrOff + 2 * h, s, go + 3 * h, h);
        int j = 0;
        for (int bound = S.loopBound(h); j < bound; j += VL) {
            FloatVector r = FloatVector.fromArray(S, s, go + h + j);
            r.fma(FloatVector.fromArray(S, s, go + 3 * h + j), FloatVector.fromArray(S, s, go + 2 * h + j))
                    .intoArray(s, go + 2 * h + j);
        }
        for (; j < h; j++) {
            s[go + 2 * h + j] = Math.fma(s[go + h + j], s[go + 3 * h + j], s[go + 2 * h + j]);
        }
        tanh(s, go + 2 * h, s, go + 2 * h, h);
        gruState(s, go, hp, hpOff, h);
    }

    /** H = (1 - z) n + z H_prev of one GRU row whose z and n are activated. */
    private static void gruState(float[] s, int go, float[] hp, int hpOff, int h) {
        int j = 0;
        for (int bound = S.loopBound(h); j < bound; j += VL) {
            FloatVector z = FloatVector.fromArray(S, s, go + j);
            FloatVector n = FloatVector.fromArray(S, s, go + 2 * h + j);
            FloatVector.fromArray(S, hp, hpOff + j).sub(n).fma(z, n).intoArray(s, go + 4 * h + j);
        }
        for (; j < h; j++) {
            float n = s[go + 2 * h + j];
            s[go + 4 * h + j] = Math.fma(hp[hpOff + j] - n, s[go + j], n);
        }
    }

    /**
     * One GRU row with linear_before_reset = 0, first half: z, r = sigmoid(input projection + the z and r rows'
     * recurrent projection {@code hr}), and the reset state r ⊙ H_prev saved where the h gate's GEMM reads it.
     */
    private static void gruResetGates(float[] s, int go, float[] hr, int hrOff, float[] hp, int hpOff, int h) {
        Lanes.add(hr, hrOff, s, go, 2 * h);
        sigmoidInPlace(s, go, 2 * h);
        int j = 0;
        for (int bound = S.loopBound(h); j < bound; j += VL) {
            FloatVector.fromArray(S, s, go + h + j).mul(FloatVector.fromArray(S, hp, hpOff + j))
                    .intoArray(s, go + 3 * h + j);
        }
        for (; j < h; j++) {
            s[go + 3 * h + j] = s[go + h + j] * hp[hpOff + j];
        }
    }

    /** Second half: n = tanh(input h-gate term + {@code hn}, the reset state's R_h product plus Rbh), then H. */
    private static void gruResetOutput(float[] s, int go, float[] hn, int hnOff, float[] hp, int hpOff, int h) {
        Lanes.add(hn, hnOff, s, go + 2 * h, h);
        tanh(s, go + 2 * h, s, go + 2 * h, h);
        gruState(s, go, hp, hpOff, h);
    }

    /**
     * {@link #gruResetOutput} backwards: the pre-activation gradients of z and n into dG (all of R's rows read the
     * same ones: the h gate adds its recurrent term outside r); dh replaced by its direct path dh * z.
     */
    private static void gruResetOutputBackward(float[] s, int go, float[] hp, int hpOff, float[] dh, int dhOff,
                                               float[] dg, int dgo, int h) {
        int j = 0;
        for (int bound = S.loopBound(h); j < bound; j += VL) {
            FloatVector z = FloatVector.fromArray(S, s, go + j);
            FloatVector n = FloatVector.fromArray(S, s, go + 2 * h + j);
            FloatVector d = FloatVector.fromArray(S, dh, dhOff + j);
            FloatVector one = z.broadcast(1f);
            d.mul(FloatVector.fromArray(S, hp, hpOff + j).sub(n)).mul(z).mul(one.sub(z)).intoArray(dg, dgo + j);
            d.mul(one.sub(z)).mul(one.sub(n.mul(n))).intoArray(dg, dgo + 2 * h + j);
            d.mul(z).intoArray(dh, dhOff + j);
        }
        for (; j < h; j++) {
            float z = s[go + j];
            float n = s[go + 2 * h + j];
            float d = dh[dhOff + j];
            dg[dgo + j] = d * (hp[hpOff + j] - n) * z * (1f - z);
            dg[dgo + 2 * h + j] = d * (1f - z) * (1f - n * n);
            dh[dhOff + j] = d * z;
        }
    }

    /**
     * {@link #gruResetGates} backwards, from {@code ds}, the gradient of the reset state r ⊙ H_prev: r's
     * pre-activation gradient into dG, and ds ⊙ r added to dh.
     */
    private static void gruResetGatesBackward(float[] s, int go, float[] hp, int hpOff, float[] ds, int dsOff,
                                              float[] dh, int dhOff, float[] dg, int dgo, int h) {
        int j = 0;
        for (int bound = S.loopBound(h); j < bound; j += VL) {
            FloatVector r = FloatVector.fromArray(S, s, go + h + j);
            FloatVector d = FloatVector.fromArray(S, ds, dsOff + j);
            d.mul(FloatVector.fromArray(S, hp, hpOff + j)).mul(r).mul(r.broadcast(1f).sub(r))
                    .intoArray(dg, dgo + h + j);
            d.fma(r, FloatVector.fromArray(S, dh, dhOff + j)).intoArray(dh, dhOff + j);
        }
        for (; j < h; j++) {
            float r = s[go + h + j];
            float d = ds[dsOff + j];
            dg[dgo + h + j] = d * hp[hpOff + j] * r * (1f - r);
            dh[dhOff + j] = Math.fma(d, r, dh[dhOff + j]);
        }
    }

    /**
     * One GRU row backwards: pre-activation gradients of z, r, n into dGx (input side) and of z, r and the
     * recurrent h-gate term into dGr (recurrent side); dh replaced by its direct path dh * z.
     */
    private static void gruCellBackward(float[] s, int go, float[] hp, int hpOff, float[] dh, int dhOff, float[] dgx,
                                        float[] dgr, int dgo, int h) {
        int j = 0;
        for (int bound = S.loopBound(h); j < bound; j += VL) {
            FloatVector z = FloatVector.fromArray(S, s, go + j);
            FloatVector r = FloatVector.fromArray(S, s, go + h + j);
            FloatVector n = FloatVector.fromArray(S, s, go + 2 * h + j);
            FloatVector q = FloatVector.fromArray(S, s, go + 3 * h + j);
            FloatVector d = FloatVector.fromArray(S, dh, dhOff + j);
            FloatVector one = z.broadcast(1f);
            FloatVector an = d.mul(one.sub(z)).mul(one.sub(n.mul(n)));
            FloatVector az = d.mul(FloatVector.fromArray(S, hp, hpOff + j).sub(n)).mul(z).mul(one.sub(z));
            FloatVector ar = an.mul(q).mul(r).mul(one.sub(r));
            az.intoArray(dgx, dgo + j);
            ar.intoArray(dgx, dgo + h + j);
            an.intoArray(dgx, dgo + 2 * h + j);
            az.intoArray(dgr, dgo + j);
            ar.intoArray(dgr, dgo + h + j);
            an.mul(r).intoArray(dgr, dgo + 2 * h + j);
            d.mul(z).intoArray(dh, dhOff + j);
        }
        for (; j < h; j++) {
            float z = s[go + j];
            float r = s[go + h + j];
            float n = s[go + 2 * h + j];
            float q = s[go + 3 * h + j];
            float d = dh[dhOff + j];
            float an = d * (1f - z) * (1f - n * n);
            float az = d * (hp[hpOff + j] - n) * z * (1f - z);
            float ar = an * q * r * (1f - r);
            dgx[dgo + j] = az;
            dgx[dgo + h + j] = ar;
            dgx[dgo + 2 * h + j] = an;
            dgr[dgo + j] = az;
            dgr[dgo + h + j] = ar;
            dgr[dgo + 2 * h + j] = an * r;
            dh[dhOff + j] = d * z;
        }
    }

    private static void sigmoidInPlace(float[] a, int off, int len) {
        GateMath.sigmoid(a, off, a, off, len, Float.POSITIVE_INFINITY);
    }

    /** dst = tanh(src) over {@code len} floats (the ranges equal or disjoint). */
    private static void tanh(float[] src, int srcOff, float[] dst, int dstOff, int len) {
        GateMath.tanh(src, srcOff, dst, dstOff, len, Float.POSITIVE_INFINITY);
    }

    // ---- scalar twins: the equations in double, every array from index 0 ------------------------------------------

    /**
     * Plain twin of {@link #lstmGrad}: the forward recomputed in double, then the steps walked backwards element by
     * element. Null inputs are zeros; null outputs are skipped; dx is overwritten.
     */
    public static void lstmGradScalar(int input, int hidden, int seq, int batch, boolean reverse, float[] x, float[] w,
                                      float[] r, float[] b, float[] h0, float[] c0, float[] dy, float[] dyh,
                                      float[] dyc, float[] dx, float[] dw, float[] dr, float[] db, float[] dh0,
                                      float[] dc0) {
        int h = hidden;
        double[][] gates = new double[seq * batch][4 * h];
        double[][] cell = new double[seq * batch + batch][h];
        double[][] hid = new double[seq * batch + batch][h];
        // state before step k is row (k * batch + bi) of cell/hid, after it row ((k + 1) * batch + bi)
        for (int bi = 0; bi < batch; bi++) {
            for (int j = 0; j < h; j++) {
                hid[bi][j] = h0 == null ? 0 : h0[bi * h + j];
                cell[bi][j] = c0 == null ? 0 : c0[bi * h + j];
            }
        }
        for (int k = 0; k < seq; k++) {
            int t = reverse ? seq - 1 - k : k;
            for (int bi = 0; bi < batch; bi++) {
                double[] hp = hid[k * batch + bi];
                for (int gi = 0; gi < 4; gi++) {
                    for (int j = 0; j < h; j++) {
                        int row = gi * h + j;
                        double sum = b == null ? 0 : (double) b[row] + b[4 * h + row];
                        for (int i = 0; i < input; i++) {
                            sum += (double) x[(t * batch + bi) * input + i] * w[row * input + i];
                        }
                        for (int i = 0; i < h; i++) {
                            sum += hp[i] * r[row * h + i];
                        }
                        gates[k * batch + bi][row] = gi == 3 ? Math.tanh(sum) : 1 / (1 + Math.exp(-sum));
                    }
                }
                double[] g = gates[k * batch + bi];
                for (int j = 0; j < h; j++) {
                    double c = g[2 * h + j] * cell[k * batch + bi][j] + g[j] * g[3 * h + j];
                    cell[(k + 1) * batch + bi][j] = c;
                    hid[(k + 1) * batch + bi][j] = g[h + j] * Math.tanh(c);
                }
            }
        }
        double[] ddx = new double[seq * batch * input];
        double[] ddw = new double[4 * h * input];
        double[] ddr = new double[4 * h * h];
        double[] ddb = new double[4 * h];
        double[][] dh = new double[batch][h];
        double[][] dc = new double[batch][h];
        for (int bi = 0; bi < batch; bi++) {
            for (int j = 0; j < h; j++) {
                dh[bi][j] = dyh == null ? 0 : dyh[bi * h + j];
                dc[bi][j] = dyc == null ? 0 : dyc[bi * h + j];
            }
        }
        for (int k = seq - 1; k >= 0; k--) {
            int t = reverse ? seq - 1 - k : k;
            double[][] dhPrev = new double[batch][h];
            for (int bi = 0; bi < batch; bi++) {
                double[] g = gates[k * batch + bi];
                double[] a = new double[4 * h];
                for (int j = 0; j < h; j++) {
                    double d = dh[bi][j] + (dy == null ? 0 : dy[(t * batch + bi) * h + j]);
                    double tc = Math.tanh(cell[(k + 1) * batch + bi][j]);
                    double i = g[j];
                    double o = g[h + j];
                    double f = g[2 * h + j];
                    double c = g[3 * h + j];
                    double dC = dc[bi][j] + d * o * (1 - tc * tc);
                    a[j] = dC * c * i * (1 - i);
                    a[h + j] = d * tc * o * (1 - o);
                    a[2 * h + j] = dC * cell[k * batch + bi][j] * f * (1 - f);
                    a[3 * h + j] = dC * i * (1 - c * c);
                    dc[bi][j] = dC * f;
                }
                accumulate(input, h, 4, a, x, (t * batch + bi) * input, hid[k * batch + bi], w, r, ddx, ddw, ddr, ddb,
                        dhPrev[bi]);
            }
            dh = dhPrev;
        }
        store(ddx, dx);
        store(ddw, dw);
        store(ddr, dr);
        if (db != null) {
            for (int j = 0; j < 4 * h; j++) {
                db[j] = (float) ddb[j];
                db[4 * h + j] = (float) ddb[j];
            }
        }
        for (int bi = 0; bi < batch; bi++) {
            for (int j = 0; j < h; j++) {
                if (dh0 != null) {
                    dh0[bi * h + j] = (float) dh[bi][j];
                }
                if (dc0 != null) {
                    dc0[bi * h + j] = (float) dc[bi][j];
                }
            }
        }
    }

    /** Plain twin of {@link #gruGrad}, as {@link #lstmGradScalar}. */
    public static void gruGradScalar(int input, int hidden, int seq, int batch, boolean reverse,
                                     boolean linearBeforeReset, float[] x, float[] w, float[] r, float[] b, float[] h0,
                                     float[] dy, float[] dyh, float[] dx, float[] dw, float[] dr, float[] db,
                                     float[] dh0) {
        int h = hidden;
        // z, r, n, q: Rh hPrev + Rbh, or without linear_before_reset the reset state r hPrev
        double[][] gates = new double[seq * batch][4 * h];
        double[][] hid = new double[seq * batch + batch][h];
        for (int bi = 0; bi < batch; bi++) {
            for (int j = 0; j < h; j++) {
                hid[bi][j] = h0 == null ? 0 : h0[bi * h + j];
            }
        }
        for (int k = 0; k < seq; k++) {
            int t = reverse ? seq - 1 - k : k;
            for (int bi = 0; bi < batch; bi++) {
                double[] hp = hid[k * batch + bi];
                double[] g = gates[k * batch + bi];
                double[] xw = new double[3 * h];
                double[] hr = new double[3 * h];
                for (int row = 0; row < 3 * h; row++) {
                    xw[row] = b == null ? 0 : b[row];
                    hr[row] = b == null ? 0 : b[3 * h + row];
                    for (int i = 0; i < input; i++) {
                        xw[row] += (double) x[(t * batch + bi) * input + i] * w[row * input + i];
                    }
                    for (int i = 0; i < h; i++) {
                        hr[row] += hp[i] * r[row * h + i];
                    }
                }
                for (int j = 0; j < h; j++) {
                    g[j] = 1 / (1 + Math.exp(-(xw[j] + hr[j])));
                    g[h + j] = 1 / (1 + Math.exp(-(xw[h + j] + hr[h + j])));
                    g[3 * h + j] = linearBeforeReset ? hr[2 * h + j] : g[h + j] * hp[j];
                }
                for (int j = 0; j < h; j++) {
                    double rh = b == null ? 0 : b[5 * h + j];
                    for (int i = 0; i < h && !linearBeforeReset; i++) {
                        rh += g[3 * h + i] * r[(2 * h + j) * h + i];
                    }
                    g[2 * h + j] = Math.tanh(xw[2 * h + j] + (linearBeforeReset ? g[h + j] * g[3 * h + j] : rh));
                    hid[(k + 1) * batch + bi][j] = (1 - g[j]) * g[2 * h + j] + g[j] * hp[j];
                }
            }
        }
        double[] ddx = new double[seq * batch * input];
        double[] ddw = new double[3 * h * input];
        double[] ddr = new double[3 * h * h];
        double[] ddbx = new double[3 * h];
        double[] ddbr = new double[3 * h];
        double[][] dh = new double[batch][h];
        for (int bi = 0; bi < batch; bi++) {
            for (int j = 0; j < h; j++) {
                dh[bi][j] = dyh == null ? 0 : dyh[bi * h + j];
            }
        }
        for (int k = seq - 1; k >= 0; k--) {
            int t = reverse ? seq - 1 - k : k;
            double[][] dhPrev = new double[batch][h];
            for (int bi = 0; bi < batch; bi++) {
                double[] g = gates[k * batch + bi];
                double[] hp = hid[k * batch + bi];
                double[] ax = new double[3 * h];
                double[] ar = new double[3 * h];
                for (int j = 0; j < h; j++) {
                    double d = dh[bi][j] + (dy == null ? 0 : dy[(t * batch + bi) * h + j]);
                    double z = g[j];
                    double n = g[2 * h + j];
                    ax[j] = d * (hp[j] - n) * z * (1 - z);
                    ax[2 * h + j] = d * (1 - z) * (1 - n * n);
                    dhPrev[bi][j] += d * z;
                }
                // the gradient of r's output: through q (linear_before_reset), else through Rh's reset-state term
                double[] dReset = new double[h];
                for (int j = 0; j < h; j++) {
                    if (linearBeforeReset) {
                        dReset[j] = ax[2 * h + j] * g[3 * h + j];
                        continue;
                    }
                    double ds = 0;
                    for (int i = 0; i < h; i++) {
                        ds += ax[2 * h + i] * r[(2 * h + i) * h + j];
                    }
                    dReset[j] = ds * hp[j];
                    dhPrev[bi][j] += ds * g[h + j];
                }
                for (int j = 0; j < h; j++) {
                    double rr = g[h + j];
                    ax[h + j] = dReset[j] * rr * (1 - rr);
                    ar[j] = ax[j];
                    ar[h + j] = ax[h + j];
                    ar[2 * h + j] = linearBeforeReset ? ax[2 * h + j] * rr : ax[2 * h + j];
                }
                double[] unusedDh = new double[h];
                accumulate(input, h, 3, ax, x, (t * batch + bi) * input, null, w, null, ddx, ddw, null, ddbx, unusedDh);
                if (linearBeforeReset) {
                    accumulate(0, h, 3, ar, x, 0, hp, null, r, null, null, ddr, ddbr, dhPrev[bi]);
                } else {
                    // z and r rows read hPrev, the h rows the reset state (their dhPrev share is dReset's above)
                    accumulate(0, h, 2, ar, x, 0, hp, null, r, null, null, ddr, ddbr, dhPrev[bi]);
                    for (int j = 0; j < h; j++) {
                        for (int i = 0; i < h; i++) {
                            ddr[(2 * h + j) * h + i] += ar[2 * h + j] * g[3 * h + i];
                        }
                        ddbr[2 * h + j] += ar[2 * h + j];
                    }
                }
            }
            dh = dhPrev;
        }
        store(ddx, dx);
        store(ddw, dw);
        store(ddr, dr);
        if (db != null) {
            for (int j = 0; j < 3 * h; j++) {
                db[j] = (float) ddbx[j];
                db[3 * h + j] = (float) ddbr[j];
            }
        }
        if (dh0 != null) {
            for (int bi = 0; bi < batch; bi++) {
                for (int j = 0; j < h; j++) {
                    dh0[bi * h + j] = (float) dh[bi][j];
                }
            }
        }
    }

    /**
     * Adds one row's pre-activation gradients {@code a} (gates x H) to dx, dW (with the row's x), dR and dhPrev
     * (with hPrev, when given) and the bias sums; a null sink is skipped.
     */
    private static void accumulate(int input, int h, int gates, double[] a, float[] x, int xo, double[] hp, float[] w,
                                   float[] r, double[] dx, double[] dw, double[] dr, double[] db, double[] dhPrev) {
        for (int row = 0; row < gates * h; row++) {
            for (int i = 0; i < input; i++) {
                dw[row * input + i] += a[row] * x[xo + i];
                dx[xo + i] += a[row] * w[row * input + i];
            }
            if (hp != null) {
                for (int i = 0; i < h; i++) {
                    dr[row * h + i] += a[row] * hp[i];
                    dhPrev[i] += a[row] * r[row * h + i];
                }
            }
            db[row] += a[row];
        }
    }

    private static void store(double[] src, float[] dst) {
        if (dst != null) {
            for (int i = 0; i < src.length; i++) {
                dst[i] = (float) src[i];
            }
        }
    }

    // ---- helpers -------------------------------------------------------------------------------------------------

    private static void gemm(WorkerPool pool, int m, float[] a, int aOff, int lda, PackedMatrix b, float[] bias,
                             float[] c, int cOff, int ldc, boolean accumulate) {
        if (pool == null) {
            Gemm.gemm(m, a, aOff, lda, b, bias, c, cOff, ldc, accumulate, Epilogue.none());
        } else {
            Gemm.gemm(pool, m, a, aOff, lda, b, bias, c, cOff, ldc, accumulate, Epilogue.none());
        }
    }

    /** A per-thread array of at least {@code len} zeros (the zero initial state). */
    private static float[] zeros(int len) {
        float[] z = PanelScratch.work(T_ZERO, len);
        Arrays.fill(z, 0, len, 0f);
        return z;
    }

    private static void initState(float[] init, int off, float[] dst, int len) {
        if (init == null) {
            Arrays.fill(dst, 0, len, 0f);
        } else {
            System.arraycopy(init, off, dst, 0, len);
        }
    }

    /** The last state: the saved one, or with no step the initial one (zeros when absent). */
    private static void copyState(int seq, float[] saved, int at, float[] init, int initOff, float[] dst, int dstOff,
                                  int h) {
        if (seq > 0) {
            System.arraycopy(saved, at, dst, dstOff, h);
        } else if (init != null) {
            System.arraycopy(init, initOff, dst, dstOff, h);
        } else {
            Arrays.fill(dst, dstOff, dstOff + h, 0f);
        }
    }

    private static void checkRun(String op, int gates, int input, int h, int seq, int batch, float[] x, int xOff,
                                 float[] w, int wOff, float[] r, int rOff, float[] b, int bOff) {
        if (input <= 0 || h <= 0 || seq < 0 || batch < 0) {
            throw new IllegalArgumentException(op + ": invalid sizes input " + input + ", hidden " + h + ", seq " + seq
                    + ", batch " + batch);
        }
        span(op, "X", x, xOff, (long) seq * batch * input);
        span(op, "W", w, wOff, (long) gates * h * input);
        span(op, "R", r, rOff, (long) gates * h * h);
        if (b != null) {
            span(op, "B", b, bOff, 2L * gates * h);
        }
    }

    private static void span(String op, String name, float[] a, int off, long need) {
        Objects.requireNonNull(a, name);
        if (off < 0 || off + need > a.length) {
            throw new IllegalArgumentException(op + " " + name + " needs " + need + " floats from " + off
                    + ", array has " + a.length);
        }
    }
}
