package dev.kiln.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The bytes the calling thread allocates per call in steady state, as the benchmarks append them to the file named
 * by {@link KilnModelBench#ALLOC_LOG}: three windows of at least ~100 ms and 10 calls each, counted by the thread's
 * allocation counter, and the smallest of the three. One window can catch C2 recompiling a method after an
 * uncommon trap (on the shared machine, a work-stealing branch first taken late in a 2-thread run): until the new
 * code is installed the interpreter runs the kernel and boxes every vector, megabytes for one call. An allocation
 * made by every call, or every few calls, shows in all three windows.
 */
final class SteadyAllocation {
    private static final com.sun.management.ThreadMXBean MX =
            (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
    private static final int WINDOWS = 3;

    private SteadyAllocation() {}

    /** Measures {@code call} and appends {@code key bytesPerCall} to the log file, when the property names one. */
    static void log(String key, Runnable call) throws IOException {
        String log = System.getProperty(KilnModelBench.ALLOC_LOG);
        if (log == null) {
            return;
        }
        double least = Double.MAX_VALUE;
        for (int w = 0; w < WINDOWS; w++) {
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
