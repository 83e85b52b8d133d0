package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.DoubleUnaryOperator;
import java.util.function.UnaryOperator;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

/** The IEEE-only exp, expm1 and tanh against {@link Math}, in ulps of the exact result, including the extremes. */
class VectorMathTest {

    private static final VectorSpecies<Float> S = GemmKernel.SPECIES;

    /** Largest error in ulps of the float nearest the exact value, over a grid of [lo, hi]. */
    private static double maxUlps(UnaryOperator<FloatVector> f, DoubleUnaryOperator exact, float lo, float hi) {
        int count = 200_000 / S.length() * S.length();
        float[] xs = new float[count];
        for (int i = 0; i < count; i++) {
            xs[i] = lo + (hi - lo) * i / (count - 1);
        }
        double worst = 0;
        for (int i = 0; i < count; i += S.length()) {
            FloatVector y = f.apply(FloatVector.fromArray(S, xs, i));
            for (int l = 0; l < S.length(); l++) {
                float want = (float) exact.applyAsDouble(xs[i + l]);
                float got = y.lane(l);
                double ulps = want == got ? 0 : Math.abs(got - want) / Math.ulp(want);
                worst = Math.max(worst, ulps);
            }
        }
        return worst;
    }

    @Test
    void expIsWithinTwoUlps() {
        assertTrue(maxUlps(VectorMath::exp, Math::exp, -87f, 88.5f) <= 2);
        assertTrue(maxUlps(VectorMath::exp, Math::exp, -2f, 2f) <= 2);
    }

    @Test
    void expm1IsWithinTwoUlps() {
        assertTrue(maxUlps(VectorMath::expm1, Math::expm1, -1e-3f, 1e-3f) <= 2);
        double worst = maxUlps(VectorMath::expm1, Math::expm1, -20f, 3f);
        assertTrue(worst <= 2, worst + " ulps");
    }

    @Test
    void tanhIsWithinTwoUlps() {
        assertTrue(maxUlps(VectorMath::tanh, Math::tanh, -1e-3f, 1e-3f) <= 2);
        assertTrue(maxUlps(VectorMath::tanh, Math::tanh, -12f, 12f) <= 2);
    }

    @Test
    void extremesSaturateAndNaNPropagates() {
        float[] xs = new float[S.length()];
        float[] special = {1000f, -1000f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, -0f, 88.7f,
                           -103f};
        for (int base = 0; base < special.length; base += S.length()) {
            int lanes = Math.min(S.length(), special.length - base);
            System.arraycopy(special, base, xs, 0, lanes);
            FloatVector x = FloatVector.fromArray(S, xs, 0);
            FloatVector e = VectorMath.exp(x);
            FloatVector t = VectorMath.tanh(x);
            for (int l = 0; l < lanes; l++) {
                float v = xs[l];
                float want = (float) Math.exp(v);
                assertEquals(want, e.lane(l), Float.isFinite(want) ? Math.ulp(want) * 2 : 0f, "exp " + v);
                assertEquals((float) Math.tanh(v), t.lane(l), 1e-7f, "tanh " + v);
            }
        }
    }
}
