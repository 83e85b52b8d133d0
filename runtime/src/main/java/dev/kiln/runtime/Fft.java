package dev.kiln.runtime;

/**
 * A fast Fourier transform plan for one length L, in double: iterative radix-2 (bit-reversed order, then log2 L
 * butterfly passes over a table of L/2 twiddles) when L is a power of two; Bluestein's chirp-z algorithm otherwise,
 * which writes the transform as a convolution with the chirp e^(-i pi k^2 / L) and computes that convolution with
 * power-of-two transforms of size M >= 2L - 1. A plan holds only tables (immutable, shareable); the data and
 * scratch live in a caller's work array of {@link #workSize()} doubles: the real parts at [0, L), the imaginary
 * parts at [L, 2L), scratch after them.
 */
public final class Fft {
    private final int length;
    /** The power-of-two size the butterflies run at: L itself, or Bluestein's M. */
    private final int size;
    private final int[] bitReverse;
    /** cos and -sin of 2 pi j / size, j in [0, size / 2): the forward twiddles. */
    private final double[] cos;
    private final double[] sin;
    /** Bluestein only: the chirp e^(-i pi k^2 / L), k in [0, L). */
    private final double[] chirpRe;
    private final double[] chirpIm;
    /** Bluestein only: the forward transform (size M) of the conjugate chirp wrapped around: the filter. */
    private final double[] filterRe;
    private final double[] filterIm;

    public Fft(int length) {
        if (length < 1) {
            throw new IllegalArgumentException("an FFT needs a positive length, not " + length);
        }
        this.length = length;
        boolean pow2 = Integer.bitCount(length) == 1;
        this.size = pow2 ? length : Integer.highestOneBit(2 * length - 1) << 1;
        int bits = Integer.numberOfTrailingZeros(size);
        bitReverse = new int[size];
        for (int i = 0; i < size; i++) {
            bitReverse[i] = bits == 0 ? 0 : Integer.reverse(i) >>> (32 - bits);
        }
        cos = new double[Math.max(1, size / 2)];
        sin = new double[cos.length];
        for (int j = 0; j < size / 2; j++) {
            double angle = 2 * Math.PI * j / size;
            cos[j] = Math.cos(angle);
            sin[j] = -Math.sin(angle);
        }
        if (pow2) {
            chirpRe = chirpIm = filterRe = filterIm = null;
            return;
        }
        chirpRe = new double[length];
        chirpIm = new double[length];
        long twoL = 2L * length;
        for (int k = 0; k < length; k++) {
            // k^2 mod 2L keeps the angle small, so the chirp is exact to rounding for any length.
            double angle = Math.PI * (((long) k * k) % twoL) / length;
            chirpRe[k] = Math.cos(angle);
            chirpIm[k] = -Math.sin(angle);
        }
        filterRe = new double[size];
        filterIm = new double[size];
        for (int k = 0; k < length; k++) {
            filterRe[k] = chirpRe[k];
            filterIm[k] = -chirpIm[k];
            if (k > 0) {
                filterRe[size - k] = chirpRe[k];
                filterIm[size - k] = -chirpIm[k];
            }
        }
        radix2(filterRe, 0, filterIm, 0);
    }

    public int length() { return length; }

    /** Doubles of work a transform needs: 2L for the data, plus 2M of scratch for Bluestein. */
    public int workSize() {
        return chirpRe == null ? 2 * length : 2 * length + 2 * size;
    }

    /**
     * Transforms work[0, L) + i work[L, 2L) in place: with e^(-2 pi i k t / L) (forward), or e^(+...) unscaled
     * (inverse, computed as the conjugate of the forward transform of the conjugate).
     */
    public void transform(double[] work, boolean inverse) {
        if (inverse) {
            negate(work, length, 2 * length);
        }
        if (chirpRe == null) {
            radix2(work, 0, work, length);
        } else {
            bluestein(work);
        }
        if (inverse) {
            negate(work, length, 2 * length);
        }
    }

    private static void negate(double[] a, int from, int to) {
        for (int i = from; i < to; i++) {
            a[i] = -a[i];
        }
    }

    /** X[k] = conj(c[k]) * sum_t (x[t] conj(c[t])) c[k - t] with c the conjugate chirp: a convolution of size M. */
    private void bluestein(double[] work) {
        int reOff = 2 * length;
        int imOff = reOff + size;
        java.util.Arrays.fill(work, reOff, imOff + size, 0);
        for (int t = 0; t < length; t++) {
            double xr = work[t];
            double xi = work[length + t];
            work[reOff + t] = xr * chirpRe[t] - xi * chirpIm[t];
            work[imOff + t] = xr * chirpIm[t] + xi * chirpRe[t];
        }
        radix2(work, reOff, work, imOff);
        for (int k = 0; k < size; k++) {
            double ar = work[reOff + k];
            double ai = work[imOff + k];
            // Multiply by the filter and conjugate, so the forward butterflies below compute the inverse transform.
            work[reOff + k] = ar * filterRe[k] - ai * filterIm[k];
            work[imOff + k] = -(ar * filterIm[k] + ai * filterRe[k]);
        }
        radix2(work, reOff, work, imOff);
        double scale = 1.0 / size;
        for (int k = 0; k < length; k++) {
            double cr = work[reOff + k] * scale;
            double ci = -work[imOff + k] * scale;
            work[k] = cr * chirpRe[k] - ci * chirpIm[k];
            work[length + k] = cr * chirpIm[k] + ci * chirpRe[k];
        }
    }

    /** The forward transform of size {@link #size} of re[reOff...] + i im[imOff...], in place. */
    private void radix2(double[] re, int reOff, double[] im, int imOff) {
        for (int i = 0; i < size; i++) {
            int j = bitReverse[i];
            if (j > i) {
                double t = re[reOff + i];
                re[reOff + i] = re[reOff + j];
                re[reOff + j] = t;
                t = im[imOff + i];
                im[imOff + i] = im[imOff + j];
                im[imOff + j] = t;
            }
        }
        for (int half = 1; half < size; half <<= 1) {
            int stride = size / (2 * half);
            for (int start = 0; start < size; start += 2 * half) {
                for (int j = 0; j < half; j++) {
                    double wr = cos[j * stride];
                    double wi = sin[j * stride];
                    int a = start + j;
                    int b = a + half;
                    double br = re[reOff + b] * wr - im[imOff + b] * wi;
                    double bi = re[reOff + b] * wi + im[imOff + b] * wr;
                    re[reOff + b] = re[reOff + a] - br;
                    im[imOff + b] = im[imOff + a] - bi;
                    re[reOff + a] += br;
                    im[imOff + a] += bi;
                }
            }
        }
    }

    /**
     * A plan and its work array for one generated instance: built for a length known at generation time when the
     * instance is made, and rebuilt only when a transform's length read at run time differs from the last one.
     */
    public static final class Cache {
        private Fft plan;
        private double[] work;

        /** An empty cache: the first transform builds its plan. */
        public Cache() {}

        /** A cache holding the plan of {@code length}, precomputed now. */
        public Cache(int length) {
            plan(length);
        }

        /** The plan of {@code length}, kept for the next call. */
        public Fft plan(int length) {
            if (plan == null || plan.length != length) {
                plan = new Fft(length);
                work = new double[plan.workSize()];
            }
            return plan;
        }

        /** The work array of the current plan. */
        public double[] work() {
            return work;
        }
    }
}
