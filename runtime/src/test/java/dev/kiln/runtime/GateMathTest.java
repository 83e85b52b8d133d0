package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The recurrent gates' sigmoid and tanh against the double formulas: a sweep over every 997th float bit pattern
 * (4.3 M floats across the whole range: both signs, subnormals, saturation, infinities, NaNs; the full sweep is
 * {@link GateMathErrors#main}), exact special values, the clip, and the scalar tail.
 */
class GateMathTest {

    @Test
    void sigmoidIsWithinTwoUlpsOverTheFloatRange() {
        GateMathErrors.Errors e = GateMathErrors.measure(GateMathErrors::sigmoid, GateMathErrors::sigmoidExact, 997);
        assertTrue(e.ulps() <= 2 && e.tinyAbs() < 4.4e-39 && e.nanMismatches() == 0, e.toString());
    }

    @Test
    void tanhIsWithinThreeUlpsOverTheFloatRange() {
        // the full sweep's worst is 3 ulp (x = 0.03126); this sample's is 2
        GateMathErrors.Errors e = GateMathErrors.measure(GateMathErrors::tanh, Math::tanh, 997);
        assertTrue(e.ulps() <= 3 && e.tinyAbs() == 0 && e.nanMismatches() == 0, e.toString());
    }

    @Test
    void saturatesExactlyAndKeepsSignedZeros() {
        float[] xs = {Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 1000f, -1000f, 9.02f, -9.02f, 0f, -0f,
                      Float.NaN, 17f, -89f, Float.MIN_VALUE, -Float.MIN_VALUE, 1e-30f, -88.5f, 3f};
        float[] sig = {1f, 0f, 1f, 0f, 0.99987906f, 1.2095144e-4f, 0.5f, 0.5f, Float.NaN, 1f, 0f, 0.5f, 0.5f, 0.5f,
                       0f, 0.95257413f};
        float[] th = {1f, -1f, 1f, -1f, 1f, -1f, 0f, -0f, Float.NaN, 1f, -1f, Float.MIN_VALUE, -Float.MIN_VALUE,
                      1e-30f, -1f, 0.9950548f};
        float[] s = new float[xs.length];
        float[] t = new float[xs.length];
        GateMath.sigmoid(xs, 0, s, 0, xs.length, Float.POSITIVE_INFINITY);
        GateMath.tanh(xs, 0, t, 0, xs.length, Float.POSITIVE_INFINITY);
        for (int i = 0; i < xs.length; i++) {
            if (Float.isNaN(sig[i])) {
                assertTrue(Float.isNaN(s[i]), "sigmoid NaN");
            } else {
                assertEquals(sig[i], s[i], Math.ulp(sig[i]) * 2, "sigmoid " + xs[i]);
            }
            // exact: the sign of zero and the saturation values too
            assertEquals(Float.floatToIntBits(th[i]), Float.floatToIntBits(t[i]), "tanh " + xs[i]);
        }
    }

    @Test
    void clipBoundsTheArgumentAndTheTailUsesTheDoubleFormula() {
        int n = 3 * GemmKernel.SPECIES.length() + 3;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (i % 2 == 0 ? 1 : -1) * (0.5f + i);
        }
        float[] s = new float[n];
        float[] t = new float[n];
        GateMath.sigmoid(x, 0, s, 0, n, 2f);
        GateMath.tanh(x, 0, t, 0, n, 2f);
        for (int i = 0; i < n; i++) {
            double c = Math.max(-2, Math.min(2, x[i]));
            assertEquals(1 / (1 + Math.exp(-c)), s[i], 2 * Math.ulp((float) (1 / (1 + Math.exp(-c)))), "sigmoid " + x[i]);
            assertEquals(Math.tanh(c), t[i], 2 * Math.ulp((float) Math.tanh(c)), "tanh " + x[i]);
        }
        // in place, offset source and destination
        float[] y = x.clone();
        GateMath.tanh(y, 1, y, 1, n - 1, 2f);
        assertEquals(x[0], y[0]);
        assertEquals(t[1], y[1]);
        assertEquals(t[n - 1], y[n - 1]);
    }
}
