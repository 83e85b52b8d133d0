package dev.kiln.passes.training;

import static dev.kiln.passes.training.GradTesting.assertGradients;
import static dev.kiln.passes.training.GradTesting.graph;
import static dev.kiln.passes.training.GradTesting.random;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.NnGradOps;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The neural-network gradient rules (Conv, pools, BatchNormalization, Dropout, Softmax, LogSoftmax, LSTM, GRU,
 * Gather) inside small models built by the real {@link Autodiff} pass, against central finite differences in
 * double precision ({@link GradientCheck}: step 1e-6, |analytic - numeric| <= 1e-6 * max(1, |analytic|,
 * |numeric|)). A parameterized op sits before each op under test, so its input gradient is checked too.
 */
class NnGradRulesTrainingTest {
    private static Value param(GraphBuilder b, String name, long seed, int... shape) {
        return b.initializer(name, random(seed, -1, 1, shape));
    }

    private static Value x(GraphBuilder b, String dims) {
        return b.input("x", DType.FLOAT64, Shape.parse(dims));
    }

    /** How many nodes of Kiln's op {@code op} the training graph holds. */
    private static long count(Graph g, String op) {
        return g.nodes().stream().filter(n -> n.domain().equals(OpTable.KILN_DOMAIN) && n.op().equals(op)).count();
    }

    @Test
    void convPoolChain() {
        Graph model = graph(b -> {
            Value c1 = b.op("Conv").inputs(x(b, "N,2,9,8"), param(b, "w1", 1, 4, 1, 3, 3), param(b, "b1", 2, 4))
                    .attr("group", 2).attr("strides", new long[] {1, 2}).attr("pads", new long[] {1, 1, 1, 0}).output();
            Value p1 = b.op("MaxPool").inputs(c1).attr("kernel_shape", new long[] {3, 2})
                    .attr("strides", new long[] {2, 1}).attr("pads", new long[] {1, 0, 1, 0}).output();
            Value c2 = b.op("Conv").inputs(p1, param(b, "w2", 3, 3, 4, 2, 2), param(b, "b2", 4, 3))
                    .attr("dilations", new long[] {2, 1}).output();
            Value p2 = b.op("AveragePool").inputs(c2).attr("kernel_shape", new long[] {2, 2})
                    .attr("pads", new long[] {1, 1, 0, 0}).attr("count_include_pad", 1L).output();
            Value g = b.op("GlobalAveragePool").inputs(p2).output();
            Value f = b.op("Flatten").inputs(g).output();
            return b.op("Gemm").inputs(f, param(b, "fc", 5, 4, 3), param(b, "fcb", 6, 4)).attr("transB", 1L).output();
        });
        Map<String, Tensor> in = GradTesting.feeds(model, 7);
        Tensor labels = Tensor.wrapLongs(DType.INT64, new int[] {GradTesting.BATCH}, new long[] {0, 3, 1});
        GradientCheck.Report r = assertGradients(model, TrainingSpec.of(Loss.CROSS_ENTROPY), in, labels);
        TrainingGraph tg = Autodiff.build(model, TrainingSpec.of(Loss.CROSS_ENTROPY));
        assertEquals(2, count(tg.graph(), NnGradOps.CONV_GRAD_WEIGHT));
        // conv1's input is data: no ConvGradInput for it, one for conv2.
        assertEquals(1, count(tg.graph(), NnGradOps.CONV_GRAD_INPUT));
        assertTrue(r.checked() > 40, r.toString());
    }

    @Test
    void convTransposeChainWithGroupsOutputPaddingAndDilations() {
        // ct1: stride 2, asymmetric pads, output_padding, group 2, bias; ct2: dilated, no bias. A Conv before them
        // has a parameter, so ct1's input gradient (a Conv of dY) is checked too.
        Graph model = graph(b -> {
            Value c = b.op("Conv").inputs(x(b, "N,2,5,4"), param(b, "w", 1, 4, 2, 3, 3))
                    .attr("pads", new long[] {1, 1, 1, 1}).output();
            Value ct1 = b.op("ConvTranspose").inputs(c, param(b, "t1", 2, 4, 3, 3, 3), param(b, "b1", 3, 6))
                    .attr("strides", new long[] {2, 2}).attr("pads", new long[] {1, 0, 1, 1})
                    .attr("output_padding", new long[] {1, 1}).attr("group", 2L).output();
            Value h = b.op("Tanh").inputs(ct1).output();
            Value ct2 = b.op("ConvTranspose").inputs(h, param(b, "t2", 4, 6, 2, 2, 2))
                    .attr("dilations", new long[] {2, 1}).output();
            return b.op("Tanh").inputs(ct2).output();
        });
        assertEquals(Shape.parse("N,2,12,10"), model.outputs().get(0).shape());
        TrainingGraph tg = Autodiff.build(model, TrainingSpec.of(Loss.MSE));
        assertEquals(3, count(tg.graph(), NnGradOps.CONV_GRAD_WEIGHT));
        assertEquals(3, tg.graph().nodes().stream().filter(n -> n.op().equals("Conv")).count(),
                "the forward Conv and the input gradients of both ConvTransposes");
        GradientCheck.Report r = assertGradients(model);
        assertTrue(r.checked() > 100, r.toString());
    }

    @Test
    void deformConvWithOffsetsAndMaskFromConvs() {
        // The offsets and the mask are computed by Convs of the input, so their gradients reach those Convs' weights.
        Graph model = graph(b -> {
            Value x = x(b, "N,2,5,5");
            Value offset = b.op("Conv").inputs(x, param(b, "wo", 1, 8, 2, 3, 3), param(b, "bo", 2, 8))
                    .attr("pads", new long[] {1, 1, 1, 1}).output();
            Value logits = b.op("Conv").inputs(x, param(b, "wm", 3, 4, 2, 3, 3))
                    .attr("pads", new long[] {1, 1, 1, 1}).output();
            Value mask = b.op("Sigmoid").inputs(logits).output();
            Value y = b.op("DeformConv").inputs(x, param(b, "w", 4, 3, 2, 2, 2), offset, param(b, "b", 5, 3), mask)
                    .attr("pads", new long[] {0, 0, 1, 1}).output();
            return b.op("Tanh").inputs(y).output();
        });
        TrainingGraph tg = Autodiff.build(model, TrainingSpec.of(Loss.MSE));
        assertEquals(1, count(tg.graph(), dev.kiln.ir.ops.DeformConvOps.DEFORM_CONV_GRAD));
        assertGradients(model);
    }

    @Test
    void batchNormTrainingModeWithRunningStatisticsAsState() {
        Graph model = graph(b -> {
            Value c = b.op("Conv").inputs(x(b, "N,2,4,4"), param(b, "w", 1, 3, 2, 3, 3)).attr("pads",
                    new long[] {1, 1, 1, 1}).output();
            Value bn = b.op("BatchNormalization").inputs(c, param(b, "gamma", 2, 3), param(b, "beta", 3, 3),
                    b.initializer("mean", random(4, -0.1, 0.1, 3)), b.initializer("var", random(5, 0.5, 1.5, 3)))
                    .attr("epsilon", 1e-3f).output();
            return b.op("Tanh").inputs(bn).output();
        });
        TrainingGraph tg = Autodiff.build(model, TrainingSpec.of(Loss.MSE));
        assertEquals(java.util.List.of("w", "gamma", "beta"), java.util.List.copyOf(tg.parameters().keySet()));
        assertEquals(1, count(tg.graph(), NnGradOps.BATCH_NORM_TRAINING_GRAD));
        assertGradients(model);
    }

    @Test
    void dropoutInTrainingReusesItsMask() {
        Graph model = graph(b -> {
            Value h = b.op("MatMul").inputs(x(b, "N,6"), param(b, "w", 1, 6, 8)).output();
            // A Constant node, not an initializer: Autodiff would take a float initializer for a parameter.
            Value ratio = b.op("Constant").attr("value", new dev.kiln.ir.Attr.TensorValue(
                    Tensor.wrapDoubles(DType.FLOAT64, new int[0], new double[] {0.4}))).output();
            Value d = b.op("Dropout").inputs(h, ratio).output();
            return b.op("MatMul").inputs(d, param(b, "v", 2, 8, 3)).output();
        });
        TrainingGraph tg = Autodiff.build(model, TrainingSpec.of(Loss.MSE));
        assertEquals(1, count(tg.graph(), NnGradOps.DROPOUT_GRAD));
        assertGradients(model);
    }

    @Test
    void softmaxThenLogSoftmaxWithNll() {
        Graph model = graph(b -> {
            Value h = b.op("MatMul").inputs(x(b, "N,5"), param(b, "w", 1, 5, 4)).output();
            Value s = b.op("Softmax").inputs(h).attr("axis", 0L).output();
            Value l = b.op("Mul").inputs(s, param(b, "k", 2, 4)).output();
            return b.op("LogSoftmax").inputs(l).attr("axis", 1L).output();
        });
        Map<String, Tensor> in = GradTesting.feeds(model, 3);
        Tensor labels = Tensor.wrapLongs(DType.INT64, new int[] {GradTesting.BATCH}, new long[] {2, 0, 3});
        assertGradients(model, TrainingSpec.of(Loss.NLL), in, labels);
    }

    @Test
    void lstmWithLearnedInputScaleAndInitialStates() {
        Graph model = graph(b -> {
            Value xs = b.op("Mul").inputs(x(b, "4,N,3"), param(b, "scale", 1, 3)).output();
            java.util.List<Value> outs = b.op("LSTM").inputs(xs, param(b, "W", 2, 1, 8, 3), param(b, "R", 3, 1, 8, 2),
                    param(b, "B", 4, 1, 16), Value.ABSENT, param(b, "h0", 5, 1, 1, 2), param(b, "c0", 6, 1, 1, 2))
                    .attr("hidden_size", 2L).outputCount(3).build();
            // Y, Y_h and Y_c all reach the loss.
            Value y = b.op("ReduceSum").inputs(outs.get(0), b.initializer("axes", Tensor.ofInt64s(0, 1)))
                    .attr("keepdims", 0L).output();
            Value states = b.op("Add").inputs(outs.get(1), outs.get(2)).output();
            Value last = b.op("Squeeze").inputs(states, b.initializer("axis0", Tensor.ofInt64s(0))).output();
            return b.op("Add").inputs(y, last).output();
        });
        // The initial states are parameters of batch 1, so the data input's batch is fixed to 1.
        assertGradients(withBatchOne(model));
    }

    @Test
    void gruAsPyTorchExportsItThroughTransposeAndGather() {
        Graph model = graph(b -> {
            Value xs = b.op("Mul").inputs(x(b, "N,5,3"), param(b, "scale", 1, 3)).output();
            Value seqMajor = b.op("Transpose").inputs(xs).attr("perm", new long[] {1, 0, 2}).output();
            Value y = b.op("GRU").inputs(seqMajor, param(b, "W", 2, 1, 6, 3), param(b, "R", 3, 1, 6, 2),
                    param(b, "B", 4, 1, 12)).attr("hidden_size", 2L).attr("linear_before_reset", 1L).output();
            Value squeezed = b.op("Squeeze").inputs(y, b.initializer("axis1", Tensor.ofInt64s(1))).output();
            Value batchMajor = b.op("Transpose").inputs(squeezed).attr("perm", new long[] {1, 0, 2}).output();
            Value lastStep = b.op("Gather").inputs(batchMajor, b.initializer("last", Tensor.scalarLong(DType.INT64, -1)))
                    .attr("axis", 1L).output();
            return b.op("Gemm").inputs(lastStep, param(b, "fc", 5, 4, 2)).attr("transB", 1L).output();
        });
        Map<String, Tensor> in = GradTesting.feeds(model, 9);
        Tensor labels = Tensor.wrapLongs(DType.INT64, new int[] {GradTesting.BATCH}, new long[] {1, 3, 0});
        TrainingGraph tg = Autodiff.build(model, TrainingSpec.of(Loss.CROSS_ENTROPY));
        assertEquals(1, count(tg.graph(), NnGradOps.GRU_GRAD));
        assertEquals(1, count(tg.graph(), NnGradOps.GATHER_GRAD));
        assertGradients(model, TrainingSpec.of(Loss.CROSS_ENTROPY), in, labels);
    }

    /** The model with its symbolic batch fixed to 1 (the LSTM test's initial states are parameters of batch 1). */
    private static Graph withBatchOne(Graph model) {
        GraphBuilder b = new GraphBuilder(model.name());
        Map<Value, Value> map = new java.util.IdentityHashMap<>();
        for (Value v : model.inputs()) {
            map.put(v, b.input(v.name(), v.dtype(), Shape.parse(v.shape().toString().replaceAll("[\\[\\]]", "")
                    .replace("N", "1"))));
        }
        model.initializers().forEach((v, t) -> map.put(v, b.initializer(v.name(), t)));
        for (Node n : model.nodes()) {
            java.util.List<Value> in = n.inputs().stream().map(v -> v.isAbsent() ? v : map.get(v)).toList();
            java.util.List<Value> outs = b.op(n.op()).domain(n.domain()).inputs(in).attrs(n.attributes())
                    .outputNames(n.outputs().stream().map(v -> v.isAbsent() ? "" : v.name()).toList()).build();
            for (int i = 0; i < outs.size(); i++) {
                map.put(n.outputs().get(i), outs.get(i));
            }
        }
        model.outputs().forEach(v -> b.output(map.get(v)));
        return b.build();
    }
}
