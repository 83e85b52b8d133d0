package dev.kiln.bench;

import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The FMA peak Java reaches on this machine: {@value #CHAINS} independent vector FMA chains (as many
 * accumulators as the GEMM micro-kernel keeps, enough to hide the FMA latency), no memory traffic. Measured in
 * the same run as the kernels, it is the 100 % that their GFLOP/s are a fraction of; {@link #peak2} runs it
 * on two threads at once for the two-thread figures.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 2, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector"})
public class FmaPeakBench {
    /** The species of the GEMM kernels. */
    private static final VectorSpecies<Float> S = dev.kiln.runtime.VectorWidth.FLOAT;
    public static final int CHAINS = 12;
    /** Loop trips per call: ~20 µs, long enough to dwarf the timer, short enough that the method is compiled
     *  as a whole rather than on-stack-replaced (an OSR'd long loop ran at half speed here, see GemmMeasure). */
    public static final int ITERS = 10_000;

    /** FLOPs of one call of {@link #peak}: chains x lanes x 2 per trip. */
    public static double flopsPerCall() {
        return (double) CHAINS * S.length() * 2 * ITERS;
    }

    /** Lanes of the species measured, for the report. */
    public static int lanes() {
        return S.length();
    }

    private float x = 1.0000001f;
    private float y = 0.9999999f;

    @Benchmark
    public float peak() {
        return chains(x, y);
    }

    @Benchmark
    @Threads(2)
    public float peak2() {
        return chains(x, y);
    }

    private static float chains(float xs, float ys) {
        FloatVector x = FloatVector.broadcast(S, xs);
        FloatVector y = FloatVector.broadcast(S, ys);
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
        FloatVector c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (int i = 0; i < ITERS; i++) {
            c0 = x.fma(y, c0); c1 = x.fma(y, c1); c2 = x.fma(y, c2); c3 = x.fma(y, c3);
            c4 = x.fma(y, c4); c5 = x.fma(y, c5); c6 = x.fma(y, c6); c7 = x.fma(y, c7);
            c8 = x.fma(y, c8); c9 = x.fma(y, c9); c10 = x.fma(y, c10); c11 = x.fma(y, c11);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11)
                .reduceLanes(VectorOperators.ADD);
    }
}
