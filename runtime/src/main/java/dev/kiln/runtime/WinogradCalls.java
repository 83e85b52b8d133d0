package dev.kiln.runtime;

import java.util.Objects;

/**
 * What the Winograd kernels ({@link WinogradConv}, {@link WinogradF4Conv}) share around their tile loops: argument
 * checks, the split of a batch's tiles over a {@link WorkerPool} (every tile computed the same way whichever thread
 * runs it, so the bits do not depend on the split) and per-thread {@link PackedMatrix} views of packed weights.
 */
final class WinogradCalls {
    private WinogradCalls() {}

    /** Below this many FLOPs (~20 µs) a call stays on the calling thread. */
    private static final double PARALLEL_MIN_FLOPS = 1_000_000;

    /** One Winograd variant: its geometry and its tile loop. */
    interface Variant {
        /** The variant as messages name it, e.g. {@code F(2x2,3x3)}. */
        String describe();

        boolean supports(ConvShape s);

        int packedWeightLength(ConvShape s);

        int scratchLength(ConvShape s);

        /** Columns of the packed weights: the transformed window's frequencies times the padded output channels. */
        int weightColumns(ConvShape s);

        /** Tiles a call over {@code batch} images computes (with or without the fused pool). */
        int tiles(ConvShape s, int batch, boolean maxPool);

        /** Tiles {@code [t0, t1)} of the batch (numbered image by image, row-major within an image). */
        void run(ConvShape s, float[] in, int inOff, PackedMatrix u, float[] bias, float[] out, int outOff,
                 float[] scratch, Epilogue ep, boolean maxPool, int t0, int t1);
    }

    /** Output floats of one image: [M, outH, outW], or [M, outH / 2, outW / 2] with the fused max pool. */
    static int outSize(ConvShape s, boolean maxPool) {
        return maxPool ? s.m() * (s.outH() / 2) * (s.outW() / 2) : s.outSize();
    }

    /** Tiles {@code [t0, t1)} on the calling thread, after checking the arguments. */
    static void run(Variant v, ConvShape s, int batch, float[] in, int inOff, float[] packedWeights, float[] bias,
                    float[] out, int outOff, float[] scratch, Epilogue ep, boolean maxPool, int t0, int t1) {
        check(v, s, batch, in, inOff, packedWeights, bias, out, outOff, scratch, ep, maxPool);
        int total = v.tiles(s, batch, maxPool);
        if (t0 < 0 || t1 > total || t0 > t1) {
            throw new IllegalArgumentException("conv " + s + " x " + batch + ": tiles [" + t0 + ", " + t1 + ") of "
                    + total);
        }
        v.run(s, in, inOff, weights(v, s, packedWeights), bias, out, outOff, scratch, ep, maxPool, t0, t1);
    }

    /** All tiles of the batch split evenly over the threads of {@code pool}, each with its own scratch. */
    static void run(Variant v, ConvShape s, int batch, float[] in, int inOff, float[] packedWeights, float[] bias,
                    float[] out, int outOff, float[][] scratch, Epilogue ep, WorkerPool pool, boolean maxPool) {
        Objects.requireNonNull(pool, "pool");
        if (scratch.length < pool.threads()) {
            throw new IllegalArgumentException("conv " + s + ": " + scratch.length + " scratch arrays for "
                    + pool.threads() + " threads");
        }
        for (int t = 0; t < pool.threads(); t++) {
            check(v, s, batch, in, inOff, packedWeights, bias, out, outOff, scratch[t], ep, maxPool);
        }
        int total = v.tiles(s, batch, maxPool);
        PackedMatrix u = weights(v, s, packedWeights);
        if (pool.threads() == 1 || (double) s.flops() * batch < PARALLEL_MIN_FLOPS) {
            v.run(s, in, inOff, u, bias, out, outOff, scratch[0], ep, maxPool, 0, total);
            return;
        }
        Task task = TASKS.get();
        task.set(v, s, in, inOff, u, bias, out, outOff, scratch, ep, maxPool, total, pool.threads());
        try {
            pool.parallelFor(pool.threads(), task);
        } finally {
            task.clear();
        }
    }

    private static final ThreadLocal<Task> TASKS = ThreadLocal.withInitial(Task::new);

    /** One threaded call's arguments, reused per calling thread so a call allocates nothing. */
    private static final class Task implements IntRangeBody {
        private Variant v;
        private ConvShape s;
        private float[] in;
        private int inOff;
        private PackedMatrix u;
        private float[] bias;
        private float[] out;
        private int outOff;
        private float[][] scratch;
        private Epilogue ep;
        private boolean maxPool;
        private int total;
        private int parts;

        void set(Variant v, ConvShape s, float[] in, int inOff, PackedMatrix u, float[] bias, float[] out,
                 int outOff, float[][] scratch, Epilogue ep, boolean maxPool, int total, int parts) {
            this.v = v;
            this.s = s;
            this.in = in;
            this.inOff = inOff;
            this.u = u;
            this.bias = bias;
            this.out = out;
            this.outOff = outOff;
            this.scratch = scratch;
            this.ep = ep;
            this.maxPool = maxPool;
            this.total = total;
            this.parts = parts;
        }

        void clear() {
            in = null;
            u = null;
            bias = null;
            out = null;
            scratch = null;
        }

        @Override
        public void run(int from, int to) {
            for (int p = from; p < to; p++) {
                int t0 = (int) ((long) total * p / parts);
                int t1 = (int) ((long) total * (p + 1) / parts);
                v.run(s, in, inOff, u, bias, out, outOff, scratch[p], ep, maxPool, t0, t1);
            }
        }
    }

    /**
     * A {@link PackedMatrix} view of packed weights, cached per thread by array identity (a few entries, one per
     * Winograd layer of a model), so a steady-state call allocates nothing.
     */
    private static final ThreadLocal<PackedMatrix[]> VIEWS = ThreadLocal.withInitial(() -> new PackedMatrix[8]);

    static PackedMatrix weights(Variant variant, ConvShape s, float[] packed) {
        PackedMatrix[] views = VIEWS.get();
        int n = variant.weightColumns(s);
        for (PackedMatrix v : views) {
            if (v != null && v.data() == packed && v.k() == s.c() && v.n() == n) {
                return v;
            }
        }
        PackedMatrix v = PackedMatrix.view(packed, s.c(), n);
        System.arraycopy(views, 0, views, 1, views.length - 1);
        views[0] = v;
        return v;
    }

    private static void check(Variant v, ConvShape s, int batch, float[] in, int inOff, float[] w, float[] bias,
                              float[] out, int outOff, float[] scratch, Epilogue ep, boolean maxPool) {
        Objects.requireNonNull(ep, "ep");
        if (!v.supports(s)) {
            throw new IllegalArgumentException("conv " + s + ": not a Winograd " + v.describe() + " shape");
        }
        if (batch < 0 || inOff < 0 || outOff < 0 || (long) inOff + (long) batch * s.inSize() > in.length
                || (long) outOff + (long) batch * outSize(s, maxPool) > out.length
                || w.length != v.packedWeightLength(s)
                || (bias != null && bias.length < s.m()) || scratch.length < v.scratchLength(s)) {
            throw new IllegalArgumentException("winograd " + v.describe() + " conv " + s + " x " + batch + ": input "
                    + in.length + " from " + inOff + ", output " + out.length + " from " + outOff + ", packed weights "
                    + w.length + " (need " + v.packedWeightLength(s) + "), bias " + (bias == null ? "none"
                    : bias.length) + ", scratch " + scratch.length + " (need " + v.scratchLength(s) + ")");
        }
    }
}
