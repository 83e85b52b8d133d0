package dev.kiln.runtime.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.runtime.Conv2d;
import dev.kiln.runtime.ConvShape;
import dev.kiln.runtime.Epilogue;
import dev.kiln.runtime.WorkerPool;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Conv gradients against their scalar twins (float sums of up to ~2700 terms of magnitude ≤ 1 against double:
 * 2e-4 absolute + 1e-4 relative), against central differences of a double-precision forward written in the test
 * (the loss sum(Y * G) is linear in W and X, so the differences are exact up to rounding: 2e-4 + 1e-4 rel), and
 * one vs two threads bit for bit.
 */
class ConvGradTest {
    private static final double ABS = 2e-4;
    private static final double REL = 1e-4;
    private final Random rnd = new Random(11);

    private static final int[][] SHAPES = {
        // c, h, w, m, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, group
        {1, 28, 28, 8, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1},    // mnist_cnn conv1-like (direct forward)
        {8, 13, 13, 16, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1},
        {3, 11, 13, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
        {4, 9, 19, 6, 3, 2, 2, 1, 0, 1, 2, 0, 1, 2, 2},
        {6, 10, 10, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 6},    // depthwise
        {2, 7, 30, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},
        {5, 17, 17, 7, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1, 1},
        {2, 9, 9, 4, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 2},
        {3, 8, 40, 9, 2, 4, 3, 1, 1, 0, 0, 3, 2, 1, 3},
        {4, 6, 37, 5, 3, 3, 1, 3, 1, 2, 0, 1, 1, 2, 1},
        {20, 5, 5, 33, 2, 2, 1, 1, 0, 0, 0, 0, 1, 1, 1},    // more channels than a panel
        // rows of one to four vectors at 256 and at 128 bits (im2col and col2im copy them without a loop)
        {10, 12, 12, 20, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1},  // mnist_cnn conv2
        {3, 6, 6, 4, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1},
        {1, 28, 28, 4, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1},    // mnist_cnn conv1 (rows of 24)
        {2, 18, 18, 3, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1},
        // input gradients as a transposed convolution (stride 1, >= 8 channels per group, little padding)
        {16, 10, 10, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
        {16, 9, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2},
        {8, 12, 12, 6, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1},
        {9, 11, 14, 7, 3, 5, 1, 1, 1, 2, 1, 2, 1, 1, 1},
    };

    static ConvShape shape(int[] v) {
        return new ConvShape(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13],
                v[14]);
    }

    @Test
    void gradientsMatchScalarTwins() {
        for (int[] v : SHAPES) {
            ConvShape s = shape(v);
            for (int batch : new int[] {1, 3}) {
                float[] x = TrainCheck.random(rnd, batch * s.inSize() + 2);
                float[] w = TrainCheck.random(rnd, s.weightLength() + 1);
                float[] dy = TrainCheck.random(rnd, batch * s.outSize() + 3);
                float[] want = new float[s.weightLength() + 1];
                float[] got = new float[want.length];
                ConvGrad.weightGradScalar(s, batch, x, 2, dy, 3, want, 1);
                ConvGrad.weightGrad(s, batch, x, 2, dy, 3, got, 1, null);
                TrainCheck.close("dW " + s + " batch " + batch, want, got, ABS, REL);

                float[] dbWant = new float[s.m()];
                float[] dbGot = new float[s.m()];
                ConvGrad.biasGradScalar(s, batch, dy, 3, dbWant, 0);
                ConvGrad.biasGrad(s, batch, dy, 3, dbGot, 0);
                TrainCheck.close("dB " + s + " batch " + batch, dbWant, dbGot, ABS, REL);

                float[] dxWant = new float[batch * s.inSize() + 4];
                float[] dxGot = new float[dxWant.length];
                java.util.Arrays.fill(dxGot, 0, 4, 7f); // before the offset: must stay
                System.arraycopy(dxGot, 0, dxWant, 0, 4);
                ConvGrad.inputGradScalar(s, batch, dy, 3, w, 1, dxWant, 4);
                ConvGrad.inputGrad(s, batch, dy, 3, w, 1, dxGot, 4, null);
                TrainCheck.close("dX " + s + " batch " + batch, dxWant, dxGot, ABS, REL);
            }
        }
    }

    @Test
    void forwardOnRawWeightsMatchesScalarConv() {
        for (int[] v : SHAPES) {
            ConvShape s = shape(v);
            int batch = 2;
            float[] x = TrainCheck.random(rnd, batch * s.inSize());
            float[] w = TrainCheck.random(rnd, s.weightLength() + 5);
            float[] bias = TrainCheck.random(rnd, s.m());
            float[] wOnnx = java.util.Arrays.copyOfRange(w, 5, w.length);
            float[] want = new float[batch * s.outSize()];
            Conv2d.convScalar(s, batch, x, 0, wOnnx, bias, want, 0, Epilogue.none());
            float[] got = new float[want.length];
            ConvGrad.forward(s, batch, x, 0, w, 5, bias, got, 0, null);
            TrainCheck.close("forward " + s, want, got, 1e-4, 1e-5);
            // the same kernel as inference on weights packed at compile time: the same bits
            float[] inference = new float[want.length];
            Conv2d.conv(s, batch, x, 0, Conv2d.packWeights(wOnnx, s), bias, inference, 0,
                    new float[Conv2d.scratchLength(s)], Epilogue.none());
            assertArrayEquals(inference, got, "forward " + s);
        }
    }

    @Test
    void gradientsMatchFiniteDifferencesOfDoubleForward() {
        int[][] shapes = {SHAPES[2], SHAPES[3], SHAPES[7], SHAPES[9]};
        for (int[] v : shapes) {
            ConvShape s = shape(v);
            int batch = 2;
            float[] x = TrainCheck.random(rnd, batch * s.inSize());
            float[] w = TrainCheck.random(rnd, s.weightLength());
            float[] b = TrainCheck.random(rnd, s.m());
            float[] gOut = TrainCheck.random(rnd, batch * s.outSize());
            double[] xd = TrainCheck.toDouble(x);
            double[] wd = TrainCheck.toDouble(w);
            double[] bd = TrainCheck.toDouble(b);
            double h = 1e-3;
            double[] fdW = new double[wd.length];
            for (int i = 0; i < wd.length; i++) {
                fdW[i] = central(() -> loss(s, batch, xd, wd, bd, gOut), wd, i, h);
            }
            double[] fdX = new double[xd.length];
            for (int i = 0; i < xd.length; i++) {
                fdX[i] = central(() -> loss(s, batch, xd, wd, bd, gOut), xd, i, h);
            }
            double[] fdB = new double[bd.length];
            for (int i = 0; i < bd.length; i++) {
                fdB[i] = central(() -> loss(s, batch, xd, wd, bd, gOut), bd, i, h);
            }
            float[] dw = new float[wd.length];
            float[] dx = new float[xd.length];
            float[] db = new float[bd.length];
            ConvGrad.weightGrad(s, batch, x, 0, gOut, 0, dw, 0, null);
            ConvGrad.inputGrad(s, batch, gOut, 0, w, 0, dx, 0, null);
            ConvGrad.biasGrad(s, batch, gOut, 0, db, 0);
            TrainCheck.close("fd dW " + s, fdW, dw, ABS, REL);
            TrainCheck.close("fd dX " + s, fdX, dx, ABS, REL);
            TrainCheck.close("fd dB " + s, fdB, db, ABS, REL);
        }
    }

    @Test
    void twoThreadsGiveTheSameBitsAsOne() {
        // the weight gradient splits by taps, the input gradient by images (by the GEMM at batch 1)
        ConvShape wide = new ConvShape(16, 20, 20, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
        try (WorkerPool pool = WorkerPool.of(2)) {
            for (ConvShape s : java.util.stream.Stream.concat(java.util.stream.Stream.of(wide),
                    java.util.Arrays.stream(SHAPES).map(ConvGradTest::shape)).toList()) {
                for (int batch : new int[] {1, 3, 9}) {
                    float[] x = TrainCheck.random(rnd, batch * s.inSize());
                    float[] w = TrainCheck.random(rnd, s.weightLength());
                    float[] dy = TrainCheck.random(rnd, batch * s.outSize());
                    float[] dw1 = new float[s.weightLength()];
                    float[] dx1 = new float[batch * s.inSize()];
                    float[] y1 = new float[batch * s.outSize()];
                    ConvGrad.weightGrad(s, batch, x, 0, dy, 0, dw1, 0, null);
                    ConvGrad.inputGrad(s, batch, dy, 0, w, 0, dx1, 0, null);
                    ConvGrad.forward(s, batch, x, 0, w, 0, null, y1, 0, null);
                    float[] dw2 = new float[dw1.length];
                    float[] dx2 = new float[dx1.length];
                    float[] y2 = new float[y1.length];
                    ConvGrad.weightGrad(s, batch, x, 0, dy, 0, dw2, 0, pool);
                    ConvGrad.inputGrad(s, batch, dy, 0, w, 0, dx2, 0, pool);
                    ConvGrad.forward(s, batch, x, 0, w, 0, null, y2, 0, pool);
                    String what = s + " batch " + batch;
                    assertArrayEquals(dw1, dw2, "dW " + what);
                    assertArrayEquals(dx1, dx2, "dX " + what);
                    assertArrayEquals(y1, y2, "Y " + what);
                }
            }
        }
    }

    @Test
    void steadyStateAllocatesNothing() {
        ConvShape s = shape(SHAPES[2]);
        int batch = 2;
        float[] x = TrainCheck.random(rnd, batch * s.inSize());
        float[] w = TrainCheck.random(rnd, s.weightLength());
        float[] dy = TrainCheck.random(rnd, batch * s.outSize());
        float[] dw = new float[s.weightLength()];
        float[] dx = new float[x.length];
        float[] y = new float[dy.length];
        float[] db = new float[s.m()];
        assertEquals(0, TrainCheck.allocatedPerRun(() -> ConvGrad.forward(s, batch, x, 0, w, 0, db, y, 0, null)),
                "bytes allocated per forward");
        assertEquals(0, TrainCheck.allocatedPerRun(() -> ConvGrad.weightGrad(s, batch, x, 0, dy, 0, dw, 0, null)),
                "bytes allocated per weight gradient");
        assertEquals(0, TrainCheck.allocatedPerRun(() -> ConvGrad.inputGrad(s, batch, dy, 0, w, 0, dx, 0, null)),
                "bytes allocated per input gradient");
        assertEquals(0, TrainCheck.allocatedPerRun(() -> ConvGrad.biasGrad(s, batch, dy, 0, db, 0)),
                "bytes allocated per bias gradient");
        ConvShape t = shape(SHAPES[11]); // an input gradient computed as a transposed convolution
        float[] wt = TrainCheck.random(rnd, t.weightLength());
        float[] dyt = TrainCheck.random(rnd, batch * t.outSize());
        float[] dxt = new float[batch * t.inSize()];
        assertEquals(0, TrainCheck.allocatedPerRun(() -> ConvGrad.inputGrad(t, batch, dyt, 0, wt, 0, dxt, 0, null)),
                "bytes allocated per input gradient as a transposed convolution");
        // two layers of different shapes alternating, threaded: each keeps its own scratch
        ConvShape s2 = shape(SHAPES[1]);
        float[] x2 = TrainCheck.random(rnd, batch * s2.inSize());
        float[] w2 = TrainCheck.random(rnd, s2.weightLength());
        float[] y2 = new float[batch * s2.outSize()];
        float[] dw2 = new float[s2.weightLength()];
        try (WorkerPool pool = WorkerPool.of(2)) {
            assertEquals(0, TrainCheck.allocatedPerRun(() -> {
                ConvGrad.forward(s, batch, x, 0, w, 0, null, y, 0, pool);
                ConvGrad.forward(s2, batch, x2, 0, w2, 0, null, y2, 0, pool);
                ConvGrad.weightGrad(s, batch, x, 0, dy, 0, dw, 0, pool);
                ConvGrad.weightGrad(s2, batch, x2, 0, y2, 0, dw2, 0, pool);
            }), "bytes allocated per step of two alternating conv layers");
        }
    }

    private static double central(java.util.function.DoubleSupplier f, double[] p, int i, double h) {
        double keep = p[i];
        p[i] = keep + h;
        double up = f.getAsDouble();
        p[i] = keep - h;
        double down = f.getAsDouble();
        p[i] = keep;
        return (up - down) / (2 * h);
    }

    /** sum over outputs of conv(x, w, b) * g, all in double: the seven ONNX loops. */
    private static double loss(ConvShape s, int batch, double[] x, double[] w, double[] b, float[] g) {
        double total = 0;
        for (int n = 0; n < batch; n++) {
            for (int m = 0; m < s.m(); m++) {
                int grp = m / s.mg();
                for (int oy = 0; oy < s.outH(); oy++) {
                    for (int ox = 0; ox < s.outW(); ox++) {
                        double sum = b[m];
                        for (int c = 0; c < s.cg(); c++) {
                            int ch = grp * s.cg() + c;
                            for (int ky = 0; ky < s.kh(); ky++) {
                                int iy = oy * s.strideH() - s.padTop() + ky * s.dilationH();
                                for (int kx = 0; kx < s.kw(); kx++) {
                                    int ix = ox * s.strideW() - s.padLeft() + kx * s.dilationW();
                                    if (iy >= 0 && iy < s.h() && ix >= 0 && ix < s.w()) {
                                        sum += x[((n * s.c() + ch) * s.h() + iy) * s.w() + ix]
                                                * w[((m * s.cg() + c) * s.kh() + ky) * s.kw() + kx];
                                    }
                                }
                            }
                        }
                        total += sum * g[((n * s.m() + m) * s.outH() + oy) * s.outW() + ox];
                    }
                }
            }
        }
        return total;
    }
}
