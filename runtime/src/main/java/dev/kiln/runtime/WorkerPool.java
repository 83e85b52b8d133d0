package dev.kiln.runtime;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Persistent worker threads for kernels: {@link #parallelFor} splits an index range into one contiguous chunk
 * per thread, the caller runs the first chunk itself and returns when all chunks are done.
 *
 * <p>Hand-off: the caller bumps a volatile ticket per worker; an idle worker spins on its ticket (with
 * {@link Thread#onSpinWait()}) for about {@value #SPIN_NANOS} ns, long enough to bridge the gap between the
 * layers of one model call, then parks so an idle pool costs no CPU. Woken workers and the caller then claim the
 * remaining chunks from a counter. A call allocates nothing. Not a ForkJoinPool: its hand-off costs
 * microseconds.
 *
 * <p>One call at a time: a call made while the pool is busy (from another thread, or from inside a body) runs
 * its whole range on the calling thread, which is correct for kernels whose results do not depend on the split.
 * Threads are daemons; {@link #close()} stops them, and must not race with a call.
 */
public final class WorkerPool implements AutoCloseable {

    /** How long an idle thread spins before parking. */
    static final long SPIN_NANOS = 200_000;

    private final int threads;
    private final Worker[] workers;
    private final AtomicBoolean busy = new AtomicBoolean();
    /** Chunks of the current call not yet finished, chunk 0 (the caller's own) excluded. */
    private final AtomicInteger pending = new AtomicInteger();
    /** Chunks of the current call not yet claimed: a claim that takes {@code v > 0} runs chunk chunks - v. */
    private final AtomicInteger unclaimed = new AtomicInteger();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean closed;
    /** The caller when it parks waiting for workers, so the last worker knows to wake it. */
    private volatile Thread parkedCaller;
    /** The call in progress; written before {@code unclaimed} is set, which publishes them to every claim. */
    private IntRangeBody body;
    private int size;
    private int chunks;

    private WorkerPool(int threads) {
        this.threads = threads;
        this.workers = new Worker[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(i + 1);
            workers[i].thread.start();
        }
    }

    /** A pool of {@code threads} threads counting the caller; 1 runs everything inline and starts no thread. */
    public static WorkerPool of(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("a worker pool needs at least 1 thread, got " + threads);
        }
        return new WorkerPool(threads);
    }

    /** Threads that share a call, the caller included. */
    public int threads() { return threads; }

    /**
     * Runs {@code body} over {@code [0, n)} split into {@code min(threads, n)} contiguous chunks, chunk 0 on the
     * calling thread. Returns when every chunk is done. If chunks throw, the first exception is rethrown here
     * unchanged, with any later ones added to it as suppressed, after all chunks have finished.
     *
     * <p>Chunks other than 0 go to whichever thread claims them first: a worker that the operating system has
     * not scheduled yet does not hold the caller up, the caller runs that chunk itself. Which thread runs a
     * chunk never changes what the chunk computes.
     */
    public void parallelFor(int n, IntRangeBody body) {
        Objects.requireNonNull(body, "body");
        if (n < 0) {
            throw new IllegalArgumentException("negative range " + n);
        }
        if (closed) {
            throw new IllegalStateException("worker pool is closed");
        }
        int parts = Math.min(threads, n);
        if (parts <= 1 || !busy.compareAndSet(false, true)) {
            body.run(0, n);
            return;
        }
        try {
            runShared(n, parts, body);
        } finally {
            this.body = null;
            busy.set(false);
        }
    }

    private void runShared(int n, int parts, IntRangeBody body) {
        this.body = body;
        this.size = n;
        this.chunks = parts;
        failure.set(null);
        pending.set(parts - 1);
        // Volatile write after the fields above: a thread whose claim sees it also sees this call's fields.
        unclaimed.set(parts - 1);
        for (int i = 0; i < parts - 1; i++) {
            workers[i].assign();
        }
        runChunk(0);
        runClaimedChunks();
        awaitWorkers();
        Throwable t = failure.get();
        if (t != null) {
            throw sneaky(t);
        }
    }

    /** Claims and runs chunks 1.. until none is left; returns without waiting for chunks others run. */
    private void runClaimedChunks() {
        int v;
        while ((v = unclaimed.getAndDecrement()) > 0) {
            runChunk(chunks - v);
            if (pending.decrementAndGet() == 0) {
                Thread caller = parkedCaller;
                if (caller != null) {
                    LockSupport.unpark(caller);
                }
            }
        }
    }

    private void runChunk(int chunk) {
        try {
            body.run((int) ((long) size * chunk / chunks), (int) ((long) size * (chunk + 1) / chunks));
        } catch (Throwable t) {
            if (!failure.compareAndSet(null, t)) {
                Throwable first = failure.get();
                if (first != t) {
                    first.addSuppressed(t);
                }
            }
        }
    }

    private void awaitWorkers() {
        long start = System.nanoTime();
        int spins = 0;
        while (pending.get() != 0) {
            if (keepSpinning(start, ++spins)) {
                continue;
            }
            parkedCaller = Thread.currentThread();
            while (pending.get() != 0) {
                LockSupport.park(this);
            }
            parkedCaller = null;
        }
    }

    /**
     * One step of a wait that began at {@code start}: a spin, or every 64th step once the first quarter of
     * {@link #SPIN_NANOS} has passed, a yield (when the machine has more runnable threads than cores, the
     * thread being waited for may need this core). False when it is time to park.
     */
    private static boolean keepSpinning(long start, int spins) {
        if (spins % 64 != 0) {
            Thread.onSpinWait();
            return true;
        }
        long waited = System.nanoTime() - start;
        if (waited < SPIN_NANOS / 4) {
            Thread.onSpinWait();
            return true;
        }
        if (waited < SPIN_NANOS) {
            Thread.yield();
            return true;
        }
        return false;
    }

    /** Stops the worker threads; later calls of {@link #parallelFor} fail. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Worker w : workers) {
            w.assign();
        }
    }

    /** Rethrows any throwable unchanged: a worker's RuntimeException or Error reaches the caller as itself. */
    @SuppressWarnings("unchecked")
    private static <T extends Throwable> RuntimeException sneaky(Throwable t) throws T {
        throw (T) t;
    }

    /**
     * One worker thread; woken by a ticket, it claims chunks of the current call. A worker left out of a call
     * (fewer chunks than threads) is not woken.
     */
    private final class Worker implements Runnable {
        private final Thread thread;
        /** Incremented by the caller (a volatile write, after the call's fields) to hand this worker a call. */
        private volatile long ticket;
        private volatile boolean parked;

        Worker(int index) {
            this.thread = new Thread(this, "kiln-worker-" + index);
            thread.setDaemon(true);
        }

        void assign() {
            ticket++; // only the single caller holding `busy` (or close) writes it
            if (parked) {
                LockSupport.unpark(thread);
            }
        }

        @Override
        public void run() {
            long seen = 0;
            while (true) {
                seen = awaitTicket(seen);
                if (closed) {
                    return;
                }
                // Late for its call, a worker finds nothing left to claim (the call's chunks are all
                // claimed before it ends) and simply waits again.
                runClaimedChunks();
            }
        }

        /** Waits until the ticket moves past {@code seen}: spins first, then parks. */
        private long awaitTicket(long seen) {
            long start = System.nanoTime();
            int spins = 0;
            long g;
            while ((g = ticket) == seen) {
                if (keepSpinning(start, ++spins)) {
                    continue;
                }
                parked = true; // volatile write, then re-read the ticket: the caller either sees it or we see it
                while ((g = ticket) == seen) {
                    LockSupport.park(WorkerPool.this);
                }
                parked = false;
                return g;
            }
            return g;
        }
    }
}
