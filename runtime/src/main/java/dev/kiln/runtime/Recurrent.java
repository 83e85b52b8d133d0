package dev.kiln.runtime;

import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * One-direction LSTM and GRU forward passes (ONNX layout 0: X [seq, batch, input], Y [seq, 1, batch, hidden],
 * Y_h and Y_c [1, batch, hidden]) with the default activations (sigmoid, tanh, tanh), optional clip, GRU's
 * {@code linear_before_reset} either way, zero or given initial states, forward or reverse.
 *
 * <p>The input projection of all time steps is ONE GEMM (X[seq*batch, input] · W^T + biases) into the gate
 * buffer (a large batch projects step by step instead, see {@link #projectsPerStep}); each step then adds its
 * recurrent GEMM (H[batch, hidden] · R^T) to its rows of that buffer and runs the gate math ({@link GateMath})
 * vectorized along the hidden axis. With a pool, the batch rows are cut into blocks of about 16 rows, handed out
 * once per call, and each block runs its whole sequence on one thread ({@link #rowBlocks}). Biases are folded at
 * packing time: Wb + Rb for every gate, except GRU's Rbh with {@code linear_before_reset = 1}, which the reset gate
 * multiplies. The weights are packed once at compile time by {@link #packLstm} / {@link #packGru}. Peepholes, sequence_lens and non-default activations are
 * not handled here (the caller falls back to a general path). {@link #lstmScalar} and {@link #gruScalar} are the
 * ONNX equations written out plainly, for tests.
 */
public final class Recurrent {
    private static final VectorSpecies<Float> S = GemmKernel.SPECIES;
    private static final int VL = S.length();

    private Recurrent() {}

    /**
     * Packed LSTM weights of one direction.
     *
     * @param w W^T as [input x 4H] panels, gates in ONNX order i, o, f, c
     * @param r R^T as [hidden x 4H] panels
     * @param bias Wb + Rb, 4H floats
     */
    public record LstmWeights(int input, int hidden, PackedMatrix w, PackedMatrix r, float[] bias) {
        public LstmWeights {
            Objects.requireNonNull(w, "w");
            Objects.requireNonNull(r, "r");
            Objects.requireNonNull(bias, "bias");
            if (w.k() != input || w.n() != 4 * hidden || r.k() != hidden || r.n() != 4 * hidden
                    || bias.length != 4 * hidden) {
                throw new IllegalArgumentException("LSTM weights for input " + input + ", hidden " + hidden
                        + " need W^T " + input + "x" + 4 * hidden + ", R^T " + hidden + "x" + 4 * hidden + ", bias "
                        + 4 * hidden + "; got " + w + ", " + r + ", bias " + bias.length);
            }
        }
    }

    /**
     * Packed GRU weights of one direction.
     *
     * @param w W^T as [input x 3H] panels, gates in ONNX order z, r, h
     * @param rGates R^T of the z and r gates, [hidden x 2H]
     * @param rHidden R^T of the h gate, [hidden x H]
     * @param bias 3H floats added to the input projection: Wb + Rb, but only Wbh for the h gate when
     *             {@code linearBeforeReset}
     * @param hiddenBias H floats: Rbh when {@code linearBeforeReset}, else zeros
     */
    public record GruWeights(int input, int hidden, boolean linearBeforeReset, PackedMatrix w, PackedMatrix rGates,
                             PackedMatrix rHidden, float[] bias, float[] hiddenBias) {
        public GruWeights {
            Objects.requireNonNull(w, "w");
            Objects.requireNonNull(rGates, "rGates");
            Objects.requireNonNull(rHidden, "rHidden");
            Objects.requireNonNull(bias, "bias");
            Objects.requireNonNull(hiddenBias, "hiddenBias");
            if (w.k() != input || w.n() != 3 * hidden || rGates.k() != hidden || rGates.n() != 2 * hidden
                    || rHidden.k() != hidden || rHidden.n() != hidden || bias.length != 3 * hidden
                    || hiddenBias.length != hidden) {
                throw new IllegalArgumentException("GRU weights for input " + input + ", hidden " + hidden
                        + " need W^T " + input + "x" + 3 * hidden + ", R^T " + hidden + "x" + 2 * hidden + " and "
                        + hidden + "x" + hidden + ", biases " + 3 * hidden + " and " + hidden + "; got " + w + ", "
                        + rGates + ", " + rHidden + ", biases " + bias.length + ", " + hiddenBias.length);
            }
        }
    }

    /**
     * Packs one direction of ONNX LSTM weights (run at compile time).
     *
     * @param w W [4H, input] (ONNX [1, 4H, input])
     * @param r R [4H, H]
     * @param b B [8H] = Wb then Rb, or null for zeros
     */
    public static LstmWeights packLstm(float[] w, float[] r, float[] b, int input, int hidden) {
        checkLength("LSTM W", w, 4 * hidden * input);
        checkLength("LSTM R", r, 4 * hidden * hidden);
        float[] bias = new float[4 * hidden];
        if (b != null) {
            checkLength("LSTM B", b, 8 * hidden);
            for (int j = 0; j < 4 * hidden; j++) {
                bias[j] = b[j] + b[4 * hidden + j];
            }
        }
        return new LstmWeights(input, hidden, PackedMatrix.pack(w, 0, input, 4 * hidden, true),
                PackedMatrix.pack(r, 0, hidden, 4 * hidden, true), bias);
    }

    /**
     * Packs one direction of ONNX GRU weights (run at compile time).
     *
     * @param w W [3H, input]
     * @param r R [3H, H]
     * @param b B [6H] = Wb then Rb, or null for zeros
     */
    public static GruWeights packGru(float[] w, float[] r, float[] b, int input, int hidden, boolean linearBeforeReset) {
        checkLength("GRU W", w, 3 * hidden * input);
        checkLength("GRU R", r, 3 * hidden * hidden);
        float[] bias = new float[3 * hidden];
        float[] hiddenBias = new float[hidden];
        if (b != null) {
            checkLength("GRU B", b, 6 * hidden);
            for (int j = 0; j < 3 * hidden; j++) {
                boolean rbhInside = linearBeforeReset && j >= 2 * hidden;
                bias[j] = b[j] + (rbhInside ? 0f : b[3 * hidden + j]);
            }
            if (linearBeforeReset) {
                System.arraycopy(b, 5 * hidden, hiddenBias, 0, hidden);
            }
        }
        return new GruWeights(input, hidden, linearBeforeReset, PackedMatrix.pack(w, 0, input, 3 * hidden, true),
                PackedMatrix.pack(r, 0, hidden, 2 * hidden, true), PackedMatrix.pack(r, 2 * hidden * hidden, hidden,
                hidden, true), bias, hiddenBias);
    }

    /** Floats of scratch {@link #lstm} needs. */
    public static int lstmScratchLength(int hidden, int seq, int batch) {
        return (seq * 4 + 2) * batch * hidden;
    }

    /** Floats of scratch {@link #gru} needs. */
    public static int gruScratchLength(int hidden, int seq, int batch) {
        return (seq * 3 + 2) * batch * hidden;
    }

    /**
     * LSTM forward over {@code seq} steps.
     *
     * @param clip bound of every gate pre-activation, {@code Float.POSITIVE_INFINITY} for none
     * @param h0 initial hidden state [batch, H] from {@code h0Off}, or null for zeros; likewise c0
     * @param y all hidden states [seq, 1, batch, H], or null; {@code yh} the last hidden state, {@code yc} the last
     *          cell state ([1, batch, H] each), or null
     * @param scratch at least {@link #lstmScratchLength} floats
     * @param pool threads for the GEMMs, or null for the calling thread only
     */
    public static void lstm(LstmWeights wt, int seq, int batch, boolean reverse, float clip, float[] x, int xOff,
                            float[] h0, int h0Off, float[] c0, int c0Off, float[] y, int yOff, float[] yh, int yhOff,
                            float[] yc, int ycOff, float[] scratch, WorkerPool pool) {
        lstm(wt, seq, batch, reverse, clip, x, xOff, h0, h0Off, c0, c0Off, y, yOff, batch * wt.hidden(), yh, yhOff,
                yc, ycOff, scratch, pool);
    }

    /**
     * As the overload without {@code yStep}, writing step t's hidden states at {@code yOff + t * yStep}: a
     * bidirectional node's Y [seq, 2, batch, H] takes {@code yStep = 2 * batch * H} and, for the reverse
     * direction, {@code yOff} advanced by {@code batch * H}.
     */
    public static void lstm(LstmWeights wt, int seq, int batch, boolean reverse, float clip, float[] x, int xOff,
                            float[] h0, int h0Off, float[] c0, int c0Off, float[] y, int yOff, int yStep, float[] yh,
                            int yhOff, float[] yc, int ycOff, float[] scratch, WorkerPool pool) {
        int hid = wt.hidden();
        int g4 = 4 * hid;
        int bh = batch * hid;
        checkRun("LSTM", wt.input(), hid, seq, batch, x, xOff, scratch, lstmScratchLength(hid, seq, batch));
        boolean perStep = projectsPerStep(seq, batch, g4);
        int hs = (perStep ? 1 : seq) * batch * g4;
        int cs = hs + bh;
        initState(h0, h0Off, scratch, hs, bh);
        initState(c0, c0Off, scratch, cs, bh);
        if (!perStep) {
            gemm(pool, seq * batch, x, xOff, wt.input(), wt.w(), wt.bias(), scratch, 0, g4, false);
        }
        // With no initial state the first step's recurrent product is exactly zero; skipping it gives the same
        // bits (0 times a finite weight adds only signed zeros, which c0 = +0 absorbs into the same cell state).
        boolean zeroStart = h0 == null && c0 == null && wt.r().allFinite();
        sequences(wt, null, wt.input(), hid, g4, seq, batch, reverse, clip, x, xOff, perStep, zeroStart, y, yOff, yStep,
                scratch, hs, cs, pool);
        if (yh != null) {
            System.arraycopy(scratch, hs, yh, yhOff, bh);
        }
        if (yc != null) {
            System.arraycopy(scratch, cs, yc, ycOff, bh);
        }
    }

    /**
     * All steps of every batch row of an LSTM ({@code lstm} given) or a GRU ({@code gru} given; {@code aux} is the
     * cell state or the GRU's temporary), split over the pool's threads in row blocks when that pays.
     */
    private static void sequences(LstmWeights lstm, GruWeights gru, int input, int hid, int gates, int seq,
                                  int batch, boolean reverse, float clip, float[] x, int xOff, boolean perStep,
                                  boolean zeroStart, float[] y, int yOff, int yStep, float[] s, int hs, int aux,
                                  WorkerPool pool) {
        if (!splitsBatch(pool, seq, batch, input, hid, gates)) {
            sequence(lstm, gru, seq, batch, reverse, clip, x, xOff, perStep, zeroStart, y, yOff, yStep, s, hs, aux, 0,
                    batch);
            return;
        }
        SequenceTask task = SEQUENCE_TASKS.get();
        task.set(lstm, gru, seq, batch, reverse, clip, x, xOff, perStep, zeroStart, y, yOff, yStep, s, hs, aux,
                rowBlocks(batch, pool.threads()));
        try {
            pool.parallelForBalanced(task.blocks, task);
        } finally {
            task.clear();
        }
    }

    /** All steps of batch rows [b0, b1) of whichever cell is given. */
    private static void sequence(LstmWeights lstm, GruWeights gru, int seq, int batch, boolean reverse, float clip,
                                 float[] x, int xOff, boolean perStep, boolean zeroStart, float[] y, int yOff,
                                 int yStep, float[] s, int hs, int aux, int b0, int b1) {
        if (lstm != null) {
            lstmSequence(lstm, seq, batch, reverse, clip, x, xOff, perStep, zeroStart, y, yOff, yStep, s, hs, aux, b0,
                    b1);
        } else {
            gruSequence(gru, seq, batch, reverse, clip, x, xOff, perStep, zeroStart, y, yOff, yStep, s, hs, aux, b0,
                    b1);
        }
    }

    /**
     * All steps of batch rows [b0, b1): each row's states depend on no other row. {@code zeroStart}: the state
     * before the first step is zero, so that step has no recurrent product.
     */
    private static void lstmSequence(LstmWeights wt, int seq, int batch, boolean reverse, float clip, float[] x,
                                     int xOff, boolean perStep, boolean zeroStart, float[] y, int yOff, int yStep,
                                     float[] s, int hs, int cs, int b0, int b1) {
        int hid = wt.hidden();
        int g4 = 4 * hid;
        for (int step = 0; step < seq; step++) {
            int t = reverse ? seq - 1 - step : step;
            int gt = perStep ? 0 : t * batch * g4;
            lstmRows(wt, s, gt, hs, cs, b0, b1, clip, perStep ? x : null, xOff + t * batch * wt.input(),
                    zeroStart && step == 0);
            if (y != null) {
                System.arraycopy(s, hs + b0 * hid, y, yOff + t * yStep + b0 * hid, (b1 - b0) * hid);
            }
        }
    }

    /**
     * GRU forward over {@code seq} steps; parameters as {@link #lstm} without the cell state.
     *
     * @param scratch at least {@link #gruScratchLength} floats
     */
    public static void gru(GruWeights wt, int seq, int batch, boolean reverse, float clip, float[] x, int xOff,
                           float[] h0, int h0Off, float[] y, int yOff, float[] yh, int yhOff, float[] scratch,
                           WorkerPool pool) {
        gru(wt, seq, batch, reverse, clip, x, xOff, h0, h0Off, y, yOff, batch * wt.hidden(), yh, yhOff, scratch, pool);
    }

    /** As the overload without {@code yStep}, writing step t's hidden states at {@code yOff + t * yStep}. */
    public static void gru(GruWeights wt, int seq, int batch, boolean reverse, float clip, float[] x, int xOff,
                           float[] h0, int h0Off, float[] y, int yOff, int yStep, float[] yh, int yhOff,
                           float[] scratch, WorkerPool pool) {
        int hid = wt.hidden();
        int g3 = 3 * hid;
        int bh = batch * hid;
        checkRun("GRU", wt.input(), hid, seq, batch, x, xOff, scratch, gruScratchLength(hid, seq, batch));
        boolean perStep = projectsPerStep(seq, batch, g3);
        int hs = (perStep ? 1 : seq) * batch * g3;
        int tmp = hs + bh;
        initState(h0, h0Off, scratch, hs, bh);
        if (!perStep) {
            gemm(pool, seq * batch, x, xOff, wt.input(), wt.w(), wt.bias(), scratch, 0, g3, false);
        }
        // As in lstm: with H0 = 0 the first step's products add only signed zeros, which the blend with H0 = +0
        // absorbs, so skipping them gives the same bits.
        boolean zeroStart = h0 == null && wt.rGates().allFinite() && wt.rHidden().allFinite();
        sequences(null, wt, wt.input(), hid, g3, seq, batch, reverse, clip, x, xOff, perStep, zeroStart, y, yOff, yStep,
                scratch, hs, tmp, pool);
        if (yh != null) {
            System.arraycopy(scratch, hs, yh, yhOff, bh);
        }
    }

    /** All steps of batch rows [b0, b1), as {@link #lstmSequence}. */
    private static void gruSequence(GruWeights wt, int seq, int batch, boolean reverse, float clip, float[] x,
                                    int xOff, boolean perStep, boolean zeroStart, float[] y, int yOff, int yStep,
                                    float[] s, int hs, int tmp, int b0, int b1) {
        int hid = wt.hidden();
        int g3 = 3 * hid;
        for (int step = 0; step < seq; step++) {
            int t = reverse ? seq - 1 - step : step;
            int gt = perStep ? 0 : t * batch * g3;
            gruRows(wt, s, gt, hs, tmp, b0, b1, clip, perStep ? x : null, xOff + t * batch * wt.input(),
                    zeroStart && step == 0);
            if (y != null) {
                System.arraycopy(s, hs + b0 * hid, y, yOff + t * yStep + b0 * hid, (b1 - b0) * hid);
            }
        }
    }

    /**
     * Whether the batch is split over the pool for the whole sequence: each thread runs every step of its own
     * rows (their input projection, recurrent GEMM and gates), so a call hands off once, not once per step (28
     * hand-offs per lstm call kept 2 threads at 1.3x). Rows are independent and the GEMM gives a row the same bits
     * alone or in a batch, so any split gives the bits of one thread. Each thread needs at least one row, and
     * the whole call at least ~1 MFLOP (~20 µs) for the hand-off to pay.
     */
    private static boolean splitsBatch(WorkerPool pool, int seq, int batch, int input, int hid, int gates) {
        return pool != null && pool.threads() > 1 && batch >= 2
                && 2L * seq * batch * (input + hid) * gates > 1_000_000L;
    }

    /** Batch rows per block of a split sequence: two 6-row tiles and a 4-row one, with no row of a tile idle. */
    private static final int BLOCK_ROWS = 16;

    /**
     * Blocks the batch rows of a split sequence are cut into (block i is rows [batch*i/n, batch*(i+1)/n)), a
     * multiple of the threads so that equal shares are whole blocks. Each block runs its whole sequence on one
     * thread; {@link WorkerPool#parallelForBalanced} gives each thread the same blocks call after call and lets a
     * thread done with its own take an unstarted block of a thread that started late (one half per thread made
     * the call wait for the later thread's whole half). Blocks of about {@value #BLOCK_ROWS} rows also fill the
     * GEMM's row tiles: a half of 64 rows is 5 tiles of 6 and one of 2 rows computed as 4 (34 rows of FMAs for
     * 32), two blocks of 16 are exactly 32.
     */
    public static int rowBlocks(int batch, int threads) {
        int perThread = Math.max(1, Math.round(batch / (float) (BLOCK_ROWS * threads)));
        return Math.min(batch, threads * perThread);
    }

    /**
     * Whether the input projection runs step by step (each step's X_t · W^T + bias into one step's gate rows, just
     * before the recurrent GEMM adds to them) rather than once for all steps. All steps' gate rows of a large
     * batch exceed L2 (lstm at batch 64: 3.7 MB), so the one big projection wrote them out to memory and every
     * step read its rows back: in a profile of lstm at batch 64 the bias pass of that projection, waiting on
     * those lines, took 14 % of the time. A row's bits are the same either way (the GEMM gives them for a row
     * alone or in a batch); at batch 1 the whole buffer fits in L2 and one GEMM reads W^T once.
     */
    private static boolean projectsPerStep(int seq, int batch, int gates) {
        return seq > 1 && 4L * seq * batch * gates > 256 * 1024;
    }

    private static final ThreadLocal<SequenceTask> SEQUENCE_TASKS = ThreadLocal.withInitial(SequenceTask::new);

    /**
     * One call's split over batch rows, reused per calling thread: a capturing lambda per call would allocate
     * (the steady state allocates nothing, docs/BENCHMARKS.md).
     */
    private static final class SequenceTask implements ThreadRangeBody {
        private LstmWeights lstm;
        private GruWeights gru;
        private int seq;
        private int batch;
        private boolean reverse;
        private float clip;
        private float[] x;
        private int xOff;
        private boolean perStep;
        private boolean zeroStart;
        private float[] y;
        private int yOff;
        private int yStep;
        private float[] s;
        private int hs;
        /** The cell state (LSTM) or the GRU's temporary rows. */
        private int aux;
        /** Row blocks of the batch ({@link #rowBlocks}). */
        private int blocks;

        void set(LstmWeights lstm, GruWeights gru, int seq, int batch, boolean reverse, float clip, float[] x,
                 int xOff, boolean perStep, boolean zeroStart, float[] y, int yOff, int yStep, float[] s, int hs,
                 int aux, int blocks) {
            this.lstm = lstm;
            this.gru = gru;
            this.seq = seq;
            this.batch = batch;
            this.reverse = reverse;
            this.clip = clip;
            this.x = x;
            this.xOff = xOff;
            this.perStep = perStep;
            this.zeroStart = zeroStart;
            this.y = y;
            this.yOff = yOff;
            this.yStep = yStep;
            this.s = s;
            this.hs = hs;
            this.aux = aux;
            this.blocks = blocks;
        }

        /** Drops the references so a finished call does not keep the caller's arrays alive. */
        void clear() {
            lstm = null;
            gru = null;
            x = null;
            y = null;
            s = null;
        }

        /** Blocks {@code [from, to)}, one after the other, each its whole sequence. */
        @Override
        public void run(int thread, int from, int to) {
            for (int block = from; block < to; block++) {
                int b0 = (int) ((long) batch * block / blocks);
                int b1 = (int) ((long) batch * (block + 1) / blocks);
                sequence(lstm, gru, seq, batch, reverse, clip, x, xOff, perStep, zeroStart, y, yOff, yStep, s, hs, aux,
                        b0, b1);
            }
        }
    }

    /**
     * LSTM step for batch rows [b0, b1): their input projection when {@code x} is given (X_t from {@code xOff}),
     * the recurrent GEMM into their gate rows unless the state is zero, then their gates.
     */
    private static void lstmRows(LstmWeights wt, float[] s, int gt, int hs, int cs, int b0, int b1, float clip,
                                 float[] x, int xOff, boolean zeroState) {
        int hid = wt.hidden();
        int g4 = 4 * hid;
        if (x != null && !zeroState && GemmKernel.fusesTwo(wt.w(), wt.r())) {
            GemmKernel.tilesTwo(b0, b1, x, xOff, wt.input(), wt.w(), wt.bias(), s, hs, hid, wt.r(), s, gt, g4);
        } else {
            if (x != null) {
                Gemm.gemm(b1 - b0, x, xOff + b0 * wt.input(), wt.input(), wt.w(), wt.bias(), s, gt + b0 * g4, g4,
                        false, Epilogue.none());
            }
            if (!zeroState) {
                Gemm.gemm(b1 - b0, s, hs + b0 * hid, hid, wt.r(), null, s, gt + b0 * g4, g4, true, Epilogue.none());
            }
        }
        for (int b = b0; b < b1; b++) {
            lstmGates(s, gt + b * g4, s, hs + b * hid, cs + b * hid, hid, clip);
        }
    }

    /**
     * GRU step for batch rows [b0, b1), with their input projection when {@code x} is given and without the
     * recurrent products when the state is zero (as lstmRows).
     */
    private static void gruRows(GruWeights wt, float[] s, int gt, int hs, int tmp, int b0, int b1, float clip,
                                float[] x, int xOff, boolean zeroState) {
        int hid = wt.hidden();
        int g3 = 3 * hid;
        int m = b1 - b0;
        if (x != null && !zeroState && GemmKernel.fusesTwo(wt.w(), wt.rGates())) {
            // X_t · W^T + bias for all three gates, + H · R_zr^T for z and r, in one pass over the tiles
            GemmKernel.tilesTwo(b0, b1, x, xOff, wt.input(), wt.w(), wt.bias(), s, hs, hid, wt.rGates(), s, gt, g3);
        } else {
            if (x != null) {
                Gemm.gemm(m, x, xOff + b0 * wt.input(), wt.input(), wt.w(), wt.bias(), s, gt + b0 * g3, g3, false,
                        Epilogue.none());
            }
            // z and r: their 2H columns of the step's gate rows accumulate H · R_zr^T.
            if (!zeroState) {
                Gemm.gemm(m, s, hs + b0 * hid, hid, wt.rGates(), null, s, gt + b0 * g3, g3, true, Epilogue.none());
            }
        }
        if (wt.linearBeforeReset()) {
            if (zeroState) {
                for (int b = b0; b < b1; b++) {
                    System.arraycopy(wt.hiddenBias(), 0, s, tmp + b * hid, hid); // 0 · Rh^T + Rbh
                }
            } else {
                Gemm.gemm(m, s, hs + b0 * hid, hid, wt.rHidden(), wt.hiddenBias(), s, tmp + b0 * hid, hid, false,
                        Epilogue.none());
            }
            for (int b = b0; b < b1; b++) {
                gruGatesLinearBeforeReset(s, gt + b * g3, tmp + b * hid, hs + b * hid, hid, clip);
            }
        } else {
            for (int b = b0; b < b1; b++) {
                gruResetHidden(s, gt + b * g3, hs + b * hid, tmp + b * hid, hid, clip);
            }
            if (!zeroState) {
                Gemm.gemm(m, s, tmp + b0 * hid, hid, wt.rHidden(), null, s, gt + b0 * g3 + 2 * hid, g3, true,
                        Epilogue.none());
            }
            for (int b = b0; b < b1; b++) {
                gruUpdate(s, gt + b * g3, hs + b * hid, hid, clip);
            }
        }
    }

    // ---- gate math, vectorized along the hidden axis ---------------------------------------------------------
    //
    // The activations are GateMath's array passes over the gate row, whose loops call no method with a vector:
    // a vector crossing a call C2 did not inline is boxed (measured: 4-8 KB allocated per LSTM step of batch 1
    // when two activations shared a loop through VectorMath calls). RecurrentTraining runs the same passes on the
    // same lanes, so its forward gives these bits.

    /**
     * One batch row of LSTM gates: g holds i, o, f, c pre-activations (H each); updates C at {@code c} and H at
     * {@code h} in place (the gate row is overwritten with the activations).
     */
    private static void lstmGates(float[] g, int go, float[] st, int h, int c, int hid, float clip) {
        sigmoidInPlace(g, go, 3 * hid, clip);
        tanh(g, go + 3 * hid, g, go + 3 * hid, hid, clip);
        int j = 0;
        for (int bound = S.loopBound(hid); j < bound; j += VL) {
            FloatVector i = FloatVector.fromArray(S, g, go + j);
            FloatVector f = FloatVector.fromArray(S, g, go + 2 * hid + j);
            FloatVector cc = FloatVector.fromArray(S, g, go + 3 * hid + j);
            f.mul(FloatVector.fromArray(S, st, c + j)).add(i.mul(cc)).intoArray(st, c + j);
        }
        for (; j < hid; j++) {
            st[c + j] = g[go + 2 * hid + j] * st[c + j] + g[go + j] * g[go + 3 * hid + j];
        }
        // tanh(C) into the c gate's slot, which is consumed
        tanh(st, c, g, go + 3 * hid, hid, Float.POSITIVE_INFINITY);
        j = 0;
        for (int bound = S.loopBound(hid); j < bound; j += VL) {
            FloatVector.fromArray(S, g, go + hid + j).mul(FloatVector.fromArray(S, g, go + 3 * hid + j))
                    .intoArray(st, h + j);
        }
        for (; j < hid; j++) {
            st[h + j] = g[go + hid + j] * g[go + 3 * hid + j];
        }
    }

    /** GRU, linear_before_reset = 0, first half: z and r activated in place, and r (.) H into {@code rh}. */
    private static void gruResetHidden(float[] s, int go, int h, int rh, int hid, float clip) {
        sigmoidInPlace(s, go, 2 * hid, clip);
        int j = 0;
        for (int bound = S.loopBound(hid); j < bound; j += VL) {
            FloatVector.fromArray(S, s, go + hid + j).mul(FloatVector.fromArray(S, s, h + j)).intoArray(s, rh + j);
        }
        for (; j < hid; j++) {
            s[rh + j] = s[go + hid + j] * s[h + j];
        }
    }

    /** GRU, linear_before_reset = 0, second half: H = (1 - z) h~ + z H with h~ = tanh(gate h). */
    private static void gruUpdate(float[] s, int go, int h, int hid, float clip) {
        tanh(s, go + 2 * hid, s, go + 2 * hid, hid, clip);
        blendHidden(s, go, h, hid);
    }

    /** GRU, linear_before_reset = 1: h~ = tanh(Wh x + Wbh + r (.) (Rh H + Rbh)), the latter already at {@code hr}. */
    private static void gruGatesLinearBeforeReset(float[] s, int go, int hr, int h, int hid, float clip) {
        sigmoidInPlace(s, go, 2 * hid, clip);
        int j = 0;
        for (int bound = S.loopBound(hid); j < bound; j += VL) {
            FloatVector r = FloatVector.fromArray(S, s, go + hid + j);
            r.fma(FloatVector.fromArray(S, s, hr + j), FloatVector.fromArray(S, s, go + 2 * hid + j))
                    .intoArray(s, go + 2 * hid + j);
        }
        for (; j < hid; j++) {
            s[go + 2 * hid + j] = s[go + hid + j] * s[hr + j] + s[go + 2 * hid + j];
        }
        tanh(s, go + 2 * hid, s, go + 2 * hid, hid, clip);
        blendHidden(s, go, h, hid);
    }

    /** H = (1 - z) h~ + z H = (H - h~) z + h~, with z and h~ activated in the gate row. */
    private static void blendHidden(float[] s, int go, int h, int hid) {
        int j = 0;
        for (int bound = S.loopBound(hid); j < bound; j += VL) {
            FloatVector z = FloatVector.fromArray(S, s, go + j);
            FloatVector ht = FloatVector.fromArray(S, s, go + 2 * hid + j);
            FloatVector.fromArray(S, s, h + j).sub(ht).fma(z, ht).intoArray(s, h + j);
        }
        for (; j < hid; j++) {
            float ht = s[go + 2 * hid + j];
            s[h + j] = (s[h + j] - ht) * s[go + j] + ht;
        }
    }

    /** a = sigmoid(clip(a)) over {@code len} floats. */
    private static void sigmoidInPlace(float[] a, int off, int len, float clip) {
        GateMath.sigmoid(a, off, a, off, len, clip);
    }

    /** dst = tanh(clip(src)) over {@code len} floats (the two ranges equal or disjoint). */
    private static void tanh(float[] src, int srcOff, float[] dst, int dstOff, int len, float clip) {
        GateMath.tanh(src, srcOff, dst, dstOff, len, clip);
    }

    private static void gemm(WorkerPool pool, int m, float[] a, int aOff, int lda, PackedMatrix b, float[] bias,
                             float[] c, int cOff, int ldc, boolean accumulate) {
        if (pool == null) {
            Gemm.gemm(m, a, aOff, lda, b, bias, c, cOff, ldc, accumulate, Epilogue.none());
        } else {
            Gemm.gemm(pool, m, a, aOff, lda, b, bias, c, cOff, ldc, accumulate, Epilogue.none());
        }
    }

    private static void initState(float[] init, int off, float[] s, int at, int len) {
        if (init == null) {
            java.util.Arrays.fill(s, at, at + len, 0f);
        } else {
            System.arraycopy(init, off, s, at, len);
        }
    }

    private static void checkLength(String what, float[] a, int want) {
        Objects.requireNonNull(a, what);
        if (a.length != want) {
            throw new IllegalArgumentException(what + " has " + a.length + " floats, expected " + want);
        }
    }

    private static void checkRun(String op, int input, int hid, int seq, int batch, float[] x, int xOff,
                                 float[] scratch, int scratchWanted) {
        if (seq < 0 || batch < 0) {
            throw new IllegalArgumentException(op + ": negative seq " + seq + " or batch " + batch);
        }
        if (xOff < 0 || (long) xOff + (long) seq * batch * input > x.length) {
            throw new IllegalArgumentException(op + " X [" + seq + ", " + batch + ", " + input + "] needs "
                    + (long) seq * batch * input + " floats from " + xOff + ", array has " + x.length);
        }
        if (scratch.length < scratchWanted) {
            throw new IllegalArgumentException(op + " (hidden " + hid + ", seq " + seq + ", batch " + batch
                    + "): scratch has " + scratch.length + " floats, needs " + scratchWanted);
        }
    }

    // ---- scalar twins: the ONNX equations, in double --------------------------------------------------------

    /**
     * Plain LSTM on ONNX weights W [4H, input], R [4H, H], B [8H] (or null), gates i, o, f, c:
     * it = σ(Xt Wi^T + Ht-1 Ri^T + Wbi + Rbi), likewise ft, ot; ct = tanh(...);
     * Ct = ft ⊙ Ct-1 + it ⊙ ct; Ht = ot ⊙ tanh(Ct). Clip bounds each gate's argument.
     */
    public static void lstmScalar(int input, int hid, float[] w, float[] r, float[] b, int seq, int batch,
                                  boolean reverse, float clip, float[] x, float[] h0, float[] c0, float[] y,
                                  float[] yh, float[] yc) {
        double[] h = new double[batch * hid];
        double[] c = new double[batch * hid];
        for (int i = 0; i < batch * hid; i++) {
            h[i] = h0 == null ? 0 : h0[i];
            c[i] = c0 == null ? 0 : c0[i];
        }
        for (int step = 0; step < seq; step++) {
            int t = reverse ? seq - 1 - step : step;
            double[] hNext = new double[batch * hid];
            for (int bi = 0; bi < batch; bi++) {
                for (int j = 0; j < hid; j++) {
                    double[] gate = new double[4];
                    for (int gi = 0; gi < 4; gi++) {
                        gate[gi] = clip(linear(input, hid, w, r, b, 4, gi, j, x, (t * batch + bi) * input, h,
                                bi * hid), clip);
                    }
                    double it = sigmoid(gate[0]);
                    double ot = sigmoid(gate[1]);
                    double ft = sigmoid(gate[2]);
                    double ct = Math.tanh(gate[3]);
                    int k = bi * hid + j;
                    c[k] = ft * c[k] + it * ct;
                    hNext[k] = ot * Math.tanh(c[k]);
                }
            }
            h = hNext;
            if (y != null) {
                for (int k = 0; k < batch * hid; k++) {
                    y[t * batch * hid + k] = (float) h[k];
                }
            }
        }
        for (int k = 0; k < batch * hid; k++) {
            if (yh != null) {
                yh[k] = (float) h[k];
            }
            if (yc != null) {
                yc[k] = (float) c[k];
            }
        }
    }

    /**
     * Plain GRU on ONNX weights W [3H, input], R [3H, H], B [6H] (or null), gates z, r, h:
     * zt = σ(Xt Wz^T + Ht-1 Rz^T + Wbz + Rbz), rt likewise; ht = tanh(Xt Wh^T + (rt ⊙ Ht-1) Rh^T + Rbh + Wbh),
     * or with linear_before_reset tanh(Xt Wh^T + rt ⊙ (Ht-1 Rh^T + Rbh) + Wbh); Ht = (1 - zt) ⊙ ht + zt ⊙ Ht-1.
     */
    public static void gruScalar(int input, int hid, float[] w, float[] r, float[] b, boolean linearBeforeReset,
                                 int seq, int batch, boolean reverse, float clip, float[] x, float[] h0, float[] y,
                                 float[] yh) {
        double[] h = new double[batch * hid];
        for (int i = 0; i < batch * hid; i++) {
            h[i] = h0 == null ? 0 : h0[i];
        }
        for (int step = 0; step < seq; step++) {
            int t = reverse ? seq - 1 - step : step;
            double[] hNext = new double[batch * hid];
            for (int bi = 0; bi < batch; bi++) {
                int xo = (t * batch + bi) * input;
                double[] z = new double[hid];
                double[] rt = new double[hid];
                double[] resetHidden = new double[batch * hid];
                for (int j = 0; j < hid; j++) {
                    z[j] = sigmoid(clip(linear(input, hid, w, r, b, 3, 0, j, x, xo, h, bi * hid), clip));
                    rt[j] = sigmoid(clip(linear(input, hid, w, r, b, 3, 1, j, x, xo, h, bi * hid), clip));
                }
                for (int k = 0; k < hid; k++) {
                    resetHidden[bi * hid + k] = rt[k] * h[bi * hid + k];
                }
                for (int j = 0; j < hid; j++) {
                    int row = 2 * hid + j;
                    double wx = 0;
                    for (int k = 0; k < input; k++) {
                        wx += (double) x[xo + k] * w[row * input + k];
                    }
                    double wb = b == null ? 0 : b[row];
                    double rb = b == null ? 0 : b[3 * hid + row];
                    double pre;
                    if (linearBeforeReset) {
                        double rh = 0;
                        for (int k = 0; k < hid; k++) {
                            rh += h[bi * hid + k] * r[row * hid + k];
                        }
                        pre = wx + rt[j] * (rh + rb) + wb;
                    } else {
                        double rh = 0;
                        for (int k = 0; k < hid; k++) {
                            rh += resetHidden[bi * hid + k] * r[row * hid + k];
                        }
                        pre = wx + rh + rb + wb;
                    }
                    double ht = Math.tanh(clip(pre, clip));
                    hNext[bi * hid + j] = (1 - z[j]) * ht + z[j] * h[bi * hid + j];
                }
            }
            h = hNext;
            if (y != null) {
                for (int k = 0; k < batch * hid; k++) {
                    y[t * batch * hid + k] = (float) h[k];
                }
            }
        }
        if (yh != null) {
            for (int k = 0; k < batch * hid; k++) {
                yh[k] = (float) h[k];
            }
        }
    }

    /** Xt W_gate[j]^T + Ht-1 R_gate[j]^T + Wb + Rb for one gate row of a cell with {@code gates} gates. */
    private static double linear(int input, int hid, float[] w, float[] r, float[] b, int gates, int gate, int j,
                                 float[] x, int xo, double[] h, int ho) {
        int row = gate * hid + j;
        double sum = 0;
        for (int k = 0; k < input; k++) {
            sum += (double) x[xo + k] * w[row * input + k];
        }
        for (int k = 0; k < hid; k++) {
            sum += h[ho + k] * r[row * hid + k];
        }
        if (b != null) {
            sum += b[row] + b[gates * hid + row];
        }
        return sum;
    }

    private static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    private static double clip(double x, float clip) {
        return Math.min(Math.max(x, -clip), clip);
    }
}
