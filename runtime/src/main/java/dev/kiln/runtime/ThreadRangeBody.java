package dev.kiln.runtime;

/**
 * A piece of work over a contiguous index range that also learns which thread of the pool runs it, so it can
 * use that thread's own scratch; handed out by {@link WorkerPool#parallelForBalanced}.
 */
@FunctionalInterface
public interface ThreadRangeBody {

    /**
     * Does the work for indices {@code [from, to)} on thread {@code thread} of the pool (0 is the caller, 1.. the
     * workers). Two runs with the same {@code thread} never overlap in time.
     */
    void run(int thread, int from, int to);
}
