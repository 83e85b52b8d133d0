package dev.kiln.runtime;

import java.util.Locale;
import java.util.Random;

/**
 * CPU time per call (single thread, best of repeated rounds, {@link NnKernelBench#cpuMicros}) of the NCHWc
 * convolution against the NCHW algorithms on one image, and of the layout conversions, for the shape families the
 * blocked-layout pass's cost model distinguishes (docs/KERNELS.md quotes the figures). Run from the runtime module
 * after {@code mvn test-compile}:
 * {@code java --add-modules jdk.incubator.vector -cp target/classes:target/test-classes dev.kiln.runtime.NchwcBench}.
 */
public final class NchwcBench {
    private NchwcBench() {}

    static final ConvShape[] SHAPES = {
        ConvShape.of(32, 15, 15, 64, 3),                                    // cifar conv2
        ConvShape.of(64, 6, 6, 64, 3),                                      // cifar conv3
        ConvShape.of(10, 12, 12, 20, 5),                                    // mnist conv2
        pad1(16, 32, 32, 16, 3, 1),
        pad1(64, 28, 28, 64, 3, 1),
        pad1(128, 14, 14, 128, 3, 1),
        pad1(256, 7, 7, 256, 3, 1),
        pad1(64, 28, 28, 128, 3, 2),
        pad1(128, 14, 14, 256, 3, 2),
        ConvShape.of(64, 28, 28, 256, 1),
        ConvShape.of(256, 14, 14, 64, 1),
        ConvShape.of(128, 7, 7, 512, 1),
        ConvShape.of(512, 7, 7, 128, 1),
        new ConvShape(64, 28, 28, 128, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1),
    };

    static ConvShape pad1(int c, int h, int w, int m, int k, int stride) {
        return new ConvShape(c, h, w, m, k, k, stride, stride, k / 2, k / 2, k / 2, k / 2, 1, 1, 1);
    }

    public static void main(String[] args) {
        Random rnd = new Random(1);
        int b = Nchwc.block();
        System.out.println("block " + b + ", load " + java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                .getSystemLoadAverage());
        System.out.println("| shape | MFMA | NCHW choice | NCHW µs | direct µs | im2col µs | NCHWc µs | "
                + "to+from blocked µs | NCHWc GFLOP/s |");
        System.out.println("|---|---|---|---|---|---|---|---|---|");
        for (ConvShape s : SHAPES) {
            float[] w = Check.random(rnd, s.weightLength());
            float[] in = Check.random(rnd, s.inSize());
            float[] bias = Check.random(rnd, s.m());
            float[] out = new float[s.outSize()];
            float[] p = Conv2d.packWeights(w, s);
            float[] scratch = new float[Conv2d.scratchLength(s)];
            double tChosen = NnKernelBench.cpuMicros(() -> Conv2d.conv(s, 1, in, 0, p, bias, out, 0, scratch,
                    Epilogue.relu()));
            double[] alg = new double[2];
            for (Conv2d.Algorithm a : Conv2d.Algorithm.values()) {
                if (a == Conv2d.Algorithm.DIRECT && s.strideW() != 1) {
                    alg[a.ordinal()] = Double.NaN;
                    continue;
                }
                float[] pa = Conv2d.packWeights(w, s, a);
                float[] sa = new float[Conv2d.scratchLength(s, a)];
                alg[a.ordinal()] = NnKernelBench.cpuMicros(() -> Conv2d.conv(s, a, 1, in, 0, pa, bias, out, 0, sa,
                        Epilogue.relu()));
            }
            float[] xb = new float[Nchwc.imageLength(s.c(), s.h(), s.w(), b)];
            float[] yb = new float[Nchwc.imageLength(s.m(), s.outH(), s.outW(), b)];
            Nchwc.toBlocked(1, s.c(), s.h(), s.w(), b, in, 0, xb, 0);
            float[] pb = NchwcConv.packWeights(w, s, b);
            float[] sb = new float[NchwcConv.scratchLength(s, b)];
            double tBlocked = NnKernelBench.cpuMicros(() -> NchwcConv.conv(s, 1, xb, 0, pb, bias, yb, 0, sb,
                    Epilogue.relu()));
            double tConv = NnKernelBench.cpuMicros(() -> {
                Nchwc.toBlocked(1, s.c(), s.h(), s.w(), b, in, 0, xb, 0);
                Nchwc.fromBlocked(1, s.m(), s.outH(), s.outW(), b, yb, 0, out, 0);
            });
            double mfma = (double) s.c() * s.m() * s.kh() * s.kw() * s.outH() * s.outW() / 1e6;
            System.out.printf(Locale.ROOT, "| %s | %.2f | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |%n",
                    describe(s), mfma, Conv2d.layout(s), tChosen, alg[0], alg[1], tBlocked, tConv,
                    2 * mfma / tBlocked * 1e3);
        }
    }

    static String describe(ConvShape s) {
        return s.c() + "x" + s.h() + "x" + s.w() + "->" + s.m() + " " + s.kh() + "x" + s.kw() + " s" + s.strideH()
                + " p" + s.padTop();
    }
}
