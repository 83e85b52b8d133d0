package dev.kiln.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One call of a Kiln-generated model in its zero-allocation form, {@code run(x, batch, out)} into an output
 * array allocated once: what a user's steady-state inference loop pays.
 *
 * <p>Besides the gc profiler's B/op (every thread of the fork, so JMH's own ~100 KB/s of bookkeeping shows on
 * slow calls): when the system property {@value #ALLOC_LOG} names a file, the trial ends with ~100 ms of calls
 * counted by the calling thread's allocation counter, and appends {@code model batch threads bytesPerCall} to
 * the file.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 2, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms1g", "-Xmx1g"})
public class KilnModelBench {
    /** System property naming the file the per-call allocation is appended to. */
    public static final String ALLOC_LOG = "kiln.bench.allocLog";
    private static final com.sun.management.ThreadMXBean MX =
            (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();

    @Param({"mlp", "mnist_cnn", "cifar_cnn", "lstm", "gru"})
    public String model;

    @Param({"1", "64"})
    public int batch;

    @Param({"1", "2"})
    public int threads;

    private KilnModels.Instance net;
    private KilnModels.Call call;
    private float[] x;
    private float[] out;

    @Setup(Level.Trial)
    public void setUp() {
        BenchModel m = BenchModel.of(model);
        net = KilnModels.load(m, threads);
        call = net.call();
        x = m.input(batch);
        out = new float[batch * m.outputsPerSample()];
        call.run(x, batch, out); // grows the scratch arena once, outside the measurement
    }

    @Benchmark
    public float[] run() {
        call.run(x, batch, out);
        return out;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        String log = System.getProperty(ALLOC_LOG);
        if (log != null) {
            // After the measurement the code is as compiled as it gets; ~100 ms of calls with nothing of JMH's
            // in between give the calling thread's exact bytes per call.
            long start = System.nanoTime();
            long bytes0 = MX.getCurrentThreadAllocatedBytes();
            int calls = 0;
            do {
                call.run(x, batch, out);
                calls++;
            } while (System.nanoTime() - start < 100_000_000L && calls < 100_000);
            double bytesPerCall = (double) (MX.getCurrentThreadAllocatedBytes() - bytes0) / calls;
            java.nio.file.Files.writeString(java.nio.file.Path.of(log),
                    model + " " + batch + " " + threads + " " + bytesPerCall + "\n",
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
        }
        net.close();
    }
}
