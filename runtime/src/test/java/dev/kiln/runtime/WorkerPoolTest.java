package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Work split, reuse, parking and waking, exception propagation and allocation of {@link WorkerPool}. */
class WorkerPoolTest {

    @Test
    void everyIndexRunsOnceInContiguousChunksWithTheCallerTakingTheFirst() {
        for (int threads = 1; threads <= 4; threads++) {
            try (WorkerPool pool = WorkerPool.of(threads)) {
                for (int n : new int[] {0, 1, 2, 3, 7, 100}) {
                    int[] hits = new int[n];
                    AtomicInteger chunks = new AtomicInteger();
                    AtomicReference<Thread> firstChunk = new AtomicReference<>();
                    pool.parallelFor(n, (from, to) -> {
                        chunks.incrementAndGet();
                        if (from == 0) {
                            firstChunk.set(Thread.currentThread());
                        }
                        for (int i = from; i < to; i++) {
                            hits[i]++;
                        }
                    });
                    for (int i = 0; i < n; i++) {
                        assertEquals(1, hits[i], "index " + i + " of " + n + " on " + threads + " threads");
                    }
                    assertEquals(Math.max(1, Math.min(threads, n)), chunks.get());
                    assertSame(Thread.currentThread(), firstChunk.get());
                }
            }
        }
    }

    @Test
    void reusableAcrossManyCallsAndAfterParking() throws InterruptedException {
        try (WorkerPool pool = WorkerPool.of(3)) {
            long[] sums = new long[3];
            for (int call = 0; call < 2_000; call++) {
                java.util.Arrays.fill(sums, 0);
                pool.parallelFor(3, (from, to) -> sums[from] = from + 1);
                assertEquals(6, sums[0] + sums[1] + sums[2], "call " + call);
            }
            for (int call = 0; call < 5; call++) {
                Thread.sleep(WorkerPool.SPIN_NANOS / 1_000_000 + 5); // workers park
                AtomicInteger done = new AtomicInteger();
                pool.parallelFor(3, (from, to) -> done.addAndGet(to - from));
                assertEquals(3, done.get());
            }
        }
    }

    @Test
    void chunksKeepTheirBoundsWhoeverClaimsThemWhileCoresAreContended() throws InterruptedException {
        // Spinning threads take the cores, so workers are often late and the caller claims their chunks.
        Thread[] hogs = new Thread[2];
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        for (int i = 0; i < hogs.length; i++) {
            hogs[i] = new Thread(() -> {
                while (!stop.get()) {
                    Thread.onSpinWait();
                }
            });
            hogs[i].setDaemon(true);
            hogs[i].start();
        }
        try (WorkerPool pool = WorkerPool.of(3)) {
            for (int call = 0; call < 3_000; call++) {
                int n = 2 + call % 8;
                int[] hits = new int[n];
                int parts = Math.min(3, n);
                int[][] bounds = new int[parts][];
                pool.parallelFor(n, (from, to) -> {
                    for (int c = 0; c < parts; c++) {
                        if (n * c / parts == from) {
                            bounds[c] = new int[] {from, to}; // chunk starts are distinct when n >= parts
                        }
                    }
                    for (int i = from; i < to; i++) {
                        hits[i]++;
                    }
                });
                for (int c = 0; c < parts; c++) {
                    assertEquals(n * c / parts, bounds[c][0], "call " + call + " chunk " + c + " start");
                    assertEquals(n * (c + 1) / parts, bounds[c][1], "call " + call + " chunk " + c + " end");
                }
                for (int i = 0; i < n; i++) {
                    assertEquals(1, hits[i], "call " + call + " index " + i);
                }
            }
        } finally {
            stop.set(true);
            for (Thread t : hogs) {
                t.join();
            }
        }
    }

    @Test
    void aWorkersExceptionReachesTheCallerAndThePoolStaysUsable() {
        try (WorkerPool pool = WorkerPool.of(2)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.parallelFor(2,
                    (from, to) -> {
                        if (from == 1) {
                            throw new IllegalStateException("chunk 1 failed");
                        }
                    }));
            assertEquals("chunk 1 failed", e.getMessage());
            AtomicInteger done = new AtomicInteger();
            pool.parallelFor(2, (from, to) -> done.addAndGet(to - from));
            assertEquals(2, done.get());
        }
    }

    @Test
    void theFirstExceptionIsThrownWithTheOthersSuppressed() {
        try (WorkerPool pool = WorkerPool.of(2)) {
            RuntimeException e = assertThrows(RuntimeException.class, () -> pool.parallelFor(2, (from, to) -> {
                throw new IllegalStateException("chunk " + from);
            }));
            assertEquals(1, e.getSuppressed().length);
            java.util.Set<String> messages = java.util.Set.of(e.getMessage(), e.getSuppressed()[0].getMessage());
            assertEquals(java.util.Set.of("chunk 0", "chunk 1"), messages);
        }
    }

    @Test
    void theCallerRunsChunksOfAWorkerThatIsBusyElsewhere() throws InterruptedException {
        try (WorkerPool pool = WorkerPool.of(3)) {
            java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
            AtomicInteger ran = new AtomicInteger();
            // The first call's chunk 1 blocks its thread until released; a call from the same caller meanwhile
            // is impossible (one call at a time), so this checks that chunk 2 does not wait for chunk 1.
            Thread other = new Thread(() -> pool.parallelFor(3, (from, to) -> {
                if (from == 1) {
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                ran.incrementAndGet();
            }));
            other.start();
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (ran.get() < 2 && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            assertEquals(2, ran.get(), "chunks 0 and 2 finish while chunk 1 is blocked");
            release.countDown();
            other.join();
            assertEquals(3, ran.get());
        }
    }

    @Test
    void aNestedCallRunsInline() {
        try (WorkerPool pool = WorkerPool.of(2)) {
            AtomicInteger inner = new AtomicInteger();
            pool.parallelFor(2, (from, to) -> pool.parallelFor(10, (f, t) -> inner.addAndGet(t - f)));
            assertEquals(20, inner.get());
        }
    }

    @Test
    void steadyStateCallsAllocateNothing() {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (WorkerPool pool = WorkerPool.of(2)) {
            int[] out = new int[2];
            IntRangeBody body = (from, to) -> out[from] += 1;
            for (int i = 0; i < 1000; i++) {
                pool.parallelFor(2, body);
            }
            long before = mx.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 10_000; i++) {
                pool.parallelFor(2, body);
            }
            long bytes = mx.getCurrentThreadAllocatedBytes() - before;
            assertTrue(bytes < 4096, bytes + " bytes allocated by 10000 calls");
            assertEquals(11_000, out[0]);
            assertEquals(11_000, out[1]);
        }
    }

    @Test
    void balancedRunsCoverEveryIndexOnceAndAreAtMostAQuarterOfAShare() {
        for (int threads = 1; threads <= 3; threads++) {
            try (WorkerPool pool = WorkerPool.of(threads)) {
                for (int n : new int[] {0, 1, 2, 3, 7, 64, 1000}) {
                    int[] hits = new int[n];
                    int[] runLength = new int[n];
                    AtomicInteger badThread = new AtomicInteger(-1);
                    int poolThreads = threads;
                    pool.parallelForBalanced(n, (thread, from, to) -> {
                        if (thread < 0 || thread >= poolThreads) {
                            badThread.set(thread);
                        }
                        for (int i = from; i < to; i++) {
                            hits[i]++;
                            runLength[i] = to - from;
                        }
                    });
                    assertEquals(-1, badThread.get(), "thread index out of range");
                    for (int i = 0; i < n; i++) {
                        assertEquals(1, hits[i], "index " + i + " of " + n + " on " + threads + " threads");
                    }
                    int share = Math.ceilDiv(n, threads);
                    for (int i = 0; i < n && threads > 1; i++) {
                        assertTrue(runLength[i] <= Math.max(1, share / 4), "run of " + runLength[i] + " of " + n);
                    }
                }
            }
        }
    }

    @Test
    void balancedRunsOfOneThreadIndexNeverOverlapWhileCoresAreContended() throws InterruptedException {
        Thread[] hogs = new Thread[2];
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        for (int i = 0; i < hogs.length; i++) {
            hogs[i] = new Thread(() -> {
                while (!stop.get()) {
                    Thread.onSpinWait();
                }
            });
            hogs[i].setDaemon(true);
            hogs[i].start();
        }
        try (WorkerPool pool = WorkerPool.of(3)) {
            AtomicInteger[] inUse = {new AtomicInteger(), new AtomicInteger(), new AtomicInteger()};
            AtomicInteger overlaps = new AtomicInteger();
            for (int call = 0; call < 3_000; call++) {
                int n = 1 + call % 40;
                int[] hits = new int[n];
                pool.parallelForBalanced(n, (thread, from, to) -> {
                    if (inUse[thread].getAndIncrement() != 0) {
                        overlaps.incrementAndGet();
                    }
                    for (int i = from; i < to; i++) {
                        hits[i]++;
                    }
                    inUse[thread].decrementAndGet();
                });
                for (int i = 0; i < n; i++) {
                    assertEquals(1, hits[i], "call " + call + " index " + i);
                }
                // static and balanced calls interleave on the same pool
                int[] staticHits = new int[n];
                pool.parallelFor(n, (from, to) -> {
                    for (int i = from; i < to; i++) {
                        staticHits[i]++;
                    }
                });
                for (int i = 0; i < n; i++) {
                    assertEquals(1, staticHits[i], "static call " + call + " index " + i);
                }
            }
            assertEquals(0, overlaps.get(), "runs of one thread index overlapped");
        } finally {
            stop.set(true);
            for (Thread t : hogs) {
                t.join();
            }
        }
    }

    @Test
    void aBalancedCallPassesOnExceptionsAndANestedOneRunsInlineOnItsOwnThreadIndex() {
        try (WorkerPool pool = WorkerPool.of(2)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.parallelForBalanced(50,
                    (thread, from, to) -> {
                        if (from <= 30 && 30 < to) {
                            throw new IllegalStateException("index 30 failed");
                        }
                    }));
            assertEquals("index 30 failed", e.getMessage());
            AtomicInteger mismatches = new AtomicInteger();
            AtomicInteger inner = new AtomicInteger();
            pool.parallelForBalanced(40, (thread, from, to) -> {
                for (int i = from; i < to; i++) {
                    pool.parallelForBalanced(10, (t, f, u) -> {
                        if (t != thread) {
                            mismatches.incrementAndGet();
                        }
                        inner.addAndGet(u - f);
                    });
                }
            });
            assertEquals(400, inner.get());
            assertEquals(0, mismatches.get(), "a nested call ran under another thread's index");
        }
    }

    @Test
    void steadyStateBalancedCallsAllocateNothing() {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (WorkerPool pool = WorkerPool.of(2)) {
            AtomicInteger sum = new AtomicInteger();
            ThreadRangeBody body = (thread, from, to) -> sum.addAndGet(to - from);
            for (int i = 0; i < 1000; i++) {
                pool.parallelForBalanced(64, body);
            }
            long before = mx.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 10_000; i++) {
                pool.parallelForBalanced(64, body);
            }
            long bytes = mx.getCurrentThreadAllocatedBytes() - before;
            assertTrue(bytes < 4096, bytes + " bytes allocated by 10000 calls");
            assertEquals(11_000 * 64, sum.get());
        }
    }

    @Test
    void closedPoolRefusesWorkAndBadSizesAreRejected() {
        WorkerPool pool = WorkerPool.of(2);
        pool.close();
        pool.close();
        assertThrows(IllegalStateException.class, () -> pool.parallelFor(4, (f, t) -> { }));
        assertThrows(IllegalArgumentException.class, () -> WorkerPool.of(0));
        try (WorkerPool p = WorkerPool.of(1)) {
            assertThrows(IllegalArgumentException.class, () -> p.parallelFor(-1, (f, t) -> { }));
        }
    }
}
