package dev.kiln.runtime;

/**
 * The LSTM steps of a batch of one row split over a pool by hidden units ({@link Recurrent} at batch 1 with more
 * than one thread): one row cannot be split across threads, but each step's recurrent product can, and at batch 1
 * it is what a step costs, streaming R from L2 (256 KB for hidden 128). Each thread computes the gate columns of
 * its own units ({@link GemmKernel#matvecQuad}, four column pairs at a time) and then their gate math, so a step
 * hands off once.
 *
 * <p>GRU steps are not split: the same scheme for {@code linear_before_reset = 1} (z and r pairs, then Rh H + Rbh,
 * then the gates) ran gru at batch 1 in 50-60 µs on two threads in a plain loop, against 69 µs on one, but JMH
 * forks came out at 54 µs or at 114-122 µs (3 of 5), even with the same staging, and the cause was not found
 * (docs/BENCHMARKS.md, session 11).
 *
 * <p>Each thread works in its own stretch of a staging array, {@value #PAD} floats clear of the next one's: the
 * gate row holds the units of all threads side by side, and two threads writing either side of a boundary that
 * falls inside a cache line (where it falls depends on where the JVM placed the array) passed that line back and
 * forth a dozen times a step. Measured on lstm at batch 1 on 2 threads, per JVM: 67-76 µs per call when the
 * boundaries fell on line edges, 145 µs when they did not. A thread copies its units' input projections in and
 * writes its new H (and C) out once per step; the new H goes to a row of the scratch that nobody reads until the
 * step ends, and the caller then copies it over H.
 *
 * <p>Each lane's sums and gate math are those of the one-thread path, so the bits are too.
 */
final class RecurrentSteps {
    /** Hidden units whose four gate column pairs one {@link GemmKernel#matvecQuad} covers. */
    static final int UNITS = 2 * GemmKernel.SPECIES.length();
    /** Floats between two threads' staging: one cache line. */
    private static final int PAD = 16;

    private static final ThreadLocal<LstmStep> LSTM_STEPS = ThreadLocal.withInitial(LstmStep::new);

    private RecurrentSteps() {}

    /** Whether an LSTM of this hidden size splits by units: whole blocks of {@link #UNITS}. */
    static boolean splitsLstm(int hidden) {
        return hidden % UNITS == 0;
    }

    /**
     * One LSTM step of one row: the gate row at {@code go} holds the step's input projection (i, o, f, c, H
     * each); H at {@code h} and C at {@code c} are updated; the gate row's i slot is overwritten.
     */
    static void lstm(WorkerPool pool, Recurrent.LstmWeights wt, float[] s, int go, int h, int c, float clip) {
        int hid = wt.hidden();
        LstmStep step = LSTM_STEPS.get();
        step.set(wt, s, go, h, c, clip, hid / UNITS);
        try {
            pool.parallelForOwned(hid / UNITS, step);
        } finally {
            step.clear();
        }
        System.arraycopy(s, go, s, h, hid);
    }

    /**
     * A step's weights, arrays and staging, reused per calling thread. Blocks {@code [from, to)} of a thread stage
     * at {@code from * (SLOTS * UNITS + PAD) + PAD}: the i, o, f, c gates, C and the new H of its {@code len}
     * units, {@code len} floats each; the next thread's stretch starts at least PAD floats later.
     */
    private static final class LstmStep implements ThreadRangeBody {
        private static final int SLOTS = 6;
        private Recurrent.LstmWeights wt;
        private float[] s;
        private int go;
        private int h;
        private int c;
        private float clip;
        private float[] stage = new float[0];

        void set(Recurrent.LstmWeights wt, float[] s, int go, int h, int c, float clip, int blocks) {
            this.wt = wt;
            this.s = s;
            this.go = go;
            this.h = h;
            this.c = c;
            this.clip = clip;
            int need = blocks * (SLOTS * UNITS + PAD) + PAD;
            if (stage.length < need) {
                stage = new float[need]; // once per hidden size and calling thread
            }
        }

        /** Drops the references so a finished call does not keep the caller's arrays alive. */
        void clear() {
            wt = null;
            s = null;
        }

        @Override
        public void run(int thread, int from, int to) {
            int hid = wt.hidden();
            int u0 = from * UNITS;
            int len = (to - from) * UNITS;
            int st = from * (SLOTS * UNITS + PAD) + PAD;
            float[] g = stage;
            for (int gate = 0; gate < 4; gate++) {
                System.arraycopy(s, go + gate * hid + u0, g, st + gate * len, len);
            }
            System.arraycopy(s, c + u0, g, st + 4 * len, len);
            for (int u = 0; u < len; u += UNITS) {
                int col = u0 + u;
                GemmKernel.matvecQuad(s, h, wt.r(), col, hid + col, 2 * hid + col, 3 * hid + col, g, st + u,
                        st + len + u, st + 2 * len + u, st + 3 * len + u);
            }
            Recurrent.lstmGates(g, st, len, g, st + 4 * len, g, st + 5 * len, clip);
            System.arraycopy(g, st + 4 * len, s, c + u0, len);
            System.arraycopy(g, st + 5 * len, s, go + u0, len); // the consumed i slot: read by no thread now
        }
    }
}
