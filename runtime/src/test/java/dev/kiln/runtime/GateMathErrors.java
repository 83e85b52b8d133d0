package dev.kiln.runtime;

import java.util.Locale;
import java.util.function.DoubleUnaryOperator;

/**
 * Error of {@link GateMath#sigmoid} and {@link GateMath#tanh} over float bit patterns against the double
 * formulas rounded to float: the worst ulps where the reference is a normal float, the worst absolute error where
 * it is subnormal or zero, and the count of NaN mismatches. {@code main(stride)}: stride 1 visits all 2^32 floats
 * (minutes); the tests use a coarse stride through {@link #measure}.
 */
public final class GateMathErrors {
    /** A gate kernel's signature: dst = f(src) over len floats. */
    @FunctionalInterface
    public interface ArrayKernel {
        void apply(float[] src, int srcOff, float[] dst, int dstOff, int len);
    }

    /** Floats per kernel call: a multiple of every vector length, so no lane falls to a scalar tail. */
    private static final int CHUNK = 4096;

    /** Worst ulps (normal references), the x it happened at, worst absolute error (tiny references), NaN misses. */
    public record Errors(double ulps, float worstX, double tinyAbs, long nanMismatches, long count) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "max %.3f ulp (at x = %s), max abs %.3g where the exact value is "
                    + "subnormal or 0, %d NaN mismatches, %d floats", ulps, worstX, tinyAbs, nanMismatches, count);
        }
    }

    private GateMathErrors() {}

    public static Errors measure(ArrayKernel f, DoubleUnaryOperator exact, long stride) {
        float[] xs = new float[CHUNK];
        float[] ys = new float[CHUNK];
        double worst = 0;
        float worstX = 0;
        double tiny = 0;
        long nan = 0;
        long count = 0;
        long bits = 0;
        while (bits < (1L << 32)) {
            int m = 0;
            for (; m < CHUNK && bits < (1L << 32); m++) {
                xs[m] = Float.intBitsToFloat((int) bits);
                bits += stride;
            }
            f.apply(xs, 0, ys, 0, CHUNK);
            for (int l = 0; l < m; l++) {
                float x = xs[l];
                float want = (float) exact.applyAsDouble(x);
                float got = ys[l];
                count++;
                if (Float.isNaN(want) || Float.isNaN(got)) {
                    if (Float.isNaN(want) != Float.isNaN(got)) {
                        nan++;
                    }
                    continue;
                }
                if (Math.abs(want) < Float.MIN_NORMAL) {
                    tiny = Math.max(tiny, Math.abs((double) got - want));
                    continue;
                }
                double ulps = want == got ? 0 : Math.abs((double) got - want) / Math.ulp(want);
                if (ulps > worst) {
                    worst = ulps;
                    worstX = x;
                }
            }
        }
        return new Errors(worst, worstX, tiny, nan, count);
    }

    public static void sigmoid(float[] src, int srcOff, float[] dst, int dstOff, int len) {
        GateMath.sigmoid(src, srcOff, dst, dstOff, len, Float.POSITIVE_INFINITY);
    }

    public static void tanh(float[] src, int srcOff, float[] dst, int dstOff, int len) {
        GateMath.tanh(src, srcOff, dst, dstOff, len, Float.POSITIVE_INFINITY);
    }

    public static double sigmoidExact(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    public static void main(String[] args) {
        long stride = args.length > 0 ? Long.parseLong(args[0]) : 1;
        System.out.println("species " + GemmKernel.SPECIES + ", stride " + stride);
        System.out.println("GateMath.sigmoid: " + measure(GateMathErrors::sigmoid, GateMathErrors::sigmoidExact, stride));
        System.out.println("GateMath.tanh: " + measure(GateMathErrors::tanh, Math::tanh, stride));
        if (args.length > 1) {
            // the formulas the recurrent kernels used before GateMath
            System.out.println("1/(1+VectorMath.exp(-x)): " + measure(GateMathErrors::oldSigmoid,
                    GateMathErrors::sigmoidExact, stride));
            System.out.println("VectorMath.tanh: " + measure(GateMathErrors::oldTanh, Math::tanh, stride));
        }
    }

    private static void oldSigmoid(float[] src, int srcOff, float[] dst, int dstOff, int len) {
        var s = GemmKernel.SPECIES;
        for (int j = 0; j < len; j += s.length()) {
            jdk.incubator.vector.FloatVector x = jdk.incubator.vector.FloatVector.fromArray(s, src, srcOff + j);
            x.broadcast(1f).div(VectorMath.exp(x.neg()).add(1f)).intoArray(dst, dstOff + j);
        }
    }

    private static void oldTanh(float[] src, int srcOff, float[] dst, int dstOff, int len) {
        var s = GemmKernel.SPECIES;
        for (int j = 0; j < len; j += s.length()) {
            VectorMath.tanh(jdk.incubator.vector.FloatVector.fromArray(s, src, srcOff + j)).intoArray(dst, dstOff + j);
        }
    }
}
