package dev.kiln.runtime;

/**
 * The Mersenne Twister (MT19937) with numpy's legacy seeding and double conversion: the doubles of
 * {@code np.random.seed(seed); np.random.uniform(0, 1, n)}. Generated code draws a seeded training-mode
 * Dropout's mask from this, as the reference evaluator does (its twin in {@code dev.kiln.ir.ops}; the runtime
 * depends on nothing of Kiln, so it holds its own copy), so both reproduce ONNX's reference outputs.
 */
public final class NumpyRandom {
    private static final int N = 624;
    private static final int M = 397;
    private static final int MATRIX_A = 0x9908b0df;
    private static final int UPPER = 0x80000000;
    private static final int LOWER = 0x7fffffff;

    private final int[] mt = new int[N];
    private int index = N;

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

    private void twist() {
        for (int k = 0; k < N; k++) {
            int y = (mt[k] & UPPER) | (mt[(k + 1) % N] & LOWER);
            mt[k] = mt[(k + M) % N] ^ (y >>> 1) ^ ((y & 1) != 0 ? MATRIX_A : 0);
        }
        index = 0;
    }
}
