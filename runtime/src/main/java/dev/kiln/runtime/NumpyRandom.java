package dev.kiln.runtime;

/**
 * The Mersenne Twister (MT19937) with numpy's legacy seeding and double conversion: the doubles of
 * {@code np.random.seed(seed); np.random.uniform(0, 1, n)}. Generated code and the reference evaluator
 * both draw seeded random ops (and a seeded training-mode Dropout's mask) from this one generator, so both
 * reproduce ONNX's reference outputs and each other's bits.
 */
public final class NumpyRandom {
    private static final int N = 624;
    private static final int M = 397;
    private static final int MATRIX_A = 0x9908b0df;
    private static final int UPPER = 0x80000000;
    private static final int LOWER = 0x7fffffff;

    private final int[] mt = new int[N];
    private int index = N;
    private boolean hasGauss;
    private double gauss;

    /** Seeded as numpy's {@code RandomState(seed)} for a seed in [0, 2^32). */
    public NumpyRandom(long seed) {
        if (seed < 0 || seed > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("numpy seeds are in [0, 2^32), not " + seed);
        }
        mt[0] = (int) seed;
        for (int i = 1; i < N; i++) {
            mt[i] = 1812433253 * (mt[i - 1] ^ (mt[i - 1] >>> 30)) + i;
        }
    }

    /** The next 32 random bits (an unsigned value held in an int). */
    public int nextInt32() {
        if (index >= N) {
            twist();
        }
        int y = mt[index++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        return y;
    }

    /** A double in [0, 1) from 53 random bits, as numpy's {@code random_sample}. */
    public double nextDouble() {
        long a = (nextInt32() & 0xFFFF_FFFFL) >>> 5;
        long b = (nextInt32() & 0xFFFF_FFFFL) >>> 6;
        return (a * 67108864.0 + b) / 9007199254740992.0;
    }

    /**
     * A standard normal draw as numpy's legacy {@code RandomState.standard_normal}: the polar Box-Muller method, whose
     * second value of each accepted pair is kept for the next call.
     */
    public double nextGaussian() {
        if (hasGauss) {
            hasGauss = false;
            return gauss;
        }
        double x1;
        double x2;
        double r2;
        do {
            x1 = 2 * nextDouble() - 1;
            x2 = 2 * nextDouble() - 1;
            r2 = x1 * x1 + x2 * x2;
        } while (r2 >= 1 || r2 == 0);
        double f = Math.sqrt(-2 * Math.log(r2) / r2);
        gauss = f * x1;
        hasGauss = true;
        return f * x2;
    }

    /**
     * A Bernoulli draw (1 with probability p) as numpy's legacy {@code RandomState.binomial(1, p)}: inversion of the
     * distribution on p or on 1 - p, whichever is at most one half, consuming one double per draw (more only in the
     * rare case where rounding carries the inversion past its bound and it starts over).
     */
    public int nextBernoulli(double p) {
        if (!(p >= 0 && p <= 1)) {
            throw new IllegalArgumentException("a probability must be in [0, 1], not " + p);
        }
        return p <= 0.5 ? binomialInversion(1, p) : 1 - binomialInversion(1, 1 - p);
    }

    /** numpy's {@code random_binomial_inversion} for n trials of probability p (p at most one half). */
    private int binomialInversion(int n, double p) {
        double q = 1 - p;
        double qn = Math.exp(n * Math.log(q));
        double np = n * p;
        long bound = (long) Math.min(n, np + 10 * Math.sqrt(np * q + 1));
        int x = 0;
        double px = qn;
        double u = nextDouble();
        while (u > px) {
            x++;
            if (x > bound) {
                x = 0;
                px = qn;
                u = nextDouble();
            } else {
                u -= px;
                px = ((n - x + 1) * p * px) / (x * q);
            }
        }
        return x;
    }

    private void twist() {
        for (int k = 0; k < N; k++) {
            int y = (mt[k] & UPPER) | (mt[(k + 1) % N] & LOWER);
            mt[k] = mt[(k + M) % N] ^ (y >>> 1) ^ ((y & 1) != 0 ? MATRIX_A : 0);
        }
        index = 0;
    }
}
