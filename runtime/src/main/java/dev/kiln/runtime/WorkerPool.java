package dev.kiln.runtime;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Persistent worker threads for kernels. {@link #parallelFor} splits an index range into one contiguous chunk
 * per thread, the caller running the first; {@link #parallelForBalanced} gives each thread an even share of a
 * range and lets a thread that has finished its own share take single indices from the end of another's, so
 * a thread that starts late or runs slower ends within about one index of the others. Both return when all the
 * work is done.
 *
 * <p>Hand-off: the caller publishes the call in atomics (what is left to claim) and bumps a volatile ticket per
 * worker; an idle worker spins on its ticket (with {@link Thread#onSpinWait()}) for about
 * {@value #SPIN_NANOS} ns, long enough to bridge the gap between the layers of one model call, then parks so an
 * idle pool costs no CPU. Woken workers and the caller then claim work with compare-and-set. A call allocates
 * nothing. Not a ForkJoinPool: its hand-off costs microseconds.
 *
 * <p>One call at a time: a call made while the pool is busy (from another thread, or from inside a body) runs
 * its whole range on the calling thread, which is correct for kernels whose results do not depend on the split.
 * Threads are daemons; {@link #close()} stops them, and must not race with a call.
 */
public final class WorkerPool implements AutoCloseable {

    /** How long an idle thread spins before parking. */
    static final long SPIN_NANOS = 200_000;
    /** Longs between two threads' shares, so their claims do not write one cache line. */
    private static final int SLOT = 8;

    private final int threads;
    private final Worker[] workers;
    private final AtomicBoolean busy = new AtomicBoolean();
    /**
     * The chunks of the current {@link #parallelFor} call left to claim: bits 0-31 the next, bits 32-63 the end.
     * Written after the call's fields, so a thread whose claim (a CAS on it) succeeds sees them. A claim decided
     * on a stale value can only succeed on an equal value, whose call then gets exactly the claim it would have
     * got, so a late worker never corrupts a call. Exhausted (next = end) between calls.
     */
    private final AtomicLong cursor = new AtomicLong();
    /**
     * Thread t's share of the current {@link #parallelForBalanced} call at {@code t * SLOT}: bits 32-63 the next
     * unclaimed index (the owner claims from the front), bits 0-31 the end (other threads take from the back).
     * Written after the call's fields, claimed by CAS like {@link #cursor}; exhausted between calls.
     */
    private final AtomicLongArray shares;
    /** Chunks (static, chunk 0 excluded) or indices (balanced) of the current call not yet finished. */
    private final AtomicInteger unfinished = new AtomicInteger();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean closed;
    /** The caller when it parks waiting for workers, so the thread finishing the call knows to wake it. */
    private volatile Thread parkedCaller;
    /** The call in progress: the body of one of the two kinds, the size of its range and its static chunks. */
    private IntRangeBody body;
    private ThreadRangeBody balancedBody;
    private int size;
    private int chunks;

    private WorkerPool(int threads) {
        this.threads = threads;
        this.workers = new Worker[threads - 1];
        this.shares = new AtomicLongArray(threads * SLOT);
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
        checkCall(n);
        int parts = Math.min(threads, n);
        if (parts <= 1 || !busy.compareAndSet(false, true)) {
            body.run(0, n);
            return;
        }
        try {
            this.body = body;
            this.size = n;
            this.chunks = parts;
            failure.set(null);
            unfinished.set(parts - 1);
            cursor.set((long) parts << 32 | 1); // chunk 0 is the caller's
            wake(parts - 1);
            runChunk(0);
            claimAndRun(0);
            finish();
        } finally {
            this.body = null;
            busy.set(false);
        }
    }

    /**
     * Runs {@code body} over {@code [0, n)}: thread t owns the even share {@code [n*t/T, n*(t+1)/T)} and claims
     * runs from its front ({@code left / 4} indices, at least 1); a thread done with its share takes single
     * indices from the back of another's. So each thread sees the same indices call after call (images, or the
     * planes of those images, whose data then stays in its cache from one layer to the next), and the threads
     * finish within about one index of work of each other even when one starts late or is slowed by other
     * processes. Give it indices of roughly equal work. Returns when every index is done; exceptions as for
     * {@link #parallelFor}.
     *
     * <p>The runs, and which thread gets which, vary from call to call: a body must compute each index the same
     * way whatever run it is in, and use scratch per thread (the {@code thread} argument), not per run.
     */
    public void parallelForBalanced(int n, ThreadRangeBody body) {
        Objects.requireNonNull(body, "body");
        checkCall(n);
        if (n == 0) {
            return;
        }
        if (threads == 1 || n == 1 || !busy.compareAndSet(false, true)) {
            body.run(threadIndex(), 0, n);
            return;
        }
        try {
            this.balancedBody = body;
            failure.set(null);
            unfinished.set(n);
            for (int t = 0; t < threads; t++) {
                shares.set(t * SLOT, share((int) ((long) n * t / threads), (int) ((long) n * (t + 1) / threads)));
            }
            wake(Math.min(threads - 1, n - 1));
            runShares(0);
            finish();
        } finally {
            this.balancedBody = null;
            busy.set(false);
        }
    }

    private static long share(int next, int end) {
        return (long) next << 32 | end;
    }

    private void checkCall(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("negative range " + n);
        }
        if (closed) {
            throw new IllegalStateException("worker pool is closed");
        }
    }

    /** Index of the calling thread in this pool: a worker's own, 0 for any other thread. */
    private int threadIndex() {
        Thread t = Thread.currentThread();
        for (Worker w : workers) {
            if (w.thread == t) {
                return w.index;
            }
        }
        return 0;
    }

    private void wake(int helpers) {
        for (int i = 0; i < helpers; i++) {
            workers[i].assign();
        }
    }

    /** Waits for the work other threads claimed, then rethrows the first failure of the call. */
    private void finish() {
        awaitWorkers();
        Throwable t = failure.get();
        if (t != null) {
            throw sneaky(t);
        }
    }

    /** Claims and runs chunks of the current static call until none is left; does not wait for others' chunks. */
    private void claimAndRun(int thread) {
        while (true) {
            long c = cursor.get();
            int next = (int) c;
            int end = (int) (c >>> 32);
            if (next >= end) {
                return;
            }
            if (cursor.compareAndSet(c, c + 1)) {
                runChunk(next);
                finished(1);
            }
        }
    }

    /**
     * Runs the own share of the current balanced call from its front, then indices from the back of the others'
     * shares, until none is left; does not wait for runs others have claimed.
     */
    private void runShares(int thread) {
        int own = thread * SLOT;
        while (true) {
            long c = shares.get(own);
            int next = (int) (c >>> 32);
            int end = (int) c;
            if (next >= end) {
                break;
            }
            int take = Math.max(1, (end - next) / 4);
            if (shares.compareAndSet(own, c, share(next + take, end))) {
                runBalanced(thread, next, next + take);
                finished(take);
            }
        }
        for (int k = 1; k < threads; k++) {
            int other = (thread + k) % threads * SLOT;
            while (true) {
                long c = shares.get(other);
                int next = (int) (c >>> 32);
                int end = (int) c;
                if (next >= end) {
                    break;
                }
                if (shares.compareAndSet(other, c, share(next, end - 1))) {
                    runBalanced(thread, end - 1, end);
                    finished(1);
                }
            }
        }
    }

    /** Counts {@code done} chunks or indices finished; the thread finishing the call wakes a parked caller. */
    private void finished(int done) {
        if (unfinished.addAndGet(-done) == 0) {
            Thread caller = parkedCaller;
            if (caller != null) {
                LockSupport.unpark(caller);
            }
        }
    }

    private void runChunk(int chunk) {
        try {
            body.run((int) ((long) size * chunk / chunks), (int) ((long) size * (chunk + 1) / chunks));
        } catch (Throwable t) {
            recordFailure(t);
        }
    }

    private void runBalanced(int thread, int from, int to) {
        try {
            balancedBody.run(thread, from, to);
        } catch (Throwable t) {
            recordFailure(t);
        }
    }

    private void recordFailure(Throwable t) {
        if (!failure.compareAndSet(null, t)) {
            Throwable first = failure.get();
            if (first != t) {
                first.addSuppressed(t);
            }
        }
    }

    private void awaitWorkers() {
        long start = System.nanoTime();
        int spins = 0;
        while (unfinished.get() != 0) {
            if (keepSpinning(start, ++spins)) {
                continue;
            }
            parkedCaller = Thread.currentThread();
            while (unfinished.get() != 0) {
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
     * One worker thread; woken by a ticket, it claims work of the current call. A worker left out of a call
     * (fewer chunks than threads) is not woken.
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
                // Late for its call, a worker finds nothing left to claim (a call's work is all claimed
                // before it ends) and simply waits again. A call of either kind leaves the other's exhausted.
                claimAndRun(index);
                runShares(index);
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
