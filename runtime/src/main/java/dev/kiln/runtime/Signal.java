package dev.kiln.runtime;

import java.util.Arrays;

/**
 * Signal kernels generated code calls: cosine-sum windows, the mel filter bank, and the discrete Fourier transform
 * behind DFT and STFT, one line at a time through an {@link Fft} plan (O(L log L) for any length L). Complex values
 * are (real, imaginary) pairs in the last axis; a real signal has one element there. Accumulation is in double.
 */
public final class Signal {
    private Signal() {}

    /** {@code y[i] = a0 - a1 cos(2 pi i / N) + a2 cos(4 pi i / N)}, N = size (periodic) or size - 1 (symmetric). */
    public static void cosineWindow(double a0, double a1, double a2, boolean periodic, float[] y, int yOff, int size) {
        int n = periodic ? size : size - 1;
        for (int i = 0; i < size; i++) {
            double x = n == 0 ? 0 : 2 * Math.PI * i / n;
            y[yOff + i] = (float) (a0 - a1 * Math.cos(x) + a2 * Math.cos(2 * x));
        }
    }

    /** ONNX's [length / 2 + 1, bins] mel filter bank (see the op table's MelWeightMatrix), row-major. */
    public static void melWeights(int bins, int length, long rate, double lower, double upper, float[] y, int yOff) {
        int rows = length / 2 + 1;
        Arrays.fill(y, yOff, yOff + rows * bins, 0f);
        double low = 2595 * Math.log10(1 + lower / 700);
        double high = 2595 * Math.log10(1 + upper / 700);
        double step = (high - low) / (bins + 2);
        int[] point = new int[bins + 2];
        for (int i = 0; i < point.length; i++) {
            double hz = 700 * (Math.pow(10, (i * step + low) / 2595) - 1);
            point[i] = (int) Math.floor((length + 1) * hz / rate);
        }
        for (int i = 0; i < bins; i++) {
            int left = point[i];
            int center = point[i + 1];
            int right = point[i + 2];
            if (center == left) {
                set(y, yOff, rows, bins, center, i, 1);
            } else {
                for (int j = left; j <= center; j++) {
                    set(y, yOff, rows, bins, j, i, (double) (j - left) / (center - left));
                }
            }
            for (int j = center; j < right; j++) {
                set(y, yOff, rows, bins, j, i, (double) (right - j) / (right - center));
            }
        }
    }

    private static void set(float[] y, int yOff, int rows, int bins, int row, int col, double v) {
        if (row >= 0 && row < rows) {
            y[yOff + row * bins + col] = (float) v;
        }
    }

    /**
     * One DFT line: {@code count} output bins of the transform (length {@code fft.length()} = L, through the FFT) of
     * the {@code n} input samples at {@code x[xOff + t * xStride]} (with the imaginary part next to each when
     * {@code complexIn}; samples past L are dropped, missing ones are zeros), written to {@code y[yOff + k * yStride]}
     * (real, then imaginary when {@code complexOut}). The forward transform uses e^(-2 pi i k t / L), the inverse
     * e^(+...) scaled by 1 / L; {@code hermitian} reads the input as the half spectrum 0..L/2 of a real signal (an
     * inverse onesided DFT), bin t > L/2 being the conjugate of bin L - t.
     */
    public static void line(float[] x, int xOff, int xStride, int n, boolean complexIn, float[] window, int wOff,
                            float[] y, int yOff, int yStride, int count, boolean complexOut, boolean inverse,
                            boolean hermitian, Fft fft, double[] work) {
        int length = fft.length();
        int used = Math.min(n, hermitian ? length / 2 + 1 : length);
        Arrays.fill(work, 0, 2 * length, 0);
        for (int t = 0; t < used; t++) {
            int f = xOff + t * xStride;
            double w = window == null ? 1 : window[wOff + t];
            work[t] = x[f] * w;
            work[length + t] = complexIn ? x[f + 1] * w : 0;
        }
        if (hermitian) {
            for (int t = length / 2 + 1; t < length; t++) {
                int src = length - t;
                if (src < used) {
                    work[t] = work[src];
                    work[length + t] = -work[length + src];
                }
            }
        }
        fft.transform(work, inverse);
        double scale = inverse ? 1.0 / length : 1;
        for (int k = 0; k < count; k++) {
            int o = yOff + k * yStride;
            y[o] = (float) (work[k] * scale);
            if (complexOut) {
                y[o + 1] = (float) (work[length + k] * scale);
            }
        }
    }

    /**
     * DFT of an input of dims {@code inDims} (last: 1 or 2) along {@code axis} (negative from the back), of length
     * {@code dftLength} (0 or less: the axis' length, or 2 (n - 1) for an inverse onesided one), into the output of
     * dims {@code outDims} the code was compiled for, which the values must give. {@code ffts} holds the plan of L
     * (built when the instance was made for a length known then, otherwise when L first occurs).
     */
    public static void dft(String node, float[] x, int xOff, int[] inDims, long axis, long dftLength, boolean inverse,
                           boolean onesided, float[] y, int yOff, int[] outDims, Fft.Cache ffts) {
        int r = inDims.length;
        int ax = (int) (axis < 0 ? axis + r : axis);
        if (ax < 0 || ax > r - 2) {
            throw new IllegalArgumentException(node + ": axis " + axis + " is out of range for an input of shape "
                    + Arrays.toString(inDims) + " (the last axis holds real and imaginary parts)");
        }
        int n = inDims[ax];
        boolean hermitian = inverse && onesided;
        long length = dftLength > 0 ? dftLength : hermitian ? 2L * (n - 1) : n;
        int bins = (int) (onesided && !inverse ? length / 2 + 1 : length);
        int outChannels = hermitian ? 1 : 2;
        int[] expected = inDims.clone();
        expected[ax] = bins;
        expected[r - 1] = outChannels;
        if (length <= 0 || !Arrays.equals(expected, outDims)) {
            throw new IllegalArgumentException(node + ": a DFT of length " + length + " along axis " + ax
                    + " of an input of shape " + Arrays.toString(inDims) + " gives shape " + Arrays.toString(expected)
                    + ", but the code was compiled for " + Arrays.toString(outDims));
        }
        Fft fft = ffts.plan((int) length);
        double[] work = ffts.work();
        int inner = 1;
        for (int d = ax + 1; d < r - 1; d++) {
            inner *= inDims[d];
        }
        int outer = 1;
        for (int d = 0; d < ax; d++) {
            outer *= inDims[d];
        }
        int inChannels = inDims[r - 1];
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < inner; i++) {
                line(x, xOff + (o * n * inner + i) * inChannels, inner * inChannels, n, inChannels == 2, null, 0,
                        y, yOff + (o * bins * inner + i) * outChannels, inner * outChannels, bins, outChannels == 2,
                        inverse, hermitian, fft, work);
            }
        }
    }

    /**
     * STFT of [batch, length, channels] signals: frame f starts at sample f * step; each of its frameLength samples
     * is weighted by the window (none: 1) and the frame transformed into {@code bins} bins of [batch, frames, bins,
     * 2]. {@code frames} is what the code was compiled for; the step and length must give it.
     */
    public static void stft(String node, float[] x, int xOff, int batch, int length, int channels, long step,
                            float[] window, int wOff, int frameLength, float[] y, int yOff, int frames, int bins,
                            Fft.Cache ffts) {
        long given = step > 0 && frameLength <= length ? 1 + (length - frameLength) / step : -1;
        if (given != frames) {
            throw new IllegalArgumentException(node + ": frame_step " + step + " and frame_length " + frameLength
                    + " over a signal of " + length + " samples give " + given + " frames, but the code was compiled for "
                    + frames);
        }
        Fft fft = ffts.plan(frameLength);
        double[] work = ffts.work();
        for (int b = 0; b < batch; b++) {
            for (int f = 0; f < frames; f++) {
                line(x, xOff + (b * length + (int) (f * step)) * channels, channels, frameLength, channels == 2,
                        window, wOff, y, yOff + (b * frames + f) * bins * 2, 2, bins, true, false, false, fft, work);
            }
        }
    }
}
