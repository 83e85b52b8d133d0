package dev.kiln.runtime;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Persistent worker threads for kernels: {@link #parallelFor} splits an index range into one contiguous chunk
 * per thread, the caller runs the first chunk itself and returns when all chunks are done.
 *
 * <p>Chunks are claimed, not assigned: after its own chunk the caller runs any chunk no worker has started. On
 * a shared machine a worker may not get a core for milliseconds; the call then costs what one thread costs
 * instead of waiting for it (measured: mlp at batch 1 took 453 µs on 2 threads against 34 µs on one,
 * docs/BENCHMARKS.md). Chunk boundaries depend only on the range and the thread count, never on who runs a
 * chunk, so results stay identical.
 *
 * <p>Hand-off is a volatile ticket per worker: an idle worker spins on its own (with {@link Thread#onSpinWait()}) for
 * about {@value #SPIN_NANOS} ns, long enough to bridge the gap between the layers of one model call, then park
 * so an idle pool costs no CPU. A call allocates nothing. Not a ForkJoinPool: its hand-off costs microseconds.
 *
 * <p>One call at a time: a call made while the pool is busy (from another thread, or from inside a body) runs
 * its whole range on the calling thread, which is correct for kernels whose results do not depend on the split.
 * Threads are daemons; {@link #close()} stops them.
 */
public final class WorkerPool implements AutoCloseable {

    /** How long an idle thread spins before parking. */
    static final long SPIN_NANOS = 200_000;

    private final int threads;
    private final Worker[] workers;
    private final AtomicBoolean busy = new AtomicBoolean();
    /**
     * Claims of the call in progress: call number (bits 32..63), chunk count (16..31), next unclaimed chunk
     * (0..15). One word, so a late worker can only claim a chunk of the call it sees, with that call's count.
     */
    private final AtomicLong claims = new AtomicLong();
    /** Chunks of the call in progress that have finished. */
    private final AtomicInteger finished = new AtomicInteger();
    /** Number of the last call, written by the caller only. */
    private long calls;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean closed;
    /** The caller when it parks waiting for workers, so the last worker knows to wake it. */
    private volatile Thread parkedCaller;
    /** The call in progress; written before the workers' tickets, which publish them. */
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
     * calling thread. Returns when every chunk is done; an exception thrown by any chunk is rethrown here
     * (the caller's own first, others added as suppressed) after all chunks have finished.
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
        finished.set(0);
        long call = ++calls & 0xFFFF_FFFFL;
        // Chunk 0 is the caller's from the start; the volatile write publishes the fields above.
        claims.set(call << 32 | (long) parts << 16 | 1);
        for (int i = 0; i < parts - 1; i++) {
            workers[i].assign();
        }
        Throwable own = runChunk(0, null);
        long v;
        while ((int) ((v = claims.get()) & 0xFFFF) < parts) {
            if (claims.compareAndSet(v, v + 1)) {
                own = runChunk((int) (v & 0xFFFF), own);
            }
        }
        awaitWorkers(parts);
        Throwable theirs = failure.get();
        if (own == null) {
            own = theirs;
        } else if (theirs != null) {
            own.addSuppressed(theirs);
        }
        if (own != null) {
            throw sneaky(own);
        }
    }

    /** Runs chunk {@code c} on the caller; returns the first of its exceptions, later ones suppressed in it. */
    private Throwable runChunk(int c, Throwable own) {
        try {
            body.run(chunkStart(c), chunkStart(c + 1));
        } catch (Throwable t) {
            if (own == null) {
                own = t;
            } else {
                own.addSuppressed(t);
            }
        }
        finished.incrementAndGet();
        return own;
    }

    private int chunkStart(int chunk) { return (int) ((long) size * chunk / chunks); }

    private void awaitWorkers(int parts) {
        long start = System.nanoTime();
        int spins = 0;
        while (finished.get() != parts) {
            if (++spins % 64 != 0 || System.nanoTime() - start < SPIN_NANOS) {
                Thread.onSpinWait();
                continue;
            }
            parkedCaller = Thread.currentThread();
            while (finished.get() != parts) {
                LockSupport.park(this);
            }
            parkedCaller = null;
        }
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
     * One worker thread; woken by a ticket, it claims and runs chunks of the call in progress. A worker left out
     * of a call (fewer chunks than threads) is not woken for it.
     */
    private final class Worker implements Runnable {
        private final int index;
        private final Thread thread;
        /** Incremented by the caller (a volatile write, after the call's fields) to hand this worker a call. */
        private volatile long ticket;
        private volatile boolean parked;

        Worker(int index) {
            this.index = index;
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
                claimAndRun();
            }
        }

        /**
         * Runs unclaimed chunks of the call the claims word describes. A successful claim pins that call: it cannot
         * return (and the caller cannot start another) before this chunk finishes, so the fields read after the
         * claim are that call's.
         */
        private void claimAndRun() {
            long v;
            while ((int) ((v = claims.get()) & 0xFFFF) < (int) ((v >>> 16) & 0xFFFF)) {
                if (!claims.compareAndSet(v, v + 1)) {
                    continue;
                }
                int c = (int) (v & 0xFFFF);
                int total = (int) ((v >>> 16) & 0xFFFF);
                try {
                    body.run(chunkStart(c), chunkStart(c + 1));
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
                if (finished.incrementAndGet() == total) {
                    Thread caller = parkedCaller;
                    if (caller != null) {
                        LockSupport.unpark(caller);
                    }
                }
            }
        }

        /** Waits until the ticket moves past {@code seen}: spins first, then parks. */
        private long awaitTicket(long seen) {
            long start = System.nanoTime();
            int spins = 0;
            long g;
            while ((g = ticket) == seen) {
                if (++spins % 64 != 0 || System.nanoTime() - start < SPIN_NANOS) {
                    Thread.onSpinWait();
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
