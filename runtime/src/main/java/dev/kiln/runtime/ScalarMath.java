package dev.kiln.runtime;

/**
 * Scalar functions generated code needs that {@link Math} lacks, accurate to float precision.
 */
public final class ScalarMath {
    private ScalarMath() {}

    /**
     * The error function, from the Chebyshev fit of erfc in Numerical Recipes (fractional error below 1.2e-7
     * everywhere), evaluated in double and rounded once.
     */
    public static float erf(float x) {
        double z = Math.abs(x);
        double t = 1 / (1 + 0.5 * z);
        double poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
                + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
        double erfc = t * Math.exp(poly);
        return (float) (x >= 0 ? 1 - erfc : erfc - 1);
    }
}
