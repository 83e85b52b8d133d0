package dev.kiln.runtime.train;

import dev.kiln.runtime.Conv2d;
import dev.kiln.runtime.ConvShape;
import dev.kiln.runtime.Epilogue;
import dev.kiln.runtime.Gemm;
import dev.kiln.runtime.PackedMatrix;
import dev.kiln.runtime.ThreadRangeBody;
import dev.kiln.runtime.WorkerPool;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Training kernels of the 2-D NCHW convolution (ONNX Conv: strides, begin/end pads, dilations, groups): the forward
 * on raw ONNX weights (packed at run time, as they change every step), and the three gradients.
 *
 * <p>Per image and group, with P the im2col matrix [cg*kh*kw, outH*outW] of the input and dY_g the group's output
 * gradient rows [M/group, outH*outW]:
 * <ul>
 *   <li>weight gradient {@code dW_g = dY_g · P^T}, computed transposed as {@code dW_g^T = P · dY_g^T} (m = taps,
 *       n = output channels: wide enough for the GEMM's vector strips even for a 3x3 kernel on one channel),
 *       summed over the batch in the GEMM's accumulator, then transposed once into the ONNX layout;</li>
 *   <li>input gradient {@code dX = col2im(W_g^T · dY_g)}: one GEMM into a column buffer, then a scatter-add of
 *       every tap's rows back onto the input planes (contiguous vector adds for stride 1); or, for the stride-1
 *       shapes where it is faster ({@link #transposed}), dY convolved with the flipped kernel by {@link Conv2d};</li>
 *   <li>bias gradient: the sum of each output channel's gradient plane over the batch.</li>
 * </ul>
 * The GEMMs go through {@link Gemm}'s micro-kernel with their B operand packed per call. With a pool, the weight
 * gradient packs each image's dY^T on whichever thread (into one shared set), then splits the taps: each thread
 * runs its blocks of taps over every image in order, so a tap's sum has the terms and order of the one-thread
 * loop. The input gradient splits the images (the GEMM's columns when there is one image). Each image, tap or
 * column is computed the same way on any thread, so the bits do not depend on the thread count; the old split
 * inside each image's GEMM handed off twice per image and left im2col, packing and col2im on the calling thread
 * (mnist_cnn's training step: 1.03x from a second thread). Scratch is per thread ({@link PanelScratch}): nothing
 * is allocated in steady state. The {@code *Scalar} methods are the plain
 * loops, summed in double, for tests. Outputs are overwritten, never accumulated into.
 */
public final class ConvGrad {
    private static final int T_COL = 0;
    private static final int T_DWT = 1;
    private static final int T_WT = 2;
    private static final int T_DY_T = 3;
    private static final int T_DY = 4;
    private static final int T_PACKED_W = 5;
    private static final int T_FORWARD = 6;
    private static final int T_FLIPPED_W = 13;
    private static final int T_PACKED_FLIPPED_W = 14;
    private static final int T_BACKWARD = 15;

    private ConvGrad() {}

    /**
     * Training forward {@code y = conv(x, w) + bias} with the ONNX weights as they are (the inference kernel wants
     * them packed at compile time): they are packed into per-thread scratch on every call, which costs one pass
     * over the weights. The same kernel as inference, so the same bits as a {@link Conv2d} on the same weights.
     *
     * @param w ONNX weights [M, C/group, kh, kw] from {@code wOff}
     * @param bias M floats from index 0, or null
     * @param pool threads, or null for the calling thread only
     */
    public static void forward(ConvShape s, int batch, float[] x, int xOff, float[] w, int wOff, float[] bias,
                               float[] y, int yOff, WorkerPool pool) {
        float[] packed = PanelScratch.exact(T_PACKED_W, Conv2d.packedWeightLength(s));
        Conv2d.packWeights(w, wOff, s, packed);
        int scratch = Conv2d.scratchLength(s);
        if (pool == null) {
            Conv2d.conv(s, batch, x, xOff, packed, bias, y, yOff, PanelScratch.exact(T_FORWARD, scratch),
                    Epilogue.none());
        } else {
            Conv2d.conv(s, batch, x, xOff, packed, bias, y, yOff,
                    PanelScratch.exactSet(T_FORWARD, pool.threads(), scratch), Epilogue.none(), pool);
        }
    }

    /**
     * Weight gradient {@code dW = sum over images of dY · im2col(X)^T}, in the ONNX layout [M, C/group, kh, kw].
     *
     * @param x forward input [batch, C, H, W] from {@code xOff}
     * @param dy output gradient [batch, M, outH, outW] from {@code dyOff}
     * @param dw written: {@link ConvShape#weightLength} floats from {@code dwOff}
     * @param pool threads for the GEMMs, or null
     */
    public static void weightGrad(ConvShape s, int batch, float[] x, int xOff, float[] dy, int dyOff, float[] dw,
                                  int dwOff, WorkerPool pool) {
        check(s, batch, x, xOff, "x", s.inSize());
        check(s, batch, dy, dyOff, "dy", s.outSize());
        check(s, 1, dw, dwOff, "dw", s.weightLength());
        if (batch == 0) {
            Arrays.fill(dw, dwOff, dwOff + s.weightLength(), 0f);
            return;
        }
        int q = s.outH() * s.outW();
        int kv = s.kernelVolume();
        int mg = s.mg();
        int groups = s.group();
        // dY^T and dW^T padded to whole panels (zero columns): every GEMM strip is then a full one, with no edge
        // tile finished in scratch and copied per image (14 % of mnist_cnn's training step, for 10 and 20 channels)
        int mgPad = Math.ceilDiv(mg, PackedMatrix.NR) * PackedMatrix.NR;
        float[] dwt = PanelScratch.work(T_DWT, groups * kv * mgPad);
        PackedMatrix[] dyT = PanelScratch.packedSet(T_DY_T, batch * groups, q, mgPad);
        int rows = tapRows(kv, pool);
        GradTask task = TASKS.get();
        task.set(s, batch, x, xOff, dy, dyOff, dyT, dwt, rows);
        try {
            task.phase = GradTask.PACK_DY_T;
            forEach(pool, batch, task);
            task.phase = GradTask.WEIGHT_ROWS;
            forEach(pool, groups * Math.ceilDiv(kv, rows), task);
        } finally {
            task.clear();
        }
        for (int g = 0; g < groups; g++) {
            PanelScratch.transpose(kv, mg, dwt, g * kv * mgPad, mgPad, dw, dwOff + g * mg * kv, kv);
        }
    }

    /**
     * Taps per unit of {@link #weightGrad}'s second phase: whole 6-row tiles, about four units per thread so the
     * threads finish together, at most 48 (each unit reads every image once).
     */
    private static int tapRows(int kv, WorkerPool pool) {
        int threads = pool == null ? 1 : pool.threads();
        return Math.min(48, 6 * Math.max(1, Math.ceilDiv(kv, 6 * 4 * threads)));
    }

    /** Runs {@code task} over {@code [0, n)}, split over {@code pool} when there is one. */
    private static void forEach(WorkerPool pool, int n, GradTask task) {
        if (pool == null || pool.threads() == 1 || n < 2) {
            task.run(0, 0, n);
        } else {
            pool.parallelForBalanced(n, task);
        }
    }

    /**
     * Bias gradient {@code dB[m] = sum of dY[n, m, :, :]} over the batch.
     *
     * @param db written: M floats from {@code dbOff}
     */
    public static void biasGrad(ConvShape s, int batch, float[] dy, int dyOff, float[] db, int dbOff) {
        check(s, batch, dy, dyOff, "dy", s.outSize());
        check(s, 1, db, dbOff, "db", s.m());
        int plane = s.outH() * s.outW();
        for (int m = 0; m < s.m(); m++) {
            float sum = 0;
            for (int img = 0; img < batch; img++) {
                sum += Lanes.sum(dy, dyOff + img * s.outSize() + m * plane, plane);
            }
            db[dbOff + m] = sum;
        }
    }

    /**
     * Input gradient {@code dX = col2im(W^T · dY)} per image and group.
     *
     * @param dy output gradient [batch, M, outH, outW] from {@code dyOff}
     * @param w ONNX weights [M, C/group, kh, kw] from {@code wOff}
     * @param dx written: [batch, C, H, W] from {@code dxOff}
     * @param pool threads for the GEMMs, or null
     */
    public static void inputGrad(ConvShape s, int batch, float[] dy, int dyOff, float[] w, int wOff, float[] dx,
                                 int dxOff, WorkerPool pool) {
        check(s, batch, dy, dyOff, "dy", s.outSize());
        check(s, 1, w, wOff, "w", s.weightLength());
        check(s, batch, dx, dxOff, "dx", s.inSize());
        if (batch == 0) {
            return;
        }
        ConvShape t = transposed(s);
        if (t != null) {
            convolveTransposed(s, t, batch, dy, dyOff, w, wOff, dx, dxOff, pool);
            return;
        }
        int q = s.outH() * s.outW();
        int kv = s.kernelVolume();
        int mg = s.mg();
        float[] wt = PanelScratch.work(T_WT, s.group() * kv * mg);
        for (int g = 0; g < s.group(); g++) {
            PanelScratch.transpose(mg, kv, w, wOff + g * mg * kv, kv, wt, g * kv * mg, mg);
        }
        GradTask task = TASKS.get();
        task.set(s, batch, dy, dyOff, wt, dx, dxOff);
        try {
            task.phase = GradTask.INPUT_IMAGES;
            if (batch == 1 && pool != null) {
                task.inputImage(0, pool); // one image: the GEMM splits instead
            } else {
                forEach(pool, batch, task);
            }
        } finally {
            task.clear();
        }
    }

    /**
     * The convolution whose output is the input gradient of stride-1 convolution {@code s}: dY convolved with the
     * kernel flipped in both axes and its channel axes swapped, over dY padded by the dilated kernel's extent less
     * the forward's pads (channels M -> C, the same groups and dilations, stride 1, output H x W). Made once per
     * shape and kept (a record per call would allocate). Null where the GEMM and col2im path is as fast or
     * faster (measured, batch 16-64, docs/BENCHMARKS.md session 16): strides above 1 (the transpose would need
     * zeros between the gradient's pixels), fewer than 8 input channels per group (the direct kernel blocks 5
     * output channels: 1x28x28 -> 10, 5x5 took 852 µs against 628), and an input over 1.5 times the output's
     * area, where the transpose multiplies mostly padding (10x12x12 -> 20, 5x5: 1,180 against 1,160 µs; same
     * padding 3x3 on 64x32x32 -> 64: 9.2 against 16.8 ms).
     */
    static ConvShape transposed(ConvShape s) {
        if (s.strideH() != 1 || s.strideW() != 1 || s.cg() < 8
                || 2L * s.h() * s.w() > 3L * s.outH() * s.outW()) {
            return null;
        }
        ConvShape t = TRANSPOSED.get(s);
        if (t == null) {
            int eh = (s.kh() - 1) * s.dilationH();
            int ew = (s.kw() - 1) * s.dilationW();
            if (eh < Math.max(s.padTop(), s.padBottom()) || ew < Math.max(s.padLeft(), s.padRight())) {
                return null; // pads beyond the kernel's extent: rare, left to the GEMM path
            }
            t = new ConvShape(s.m(), s.outH(), s.outW(), s.c(), s.kh(), s.kw(), 1, 1, eh - s.padTop(),
                    ew - s.padLeft(), eh - s.padBottom(), ew - s.padRight(), s.dilationH(), s.dilationW(),
                    s.group());
            TRANSPOSED.putIfAbsent(s, t);
        }
        return t;
    }

    private static final ConcurrentHashMap<ConvShape, ConvShape> TRANSPOSED = new ConcurrentHashMap<>();

    /**
     * dX = conv(dY, W flipped and transposed) with the inference kernel ({@link Conv2d}: direct, Winograd or
     * im2col as it chooses for shape t), the flipped weights packed per call as {@link #forward} packs its own.
     * Per image and group the old GEMM into a column buffer plus the col2im scatter took a fifth of mnist_cnn's
     * training step on one thread.
     */
    private static void convolveTransposed(ConvShape s, ConvShape t, int batch, float[] dy, int dyOff, float[] w,
                                           int wOff, float[] dx, int dxOff, WorkerPool pool) {
        int mg = s.mg();
        int cg = s.cg();
        int taps = s.kh() * s.kw();
        float[] flipped = PanelScratch.work(T_FLIPPED_W, s.weightLength());
        // W'[g*cg + c][m][ky][kx] = W[g*mg + m][c][kh-1-ky][kw-1-kx]
        for (int g = 0; g < s.group(); g++) {
            for (int c = 0; c < cg; c++) {
                for (int m = 0; m < mg; m++) {
                    int src = wOff + ((g * mg + m) * cg + c) * taps;
                    int dst = ((g * cg + c) * mg + m) * taps;
                    for (int tap = 0; tap < taps; tap++) {
                        flipped[dst + tap] = w[src + taps - 1 - tap];
                    }
                }
            }
        }
        float[] packed = PanelScratch.exact(T_PACKED_FLIPPED_W, Conv2d.packedWeightLength(t));
        Conv2d.packWeights(flipped, 0, t, packed);
        int scratch = Conv2d.scratchLength(t);
        if (pool == null) {
            Conv2d.conv(t, batch, dy, dyOff, packed, null, dx, dxOff, PanelScratch.exact(T_BACKWARD, scratch),
                    Epilogue.none());
        } else {
            Conv2d.conv(t, batch, dy, dyOff, packed, null, dx, dxOff,
                    PanelScratch.exactSet(T_BACKWARD, pool.threads(), scratch), Epilogue.none(), pool);
        }
    }

    private static final ThreadLocal<GradTask> TASKS = ThreadLocal.withInitial(GradTask::new);

    /**
     * One call's arguments, reused per calling thread (a capturing lambda would allocate per call), and its phases.
     * Every index is computed the same way whichever thread runs it, with that thread's own scratch: the results
     * do not depend on the thread count.
     * <ul>
     *   <li>{@link #PACK_DY_T}: index = image; packs each group's dY^T into the caller's set.</li>
     *   <li>{@link #WEIGHT_ROWS}: index = (group, block of {@code rows} taps); for every image in order, im2col of
     *       those taps and their GEMM into dW^T, accumulated. A tap's sums run over images and pixels in the order
     *       of one GEMM per image over all taps, so its bits are those of that order whatever the blocks.</li>
     *   <li>{@link #INPUT_IMAGES}: index = image; its input gradient, independent of every other image's.</li>
     * </ul>
     */
    private static final class GradTask implements ThreadRangeBody {
        static final int PACK_DY_T = 0;
        static final int WEIGHT_ROWS = 1;
        static final int INPUT_IMAGES = 2;

        int phase;
        private ConvShape s;
        private int batch;
        private float[] x;
        private int xOff;
        private float[] dy;
        private int dyOff;
        private PackedMatrix[] dyT;
        private float[] dwt;
        private int rows;
        private float[] wt;
        private float[] dx;
        private int dxOff;

        void set(ConvShape s, int batch, float[] x, int xOff, float[] dy, int dyOff, PackedMatrix[] dyT, float[] dwt,
                 int rows) {
            this.s = s;
            this.batch = batch;
            this.x = x;
            this.xOff = xOff;
            this.dy = dy;
            this.dyOff = dyOff;
            this.dyT = dyT;
            this.dwt = dwt;
            this.rows = rows;
        }

        void set(ConvShape s, int batch, float[] dy, int dyOff, float[] wt, float[] dx, int dxOff) {
            this.s = s;
            this.batch = batch;
            this.dy = dy;
            this.dyOff = dyOff;
            this.wt = wt;
            this.dx = dx;
            this.dxOff = dxOff;
        }

        /** Drops the references so a finished call does not keep the caller's arrays alive. */
        void clear() {
            x = null;
            dy = null;
            dyT = null;
            dwt = null;
            wt = null;
            dx = null;
        }

        @Override
        public void run(int thread, int from, int to) {
            for (int i = from; i < to; i++) {
                switch (phase) {
                    case PACK_DY_T -> packImage(i);
                    case WEIGHT_ROWS -> weightRows(i);
                    default -> inputImage(i, null);
                }
            }
        }

        private void packImage(int img) {
            int q = s.outH() * s.outW();
            int mg = s.mg();
            for (int g = 0; g < s.group(); g++) {
                PanelScratch.pack(dy, dyOff + img * s.outSize() + g * mg * q, q, true, mg, dyT[img * s.group() + g]);
            }
        }

        private void weightRows(int unit) {
            int q = s.outH() * s.outW();
            int kv = s.kernelVolume();
            int mg = s.mg();
            int perGroup = Math.ceilDiv(kv, rows);
            int g = unit / perGroup;
            int k0 = unit % perGroup * rows;
            int k1 = Math.min(kv, k0 + rows);
            float[] col = PanelScratch.work(T_COL, (k1 - k0) * q);
            for (int img = 0; img < batch; img++) {
                im2colRows(s, x, xOff + img * s.inSize(), g, k0, k1, col);
                PackedMatrix b = dyT[img * s.group() + g];
                Gemm.gemm(k1 - k0, col, 0, q, b, null, dwt, (g * kv + k0) * b.n(), b.n(), img > 0,
                        Epilogue.none());
            }
        }

        void inputImage(int img, WorkerPool pool) {
            int q = s.outH() * s.outW();
            int kv = s.kernelVolume();
            int mg = s.mg();
            int io = dxOff + img * s.inSize();
            float[] dcol = PanelScratch.work(T_COL, kv * q);
            PackedMatrix dyp = PanelScratch.packed(T_DY, mg, q);
            Arrays.fill(dx, io, io + s.inSize(), 0f);
            for (int g = 0; g < s.group(); g++) {
                PanelScratch.pack(dy, dyOff + img * s.outSize() + g * mg * q, q, false, dyp);
                gemm(pool, kv, wt, g * kv * mg, mg, dyp, dcol, 0, q, false);
                col2imRows(s, dcol, g, dx, io);
            }
        }
    }

    // ---- scalar twins ------------------------------------------------------------------------------------------

    /** Plain twin of {@link #weightGrad}: every (m, c, ky, kx) summed over images and output pixels in double. */
    public static void weightGradScalar(ConvShape s, int batch, float[] x, int xOff, float[] dy, int dyOff,
                                        float[] dw, int dwOff) {
        for (int m = 0; m < s.m(); m++) {
            int g = m / s.mg();
            for (int c = 0; c < s.cg(); c++) {
                int ch = g * s.cg() + c;
                for (int ky = 0; ky < s.kh(); ky++) {
                    for (int kx = 0; kx < s.kw(); kx++) {
                        double sum = 0;
                        for (int n = 0; n < batch; n++) {
                            for (int oy = 0; oy < s.outH(); oy++) {
                                int iy = oy * s.strideH() - s.padTop() + ky * s.dilationH();
                                for (int ox = 0; ox < s.outW(); ox++) {
                                    int ix = ox * s.strideW() - s.padLeft() + kx * s.dilationW();
                                    if (iy >= 0 && iy < s.h() && ix >= 0 && ix < s.w()) {
                                        sum += (double) x[xOff + ((n * s.c() + ch) * s.h() + iy) * s.w() + ix]
                                                * dy[dyOff + ((n * s.m() + m) * s.outH() + oy) * s.outW() + ox];
                                    }
                                }
                            }
                        }
                        dw[dwOff + ((m * s.cg() + c) * s.kh() + ky) * s.kw() + kx] = (float) sum;
                    }
                }
            }
        }
    }

    /** Plain twin of {@link #biasGrad}, summed in double. */
    public static void biasGradScalar(ConvShape s, int batch, float[] dy, int dyOff, float[] db, int dbOff) {
        int plane = s.outH() * s.outW();
        for (int m = 0; m < s.m(); m++) {
            double sum = 0;
            for (int n = 0; n < batch; n++) {
                for (int p = 0; p < plane; p++) {
                    sum += dy[dyOff + (n * s.m() + m) * plane + p];
                }
            }
            db[dbOff + m] = (float) sum;
        }
    }

    /** Plain twin of {@link #inputGrad}: each output gradient times each weight tap added to the input it read. */
    public static void inputGradScalar(ConvShape s, int batch, float[] dy, int dyOff, float[] w, int wOff, float[] dx,
                                       int dxOff) {
        double[] acc = new double[batch * s.inSize()];
        for (int n = 0; n < batch; n++) {
            for (int m = 0; m < s.m(); m++) {
                int g = m / s.mg();
                for (int oy = 0; oy < s.outH(); oy++) {
                    for (int ox = 0; ox < s.outW(); ox++) {
                        double d = dy[dyOff + ((n * s.m() + m) * s.outH() + oy) * s.outW() + ox];
                        for (int c = 0; c < s.cg(); c++) {
                            int ch = g * s.cg() + c;
                            for (int ky = 0; ky < s.kh(); ky++) {
                                int iy = oy * s.strideH() - s.padTop() + ky * s.dilationH();
                                for (int kx = 0; kx < s.kw(); kx++) {
                                    int ix = ox * s.strideW() - s.padLeft() + kx * s.dilationW();
                                    if (iy >= 0 && iy < s.h() && ix >= 0 && ix < s.w()) {
                                        acc[((n * s.c() + ch) * s.h() + iy) * s.w() + ix] +=
                                                d * w[wOff + ((m * s.cg() + c) * s.kh() + ky) * s.kw() + kx];
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        for (int i = 0; i < acc.length; i++) {
            dx[dxOff + i] = (float) acc[i];
        }
    }

    // ---- im2col / col2im on row-major [taps, pixels] ----------------------------------------------------------

    /**
     * Row-major im2col of taps [k0, k1) of group g of one image into rows 0.. of {@code col}: tap k = (channel,
     * ky, kx), column q = output pixel, the input read there or 0 in the padding. Per tap and output row, the
     * pixels reading inside the input form one run [lo, hi) found arithmetically.
     */
    static void im2colRows(ConvShape s, float[] x, int io, int g, int k0, int k1, float[] col) {
        // the shape's derived sizes in locals: outH() divides on every call
        int outH = s.outH();
        int outW = s.outW();
        int q = outH * outW;
        int h = s.h();
        int w = s.w();
        int sh = s.strideH();
        int sw = s.strideW();
        int kh = s.kh();
        int kw = s.kw();
        int taps = kh * kw;
        // (c, ky, kx) of tap k stepped, not divided out: three divisions a tap were a tenth of mnist_cnn's conv2
        int c = k0 / taps;
        int ky = k0 % taps / kw;
        int kx = k0 % kw;
        for (int k = k0; k < k1; k++) {
            int cb = io + (g * s.cg() + c) * h * w;
            int ix0 = kx * s.dilationW() - s.padLeft();
            int iy0 = ky * s.dilationH() - s.padTop();
            int lo = runStart(ix0, sw, outW);
            int hi = runEnd(ix0, sw, outW, w, lo);
            for (int oy = 0, row = (k - k0) * q; oy < outH; oy++, row += outW) {
                int iy = oy * sh + iy0;
                if (iy < 0 || iy >= h) {
                    Arrays.fill(col, row, row + outW, 0f);
                    continue;
                }
                if (lo > 0) {
                    Arrays.fill(col, row, row + lo, 0f);
                }
                int src = cb + iy * w + lo * sw + ix0;
                if (sw == 1) {
                    Lanes.copy(x, src, col, row + lo, hi - lo);
                } else {
                    for (int ox = lo; ox < hi; ox++, src += sw) {
                        col[row + ox] = x[src];
                    }
                }
                if (hi < outW) {
                    Arrays.fill(col, row + hi, row + outW, 0f);
                }
            }
            if (++kx == kw) {
                kx = 0;
                if (++ky == kh) {
                    ky = 0;
                    c++;
                }
            }
        }
    }

    /** The inverse scatter of {@link #im2colRows}: each tap row's pixels added onto the inputs they read. */
    static void col2imRows(ConvShape s, float[] col, int g, float[] dx, int io) {
        int outH = s.outH();
        int outW = s.outW();
        int q = outH * outW;
        int h = s.h();
        int w = s.w();
        int sh = s.strideH();
        int sw = s.strideW();
        int kh = s.kh();
        int kw = s.kw();
        int kv = s.kernelVolume();
        int c = 0;
        int ky = 0;
        int kx = 0;
        for (int k = 0; k < kv; k++) {
            int cb = io + (g * s.cg() + c) * h * w;
            int ix0 = kx * s.dilationW() - s.padLeft();
            int iy0 = ky * s.dilationH() - s.padTop();
            int lo = runStart(ix0, sw, outW);
            int hi = runEnd(ix0, sw, outW, w, lo);
            for (int oy = 0, row = k * q; oy < outH; oy++, row += outW) {
                int iy = oy * sh + iy0;
                if (iy < 0 || iy >= h) {
                    continue;
                }
                int dst = cb + iy * w + lo * sw + ix0;
                if (sw == 1) {
                    Lanes.add(col, row + lo, dx, dst, hi - lo);
                } else {
                    for (int ox = lo; ox < hi; ox++, dst += sw) {
                        dx[dst] += col[row + ox];
                    }
                }
            }
            if (++kx == kw) {
                kx = 0;
                if (++ky == kh) {
                    ky = 0;
                    c++;
                }
            }
        }
    }

    /** First output column whose tap at input offset {@code ix0} (column ox*sw + ix0) is inside the input. */
    private static int runStart(int ix0, int sw, int outW) {
        return Math.min(outW, Math.max(0, sw == 1 ? -ix0 : Math.ceilDiv(-ix0, sw)));
    }

    /** One past the last such column. */
    private static int runEnd(int ix0, int sw, int outW, int w, int lo) {
        return Math.max(lo, Math.min(outW, sw == 1 ? w - ix0 : Math.ceilDiv(w - ix0, sw)));
    }

    private static void gemm(WorkerPool pool, int m, float[] a, int aOff, int lda, PackedMatrix b, float[] c,
                             int cOff, int ldc, boolean accumulate) {
        if (pool == null) {
            Gemm.gemm(m, a, aOff, lda, b, null, c, cOff, ldc, accumulate, Epilogue.none());
        } else {
            Gemm.gemm(pool, m, a, aOff, lda, b, null, c, cOff, ldc, accumulate, Epilogue.none());
        }
    }

    private static void check(ConvShape s, int batch, float[] a, int off, String name, int per) {
        Objects.requireNonNull(a, name);
        if (batch < 0) {
            throw new IllegalArgumentException("conv gradient " + s + ": negative batch " + batch);
        }
        long need = (long) batch * per;
        if (off < 0 || off + need > a.length) {
            throw new IllegalArgumentException("conv gradient " + s + " (batch " + batch + "): " + name + " needs "
                    + need + " floats from " + off + ", array has " + a.length);
        }
    }
}
