package dev.kiln.runtime;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.Random;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Preliminary timing of {@link Gemm} on the model's shapes against a Java FMA-peak loop run in the same JVM
 * (not JMH: medians of timed rounds after warm-up, each round right after a run of the peak loop). Prints
 * GFLOP/s, % of peak and allocated bytes per call (non-zero means vectors were boxed, i.e. C2 did not
 * intrinsify the kernel). The epilogue is bias + Relu, as in the MLP.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -cp runtime/target/classes:runtime/target/test-classes
 * dev.kiln.runtime.GemmMeasure [threads] [rounds]}
 */
public final class GemmMeasure {

    private static final VectorSpecies<Float> S = GemmKernel.SPECIES;
    private static final com.sun.management.ThreadMXBean MX =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private GemmMeasure() { }

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 9;
        System.out.printf("species %s, MR %d, threads %d, rounds %d%n", S, GemmKernel.MR, threads, rounds);
        for (int i = 0; i < 5; i++) {
            peakGflops(); // compiles the peak loop before it is timed
        }
        System.out.printf("FMA peak loop: %.1f GFLOP/s per CPU-second%n", peakGflops());
        int[][] shapes = {{64, 784, 512}, {1, 784, 512}, {64, 512, 256}, {1, 512, 256}, {64, 256, 10},
                          {256, 256, 256}, {512, 512, 512}};
        System.out.println("Wall: GFLOP/s by elapsed time. CPU: by the calling thread's CPU time (immune to time");
        System.out.println("slices lost to other processes; 1 thread only). % of peak: CPU-time GFLOP/s over the");
        System.out.println("peak loop's CPU-time GFLOP/s in the same round. Medians of the rounds.");
        System.out.println("shape (m x k x n)   median us  wall GFLOP/s  best wall  CPU GFLOP/s  % of peak  B/call");
        try (WorkerPool pool = WorkerPool.of(threads)) {
            for (int[] s : shapes) {
                measure(pool, s[0], s[1], s[2], rounds, threads);
            }
        }
    }

    /**
     * Times {@code rounds} batches of calls, each right after a short run of the peak loop, so a round's
     * percentage compares the two under the same load from other processes on the machine.
     */
    private static void measure(WorkerPool pool, int m, int k, int n, int rounds, int threads) {
        Random r = new Random(1);
        float[] a = random(r, m * k);
        PackedMatrix b = PackedMatrix.pack(random(r, k * n), 0, k, n, false);
        float[] bias = random(r, n);
        float[] c = new float[m * n];
        Epilogue ep = Epilogue.relu();
        double flops = 2.0 * m * k * n;
        int reps = (int) Math.max(10, 6e9 / flops); // ~70 ms per round
        for (int i = 0; i < 2 * reps; i++) {
            Gemm.gemm(pool, m, a, 0, k, b, bias, c, 0, n, false, ep);
        }
        double[] gflops = new double[rounds];
        double[] cpuGflops = new double[rounds];
        double[] share = new double[rounds];
        long bytes = 0;
        long probe = allocated() - allocated(); // what reading the counter itself allocates
        for (int round = 0; round < rounds; round++) {
            double peak = peakGflops();
            long before = allocated();
            long cpu0 = MX.getCurrentThreadCpuTime();
            long t0 = System.nanoTime();
            for (int i = 0; i < reps; i++) {
                Gemm.gemm(pool, m, a, 0, k, b, bias, c, 0, n, false, ep);
            }
            long ns = System.nanoTime() - t0;
            long cpu = MX.getCurrentThreadCpuTime() - cpu0;
            bytes = (allocated() - before + probe) / reps;
            gflops[round] = flops * reps / ns;
            cpuGflops[round] = flops * reps / cpu;
            share[round] = 100 * cpuGflops[round] / peak;
        }
        double med = median(gflops);
        System.out.printf("%4d x %4d x %4d  %10.2f  %12.1f  %9.1f  %11.1f  %9.1f  %6d%n", m, k, n, flops / med / 1e3,
                med, Arrays.stream(gflops).max().orElseThrow(), median(cpuGflops), median(share), bytes);
    }

    /**
     * The sustained FMA rate of one core, in FLOPs per nanosecond of this thread's CPU time: 12 independent
     * FMA chains, as many as the micro-kernel keeps, run in 2 ms pieces (~70 ms in all, because thread CPU time
     * may be counted in scheduler ticks). The pieces are separate calls because C2 compiled one long loop
     * into code running at half this rate (seen on this machine: an OSR-compiled loop at ~44 GFLOP/s).
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
