package dev.kiln.runtime;

/** A piece of work over a contiguous index range, as {@link WorkerPool#parallelFor} hands it to each thread. */
@FunctionalInterface
public interface IntRangeBody {

    /** Does the work for indices {@code [from, to)}. */
    void run(int from, int to);
}
