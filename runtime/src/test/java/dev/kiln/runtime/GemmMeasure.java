package dev.kiln.runtime;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Preliminary timing of {@link Gemm} on the model's shapes against a Java FMA-peak loop run in the same JVM
 * (not JMH: medians of repeated timed batches after warm-up). Prints GFLOP/s, % of peak and allocated bytes
 * per call (non-zero means vectors were boxed, i.e. C2 did not intrinsify the kernel).
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -cp runtime/target/classes:runtime/target/test-classes
 * dev.kiln.runtime.GemmMeasure [threads] [rounds]}
 */
public final class GemmMeasure {

    private static final VectorSpecies<Float> S = GemmKernel.SPECIES;

    private GemmMeasure() { }

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 7;
        System.out.printf("species %s, MR %d, threads %d, rounds %d%n", S, GemmKernel.MR, threads, rounds);
        double peak = median(rounds, GemmMeasure::peakGflops);
        System.out.printf("FMA peak loop (1 thread): %.1f GFLOP/s%n", peak);
        int[][] shapes = {{64, 784, 512}, {1, 784, 512}, {64, 512, 256}, {1, 512, 256}, {64, 256, 10},
                          {256, 256, 256}, {512, 512, 512}};
        try (WorkerPool pool = WorkerPool.of(threads)) {
            for (int[] s : shapes) {
                measure(pool, s[0], s[1], s[2], rounds, peak * threads);
            }
        }
    }

    private static void measure(WorkerPool pool, int m, int k, int n, int rounds, double peak) {
        Random r = new Random(1);
        float[] a = random(r, m * k);
        PackedMatrix b = PackedMatrix.pack(random(r, k * n), 0, k, n, false);
        float[] bias = random(r, n);
        float[] c = new float[m * n];
        Epilogue ep = Epilogue.relu();
        double flops = 2.0 * m * k * n;
        int reps = (int) Math.max(10, 2e8 / flops);
        Runnable call = () -> Gemm.gemm(pool, m, a, 0, k, b, bias, c, 0, n, false, ep);
        for (int i = 0; i < 3 * reps; i++) {
            call.run();
        }
        long[] alloc = new long[1];
        double nanos = median(rounds, () -> {
            long bytes = allocated();
            long t0 = System.nanoTime();
            for (int i = 0; i < reps; i++) {
                call.run();
            }
            double ns = (double) (System.nanoTime() - t0) / reps;
            alloc[0] = (allocated() - bytes) / reps;
            return ns;
        });
        double gflops = flops / nanos;
        System.out.printf("%4dx%4dx%4d  %9.2f us  %6.1f GFLOP/s  %5.1f %% of peak  %d B/call%n",
                m, k, n, nanos / 1e3, gflops, 100 * gflops / peak, alloc[0]);
    }

    /** 12 independent FMA chains, as many as the micro-kernel keeps: the sustained FMA rate of one core. */
    private static double peakGflops() {
        FloatVector x = FloatVector.broadcast(S, 1.0000001f);
        FloatVector y = FloatVector.broadcast(S, 0.9999999f);
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
        FloatVector c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        int iters = 20_000_000;
        long t0 = System.nanoTime();
        for (int i = 0; i < iters; i++) {
            c0 = x.fma(y, c0); c1 = x.fma(y, c1); c2 = x.fma(y, c2); c3 = x.fma(y, c3);
            c4 = x.fma(y, c4); c5 = x.fma(y, c5); c6 = x.fma(y, c6); c7 = x.fma(y, c7);
            c8 = x.fma(y, c8); c9 = x.fma(y, c9); c10 = x.fma(y, c10); c11 = x.fma(y, c11);
        }
        long ns = System.nanoTime() - t0;
        float sink = c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10)
                .add(c11).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
        if (sink == 42) {
            System.out.println();
        }
        return 12.0 * 2 * S.length() * iters / ns;
    }

    private interface Timed { double run(); }

    private static double median(int rounds, Timed t) {
        t.run();
        List<Double> xs = new ArrayList<>();
        for (int i = 0; i < rounds; i++) {
            xs.add(t.run());
        }
        xs.sort(null);
        return xs.get(rounds / 2);
    }

    private static long allocated() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    private static float[] random(Random r, int len) {
        float[] x = new float[len];
        for (int i = 0; i < len; i++) {
            x[i] = r.nextFloat() * 2 - 1;
        }
        return x;
    }

}
