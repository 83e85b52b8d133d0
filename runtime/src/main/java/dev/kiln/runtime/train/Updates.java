package dev.kiln.runtime.train;

import dev.kiln.runtime.IntRangeBody;
import dev.kiln.runtime.WorkerPool;
import java.util.Objects;

/** Checks an optimizer call's arguments against its state, then runs the update kernel on each parameter. */
final class Updates {

    private Updates() { }

    static void update(Optimizer opt, int step, float[][] params, int[] paramOffsets, float[][] grads,
                       int[] gradOffsets, OptimizerState state, boolean vector) {
        update(opt, step, params, paramOffsets, grads, gradOffsets, state, vector, null);
    }

    /**
     * The update, with the elements split over {@code pool} (or null) in runs of {@value #RUN} when there are more
     * than one run's worth: every element's update reads only its own parameter, gradient and state, and a run
     * starts on a whole vector, so the bits do not depend on the split.
     */
    static void update(Optimizer opt, int step, float[][] params, int[] paramOffsets, float[][] grads,
                       int[] gradOffsets, OptimizerState state, boolean vector, WorkerPool pool) {
        check(opt, step, params, paramOffsets, grads, gradOffsets, state);
        int runs = 0;
        for (int i = 0; i < params.length; i++) {
            runs += Math.ceilDiv(state.size(i), RUN);
        }
        if (pool == null || pool.threads() == 1 || runs < 2) {
            for (int i = 0; i < params.length; i++) {
                apply(opt, step, params, paramOffsets, grads, gradOffsets, state, vector, i, 0, state.size(i));
            }
        } else {
            UpdateTask task = TASKS.get();
            task.set(opt, step, params, paramOffsets, grads, gradOffsets, state, vector);
            try {
                pool.parallelFor(runs, task);
            } finally {
                task.clear();
            }
        }
        state.advance();
    }

    /** Elements per run of a split update: a multiple of every vector length, ~10 µs of Adam. */
    private static final int RUN = 16 * 1024;

    /** Elements {@code [from, from + n)} of parameter {@code i}. */
    private static void apply(Optimizer opt, int step, float[][] params, int[] paramOffsets, float[][] grads,
                              int[] gradOffsets, OptimizerState state, boolean vector, int i, int from, int n) {
        float[] p = params[i];
        float[] g = grads[i];
        int po = (paramOffsets == null ? 0 : paramOffsets[i]) + from;
        int go = (gradOffsets == null ? 0 : gradOffsets[i]) + from;
        switch (opt) {
            case Sgd s -> SgdKernel.apply(s, step, p, po, g, go, n, s.momentum() != 0 ? state.buffer(0, i) : null,
                    from, vector);
            case Adam a -> AdamKernel.apply(a.lr(), a.beta1(), a.beta2(), a.eps(), a.weightDecay(), 0,
                    a.maximize(), step, p, po, g, go, state.buffer(0, i), state.buffer(1, i),
                    a.amsgrad() ? state.buffer(2, i) : null, n, from, vector);
            case AdamW w -> AdamKernel.apply(w.lr(), w.beta1(), w.beta2(), w.eps(), 0, w.weightDecay(),
                    w.maximize(), step, p, po, g, go, state.buffer(0, i), state.buffer(1, i),
                    w.amsgrad() ? state.buffer(2, i) : null, n, from, vector);
            case RmsProp r -> {
                // Buffers in PyTorch's order: square_avg, then momentum_buffer and grad_avg when kept.
                boolean momentum = r.momentum() > 0;
                RmsPropKernel.apply(r, p, po, g, go, n, state.buffer(0, i), momentum ? state.buffer(1, i) : null,
                        r.centered() ? state.buffer(momentum ? 2 : 1, i) : null, from, vector);
            }
            case Adagrad a -> AdagradKernel.apply(a, step, p, po, g, go, n, state.buffer(0, i), from, vector);
        }
    }

    private static final ThreadLocal<UpdateTask> TASKS = ThreadLocal.withInitial(UpdateTask::new);

    /** One split update's arguments, reused per calling thread; index r is the r-th run over all parameters. */
    private static final class UpdateTask implements IntRangeBody {
        private Optimizer opt;
        private int step;
        private float[][] params;
        private int[] paramOffsets;
        private float[][] grads;
        private int[] gradOffsets;
        private OptimizerState state;
        private boolean vector;

        void set(Optimizer opt, int step, float[][] params, int[] paramOffsets, float[][] grads, int[] gradOffsets,
                 OptimizerState state, boolean vector) {
            this.opt = opt;
            this.step = step;
            this.params = params;
            this.paramOffsets = paramOffsets;
            this.grads = grads;
            this.gradOffsets = gradOffsets;
            this.state = state;
            this.vector = vector;
        }

        void clear() {
            opt = null;
            params = null;
            paramOffsets = null;
            grads = null;
            gradOffsets = null;
            state = null;
        }

        @Override
        public void run(int from, int to) {
            int i = 0;
            int first = 0; // index of parameter i's first run
            for (int r = from; r < to; r++) {
                while (r >= first + Math.ceilDiv(state.size(i), RUN)) {
                    first += Math.ceilDiv(state.size(i), RUN);
                    i++;
                }
                int start = (r - first) * RUN;
                apply(opt, step, params, paramOffsets, grads, gradOffsets, state, vector, i, start,
                        Math.min(RUN, state.size(i) - start));
            }
        }
    }

    /**
     * Everything an update could trip over, checked before any parameter is touched. The SPEC that names the
     * optimizer in a message is built only when one is thrown: a step in steady state allocates nothing.
     */
    private static void check(Optimizer opt, int step, float[][] params, int[] paramOffsets, float[][] grads,
                              int[] gradOffsets, OptimizerState state) {
        Objects.requireNonNull(params, "params");
        Objects.requireNonNull(grads, "grads");
        Objects.requireNonNull(state, "state");
        if (!state.optimizer().equals(opt.name()) || !state.slotNames().equals(opt.slotNames())) {
            throw new IllegalArgumentException(opt.spec() + ": state was made for " + state.optimizer() + " with buffers "
                    + state.slotNames() + ", this optimizer keeps " + opt.slotNames());
        }
        if (step != state.steps() + 1) {
            throw new IllegalArgumentException(opt.spec() + ": step " + step + " but the state has taken " + state.steps()
                    + " steps; expected step " + (state.steps() + 1));
        }
        int count = state.parameterCount();
        if (params.length != count || grads.length != count) {
            throw new IllegalArgumentException(opt.spec() + ": state has " + count + " parameters, got " + params.length
                    + " parameter and " + grads.length + " gradient arrays");
        }
        if (paramOffsets != null && paramOffsets.length != count || gradOffsets != null && gradOffsets.length != count) {
            throw new IllegalArgumentException(opt.spec() + ": offsets arrays must have " + count + " entries");
        }
        for (int i = 0; i < count; i++) {
            int n = state.size(i);
            checkSpan(opt, "parameter", i, params[i], paramOffsets == null ? 0 : paramOffsets[i], n);
            checkSpan(opt, "gradient", i, grads[i], gradOffsets == null ? 0 : gradOffsets[i], n);
        }
    }

    private static void checkSpan(Optimizer opt, String kind, int i, float[] x, int off, int n) {
        if (x == null) {
            throw new IllegalArgumentException(opt.spec() + ": " + kind + " " + i + " is null");
        }
        if (off < 0 || (long) off + n > x.length) {
            throw new IllegalArgumentException(opt.spec() + ": " + kind + " " + i + " needs " + n + " floats at offset "
                    + off + ", array has " + x.length);
        }
    }
}
