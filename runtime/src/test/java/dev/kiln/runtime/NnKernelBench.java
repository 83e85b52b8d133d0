package dev.kiln.runtime;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Rough timings of the NN kernels on the reference models' shapes (not JMH: warm-up, then the median of
 * repeated timed batches of calls). Run from the runtime module after {@code mvn test-compile}:
 * {@code java --add-modules jdk.incubator.vector -cp target/classes:target/test-classes dev.kiln.runtime.NnKernelBench [conv|pool|softmax|rnn|all]}.
 */
public final class NnKernelBench {
    private static final Random RND = new Random(1);

    private static final WorkerPool POOL = WorkerPool.of(2);

    private NnKernelBench() {}

    public static void main(String[] args) {
        String what = args.length == 0 ? "all" : args[0];
        System.out.println("species " + jdk.incubator.vector.FloatVector.SPECIES_PREFERRED + ", "
                + Runtime.getRuntime().availableProcessors() + " cpus");
        if (what.equals("conv") || what.equals("all")) {
            conv();
        }
        if (what.equals("pool") || what.equals("all")) {
            pool();
        }
        if (what.equals("softmax") || what.equals("all")) {
            softmax();
        }
        if (what.equals("rnn") || what.equals("all")) {
            rnn();
        }
        if (what.equals("alloc")) {
            allocations();
        }
        if (what.equals("rnn2")) {
            rnn();
            rnn();
        }
        if (what.equals("exp") || what.equals("all")) {
            exp();
        }
        if (what.equals("im2col")) {
            im2colParts();
        }
        if (what.equals("direct")) {
            ConvShape[] shapes = {CONV_SHAPES[0], CONV_SHAPES[1], CONV_SHAPES[2], ConvShape.of(3, 34, 34, 32, 3),
                ConvShape.of(3, 26, 26, 32, 3), ConvShape.of(4, 26, 26, 32, 3)};
            for (int i = 0; i < shapes.length; i++) {
                ConvShape s = shapes[i];
                float[] in = Check.random(RND, s.inSize());
                float[] p = Conv2d.packWeights(Check.random(RND, s.weightLength()), s, Conv2d.Algorithm.DIRECT);
                float[] out = new float[s.outSize()];
                float[] scratch = new float[Conv2d.scratchLength(s, Conv2d.Algorithm.DIRECT)];
                double t = cpuMicros(() -> Conv2d.conv(s, Conv2d.Algorithm.DIRECT, 1, in, 0, p, null, out, 0, scratch,
                        Epilogue.none()));
                System.out.printf(Locale.ROOT, "%s direct %.1f µs %.1f GFLOP/s%n", s, t, s.flops() / t / 1e3);
            }
        }
        POOL.close();
    }

    static void pool() {
        int[][] shapes = {{10, 24}, {20, 8}, {32, 30}, {64, 13}};
        String[] names = {"mnist pool1", "mnist pool2", "cifar pool1", "cifar pool2"};
        System.out.println("| MaxPool 2x2/2 | planes x H x W | batch | vector µs | scalar twin µs | 2 threads µs |");
        System.out.println("|---|---|---|---|---|---|");
        for (int i = 0; i < shapes.length; i++) {
            PoolShape s = PoolShape.square(shapes[i][1], shapes[i][1], 2);
            for (int batch : new int[] {1, 64}) {
                int planes = batch * shapes[i][0];
                float[] in = Check.random(RND, planes * s.inPlane());
                float[] out = new float[planes * s.outPlane()];
                double tv = cpuMicros(() -> Pooling.maxPool(s, planes, in, 0, out, 0));
                double ts = cpuMicros(() -> Pooling.maxPoolScalar(s, planes, in, 0, out, 0));
                double t2 = micros(() -> Pooling.maxPool(s, planes, in, 0, out, 0, POOL));
                System.out.printf(Locale.ROOT, "| %s | %dx%dx%d | %d | %.2f | %.2f | %.2f |%n", names[i], shapes[i][0],
                        shapes[i][1], shapes[i][1], batch, tv, ts, t2);
            }
        }
    }

    static void softmax() {
        System.out.println("| LogSoftmax / Softmax | rows x n | vector µs | scalar twin µs |");
        System.out.println("|---|---|---|---|");
        int[][] shapes = {{1, 10}, {64, 10}, {64, 1000}};
        for (int[] sh : shapes) {
            float[] x = Check.random(RND, sh[0] * sh[1]);
            float[] y = new float[x.length];
            double tl = cpuMicros(() -> Softmax.logSoftmax(sh[0], sh[1], x, 0, y, 0));
            double tls = cpuMicros(() -> Softmax.logSoftmaxScalar(sh[0], sh[1], x, 0, y, 0));
            double ts = cpuMicros(() -> Softmax.softmax(sh[0], sh[1], x, 0, y, 0));
            double tss = cpuMicros(() -> Softmax.softmaxScalar(sh[0], sh[1], x, 0, y, 0));
            System.out.printf(Locale.ROOT, "| LogSoftmax | %dx%d | %.2f | %.2f |%n", sh[0], sh[1], tl, tls);
            System.out.printf(Locale.ROOT, "| Softmax | %dx%d | %.2f | %.2f |%n", sh[0], sh[1], ts, tss);
        }
    }

    /** The models' cells: 28 steps of 28 inputs, hidden 128; GRU as PyTorch exports it (linear_before_reset 1). */
    static void rnn() {
        int seq = 28;
        int in = 28;
        int hid = 128;
        System.out.println("| cell | batch | 1 thread µs | GFLOP/s | 2 threads µs |");
        System.out.println("|---|---|---|---|---|");
        for (int batch : new int[] {1, 64}) {
            float[] x = Check.random(RND, seq * batch * in);
            float[] y = new float[seq * batch * hid];
            Recurrent.LstmWeights lw = Recurrent.packLstm(Check.random(RND, 4 * hid * in), Check.random(RND, 4 * hid * hid),
                    Check.random(RND, 8 * hid), in, hid);
            float[] ls = new float[Recurrent.lstmScratchLength(hid, seq, batch)];
            double t1 = cpuMicros(() -> Recurrent.lstm(lw, seq, batch, false, Float.POSITIVE_INFINITY, x, 0, null, 0, null,
                    0, y, 0, null, 0, null, 0, ls, null));
            double t2 = micros(() -> Recurrent.lstm(lw, seq, batch, false, Float.POSITIVE_INFINITY, x, 0, null, 0, null,
                    0, y, 0, null, 0, null, 0, ls, POOL));
            double flops = 2.0 * seq * batch * 4 * hid * (in + hid);
            System.out.printf(Locale.ROOT, "| LSTM | %d | %.1f | %.1f | %.1f |%n", batch, t1, flops / t1 / 1e3, t2);
            Recurrent.GruWeights gw = Recurrent.packGru(Check.random(RND, 3 * hid * in), Check.random(RND, 3 * hid * hid),
                    Check.random(RND, 6 * hid), in, hid, true);
            float[] gs = new float[Recurrent.gruScratchLength(hid, seq, batch)];
            double g1 = cpuMicros(() -> Recurrent.gru(gw, seq, batch, false, Float.POSITIVE_INFINITY, x, 0, null, 0, y, 0,
                    null, 0, gs, null));
            double g2 = micros(() -> Recurrent.gru(gw, seq, batch, false, Float.POSITIVE_INFINITY, x, 0, null, 0, y, 0,
                    null, 0, gs, POOL));
            double gflops = 2.0 * seq * batch * 3 * hid * (in + hid);
            System.out.printf(Locale.ROOT, "| GRU (linear_before_reset 1) | %d | %.1f | %.1f | %.1f |%n", batch, g1,
                    gflops / g1 / 1e3, g2);
        }
    }

    /**
     * Fastest timed round of ~20 ms, in microseconds per call. Warm-up 1.5 s and until the JIT is idle (C2 must
     * have compiled the kernel: before that the Vector API runs un-intrinsified, 10-100x slower), then rounds until 10 in a row bring no
     * new best (at most 80). The minimum, not the median: the machine is shared with other builds, and the
     * fastest round is the one least disturbed (and the one after C2 finished, which a busy machine delays).
     */
    static double micros(Runnable r) {
        return time(r, false);
    }

    /**
     * As {@link #micros} but timing the calling thread's CPU time, which time-slicing by other processes on the
     * shared machine does not inflate; for single-threaded calls only.
     */
    static double cpuMicros(Runnable r) {
        return time(r, true);
    }

    private static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();

    private static long now(boolean cpu) {
        return cpu ? THREADS.getCurrentThreadCpuTime() : System.nanoTime();
    }

    private static double time(Runnable r, boolean cpu) {
        long t0 = System.nanoTime();
        while (System.nanoTime() - t0 < 1_500_000_000L) {
            r.run();
        }
        // then until the JIT has been idle for 0.5 s (a busy machine delays C2 by seconds), at most 10 s more
        var jit = java.lang.management.ManagementFactory.getCompilationMXBean();
        long idleSince = System.nanoTime();
        long compiled = jit.getTotalCompilationTime();
        while (System.nanoTime() - idleSince < 500_000_000L && System.nanoTime() - t0 < 11_500_000_000L) {
            r.run();
            long now = jit.getTotalCompilationTime();
            if (now != compiled) {
                compiled = now;
                idleSince = System.nanoTime();
            }
        }
        t0 = System.nanoTime();
        int calls = 0;
        while (System.nanoTime() - t0 < 100_000_000L) {
            r.run();
            calls++;
        }
        int perRound = Math.max(1, calls / 5);
        double best = Double.MAX_VALUE;
        for (int i = 0, sinceBest = 0; i < 80 && sinceBest < 10; i++, sinceBest++) {
            long s = now(cpu);
            for (int j = 0; j < perRound; j++) {
                r.run();
            }
            double t = (now(cpu) - s) / 1e3 / perRound;
            if (t < best * 0.98) {
                sinceBest = 0;
            }
            best = Math.min(best, t);
        }
        return best;
    }

    private static final jdk.incubator.vector.VectorSpecies<Float> S = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
    private static volatile float sink;

    /**
     * The two vector exponentials against Math.exp (in double) over the arguments softmax feeds them, [-88, 0]:
     * the largest relative error, and the time for 4096 values.
     */
    static void exp() {
        int n = 4096;
        float[] x = new float[n];
        float[] y = new float[n];
        double errSvml = 0;
        double errIeee = 0;
        for (int rep = 0; rep < 256; rep++) {
            for (int i = 0; i < n; i++) {
                x[i] = -88f * (rep * n + i) / (256f * n);
            }
            for (int i = 0; i < n; i += S.length()) {
                var v = jdk.incubator.vector.FloatVector.fromArray(S, x, i);
                float[] a = v.lanewise(jdk.incubator.vector.VectorOperators.EXP).toArray();
                float[] b = VectorMath.exp(v).toArray();
                for (int j = 0; j < a.length; j++) {
                    double e = Math.exp(x[i + j]);
                    errSvml = Math.max(errSvml, Math.abs(a[j] - e) / e);
                    errIeee = Math.max(errIeee, Math.abs(b[j] - e) / e);
                }
            }
        }
        for (int i = 0; i < n; i++) {
            x[i] = -20f * i / n;
        }
        double tSvml = cpuMicros(() -> {
            for (int i = 0; i < n; i += S.length()) {
                jdk.incubator.vector.FloatVector.fromArray(S, x, i).lanewise(jdk.incubator.vector.VectorOperators.EXP)
                        .intoArray(y, i);
            }
            sink = y[7];
        });
        double tIeee = cpuMicros(() -> {
            for (int i = 0; i < n; i += S.length()) {
                VectorMath.exp(jdk.incubator.vector.FloatVector.fromArray(S, x, i)).intoArray(y, i);
            }
            sink = y[7];
        });
        double tMath = cpuMicros(() -> {
            for (int i = 0; i < n; i++) {
                y[i] = (float) Math.exp(x[i]);
            }
            sink = y[7];
        });
        System.out.println("| exp of 4096 floats | µs | max relative error vs Math.exp on [-88, 0] |");
        System.out.println("|---|---|---|");
        System.out.printf(Locale.ROOT, "| lanewise(EXP) (SVML) | %.2f | %.2e |%n", tSvml, errSvml);
        System.out.printf(Locale.ROOT, "| VectorMath.exp (IEEE ops only) | %.2f | %.2e |%n", tIeee, errIeee);
        System.out.printf(Locale.ROOT, "| (float) Math.exp, scalar | %.2f | - |%n", tMath);
    }

    /** Bytes the calling thread allocates per call, after warm-up: non-zero means boxed vectors or garbage. */
    static long bytesPerCall(Runnable r) {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        for (int i = 0; i < 20_000; i++) {
            r.run();
        }
        long id = Thread.currentThread().threadId();
        long before = threads.getThreadAllocatedBytes(id);
        for (int i = 0; i < 1000; i++) {
            r.run();
        }
        return (threads.getThreadAllocatedBytes(id) - before) / 1000;
    }

    static void allocations() {
        for (int i = 0; i < CONV_SHAPES.length; i++) {
            ConvShape s = CONV_SHAPES[i];
            for (Conv2d.Algorithm a : Conv2d.Algorithm.values()) {
                float[] in = Check.random(RND, s.inSize());
                float[] p = Conv2d.packWeights(Check.random(RND, s.weightLength()), s, a);
                float[] out = new float[s.outSize()];
                float[] scratch = new float[Conv2d.scratchLength(s, a)];
                float[] bias = new float[s.m()];
                System.out.printf(Locale.ROOT, "%s %s: %d B/call%n", CONV_NAMES[i], a, bytesPerCall(() ->
                        Conv2d.conv(s, a, 1, in, 0, p, bias, out, 0, scratch, Epilogue.relu())));
            }
        }
        PoolShape ps = PoolShape.square(24, 24, 2);
        float[] pin = Check.random(RND, 10 * ps.inPlane());
        float[] pout = new float[10 * ps.outPlane()];
        System.out.printf(Locale.ROOT, "maxPool: %d B/call%n", bytesPerCall(() -> Pooling.maxPool(ps, 10, pin, 0, pout, 0)));
        float[] sx = Check.random(RND, 640);
        System.out.printf(Locale.ROOT, "logSoftmax: %d B/call%n", bytesPerCall(() -> Softmax.logSoftmax(64, 10, sx, 0, sx, 0)));
        int hid = 128;
        float[] x = Check.random(RND, 28 * 28);
        Recurrent.LstmWeights lw = Recurrent.packLstm(Check.random(RND, 4 * hid * 28), Check.random(RND, 4 * hid * hid),
                null, 28, hid);
        float[] ls = new float[Recurrent.lstmScratchLength(hid, 28, 1)];
        float[] yh = new float[hid];
        float[] hs = Check.random(RND, hid);
        float[] g = new float[4 * hid * 28];
        System.out.printf(Locale.ROOT, "recurrent matvec: %d B/call%n", bytesPerCall(() -> Gemm.gemm(1, hs, 0, hid, lw.r(),
                null, g, 0, 4 * hid, true, Epilogue.none())));
        System.out.printf(Locale.ROOT, "input projection: %d B/call%n", bytesPerCall(() -> Gemm.gemm(28, x, 0, 28, lw.w(),
                lw.bias(), g, 0, 4 * hid, false, Epilogue.none())));
        System.out.printf(Locale.ROOT, "lstm: %d B/call%n", bytesPerCall(() -> Recurrent.lstm(lw, 28, 1, false,
                Float.POSITIVE_INFINITY, x, 0, null, 0, null, 0, null, 0, yh, 0, null, 0, ls, null)));
        for (boolean lbr : new boolean[] {false, true}) {
            Recurrent.GruWeights gw = Recurrent.packGru(Check.random(RND, 3 * hid * 28), Check.random(RND, 3 * hid * hid),
                    null, 28, hid, lbr);
            float[] gs = new float[Recurrent.gruScratchLength(hid, 28, 1)];
            System.out.printf(Locale.ROOT, "gru lbr=%b: %d B/call (input projection alone: %d)%n", lbr,
                    bytesPerCall(() -> Recurrent.gru(gw, 28, 1, false, Float.POSITIVE_INFINITY, x, 0, null, 0, null, 0,
                            yh, 0, gs, null)),
                    bytesPerCall(() -> Gemm.gemm(28, x, 0, 28, gw.w(), gw.bias(), g, 0, 3 * hid, false,
                            Epilogue.none())));
            System.out.printf(Locale.ROOT, "  hidden matvec with bias: %d B/call%n", bytesPerCall(() -> Gemm.gemm(1,
                    hs, 0, hid, gw.rHidden(), gw.hiddenBias(), g, 0, hid, false, Epilogue.none())));
        }
    }

    static final ConvShape[] CONV_SHAPES = {
        ConvShape.of(1, 28, 28, 10, 5), ConvShape.of(10, 12, 12, 20, 5),
        ConvShape.of(3, 32, 32, 32, 3), ConvShape.of(32, 15, 15, 64, 3), ConvShape.of(64, 6, 6, 64, 3),
    };
    static final String[] CONV_NAMES = {"mnist conv1", "mnist conv2", "cifar conv1", "cifar conv2", "cifar conv3"};

    /** Where the im2col path's time goes: the patch copy versus the GEMM, batch 1. */
    static void im2colParts() {
        System.out.println("| layer | im2col µs | GEMM µs |");
        System.out.println("|---|---|---|");
        for (int i = 0; i < CONV_SHAPES.length; i++) {
            ConvShape s = CONV_SHAPES[i];
            float[] in = Check.random(RND, s.inSize());
            float[] w = Check.random(RND, s.weightLength());
            float[] out = new float[s.outSize()];
            int n = s.outH() * s.outW();
            float[] col = new float[Conv2d.scratchLength(s, Conv2d.Algorithm.IM2COL)];
            PackedMatrix b = PackedMatrix.wrap(col, s.kernelVolume(), n);
            double tc = cpuMicros(() -> Conv2d.im2col(s, in, 0, 0, col));
            double tg = cpuMicros(() -> Gemm.gemm(s.m(), w, 0, s.kernelVolume(), b, null, out, 0, n, false, Epilogue.none()));
            System.out.printf(Locale.ROOT, "| %s | %.1f | %.1f |%n", CONV_NAMES[i], tc, tg);
        }
    }

    static void conv() {
        System.out.println("| layer | shape | batch | direct µs | im2col+GEMM µs | chosen | GFLOP/s chosen | chosen, 2 threads µs |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        for (int i = 0; i < CONV_SHAPES.length; i++) {
            ConvShape s = CONV_SHAPES[i];
            for (int batch : new int[] {1, 64}) {
                float[] in = Check.random(RND, batch * s.inSize());
                float[] w = Check.random(RND, s.weightLength());
                float[] bias = Check.random(RND, s.m());
                float[] out = new float[batch * s.outSize()];
                List<Double> t = new ArrayList<>();
                for (Conv2d.Algorithm a : Conv2d.Algorithm.values()) {
                    float[] p = Conv2d.packWeights(w, s, a);
                    float[] scratch = new float[Conv2d.scratchLength(s, a)];
                    t.add(cpuMicros(() -> Conv2d.conv(s, a, batch, in, 0, p, bias, out, 0, scratch, Epilogue.relu())));
                }
                Conv2d.Algorithm chosen = Conv2d.algorithm(s);
                double tc = t.get(chosen.ordinal());
                float[] p = Conv2d.packWeights(w, s);
                float[][] scratch2 = {new float[Conv2d.scratchLength(s)], new float[Conv2d.scratchLength(s)]};
                double t2 = micros(() -> Conv2d.conv(s, batch, in, 0, p, bias, out, 0, scratch2, Epilogue.relu(), POOL));
                System.out.printf(Locale.ROOT, "| %s | %dx%dx%d -> %d, %dx%d | %d | %.1f | %.1f | %s | %.1f | %.1f |%n",
                        CONV_NAMES[i], s.c(), s.h(), s.w(), s.m(), s.kh(), s.kw(), batch, t.get(0), t.get(1),
                        chosen, s.flops() * batch / tc / 1e3, t2);
            }
        }
    }
}
