package dev.kiln.bench;

/**
 * Runs one generated model in a plain loop for a while, outside JMH, for profilers and JIT diagnostics that
 * want a single JVM of their own ({@code -XX:+PrintInlining}, {@code -XX:+PrintCompilation}, JFR):
 * <pre>
 * java --add-modules=jdk.incubator.vector -XX:+UnlockDiagnosticVMOptions -XX:+PrintInlining \
 *      -cp bench/target/benchmarks.jar dev.kiln.bench.Loop cifar_cnn 64 1 10
 * </pre>
 * Prints the mean time per call (wall, and the calling thread's CPU time, which on a shared machine says more about
 * a 1-thread kernel than the wall time) and the bytes the calling thread allocated per call over the last half.
 */
public final class Loop {
    private Loop() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: Loop MODEL BATCH THREADS SECONDS");
            System.exit(2);
        }
        BenchModel model = BenchModel.of(args[0]);
        int batch = Integer.parseInt(args[1]);
        int threads = Integer.parseInt(args[2]);
        long nanos = (long) (Double.parseDouble(args[3]) * 1e9);
        var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        try (KilnModels.Instance net = KilnModels.load(model, threads)) {
            float[] x = model.input(batch);
            float[] out = new float[batch * model.outputsPerSample()];
            long start = System.nanoTime();
            long halfway = start + nanos / 2;
            long calls = 0;
            long t0 = 0;
            long bytes0 = 0;
            long cpu0 = 0;
            boolean second = false;
            while (System.nanoTime() - start < nanos) {
                if (!second && System.nanoTime() >= halfway) {
                    second = true;
                    calls = 0;
                    t0 = System.nanoTime();
                    bytes0 = mx.getCurrentThreadAllocatedBytes();
                    cpu0 = mx.getCurrentThreadCpuTime();
                }
                net.call().run(x, batch, out);
                calls++;
            }
            long t = System.nanoTime() - t0;
            long cpu = mx.getCurrentThreadCpuTime() - cpu0;
            long bytes = mx.getCurrentThreadAllocatedBytes() - bytes0;
            System.out.printf("%s batch %d threads %d: %.1f us/call, calling thread's CPU %.1f us/call, %d B/call over %d"
                    + " calls%n", model, batch, threads, t / 1e3 / calls, cpu / 1e3 / calls, bytes / calls, calls);
        }
    }
}
