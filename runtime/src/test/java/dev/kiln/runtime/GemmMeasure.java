package dev.kiln.runtime;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.Random;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Preliminary timing of {@link Gemm} on the reference MLP's shapes against a Java FMA-peak loop run in the same
 * JVM (not JMH, which comes with the bench module). Each round times a batch of calls right after a run of the
 * peak loop, so a round's percentage compares the two under the same load from other processes; the table
 * gives medians of the rounds. Also prints allocated bytes per call (non-zero would mean vectors were boxed:
 * C2 did not intrinsify the kernel). The epilogue is bias + Relu, as in the MLP.
 *
 * <p>Run from the project root after {@code mvn -o test-compile -pl runtime}:
 * {@code java --add-modules jdk.incubator.vector -cp runtime/target/classes:runtime/target/test-classes
 * dev.kiln.runtime.GemmMeasure [threads] [rounds]}
 */
public final class GemmMeasure {

    private static final VectorSpecies<Float> S = GemmKernel.SPECIES;
    private static final com.sun.management.ThreadMXBean MX =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    /** Time per timed batch; thread CPU time may be counted in scheduler ticks, so batches are long. */
    private static final double BATCH_NANOS = 70e6;

    private GemmMeasure() { }

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 9;
        System.out.printf("species %s, MR %d, threads %d, rounds %d%n", S, GemmKernel.MR, threads, rounds);
        for (int i = 0; i < 5; i++) {
            peakGflops(); // compiles the peak loop before it is timed
        }
        System.out.printf("FMA peak loop, 1 thread: %.1f GFLOP/s per CPU-second%n", peakGflops());
        System.out.println("wall: by elapsed time; CPU: by the calling thread's CPU time, immune to time slices");
        System.out.println("lost to other processes (1 thread only); % of peak: CPU (1 thread) or wall (threads > 1)");
        System.out.println("GFLOP/s over threads x the peak loop's GFLOP/s per CPU-second in the same round.");
        System.out.println("shape (m x k x n)   median us  wall GFLOP/s  best wall  CPU GFLOP/s  % of peak  B/call");
        try (WorkerPool pool = WorkerPool.of(threads)) {
            Random r = new Random(1);
            for (int[] s : new int[][] {{64, 784, 512}, {1, 784, 512}, {64, 512, 256}, {1, 512, 256},
                                        {64, 256, 10}, {256, 256, 256}, {512, 512, 512}}) {
                Layer layer = new Layer(r, s[1], s[2], s[0]);
                float[] x = random(r, s[0] * s[1]);
                measure(String.format("%4d x %4d x %4d", s[0], s[1], s[2]), 2.0 * s[0] * s[1] * s[2], rounds, threads,
                        () -> layer.run(pool, x, s[0]));
            }
            for (int batch : new int[] {1, 64}) {
                Layer l1 = new Layer(r, 784, 512, batch);
                Layer l2 = new Layer(r, 512, 256, batch);
                Layer l3 = new Layer(r, 256, 10, batch);
                float[] x = random(r, batch * 784);
                measure(String.format("mlp b%-2d (3 layers)", batch), 2.0 * batch * (784 * 512 + 512 * 256 + 256 * 10),
                        rounds, threads, () -> l3.run(pool, l2.run(pool, l1.run(pool, x, batch), batch), batch));
            }
        }
    }

    /** A dense layer with bias and Relu: packed weights and its own output buffer. */
    private record Layer(PackedMatrix w, float[] bias, float[] out) {
        Layer(Random r, int k, int n, int m) {
            this(PackedMatrix.pack(random(r, k * n), 0, k, n, true), random(r, n), new float[m * n]);
        }

        float[] run(WorkerPool pool, float[] x, int m) {
            Gemm.gemm(pool, m, x, 0, w.k(), w, bias, out, 0, w.n(), false, Epilogue.relu());
            return out;
        }
    }

    private static void measure(String name, double flops, int rounds, int threads, Runnable call) {
        int reps = (int) Math.max(10, BATCH_NANOS * 60 / flops);
        for (int i = 0; i < 2 * reps; i++) {
            call.run();
        }
        double[] wall = new double[rounds];
        double[] cpu = new double[rounds];
        double[] share = new double[rounds];
        long probe = allocated() - allocated(); // what reading the counter itself allocates
        long bytes = 0;
        for (int round = 0; round < rounds; round++) {
            double peak = peakGflops();
            long before = allocated();
            long cpu0 = MX.getCurrentThreadCpuTime();
            long t0 = System.nanoTime();
            for (int i = 0; i < reps; i++) {
                call.run();
            }
            long ns = System.nanoTime() - t0;
            long cpuNs = MX.getCurrentThreadCpuTime() - cpu0;
            bytes = (allocated() - before + probe) / reps;
            wall[round] = flops * reps / ns;
            cpu[round] = flops * reps / cpuNs;
            share[round] = 100 * (threads == 1 ? cpu[round] : wall[round]) / (threads * peak);
        }
        double med = median(wall);
        System.out.printf("%-18s  %10.2f  %12.1f  %9.1f  %11s  %9.1f  %6d%n", name, flops / med / 1e3, med,
                Arrays.stream(wall).max().orElseThrow(), threads == 1 ? String.format("%.1f", median(cpu)) : "-",
                median(share), bytes);
    }

    /**
     * The sustained FMA rate of one core, in FLOPs per nanosecond of this thread's CPU time: 12 independent
     * FMA chains, as many as the micro-kernel keeps, run in 2 ms pieces (~70 ms in all). The pieces are
     * separate calls because C2 compiled one long loop into code running at half this rate (seen on this
     * machine: an OSR-compiled loop at ~44 GFLOP/s).
     */
    private static double peakGflops() {
        int pieces = 32;
        int iters = 1_000_000;
        float sink = 0;
        long t0 = MX.getCurrentThreadCpuTime();
        for (int p = 0; p < pieces; p++) {
            sink += fmaChains(iters);
        }
        long ns = MX.getCurrentThreadCpuTime() - t0;
        if (sink == 42) {
            System.out.println();
        }
        return 12.0 * 2 * S.length() * iters * pieces / ns;
    }

    private static float fmaChains(int iters) {
        FloatVector x = FloatVector.broadcast(S, 1.0000001f);
        FloatVector y = FloatVector.broadcast(S, 0.9999999f);
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
        FloatVector c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (int i = 0; i < iters; i++) {
            c0 = x.fma(y, c0); c1 = x.fma(y, c1); c2 = x.fma(y, c2); c3 = x.fma(y, c3);
            c4 = x.fma(y, c4); c5 = x.fma(y, c5); c6 = x.fma(y, c6); c7 = x.fma(y, c7);
            c8 = x.fma(y, c8); c9 = x.fma(y, c9); c10 = x.fma(y, c10); c11 = x.fma(y, c11);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11)
                .reduceLanes(VectorOperators.ADD);
    }

    private static double median(double[] xs) {
        double[] sorted = xs.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    private static long allocated() {
        return MX.getCurrentThreadAllocatedBytes();
    }

    private static float[] random(Random r, int len) {
        float[] x = new float[len];
        for (int i = 0; i < len; i++) {
            x[i] = r.nextFloat() * 2 - 1;
        }
        return x;
    }
}
