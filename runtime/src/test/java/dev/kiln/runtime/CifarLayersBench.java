package dev.kiln.runtime;

import java.util.Locale;
import java.util.Random;

/**
 * Where a cifar_cnn call spends its time: each layer's runtime kernel, called as the generated class calls it (same
 * shapes, algorithms, epilogues; a max pool fused into its conv where {@link Conv2d#fusesMaxPool} takes the conv, as
 * the weight-layout pass does), timed alone in CPU µs of the calling thread, at batch 1 and 64. Run from
 * the runtime module after {@code mvn test-compile}:
 * {@code java --add-modules jdk.incubator.vector -cp target/classes:target/test-classes dev.kiln.runtime.CifarLayersBench [batch...]}.
 */
public final class CifarLayersBench {
    private CifarLayersBench() {}

    public static void main(String[] args) {
        int[] batches = args.length == 0 ? new int[] {1, 64} : java.util.Arrays.stream(args).mapToInt(Integer::parseInt).toArray();
        Random rnd = new Random(1);
        ConvShape c1 = ConvShape.of(3, 32, 32, 32, 3);
        ConvShape c2 = ConvShape.of(32, 15, 15, 64, 3);
        ConvShape c3 = ConvShape.of(64, 6, 6, 64, 3);
        PoolShape p1 = new PoolShape(30, 30, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 15, 15);
        PoolShape p2 = new PoolShape(13, 13, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 6, 6);
        float[] w1 = Conv2d.packWeights(Check.random(rnd, c1.weightLength()), c1);
        float[] w2 = Conv2d.packWeights(Check.random(rnd, c2.weightLength()), c2);
        float[] w3 = Conv2d.packWeights(Check.random(rnd, c3.weightLength()), c3);
        float[] b1 = Check.random(rnd, 32);
        float[] b2 = Check.random(rnd, 64);
        float[] b3 = Check.random(rnd, 64);
        PackedMatrix f1 = PackedMatrix.pack(Check.random(rnd, 1024 * 64), 0, 1024, 64, false);
        PackedMatrix f2 = PackedMatrix.pack(Check.random(rnd, 64 * 10), 0, 64, 10, false);
        float[] fb1 = Check.random(rnd, 64);
        float[] fb2 = Check.random(rnd, 10);
        float[] s1 = new float[Conv2d.scratchLength(c1)];
        float[] s2 = new float[Conv2d.scratchLength(c2)];
        float[] s3 = new float[Conv2d.scratchLength(c3)];
        Epilogue relu = Epilogue.relu();
        for (int batch : batches) {
            float[] x = Check.random(rnd, batch * c1.inSize());
            float[] a1 = new float[batch * c1.outSize()];
            float[] q1 = new float[batch * c2.inSize()];
            float[] a2 = new float[batch * c2.outSize()];
            float[] q2 = new float[batch * c3.inSize()];
            float[] a3 = new float[batch * c3.outSize()];
            float[] h = new float[batch * 64];
            float[] y = new float[batch * 10];
            boolean fuse1 = Conv2d.fusesMaxPool(c1);
            boolean fuse2 = Conv2d.fusesMaxPool(c2);
            String[] names = {"conv1 " + Conv2d.layout(c1) + (fuse1 ? " + pool1 fused" : ""), "pool1",
                "conv2 " + Conv2d.layout(c2) + (fuse2 ? " + pool2 fused" : ""), "pool2", "conv3 " + Conv2d.layout(c3),
                "fc1", "fc2", "all"};
            Runnable none = () -> { };
            Runnable[] layers = {
                fuse1 ? () -> Conv2d.convMaxPool(c1, batch, x, 0, w1, b1, q1, 0, s1, relu)
                        : () -> Conv2d.conv(c1, batch, x, 0, w1, b1, a1, 0, s1, relu),
                fuse1 ? none : () -> Pooling.maxPool(p1, 32 * batch, a1, 0, q1, 0),
                fuse2 ? () -> Conv2d.convMaxPool(c2, batch, q1, 0, w2, b2, q2, 0, s2, relu)
                        : () -> Conv2d.conv(c2, batch, q1, 0, w2, b2, a2, 0, s2, relu),
                fuse2 ? none : () -> Pooling.maxPool(p2, 64 * batch, a2, 0, q2, 0),
                () -> Conv2d.conv(c3, batch, q2, 0, w3, b3, a3, 0, s3, relu),
                () -> Gemm.gemm(batch, a3, 0, 1024, f1, fb1, h, 0, 64, false, relu),
                () -> Gemm.gemm(batch, h, 0, 64, f2, fb2, y, 0, 10, false, Epilogue.none()),
                null,
            };
            layers[7] = () -> {
                for (int i = 0; i < 7; i++) {
                    layers[i].run();
                }
            };
            double sum = 0;
            for (int i = 0; i < layers.length; i++) {
                double t = NnKernelBench.cpuMicros(layers[i]);
                if (i < 7) {
                    sum += t;
                }
                System.out.printf(Locale.ROOT, "batch %d | %s | %.1f µs%s%n", batch, names[i], t,
                        i == 7 ? String.format(Locale.ROOT, " (layers alone sum to %.1f)", sum) : "");
            }
        }
    }
}
