package dev.kiln.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The bytes the calling thread allocates per call in steady state, as the benchmarks append them to the file named
 * by {@link KilnModelBench#ALLOC_LOG}: windows of at least ~100 ms and 10 calls each, counted by the thread's
 * allocation counter, up to 20 of them (2 s) until one allocates nothing, and the least. The calls run from the
 * trial's tear-down, a call site JMH's measured loop never used: where C2 had compiled a kernel only inlined into
 * that loop, the first calls from here run it interpreted or in C1, which box every vector (2.7 MB a call for
 * mnist_cnn at batch 64 in one fork of four, for three windows in a row), until it is compiled for this site too.
 * One window can also catch C2 recompiling a method after an uncommon trap. An allocation made by every call, or
 * every few calls, shows in every window.
 */
final class SteadyAllocation {
    private static final com.sun.management.ThreadMXBean MX =
            (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
    private static final int WINDOWS = 20;

    private SteadyAllocation() {}

    /** Measures {@code call} and appends {@code key bytesPerCall} to the log file, when the property names one. */
    static void log(String key, Runnable call) throws IOException {
        String log = System.getProperty(KilnModelBench.ALLOC_LOG);
        if (log == null) {
            return;
        }
        double least = Double.MAX_VALUE;
        for (int w = 0; w < WINDOWS && least > 0; w++) {
            long start = System.nanoTime();
            long bytes0 = MX.getCurrentThreadAllocatedBytes();
            int calls = 0;
            do {
                call.run();
                calls++;
            } while ((System.nanoTime() - start < 100_000_000L || calls < 10) && calls < 100_000);
            least = Math.min(least, (double) (MX.getCurrentThreadAllocatedBytes() - bytes0) / calls);
        }
        Files.writeString(Path.of(log), key + " " + least + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }
}
