package dev.kiln.ir.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Finite-difference checks (double precision, reference evaluator, central differences with h = 1e-5) of the
 * gradient rules of Conv, the pools, BatchNormalization, Dropout, Softmax, LogSoftmax, LSTM and GRU, and so of
 * the {@link NnGradOps} they emit. Tolerance: |analytic - numeric| <= 1e-6 * max(1, |numeric|) unless stated.
 */
class NnGradRulesTest {
    private final Random random = new Random(42);

    private Tensor rand(int... shape) {
        return GradCheck.random(random, shape);
    }

    /** Distinct values (a shuffled ramp), so that no pooling window has a tie the differences would straddle. */
    private Tensor distinct(int... shape) {
        int n = Tensor.sizeOf(shape);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = (i - n / 2.0) * 0.05;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            double t = v[i];
            v[i] = v[j];
            v[j] = t;
        }
        return Tensor.wrapDoubles(DType.FLOAT64, shape, v);
    }

    private static Attributes.Builder attrs() {
        return Attributes.builder();
    }

    /** The single output of Kiln-domain op {@code op} on graph inputs fed with {@code inputs}. */
    private static Tensor runKiln(String op, Attributes a, Tensor... inputs) {
        return runIn(OpTable.KILN_DOMAIN, op, a, inputs);
    }

    private static Tensor runOnnx(String op, Attributes a, Tensor... inputs) {
        return runIn("", op, a, inputs);
    }

    private static Tensor runIn(String domain, String op, Attributes a, Tensor... inputs) {
        GraphBuilder b = new GraphBuilder(op);
        Map<String, Tensor> feeds = new java.util.LinkedHashMap<>();
        List<Value> in = new java.util.ArrayList<>();
        for (int i = 0; i < inputs.length; i++) {
            in.add(b.input("in" + i, inputs[i].dtype(), Shape.of(inputs[i].shape())));
            feeds.put("in" + i, inputs[i]);
        }
        Value y = b.op(op).domain(domain).inputs(in).attrs(a).output();
        b.output(y);
        Tensor out = ReferenceEvaluator.run(b.build(), feeds).get(y.name());
        assertEquals(y.type().shape(), Shape.of(out.shape()), op + ": inferred and evaluated shapes differ");
        return out;
    }

    // ---- Conv ----

    @Test
    void convWithStridePadsDilationsAndGroups() {
        Attributes a = attrs().ints("strides", 2, 1).ints("pads", 1, 0, 2, 1).ints("dilations", 2, 1).i("group", 2)
                .build();
        GradCheck.of("Conv", a, 1, rand(2, 4, 7, 6), rand(6, 2, 3, 2), rand(6)).wrt(0, 1, 2).run();
    }

    @Test
    void convOneDimensionalSameUpperWithoutBias() {
        Attributes a = attrs().s("auto_pad", "SAME_UPPER").ints("strides", 2).build();
        GradCheck.of("Conv", a, 1, rand(2, 3, 9), rand(4, 3, 4)).wrt(0, 1).run();
    }

    @Test
    void convThreeDimensionalDepthwise() {
        Attributes a = attrs().i("group", 3).ints("pads", 1, 0, 1, 0, 1, 1).build();
        GradCheck.of("Conv", a, 1, rand(1, 3, 4, 3, 3), rand(3, 1, 2, 2, 2), rand(3)).wrt(0, 1, 2).run();
    }

    @Test
    void convGradInputEqualsConvTransposeWithOutputPadding() {
        // The Javadoc's equivalence the kernels may rely on: X [1,4,8,7], stride 3, pads 1,0,0,2, dilation 1,2.
        Attributes conv = attrs().ints("strides", 3, 3).ints("pads", 1, 0, 0, 2).ints("dilations", 1, 2).i("group", 2)
                .build();
        Tensor w = rand(6, 2, 2, 3);
        Tensor dy = rand(1, 6, 3, 2);
        Tensor viaGrad = runKiln(NnGradOps.CONV_GRAD_INPUT,
                Attributes.builder().set("strides", conv.get("strides").orElseThrow())
                        .set("pads", conv.get("pads").orElseThrow()).set("dilations", conv.get("dilations").orElseThrow())
                        .i("group", 2).ints("input_shape", 8, 7).build(), dy, w);
        // output_padding = (I + pads - effectiveKernel) mod stride: (8+1-2)%3 = 1, (7+2-5)%3 = 1
        Tensor viaTranspose = runOnnx("ConvTranspose", Attributes.builder()
                .set("strides", conv.get("strides").orElseThrow()).set("pads", conv.get("pads").orElseThrow())
                .set("dilations", conv.get("dilations").orElseThrow()).i("group", 2).ints("output_padding", 1, 1)
                .build(), dy, w);
        assertArrayEquals(new int[] {1, 4, 8, 7}, viaGrad.shape());
        assertArrayEquals(viaTranspose.toDoubleArray(), viaGrad.toDoubleArray(), 1e-12);
    }

    // ---- ConvTranspose (W is [C, M/group, k...]) ----

    @Test
    void convTransposeStrideTwoWithPadsAndBias() {
        Attributes a = attrs().ints("strides", 2, 2).ints("pads", 1, 0, 0, 1).build();
        GradCheck.of("ConvTranspose", a, 1, rand(2, 3, 4, 3), rand(3, 2, 3, 3), rand(2)).wrt(0, 1, 2).run();
    }

    @Test
    void convTransposeGroupsDilationsAndOutputPadding() {
        Attributes a = attrs().ints("strides", 3, 2).ints("pads", 2, 1, 1, 0).ints("dilations", 2, 1)
                .ints("output_padding", 2, 1).i("group", 2).build();
        GradCheck.of("ConvTranspose", a, 1, rand(2, 4, 3, 4), rand(4, 3, 2, 3), rand(6)).wrt(0, 1, 2).run();
    }

    @Test
    void convTransposeOutputPaddingPastTheStrideBelowTheDilation() {
        // output_padding 2 >= stride 1 (allowed as it is below the dilation 3): the Conv would get 2 cells too many.
        Attributes a = attrs().ints("dilations", 3, 1).ints("output_padding", 2, 0).ints("pads", 1, 1, 0, 0).build();
        GradCheck.of("ConvTranspose", a, 1, rand(1, 2, 3, 3), rand(2, 3, 2, 2)).wrt(0, 1).run();
    }

    @Test
    void convTransposeOutputShapeLargerThanTheFullResult() {
        // full = 2*(3-1)+3 = 7 per axis; asking 9 x 6 pads negatively on one axis: the Conv crops dY there.
        Attributes a = attrs().ints("strides", 2, 2).ints("output_shape", 9, 6).build();
        GradCheck.of("ConvTranspose", a, 1, rand(2, 2, 3, 3), rand(2, 2, 3, 3), rand(2)).wrt(0, 1, 2).run();
    }

    @Test
    void convTransposeSameLowerWithAKernelShorterThanTheStride() {
        // out = 3 * in; total pad = 2 - 3 = -1, split negatively: cells of Y that no tap reaches.
        Attributes a = attrs().s("auto_pad", "SAME_LOWER").ints("strides", 3, 1).build();
        GradCheck.of("ConvTranspose", a, 1, rand(2, 2, 3, 4), rand(2, 1, 2, 3)).wrt(0, 1).run();
    }

    @Test
    void convTransposeOneAndThreeDimensional() {
        GradCheck.of("ConvTranspose", attrs().s("auto_pad", "SAME_UPPER").ints("strides", 2).build(), 1,
                rand(2, 3, 5), rand(3, 2, 4), rand(2)).wrt(0, 1, 2).run();
        GradCheck.of("ConvTranspose", attrs().i("group", 2).ints("strides", 2, 1, 2).ints("pads", 0, 1, 1, 1, 0, 0)
                .build(), 1, rand(1, 2, 2, 3, 2), rand(2, 1, 2, 2, 3)).wrt(0, 1).run();
    }

    // ---- pools ----

    @Test
    void maxPoolOverlappingWindowsWithPadsAndCeilMode() {
        Attributes a = attrs().ints("kernel_shape", 3, 3).ints("strides", 2, 2).ints("pads", 1, 1, 1, 0)
                .i("ceil_mode", 1).build();
        GradCheck.of("MaxPool", a, 1, distinct(2, 2, 6, 7)).run();
    }

    @Test
    void maxPoolDilatedWithIndicesOutput() {
        Attributes a = attrs().ints("kernel_shape", 2, 2).ints("dilations", 2, 1).ints("pads", 0, 1, 1, 0).build();
        GradCheck.of("MaxPool", a, 2, distinct(1, 3, 5, 5)).run();
    }

    @Test
    void maxPoolGradientGoesToTheFirstOfTiedMaxima() {
        // One 2x2 window over [[1, 3], [3, 2]] and one over [[3, 3], [3, 3]]: PyTorch routes to the first 3.
        Tensor x = Tensor.wrapDoubles(DType.FLOAT64, new int[] {1, 1, 2, 4}, new double[] {1, 3, 3, 3, 3, 2, 3, 3});
        Tensor dy = Tensor.wrapDoubles(DType.FLOAT64, new int[] {1, 1, 1, 2}, new double[] {10, 20});
        Tensor dx = runKiln(NnGradOps.MAX_POOL_GRAD,
                attrs().ints("kernel_shape", 2, 2).ints("strides", 2, 2).build(), dy, x);
        assertArrayEquals(new double[] {0, 10, 20, 0, 0, 0, 0, 0}, dx.toDoubleArray(), 0);
    }

    @Test
    void maxPoolOverlappingWindowsSumAtASharedMaximum() {
        // Stride 1 windows of width 2 over [0, 5, 1]: both windows pick the 5.
        Tensor x = Tensor.wrapDoubles(DType.FLOAT64, new int[] {1, 1, 3}, new double[] {0, 5, 1});
        Tensor dy = Tensor.wrapDoubles(DType.FLOAT64, new int[] {1, 1, 2}, new double[] {1.5, 2.25});
        Tensor dx = runKiln(NnGradOps.MAX_POOL_GRAD, attrs().ints("kernel_shape", 2).build(), dy, x);
        assertArrayEquals(new double[] {0, 3.75, 0}, dx.toDoubleArray(), 0);
    }

    @Test
    void averagePoolExcludingPads() {
        Attributes a = attrs().ints("kernel_shape", 3, 2).ints("strides", 2, 1).ints("pads", 1, 1, 1, 0).build();
        GradCheck.of("AveragePool", a, 1, rand(2, 2, 5, 4)).run();
    }

    @Test
    void averagePoolIncludingPadsWithCeilMode() {
        Attributes a = attrs().ints("kernel_shape", 3, 3).ints("strides", 2, 2).ints("pads", 1, 1, 1, 1)
                .i("count_include_pad", 1).i("ceil_mode", 1).build();
        GradCheck.of("AveragePool", a, 1, rand(1, 2, 6, 5)).run();
    }

    @Test
    void averagePoolDivisorCountsPadsOnlyWhenAsked() {
        // Width-2 windows, stride 2, one pad cell each side over 2 cells: windows [pad, x0] and [x1, pad].
        Tensor dy = Tensor.wrapDoubles(DType.FLOAT64, new int[] {1, 1, 2}, new double[] {4, 8});
        Attributes base = attrs().ints("kernel_shape", 2).ints("strides", 2).ints("pads", 1, 1).ints("input_shape", 2)
                .build();
        assertArrayEquals(new double[] {4, 8},
                runKiln(NnGradOps.AVERAGE_POOL_GRAD, base, dy).toDoubleArray(), 0);
        assertArrayEquals(new double[] {2, 4}, runKiln(NnGradOps.AVERAGE_POOL_GRAD,
                base.with("count_include_pad", new dev.kiln.ir.Attr.Int(1)), dy).toDoubleArray(), 0);
    }

    @Test
    void globalPools() {
        GradCheck.of("GlobalAveragePool", Attributes.EMPTY, 1, rand(2, 3, 4, 5)).run();
        GradCheck.of("GlobalMaxPool", Attributes.EMPTY, 1, distinct(2, 3, 4, 5)).run();
    }

    // ---- BatchNormalization ----

    @Test
    void batchNormTrainingMode() {
        Attributes a = attrs().i("training_mode", 1).f("epsilon", 1e-3f).f("momentum", 0.8f).build();
        Tensor var = Tensor.wrapDoubles(DType.FLOAT64, new int[] {3}, new double[] {0.5, 1, 2});
        GradCheck.of("BatchNormalization", a, 3, rand(4, 3, 2, 3), rand(3), rand(3), rand(3), var)
                .wrt(0, 1, 2).run();
    }

    @Test
    void batchNormTrainingModeOnMatrices() {
        Attributes a = attrs().i("training_mode", 1).build();
        Tensor var = Tensor.wrapDoubles(DType.FLOAT64, new int[] {2}, new double[] {1, 1});
        GradCheck.of("BatchNormalization", a, 1, rand(5, 2), rand(2), rand(2), rand(2), var).wrt(0, 1, 2).run();
    }

    @Test
    void batchNormInferenceMode() {
        Tensor var = Tensor.wrapDoubles(DType.FLOAT64, new int[] {3}, new double[] {0.5, 1, 2});
        GradCheck.of("BatchNormalization", Attributes.EMPTY, 1, rand(2, 3, 2, 2), rand(3), rand(3), rand(3), var)
                .wrt(0, 1, 2).run();
    }

    // ---- Dropout ----

    @Test
    void dropoutTrainingReusesTheMask() {
        Tensor ratio = Tensor.wrapDoubles(DType.FLOAT64, new int[0], new double[] {0.3});
        Tensor training = Tensor.wrapBools(new int[0], new boolean[] {true});
        Tensor x = rand(4, 5);
        Map<Integer, Tensor> g = GradCheck.of("Dropout", attrs().i("seed", 7).build(), 2, x, ratio, training).run();
        List<Tensor> forward = SingleNode.run("Dropout", attrs().i("seed", 7).build(), Arrays.asList(x, ratio, training),
                "y", "mask");
        boolean[] mask = forward.get(1).bools();
        int dropped = 0;
        for (boolean keep : mask) {
            dropped += keep ? 0 : 1;
        }
        // Both kinds of element occur, so the check above covered zeros and 1/(1-ratio) scaling.
        assertEquals(true, dropped > 0 && dropped < mask.length, "mask drops " + dropped + " of " + mask.length);
        assertEquals(x.type(), g.get(0).type());
    }

    @Test
    void dropoutGradScalesOnlyInTraining() {
        Tensor dy = Tensor.wrapDoubles(DType.FLOAT64, new int[] {3}, new double[] {1, 2, 3});
        Tensor mask = Tensor.wrapBools(new int[] {3}, new boolean[] {true, false, true});
        Tensor ratio = Tensor.wrapDoubles(DType.FLOAT64, new int[0], new double[] {0.75});
        Tensor on = Tensor.wrapBools(new int[0], new boolean[] {true});
        assertArrayEquals(new double[] {4, 0, 12},
                runKiln(NnGradOps.DROPOUT_GRAD, Attributes.EMPTY, dy, mask, ratio, on).toDoubleArray(), 0);
        assertArrayEquals(new double[] {1, 0, 3},
                runKiln(NnGradOps.DROPOUT_GRAD, Attributes.EMPTY, dy, mask, ratio).toDoubleArray(), 0);
    }

    @Test
    void dropoutInInferenceIsTheIdentity() {
        GradCheck.of("Dropout", Attributes.EMPTY, 1, rand(3, 2)).run();
    }

    // ---- Softmax, LogSoftmax ----

    @Test
    void softmaxAlongEachAxis() {
        GradCheck.of("Softmax", Attributes.EMPTY, 1, rand(2, 3, 4)).run();
        GradCheck.of("Softmax", attrs().i("axis", 1).build(), 1, rand(2, 3, 4)).run();
        GradCheck.of("Softmax", attrs().i("axis", 0).build(), 1, rand(3, 2)).run();
    }

    @Test
    void logSoftmaxAlongEachAxis() {
        GradCheck.of("LogSoftmax", Attributes.EMPTY, 1, rand(3, 5)).run();
        GradCheck.of("LogSoftmax", attrs().i("axis", -2).build(), 1, rand(2, 4, 3)).run();
    }

    // ---- LSTM ----

    private Tensor[] lstmInputs(int seq, int batch, int input, int hidden, int dirs, boolean batchFirst) {
        int[] x = batchFirst ? new int[] {batch, seq, input} : new int[] {seq, batch, input};
        int[] state = batchFirst ? new int[] {batch, dirs, hidden} : new int[] {dirs, batch, hidden};
        return new Tensor[] {rand(x), rand(dirs, 4 * hidden, input), rand(dirs, 4 * hidden, hidden),
                rand(dirs, 8 * hidden), null, rand(state), rand(state)};
    }

    @Test
    void lstmForwardOverFiveStepsThroughAllOutputs() {
        GradCheck.of("LSTM", attrs().i("hidden_size", 3).build(), 3, lstmInputs(5, 2, 4, 3, 1, false))
                .loss(0, 1, 2).wrt(0, 1, 2, 3, 5, 6).run();
    }

    @Test
    void lstmThroughYOnlyWithoutInitialStates() {
        Tensor[] in = lstmInputs(4, 3, 2, 2, 1, false);
        GradCheck.of("LSTM", Attributes.EMPTY, 1, in[0], in[1], in[2], in[3]).wrt(0, 1, 2, 3).run();
    }

    @Test
    void lstmBidirectionalBatchFirst() {
        Attributes a = attrs().s("direction", "bidirectional").i("layout", 1).build();
        GradCheck.of("LSTM", a, 3, lstmInputs(3, 2, 3, 2, 2, true)).loss(0, 1, 2).wrt(0, 1, 2, 3, 5, 6).run();
    }

    @Test
    void lstmReverseThroughFinalStatesOnly() {
        Attributes a = attrs().s("direction", "reverse").build();
        GradCheck.of("LSTM", a, 3, lstmInputs(4, 2, 2, 3, 1, false)).loss(1, 2).wrt(0, 1, 2, 3, 5, 6).run();
    }

    @Test
    void lstmWithPeepholesIsRejected() {
        Tensor[] in = lstmInputs(2, 1, 2, 2, 1, false);
        assertThrows(UnsupportedOpException.class, () -> GradCheck.of("LSTM", Attributes.EMPTY, 1, in[0], in[1], in[2],
                in[3], null, in[5], in[6], rand(1, 6)).wrt(1).run());
    }

    // ---- GRU ----

    private Tensor[] gruInputs(int seq, int batch, int input, int hidden, int dirs, boolean batchFirst) {
        int[] x = batchFirst ? new int[] {batch, seq, input} : new int[] {seq, batch, input};
        int[] state = batchFirst ? new int[] {batch, dirs, hidden} : new int[] {dirs, batch, hidden};
        return new Tensor[] {rand(x), rand(dirs, 3 * hidden, input), rand(dirs, 3 * hidden, hidden),
                rand(dirs, 6 * hidden), null, rand(state)};
    }

    @Test
    void gruLinearBeforeResetAsPyTorchExports() {
        Attributes a = attrs().i("hidden_size", 3).i("linear_before_reset", 1).build();
        GradCheck.of("GRU", a, 2, gruInputs(5, 2, 4, 3, 1, false)).loss(0, 1).wrt(0, 1, 2, 3, 5).run();
    }

    @Test
    void gruResetBeforeLinear() {
        GradCheck.of("GRU", Attributes.EMPTY, 2, gruInputs(4, 2, 3, 3, 1, false)).loss(0, 1).wrt(0, 1, 2, 3, 5).run();
    }

    @Test
    void gruBidirectionalBatchFirstBothForms() {
        for (int lbr = 0; lbr <= 1; lbr++) {
            Attributes a = attrs().s("direction", "bidirectional").i("layout", 1).i("linear_before_reset", lbr).build();
            GradCheck.of("GRU", a, 2, gruInputs(3, 2, 2, 2, 2, true)).loss(0, 1).wrt(0, 1, 2, 3, 5).run();
        }
    }

    @Test
    void gruWithoutBiasOrInitialState() {
        Tensor[] in = gruInputs(3, 1, 2, 2, 1, false);
        GradCheck.of("GRU", attrs().i("linear_before_reset", 1).build(), 1, in[0], in[1], in[2]).wrt(0, 1, 2).run();
    }

    // ---- Gather ----

    @Test
    void gatherWithRepeatedAndNegativeIndices() {
        Tensor idx = Tensor.wrapLongs(DType.INT64, new int[] {2, 2}, new long[] {0, -1, 2, 0});
        GradCheck.of("Gather", attrs().i("axis", 1).build(), 1, rand(2, 3, 4), idx).run();
        Tensor last = Tensor.scalarLong(DType.INT64, -1);
        Map<Integer, Tensor> g = GradCheck.of("Gather", attrs().i("axis", 1).build(), 1, rand(2, 5, 3), last).run();
        double[] dx = g.get(0).toDoubleArray();
        for (int b = 0; b < 2; b++) {
            for (int t = 0; t < 4; t++) {
                for (int j = 0; j < 3; j++) {
                    assertEquals(0.0, dx[(b * 5 + t) * 3 + j], "only the last step receives a gradient");
                }
            }
        }
    }

    // ---- symbolic batch ----

    @Test
    void gradientsKeepASymbolicBatch() {
        Shape img = Shape.parse("N,3,8,8");
        Value x = new Value("x", new TensorType(DType.FLOAT32, img));
        Value w = new Value("w", new TensorType(DType.FLOAT32, Shape.of(4, 3, 3, 3)));
        Value b = new Value("b", new TensorType(DType.FLOAT32, Shape.of(4)));
        Map<Integer, Value> conv = GradCheck.typedGradients("Conv", attrs().ints("pads", 1, 1, 1, 1).build(), 1,
                List.of(x, w, b), Set.of(0), Set.of(0, 1, 2));
        assertEquals(3, conv.size());
        GradCheck.typedGradients("MaxPool", attrs().ints("kernel_shape", 2, 2).ints("strides", 2, 2).build(), 1,
                List.of(x), Set.of(0), Set.of(0));
        GradCheck.typedGradients("AveragePool", attrs().ints("kernel_shape", 2, 2).build(), 1, List.of(x), Set.of(0),
                Set.of(0));
        GradCheck.typedGradients("GlobalAveragePool", Attributes.EMPTY, 1, List.of(x), Set.of(0), Set.of(0));
        Value c = new Value("c", new TensorType(DType.FLOAT32, Shape.of(3)));
        GradCheck.typedGradients("BatchNormalization", attrs().i("training_mode", 1).build(), 3,
                List.of(x, c, c, c, c), Set.of(0), Set.of(0, 1, 2));
        Value seq = new Value("s", new TensorType(DType.FLOAT32, Shape.parse("28,N,28")));
        Value lw = new Value("lw", new TensorType(DType.FLOAT32, Shape.of(1, 512, 28)));
        Value lr = new Value("lr", new TensorType(DType.FLOAT32, Shape.of(1, 512, 128)));
        Value lb = new Value("lb", new TensorType(DType.FLOAT32, Shape.of(1, 1024)));
        Value h0 = new Value("h0", new TensorType(DType.FLOAT32, Shape.parse("1,N,128")));
        Map<Integer, Value> lstm = GradCheck.typedGradients("LSTM", attrs().i("hidden_size", 128).build(), 3,
                List.of(seq, lw, lr, lb, Value.ABSENT, h0, h0), Set.of(0), Set.of(1, 2, 3));
        assertEquals(Set.of(1, 2, 3), lstm.keySet());
        Value ys = new Value("ys", new TensorType(DType.FLOAT32, Shape.parse("N,28,128")));
        Value last = new Value("last", new TensorType(DType.INT64, Shape.of(new long[0])));
        GradCheck.typedGradients("Gather", attrs().i("axis", 1).build(), 1, List.of(ys, last), Set.of(0), Set.of(0));
    }
}
