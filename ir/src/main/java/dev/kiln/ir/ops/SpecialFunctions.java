package dev.kiln.ir.ops;

/** Math functions the JDK lacks (erf), in double precision, for the reference evaluator. */
public final class SpecialFunctions {
    private SpecialFunctions() {}

    private static final double TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

    /** Beyond this |x|, erf(x) rounds to ±1 in double (erfc(6) ≈ 2e-17 is below half an ulp of 1). */
    private static final double SATURATION = 6;

    /**
     * The error function, by the series {@code erf(x) = 2/√π · e^(-x²) · Σ (2x²)^n · x / (1·3·…·(2n+1))},
     * whose terms are all of x's sign, so nothing cancels and the sum is accurate to a few ulps.
     */
    public static double erf(double x) {
        if (Double.isNaN(x)) {
            return x;
        }
        if (Math.abs(x) >= SATURATION) {
            return Math.copySign(1.0, x);
        }
        double twoX2 = 2 * x * x;
        double term = x;
        double sum = x;
        for (int n = 1; n < 2000 && Math.abs(term) > 1e-18 * Math.abs(sum); n++) {
            term *= twoX2 / (2 * n + 1);
            sum += term;
        }
        return TWO_OVER_SQRT_PI * Math.exp(-x * x) * sum;
    }

    private static final double LN2 = Math.log(2);

    /** Above this |x|, x² + 1 == x² in double and asinh/acosh reduce to log(2|x|). */
    private static final double LARGE = 0x1p28;

    /** Inverse hyperbolic sine, accurate near 0 (via log1p) and for large |x| (without overflow). */
    public static double asinh(double x) {
        double a = Math.abs(x);
        double r;
        if (a > LARGE) {
            r = Math.log(a) + LN2;
        } else {
            // log(a + sqrt(a²+1)) = log1p(a + a²/(1 + sqrt(a²+1)))
            r = Math.log1p(a + a * a / (1 + Math.sqrt(a * a + 1)));
        }
        return Math.copySign(r, x);
    }

    /** Inverse hyperbolic cosine: NaN below 1, accurate near 1 (via log1p). */
    public static double acosh(double x) {
        if (!(x >= 1)) {
            return Double.NaN;
        }
        if (x > LARGE) {
            return Math.log(x) + LN2;
        }
        double t = x - 1;
        // log(x + sqrt(x²-1)) with x = 1 + t: log1p(t + sqrt(2t + t²))
        return Math.log1p(t + Math.sqrt(2 * t + t * t));
    }

    /** Inverse hyperbolic tangent: ±∞ at ±1, NaN beyond, accurate near 0 (via log1p). */
    public static double atanh(double x) {
        // ½·log((1+x)/(1-x)) = ½·log1p(2x/(1-x))
        return 0.5 * Math.log1p(2 * x / (1 - x));
    }
}
