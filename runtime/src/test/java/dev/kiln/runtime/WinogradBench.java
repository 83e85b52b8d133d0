package dev.kiln.runtime;

import java.util.Locale;
import java.util.Random;

/**
 * Direct, im2col + GEMM, Winograd F(2x2,3x3) and F(4x4,3x3) on the 3x3 layers of cifar_cnn, CPU time per call of the calling
 * thread (the machine is shared: wall time is not comparable across runs), the four algorithms measured
 * alternately, two rounds. Run from the runtime module after {@code mvn test-compile}:
 * {@code java --add-modules jdk.incubator.vector -cp target/classes:target/test-classes dev.kiln.runtime.WinogradBench}.
 */
public final class WinogradBench {
    private WinogradBench() {}

    public static void main(String[] args) {
        Random rnd = new Random(1);
        String[] names = {"cifar conv1", "cifar conv2", "cifar conv3"};
        ConvShape[] shapes = {ConvShape.of(3, 32, 32, 32, 3), ConvShape.of(32, 15, 15, 64, 3), ConvShape.of(64, 6, 6, 64, 3)};
        System.out.println("layer | batch | direct µs | im2col µs | winograd F2 µs | winograd F4 µs | best other/F4");
        for (int round = 0; round < 2; round++) {
            for (int i = 0; i < shapes.length; i++) {
                ConvShape s = shapes[i];
                for (int batch : new int[] {1, 64}) {
                    float[] w = Check.random(rnd, s.weightLength());
                    float[] in = Check.random(rnd, batch * s.inSize());
                    float[] bias = Check.random(rnd, s.m());
                    float[] out = new float[batch * s.outSize()];
                    double[] t = new double[4];
                    for (int a = 0; a < 2; a++) {
                        Conv2d.Algorithm alg = Conv2d.Algorithm.values()[a];
                        float[] p = Conv2d.packWeights(w, s, alg);
                        float[] scratch = new float[Conv2d.scratchLength(s, alg)];
                        t[a] = NnKernelBench.cpuMicros(() -> Conv2d.conv(s, alg, batch, in, 0, p, bias, out, 0, scratch,
                                Epilogue.relu()));
                    }
                    float[] p = WinogradConv.packWeights(w, s);
                    float[] scratch = new float[WinogradConv.scratchLength(s)];
                    t[2] = NnKernelBench.cpuMicros(() -> WinogradConv.conv(s, batch, in, 0, p, bias, out, 0, scratch,
                            Epilogue.relu()));
                    float[] p4 = WinogradF4Conv.packWeights(w, s);
                    float[] scratch4 = new float[WinogradF4Conv.scratchLength(s)];
                    t[3] = NnKernelBench.cpuMicros(() -> WinogradF4Conv.conv(s, batch, in, 0, p4, bias, out, 0, scratch4,
                            Epilogue.relu()));
                    System.out.printf(Locale.ROOT, "%s | %d | %.1f | %.1f | %.1f | %.1f | %.2f%n", names[i], batch, t[0],
                            t[1], t[2], t[3], Math.min(Math.min(t[0], t[1]), t[2]) / t[3]);
                }
            }
        }
    }
}
