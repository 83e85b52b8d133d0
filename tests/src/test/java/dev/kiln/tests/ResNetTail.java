package dev.kiln.tests;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.builder.Conv2d;
import dev.kiln.ir.builder.Flow;
import dev.kiln.ir.builder.ModelBuilder;

/**
 * A ResNet-like tail written with the builder: a stride-2 3x3 convolution from 64 x 14x14 to 128 x 7x7, then two
 * bottleneck blocks (1x1 128 -> 64, 3x3 64 -> 64, 1x1 64 -> 128, each with BatchNorm, residual Add, ReLU), global
 * average pool and a linear classifier: deep channels on small images, the shapes the NCHWc kernels were built for
 * (docs/KERNELS.md). Since narrow planes take im2col in NCHW the two layouts run it within a few per cent.
 */
final class ResNetTail {
    private ResNetTail() {}

    static Graph build(String batch) {
        ModelBuilder m = ModelBuilder.create("resnet_tail").seed(3);
        Flow x = m.input("input", DType.FLOAT32, batch + ",64,14,14")
                .conv2d(Conv2d.of(128, 3).stride(2).padding(1)).batchNorm().relu();
        for (int block = 0; block < 2; block++) {
            Flow y = x.conv2d(Conv2d.of(64, 1)).batchNorm().relu()
                    .conv2d(Conv2d.of(64, 3).padding(1)).batchNorm().relu()
                    .conv2d(Conv2d.of(128, 1)).batchNorm();
            x = y.add(x).relu();
        }
        m.output(x.globalAvgPool().flatten().dense(10), "logits");
        return m.build();
    }
}
