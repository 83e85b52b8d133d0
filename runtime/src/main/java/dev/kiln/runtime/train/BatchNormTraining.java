package dev.kiln.runtime.train;

import static dev.kiln.runtime.train.Lanes.S;
import static dev.kiln.runtime.train.Lanes.VL;

import dev.kiln.runtime.ThreadRangeBody;
import dev.kiln.runtime.WorkerPool;
import java.util.Objects;
import jdk.incubator.vector.FloatVector;

/**
 * BatchNormalization in training mode over X [N, C, spatial...] viewed as N x C planes of {@code spatial} floats:
 * the forward normalizes with the batch's own mean and biased variance and updates the running statistics; the
 * backward gives dX, dScale and dBias (the contract of Kiln's BatchNormTrainingGrad op).
 *
 * <p>Statistics: each plane is summed by vector partial sums in float (at most a few thousand terms), the planes
 * of a channel are added in double, and the variance is the second pass {@code sum (x - mean)^2} likewise, so the
 * statistics are accurate to float rounding for any batch. Momentum has ONNX's meaning (the weight of the old
 * running value: {@code running = running * momentum + batch * (1 - momentum)}; PyTorch's momentum 0.1 is ONNX's
 * 0.9). PyTorch updates the running variance with the unbiased batch variance ({@code n / (n - 1)} times the
 * biased one) while ONNX's reference uses the biased one; the caller chooses. {@code *Scalar} twins are the
 * formulas in double.
 */
public final class BatchNormTraining {
    private static final int T_MEAN = 10;
    private static final int T_INV = 11;

    private BatchNormTraining() {}

    /**
     * Batch mean and {@code 1 / sqrt(biasedVar + epsilon)} per channel.
     *
     * @param mean written: C floats from {@code meanOff}
     * @param invStd written: C floats from {@code invOff}
     * @param var written when not null: the biased batch variance per channel, C floats from {@code varOff}
     */
    public static void statistics(int batch, int channels, int spatial, float epsilon, float[] x, int xOff,
                                  float[] mean, int meanOff, float[] invStd, int invOff, float[] var, int varOff) {
        checkX(batch, channels, spatial, x, xOff, "x");
        checkValues(batch, channels, spatial);
        for (int c = 0; c < channels; c++) {
            channelStatistics(c, batch, channels, spatial, epsilon, x, xOff, mean, meanOff, invStd, invOff, var,
                    varOff);
        }
    }

    private static void checkValues(int batch, int channels, int spatial) {
        if ((long) batch * spatial == 0) {
            throw new IllegalArgumentException("batch normalization over " + batch + " x " + channels + " x "
                    + spatial + ": no values per channel");
        }
    }

    /** {@link #statistics} of channel c. */
    private static void channelStatistics(int c, int batch, int channels, int spatial, float epsilon, float[] x,
                                          int xOff, float[] mean, int meanOff, float[] invStd, int invOff,
                                          float[] var, int varOff) {
        long n = (long) batch * spatial;
        double sum = 0;
        for (int b = 0; b < batch; b++) {
            sum += Lanes.sum(x, xOff + (b * channels + c) * spatial, spatial);
        }
        float mu = (float) (sum / n);
        double squares = 0;
        for (int b = 0; b < batch; b++) {
            squares += squaredDeviations(x, xOff + (b * channels + c) * spatial, spatial, mu);
        }
        double v = squares / n;
        mean[meanOff + c] = mu;
        invStd[invOff + c] = (float) (1 / Math.sqrt(v + epsilon));
        if (var != null) {
            var[varOff + c] = (float) v;
        }
    }

    /**
     * Training forward: {@code y = (x - mean) * invStd * scale + bias} with the batch's statistics, and the running
     * statistics updated. The running outputs may be the running inputs (updated in place).
     *
     * @param scale, bias C floats each
     * @param runningMean, runningVar C floats each: the running statistics before the step
     * @param newMean, newVar written: C floats each, the running statistics after the step; null to skip
     * @param unbiased update the running variance with the unbiased batch variance (PyTorch) instead of the
     *     biased one (ONNX's reference); needs more than one value per channel, as PyTorch does
     * @param savedMean, savedInvStd written when not null: the batch mean and 1/sqrt(var + eps), C floats each, for
     *     {@link #backward}
     */
    public static void forward(int batch, int channels, int spatial, float epsilon, float momentum, boolean unbiased,
                               float[] x, int xOff, float[] scale, int scaleOff, float[] bias, int biasOff,
                               float[] runningMean, int rmOff, float[] runningVar, int rvOff, float[] y, int yOff,
                               float[] newMean, int nmOff, float[] newVar, int nvOff,
                               float[] savedMean, int smOff, float[] savedInvStd, int siOff) {
        forward(batch, channels, spatial, epsilon, momentum, unbiased, x, xOff, scale, scaleOff, bias, biasOff,
                runningMean, rmOff, runningVar, rvOff, y, yOff, newMean, nmOff, newVar, nvOff, savedMean, smOff,
                savedInvStd, siOff, null);
    }

    /**
     * As the overload without a pool, the channels split over {@code pool} (or null) when there are enough values:
     * each channel is computed the same way on any thread, so the bits do not depend on the thread count.
     */
    public static void forward(int batch, int channels, int spatial, float epsilon, float momentum, boolean unbiased,
                               float[] x, int xOff, float[] scale, int scaleOff, float[] bias, int biasOff,
                               float[] runningMean, int rmOff, float[] runningVar, int rvOff, float[] y, int yOff,
                               float[] newMean, int nmOff, float[] newVar, int nvOff,
                               float[] savedMean, int smOff, float[] savedInvStd, int siOff, WorkerPool pool) {
        checkX(batch, channels, spatial, x, xOff, "x");
        checkX(batch, channels, spatial, y, yOff, "y");
        checkValues(batch, channels, spatial);
        long n = (long) batch * spatial;
        if (unbiased && n < 2 && newVar != null) {
            throw new IllegalArgumentException("batch normalization in training over " + batch + " x " + channels
                    + " x " + spatial + ": the unbiased running variance needs more than 1 value per channel");
        }
        Call call = CALLS.get();
        call.shape(batch, channels, spatial, epsilon, x, xOff, scale, scaleOff);
        call.mean = savedMean != null ? savedMean : PanelScratch.work(T_MEAN, channels);
        call.meanOff = savedMean != null ? smOff : 0;
        call.inv = savedInvStd != null ? savedInvStd : PanelScratch.work(T_INV, channels);
        call.invOff = savedInvStd != null ? siOff : 0;
        call.var = newVar != null ? PanelScratch.work(T_MEAN + 2, channels) : null;
        call.forward(momentum, unbiased, bias, biasOff, runningMean, rmOff, runningVar, rvOff, y, yOff, newMean, nmOff,
                newVar, nvOff);
        call.run(pool);
    }

    /**
     * Training backward: {@code dBias = sum dy}, {@code dScale = sum dy * xhat},
     * {@code dx = scale * invStd * (dy - dBias / n - xhat * dScale / n)} with {@code xhat = (x - mean) * invStd},
     * n = batch * spatial. Recomputes the batch statistics from x when {@code mean} is null.
     *
     * @param mean, invStd C floats each as {@link #forward} saved them, or null (both) to recompute
     * @param dx, dScale, dBias written; any may be null when not needed
     */
    public static void backward(int batch, int channels, int spatial, float epsilon, float[] x, int xOff,
                                float[] dy, int dyOff, float[] scale, int scaleOff, float[] mean, int meanOff,
                                float[] invStd, int invOff, float[] dx, int dxOff, float[] dScale, int dsOff,
                                float[] dBias, int dbOff) {
        backward(batch, channels, spatial, epsilon, x, xOff, dy, dyOff, scale, scaleOff, mean, meanOff, invStd,
                invOff, dx, dxOff, dScale, dsOff, dBias, dbOff, null);
    }

    /** As the overload without a pool, the channels split over {@code pool} (or null), as {@link #forward}'s. */
    public static void backward(int batch, int channels, int spatial, float epsilon, float[] x, int xOff,
                                float[] dy, int dyOff, float[] scale, int scaleOff, float[] mean, int meanOff,
                                float[] invStd, int invOff, float[] dx, int dxOff, float[] dScale, int dsOff,
                                float[] dBias, int dbOff, WorkerPool pool) {
        checkX(batch, channels, spatial, x, xOff, "x");
        checkX(batch, channels, spatial, dy, dyOff, "dy");
        checkValues(batch, channels, spatial);
        Call call = CALLS.get();
        call.shape(batch, channels, spatial, epsilon, x, xOff, scale, scaleOff);
        boolean recompute = mean == null || invStd == null;
        call.mean = recompute ? PanelScratch.work(T_MEAN, channels) : mean;
        call.meanOff = recompute ? 0 : meanOff;
        call.inv = recompute ? PanelScratch.work(T_INV, channels) : invStd;
        call.invOff = recompute ? 0 : invOff;
        call.var = null;
        call.backward(recompute, dy, dyOff, dx, dxOff, dScale, dsOff, dBias, dbOff);
        call.run(pool);
    }

    /** Values (batch x channels x spatial) above which a pool splits the channels: ~10 µs of work. */
    private static final long SPLIT_VALUES = 32 * 1024;

    private static final ThreadLocal<Call> CALLS = ThreadLocal.withInitial(Call::new);

    /**
     * One forward or backward call's arguments and its per-channel work, reused per calling thread (a capturing
     * lambda would allocate per call). Arrays of the calling thread's scratch (statistics) are shared with the
     * threads that run its channels, each of which writes only its own channels' entries.
     */
    private static final class Call implements ThreadRangeBody {
        private boolean isForward;
        private int batch;
        private int channels;
        private int spatial;
        private float epsilon;
        private float[] x;
        private int xOff;
        private float[] scale;
        private int scaleOff;
        float[] mean;
        int meanOff;
        float[] inv;
        int invOff;
        float[] var;
        // forward
        private float momentum;
        private boolean unbiased;
        private float[] bias;
        private int biasOff;
        private float[] runningMean;
        private int rmOff;
        private float[] runningVar;
        private int rvOff;
        private float[] y;
        private int yOff;
        private float[] newMean;
        private int nmOff;
        private float[] newVar;
        private int nvOff;
        // backward
        private boolean recompute;
        private float[] dy;
        private int dyOff;
        private float[] dx;
        private int dxOff;
        private float[] dScale;
        private int dsOff;
        private float[] dBias;
        private int dbOff;

        void shape(int batch, int channels, int spatial, float epsilon, float[] x, int xOff, float[] scale,
                   int scaleOff) {
            this.batch = batch;
            this.channels = channels;
            this.spatial = spatial;
            this.epsilon = epsilon;
            this.x = x;
            this.xOff = xOff;
            this.scale = scale;
            this.scaleOff = scaleOff;
        }

        void forward(float momentum, boolean unbiased, float[] bias, int biasOff, float[] runningMean, int rmOff,
                     float[] runningVar, int rvOff, float[] y, int yOff, float[] newMean, int nmOff, float[] newVar,
                     int nvOff) {
            this.isForward = true;
            this.momentum = momentum;
            this.unbiased = unbiased;
            this.bias = bias;
            this.biasOff = biasOff;
            this.runningMean = runningMean;
            this.rmOff = rmOff;
            this.runningVar = runningVar;
            this.rvOff = rvOff;
            this.y = y;
            this.yOff = yOff;
            this.newMean = newMean;
            this.nmOff = nmOff;
            this.newVar = newVar;
            this.nvOff = nvOff;
        }

        void backward(boolean recompute, float[] dy, int dyOff, float[] dx, int dxOff, float[] dScale, int dsOff,
                      float[] dBias, int dbOff) {
            this.isForward = false;
            this.recompute = recompute;
            this.dy = dy;
            this.dyOff = dyOff;
            this.dx = dx;
            this.dxOff = dxOff;
            this.dScale = dScale;
            this.dsOff = dsOff;
            this.dBias = dBias;
            this.dbOff = dbOff;
        }

        /** Every channel, split over {@code pool} when it pays; then drops the call's arrays. */
        void run(WorkerPool pool) {
            try {
                if (pool == null || pool.threads() == 1 || channels < 2
                        || (long) batch * channels * spatial < SPLIT_VALUES) {
                    run(0, 0, channels);
                } else {
                    pool.parallelForBalanced(channels, this);
                }
            } finally {
                x = null;
                scale = null;
                mean = null;
                inv = null;
                var = null;
                bias = null;
                runningMean = null;
                runningVar = null;
                y = null;
                newMean = null;
                newVar = null;
                dy = null;
                dx = null;
                dScale = null;
                dBias = null;
            }
        }

        @Override
        public void run(int thread, int from, int to) {
            for (int c = from; c < to; c++) {
                if (isForward) {
                    forwardChannel(c);
                } else {
                    backwardChannel(c);
                }
            }
        }

        private void forwardChannel(int c) {
            channelStatistics(c, batch, channels, spatial, epsilon, x, xOff, mean, meanOff, inv, invOff, var, 0);
            float a = scale[scaleOff + c] * inv[invOff + c];
            float b = bias[biasOff + c] - mean[meanOff + c] * a;
            for (int img = 0; img < batch; img++) {
                int at = (img * channels + c) * spatial;
                affine(x, xOff + at, y, yOff + at, spatial, a, b);
            }
            float mu = mean[meanOff + c];
            if (newMean != null) {
                newMean[nmOff + c] = runningMean[rmOff + c] * momentum + mu * (1 - momentum);
            }
            if (newVar != null) {
                long n = (long) batch * spatial;
                double v = unbiased ? var[c] * ((double) n / (n - 1)) : var[c];
                newVar[nvOff + c] = (float) (runningVar[rvOff + c] * momentum + v * (1 - momentum));
            }
        }

        private void backwardChannel(int c) {
            if (recompute) {
                channelStatistics(c, batch, channels, spatial, epsilon, x, xOff, mean, meanOff, inv, invOff, null, 0);
            }
            long n = (long) batch * spatial;
            float mu = mean[meanOff + c];
            float invStd = inv[invOff + c];
            double sumDy = 0;
            double sumDyXmu = 0;
            for (int img = 0; img < batch; img++) {
                int at = (img * channels + c) * spatial;
                sumDy += Lanes.sum(dy, dyOff + at, spatial);
                sumDyXmu += dotCentered(dy, dyOff + at, x, xOff + at, spatial, mu);
            }
            float db = (float) sumDy;
            float ds = (float) (sumDyXmu * invStd);
            if (dBias != null) {
                dBias[dbOff + c] = db;
            }
            if (dScale != null) {
                dScale[dsOff + c] = ds;
            }
            if (dx != null) {
                // dx = a*dy + k*(x - mean) - a*dBias/n with a = scale*inv, k = -a*inv*dScale/n: as a*dy + k*x + o
                double a = (double) scale[scaleOff + c] * invStd;
                double k = -a * invStd * ds / n;
                double o = -a * db / n - k * mu;
                for (int img = 0; img < batch; img++) {
                    int at = (img * channels + c) * spatial;
                    gradient(dy, dyOff + at, x, xOff + at, dx, dxOff + at, spatial, (float) a, (float) k, (float) o);
                }
            }
        }
    }

    /** sum of (x - mu)^2 over one plane, vector partial sums in float. */
    private static double squaredDeviations(float[] x, int off, int len, float mu) {
        FloatVector acc = FloatVector.zero(S);
        int j = 0;
        for (int bound = S.loopBound(len); j < bound; j += VL) {
            FloatVector d = FloatVector.fromArray(S, x, off + j).sub(mu);
            acc = d.fma(d, acc);
        }
        float lanes = acc.lane(0); // lanes in order, no call: docs/KERNELS.md
        for (int l = 1; l < VL; l++) {
            lanes += acc.lane(l);
        }
        double sum = lanes;
        for (; j < len; j++) {
            double d = x[off + j] - mu;
            sum += d * d;
        }
        return sum;
    }

    /** sum of dy * (x - mu) over one plane. */
    private static double dotCentered(float[] dy, int dOff, float[] x, int xOff, int len, float mu) {
        FloatVector acc = FloatVector.zero(S);
        int j = 0;
        for (int bound = S.loopBound(len); j < bound; j += VL) {
            FloatVector d = FloatVector.fromArray(S, x, xOff + j).sub(mu);
            acc = d.fma(FloatVector.fromArray(S, dy, dOff + j), acc);
        }
        float lanes = acc.lane(0); // lanes in order, no call: docs/KERNELS.md
        for (int l = 1; l < VL; l++) {
            lanes += acc.lane(l);
        }
        double sum = lanes;
        for (; j < len; j++) {
            sum += (double) dy[dOff + j] * (x[xOff + j] - mu);
        }
        return sum;
    }

    /** y = x * a + b over one plane. */
    private static void affine(float[] x, int xOff, float[] y, int yOff, int len, float a, float b) {
        int j = 0;
        for (int bound = S.loopBound(len); j < bound; j += VL) {
            FloatVector.fromArray(S, x, xOff + j).fma(a, b).intoArray(y, yOff + j);
        }
        for (; j < len; j++) {
            y[yOff + j] = Math.fma(x[xOff + j], a, b);
        }
    }

    /** dx = dy * a + (x * k + o) over one plane. */
    private static void gradient(float[] dy, int dyOff, float[] x, int xOff, float[] dx, int dxOff, int len, float a,
                                 float k, float o) {
        int j = 0;
        for (int bound = S.loopBound(len); j < bound; j += VL) {
            FloatVector t = FloatVector.fromArray(S, x, xOff + j).fma(k, o);
            FloatVector.fromArray(S, dy, dyOff + j).fma(t.broadcast(a), t).intoArray(dx, dxOff + j);
        }
        for (; j < len; j++) {
            dx[dxOff + j] = Math.fma(dy[dyOff + j], a, Math.fma(x[xOff + j], k, o));
        }
    }

    // ---- scalar twins ------------------------------------------------------------------------------------------

    /** Plain twin of {@link #forward}: the formulas in double (saved statistics not written). */
    public static void forwardScalar(int batch, int channels, int spatial, float epsilon, float momentum,
                                     boolean unbiased, float[] x, int xOff, float[] scale, int scaleOff, float[] bias,
                                     int biasOff, float[] runningMean, int rmOff, float[] runningVar, int rvOff,
                                     float[] y, int yOff, float[] newMean, int nmOff, float[] newVar, int nvOff) {
        long n = (long) batch * spatial;
        for (int c = 0; c < channels; c++) {
            double sum = 0;
            for (int img = 0; img < batch; img++) {
                for (int j = 0; j < spatial; j++) {
                    sum += x[xOff + (img * channels + c) * spatial + j];
                }
            }
            double mu = sum / n;
            double sq = 0;
            for (int img = 0; img < batch; img++) {
                for (int j = 0; j < spatial; j++) {
                    double d = x[xOff + (img * channels + c) * spatial + j] - mu;
                    sq += d * d;
                }
            }
            double var = sq / n;
            double inv = 1 / Math.sqrt(var + epsilon);
            for (int img = 0; img < batch; img++) {
                for (int j = 0; j < spatial; j++) {
                    int i = (img * channels + c) * spatial + j;
                    y[yOff + i] = (float) ((x[xOff + i] - mu) * inv * scale[scaleOff + c] + bias[biasOff + c]);
                }
            }
            if (newMean != null) {
                newMean[nmOff + c] = (float) (runningMean[rmOff + c] * (double) momentum + mu * (1 - (double) momentum));
            }
            if (newVar != null) {
                double v = unbiased ? sq / (n - 1) : var;
                newVar[nvOff + c] = (float) (runningVar[rvOff + c] * (double) momentum + v * (1 - (double) momentum));
            }
        }
    }

    /** Plain twin of {@link #backward}: statistics recomputed and every sum in double. */
    public static void backwardScalar(int batch, int channels, int spatial, float epsilon, float[] x, int xOff,
                                      float[] dy, int dyOff, float[] scale, int scaleOff, float[] dx, int dxOff,
                                      float[] dScale, int dsOff, float[] dBias, int dbOff) {
        long n = (long) batch * spatial;
        for (int c = 0; c < channels; c++) {
            double sum = 0;
            for (int img = 0; img < batch; img++) {
                for (int j = 0; j < spatial; j++) {
                    sum += x[xOff + (img * channels + c) * spatial + j];
                }
            }
            double mu = sum / n;
            double sq = 0;
            for (int img = 0; img < batch; img++) {
                for (int j = 0; j < spatial; j++) {
                    double d = x[xOff + (img * channels + c) * spatial + j] - mu;
                    sq += d * d;
                }
            }
            double inv = 1 / Math.sqrt(sq / n + epsilon);
            double db = 0;
            double ds = 0;
            for (int img = 0; img < batch; img++) {
                for (int j = 0; j < spatial; j++) {
                    int i = (img * channels + c) * spatial + j;
                    db += dy[dyOff + i];
                    ds += dy[dyOff + i] * (x[xOff + i] - mu) * inv;
                }
            }
            for (int img = 0; img < batch; img++) {
                for (int j = 0; j < spatial; j++) {
                    int i = (img * channels + c) * spatial + j;
                    double xhat = (x[xOff + i] - mu) * inv;
                    dx[dxOff + i] = (float) (scale[scaleOff + c] * inv * (dy[dyOff + i] - db / n - xhat * ds / n));
                }
            }
            dScale[dsOff + c] = (float) ds;
            dBias[dbOff + c] = (float) db;
        }
    }

    private static void checkX(int batch, int channels, int spatial, float[] a, int off, String name) {
        Objects.requireNonNull(a, name);
        long need = (long) batch * channels * spatial;
        if (batch < 0 || channels <= 0 || spatial <= 0 || off < 0 || off + need > a.length) {
            throw new IllegalArgumentException("batch normalization over " + batch + " x " + channels + " x "
                    + spatial + ": " + name + " needs " + need + " floats from " + off + ", array has " + a.length);
        }
    }
}
