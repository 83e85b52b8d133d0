package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The FFT plans against the direct O(L^2) sum in double, forward and inverse, for powers of two (radix-2) and other
 * lengths (Bluestein): |fft - direct| <= 1e-10 x the largest |direct| (both in double; the direct sum itself carries
 * rounding of about L x 1e-16 of that).
 */
class FftTest {
    @Test
    void matchesTheDirectTransform() {
        Random random = new Random(11);
        for (int length : new int[] {1, 2, 3, 4, 5, 6, 7, 8, 12, 17, 31, 64, 100, 127, 1024, 1000}) {
            Fft fft = new Fft(length);
            double[] re = new double[length];
            double[] im = new double[length];
            for (int t = 0; t < length; t++) {
                re[t] = random.nextDouble() * 2 - 1;
                im[t] = random.nextDouble() * 2 - 1;
            }
            for (boolean inverse : new boolean[] {false, true}) {
                double[] work = new double[fft.workSize()];
                System.arraycopy(re, 0, work, 0, length);
                System.arraycopy(im, 0, work, length, length);
                fft.transform(work, inverse);
                double sign = inverse ? 1 : -1;
                double[] wantRe = new double[length];
                double[] wantIm = new double[length];
                double max = 0;
                for (int k = 0; k < length; k++) {
                    for (int t = 0; t < length; t++) {
                        double angle = sign * 2 * Math.PI * ((long) k * t % length) / length;
                        wantRe[k] += re[t] * Math.cos(angle) - im[t] * Math.sin(angle);
                        wantIm[k] += re[t] * Math.sin(angle) + im[t] * Math.cos(angle);
                    }
                    max = Math.max(max, Math.hypot(wantRe[k], wantIm[k]));
                }
                for (int k = 0; k < length; k++) {
                    assertEquals(wantRe[k], work[k], 1e-10 * max, "length " + length + " bin " + k + " (real)");
                    assertEquals(wantIm[k], work[length + k], 1e-10 * max, "length " + length + " bin " + k + " (imag)");
                }
            }
        }
    }
}
