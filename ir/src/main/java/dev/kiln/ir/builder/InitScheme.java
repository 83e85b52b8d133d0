package dev.kiln.ir.builder;

import dev.kiln.ir.DType;
import dev.kiln.ir.Tensor;
import java.nio.charset.StandardCharsets;

/**
 * PyTorch's default parameter initializations, drawn from a seeded generator so a model built twice with
 * the same seed has bit-identical weights on every JVM.
 *
 * <p>Each parameter draws from its own stream, seeded by the model seed and the parameter's name: adding
 * a layer does not change the weights of the others. The generator is SplitMix64, written out here rather
 * than taken from {@code java.util} so its sequence is fixed by this file alone.
 */
public final class InitScheme {
    private final long seed;

    public InitScheme(long seed) {
        this.seed = seed;
    }

    public long seed() { return seed; }

    /**
     * The bound of {@code kaiming_uniform_(w, a=sqrt(5))}, PyTorch's default for Linear and Conv weights:
     * gain {@code sqrt(2 / (1 + 5))} times {@code sqrt(3 / fan_in)}, which is {@code 1 / sqrt(fan_in)}.
     * Their biases use the same bound.
     */
    public static double linearBound(long fanIn) {
        return 1.0 / Math.sqrt(fanIn);
    }

    /** The bound PyTorch's LSTM and GRU use for every weight and bias: {@code 1 / sqrt(hidden_size)}. */
    public static double recurrentBound(long hiddenSize) {
        return 1.0 / Math.sqrt(hiddenSize);
    }

    /** Elements drawn uniformly from {@code [-bound, bound)}, rounded to {@code dtype}. */
    public Tensor uniform(String parameterName, DType dtype, int[] shape, double bound) {
        double[] data = new double[Tensor.sizeOf(shape)];
        SplitMix64 rng = new SplitMix64(seed ^ fnv1a(parameterName));
        for (int i = 0; i < data.length; i++) {
            data[i] = (2 * rng.nextUnit() - 1) * bound;
        }
        return Tensor.wrapDoubles(dtype, shape, data);
    }

    /** Every element equal to {@code value} (BatchNorm's ones and zeros). */
    public static Tensor filled(DType dtype, int[] shape, double value) {
        double[] data = new double[Tensor.sizeOf(shape)];
        java.util.Arrays.fill(data, value);
        return Tensor.wrapDoubles(dtype, shape, data);
    }

    private static long fnv1a(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xff)) * 0x100000001b3L;
        }
        return h;
    }

    /** Steele, Lea and Flood's SplitMix64: tiny, fast, and good enough for initial weights. */
    private static final class SplitMix64 {
        private long state;

        SplitMix64(long seed) {
            this.state = seed;
        }

        long next() {
            long z = (state += 0x9e3779b97f4a7c15L);
            z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
            z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
            return z ^ (z >>> 31);
        }

        /** Uniform in [0, 1) with 53 random bits. */
        double nextUnit() {
            return (next() >>> 11) * 0x1.0p-53;
        }
    }
}
