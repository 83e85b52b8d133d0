package dev.kiln.runtime;

/**
 * The planes of a pooling call (forward in {@link Pooling}, backward in {@code train.PoolGrad}) split over a
 * {@link WorkerPool}: when a call has enough window taps to pay for the hand-off, its planes are cut into at most
 * {@value #UNITS} units of consecutive planes for {@link WorkerPool#parallelForBalanced} (a plane is ~0.1 µs:
 * claiming planes one by one would cost more than they take). A plane's result never depends on the split.
 * Subclasses hold one call's arguments and are reused per calling thread, so a call allocates nothing.
 */
public abstract class PlaneSplit implements ThreadRangeBody {
    /** Work units of a split: enough for an even share per thread, few enough that claiming them costs nothing. */
    private static final int UNITS = 64;
    /**
     * Window taps of all planes above which splitting pays: ~10 µs. The 2x2 pools run at ~3 taps per ns:
     * mnist_cnn's pools at batch 64 (368,640 and 81,920 taps) took ~60 and ~30 µs on one thread; at batch 1
     * (5,760 and 1,280 taps, 1-2 µs) a hand-off would cost more than it saves.
     */
    private static final long SPLIT_TAPS = 30_000L;

    private int planes;
    private int perUnit;

    /** Whether a call over {@code planes} planes of {@code s} goes to {@code pool} (null: never). */
    public static boolean splits(PoolShape s, int planes, WorkerPool pool) {
        return pool != null && pool.threads() > 1 && planes > 1
                && (long) planes * s.outPlane() * s.kh() * s.kw() > SPLIT_TAPS;
    }

    /** Runs {@link #planes} over {@code planes} planes on {@code pool}, then drops the call's arrays. */
    protected final void runOn(WorkerPool pool, int planes) {
        this.planes = planes;
        this.perUnit = Math.ceilDiv(planes, UNITS);
        try {
            pool.parallelForBalanced(Math.ceilDiv(planes, perUnit), this);
        } finally {
            clear();
        }
    }

    @Override
    public final void run(int thread, int from, int to) {
        int p0 = from * perUnit;
        planes(p0, Math.min(planes, to * perUnit) - p0);
    }

    /** The call's work for planes {@code [p0, p0 + count)}. */
    protected abstract void planes(int p0, int count);

    /** Drops the references to the call's arrays, so a finished call does not keep them alive. */
    protected abstract void clear();
}
