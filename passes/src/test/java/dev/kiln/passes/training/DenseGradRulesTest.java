package dev.kiln.passes.training;

import static dev.kiln.passes.training.GradTesting.assertGradients;
import static dev.kiln.passes.training.GradTesting.graph;
import static dev.kiln.passes.training.GradTesting.random;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.ir.DType;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every dense gradient rule against central finite differences in double precision ({@link GradientCheck}:
 * step 1e-6, |analytic - numeric| <= 1e-6 * max(1, |analytic|, |numeric|)), under an MSE loss against random
 * targets unless the op is itself a loss. Operands are parameters (initializers) so each input's rule is checked.
 */
class DenseGradRulesTest {
    private static Value param(GraphBuilder b, String name, long seed, int... shape) {
        return b.initializer(name, random(seed, -1, 1, shape));
    }

    private static Value positive(GraphBuilder b, String name, long seed, int... shape) {
        return b.initializer(name, random(seed, 0.5, 2, shape));
    }

    private static Value x(GraphBuilder b, String dims) {
        return b.input("x", DType.FLOAT64, Shape.parse(dims));
    }

    private static Value ints(GraphBuilder b, String name, long... v) {
        return b.initializer(name, Tensor.ofInt64s(v));
    }

    @ParameterizedTest
    @CsvSource({"0,0,1,1", "1,0,1,1", "0,1,0.5,2", "1,1,-1.5,0.25"})
    void gemm(int transA, int transB, float alpha, float beta) {
        assertGradients(graph(b -> {
            Value a = param(b, "a", 1, transA == 1 ? new int[] {4, 2} : new int[] {2, 4});
            Value w = param(b, "w", 2, transB == 1 ? new int[] {3, 4} : new int[] {4, 3});
            Value c = param(b, "c", 3, 3);
            return b.op("Gemm").inputs(a, w, c).attr("transA", transA).attr("transB", transB)
                    .attr("alpha", alpha).attr("beta", beta).output();
        }));
    }

    @Test
    void gemmWithBatchInputAndFullBias() {
        assertGradients(graph(b -> {
            Value w = param(b, "w", 2, 5, 4);
            Value c = param(b, "c", 3, 1, 5);
            return b.op("Gemm").inputs(x(b, "N,4"), w, c).attr("transB", 1).output();
        }));
    }

    @ParameterizedTest
    @CsvSource({"2x4;4x3", "Nx2x4;4x3", "4;4x3", "2x4;4", "2x1x2x4;3x4x2", "4;2x4x3", "2x3x4;4"})
    void matMul(String shapes) {
        String[] s = shapes.split(";");
        assertGradients(graph(b -> {
            Value a = s[0].startsWith("N") ? x(b, s[0].replace('x', ',')) : param(b, "a", 1, dims(s[0]));
            Value w = param(b, "w", 2, dims(s[1]));
            Value extra = s[0].startsWith("N") ? param(b, "scale", 3, dims("2x4")) : null;
            Value left = extra == null ? a : b.op("Mul").inputs(a, extra).output();
            return b.op("MatMul").inputs(left, w).output();
        }));
    }

    private static int[] dims(String s) {
        String[] parts = s.split("x");
        int[] d = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            d[i] = Integer.parseInt(parts[i]);
        }
        return d;
    }

    @ParameterizedTest
    @ValueSource(strings = {"Add", "Sub", "Mul", "Div"})
    void broadcastingArithmetic(String op) {
        assertGradients(graph(b -> {
            Value a = param(b, "a", 1, 2, 3, 4);
            Value c = op.equals("Div") ? positive(b, "c", 2, 3, 1) : param(b, "c", 2, 3, 1);
            Value d = param(b, "d", 3, 4);
            Value first = b.op(op).inputs(a, c).output();
            return b.op(op).inputs(d, first).output();
        }));
    }

    @Test
    void broadcastOverSymbolicBatch() {
        assertGradients(graph(b -> {
            Value bias = param(b, "bias", 1, 1, 4);
            Value scale = param(b, "scale", 2, 4);
            return b.op("Mul").inputs(b.op("Add").inputs(x(b, "N,4"), bias).output(), scale).output();
        }));
    }

    @Test
    void valueUsedSeveralTimesSumsItsGradients() {
        assertGradients(graph(b -> {
            Value w = param(b, "w", 1, 3, 3);
            Value sq = b.op("Mul").inputs(w, w).output();
            return b.op("Add").inputs(b.op("MatMul").inputs(sq, w).output(), w).output();
        }));
    }

    @ParameterizedTest
    @ValueSource(strings = {"Neg", "Relu", "Sigmoid", "Tanh", "Exp", "Identity"})
    void unary(String op) {
        assertGradients(graph(b -> b.op(op).inputs(param(b, "w", 7, 3, 5)).output()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"Log", "Sqrt"})
    void unaryOnPositives(String op) {
        assertGradients(graph(b -> b.op(op).inputs(positive(b, "w", 7, 3, 5)).output()));
    }

    @Test
    void leakyRelu() {
        assertGradients(graph(b -> b.op("LeakyRelu").inputs(param(b, "w", 7, 4, 5)).attr("alpha", 0.2f).output()));
    }

    @Test
    void powWithConstantExponent() {
        assertGradients(graph(b -> b.op("Pow").inputs(positive(b, "w", 7, 3, 4),
                b.op("Constant").attr("value", new dev.kiln.ir.Attr.TensorValue(Tensor.ofDoubles(DType.FLOAT32, new int[] {4}, 2, 3, 0.5, -1)))
                        .output()).output()));
    }

    @Test
    void powWithTrainableExponent() {
        assertGradients(graph(b -> b.op("Pow").inputs(positive(b, "w", 7, 3, 4), param(b, "e", 8, 4)).output()));
    }

    @Test
    void reshapeFamilyKeepsTheBatchSymbolic() {
        assertGradients(graph(b -> {
            Value w = param(b, "w", 1, 2, 6);
            Value h = b.op("MatMul").inputs(b.op("Reshape").inputs(x(b, "N,3,4"), ints(b, "shape", 0, 2, 6))
                    .output(), b.op("Transpose").inputs(w).output()).output();               // N,2,2
            Value u = b.op("Unsqueeze").inputs(h, ints(b, "axes", 1)).output();               // N,1,2,2
            Value f = b.op("Flatten").inputs(u).attr("axis", 2).output();                      // N,4
            Value s = b.op("Squeeze").inputs(b.op("Unsqueeze").inputs(f, ints(b, "axes2", 0)).output(),
                    ints(b, "axes3", 0)).output();
            return b.op("Identity").inputs(s).output();
        }));
    }

    @Test
    void transposeWithPermutation() {
        assertGradients(graph(b -> b.op("Mul").inputs(
                b.op("Transpose").inputs(param(b, "w", 1, 2, 3, 4)).attr("perm", new long[] {1, 2, 0}).output(),
                param(b, "s", 2, 3, 4, 2)).output()));
    }

    @Test
    void concatAndSplit() {
        assertGradients(graph(b -> {
            Value c = b.op("Concat").inputs(param(b, "a", 1, 2, 3), x(b, "2,1"), param(b, "c", 2, 2, 2))
                    .attr("axis", 1).output();                                                  // 2,6
            List<Value> parts = b.op("Split").inputs(c, ints(b, "split", 1, 4, 1)).attr("axis", 1)
                    .outputCount(3).build();
            // The middle part is unused: its gradient is zero, filled in by the Split rule.
            return b.op("Concat").inputs(parts.get(2), parts.get(0)).attr("axis", -1).output();
        }));
    }

    @Test
    void slice() {
        assertGradients(graph(b -> b.op("Slice").inputs(param(b, "w", 1, 4, 6), ints(b, "starts", 1, -5),
                ints(b, "ends", 100, 4), ints(b, "axes", 0, 1)).output()));
    }

    @ParameterizedTest
    @CsvSource({"ReduceSum,1", "ReduceSum,0", "ReduceMean,1", "ReduceMean,0"})
    void reductions(String op, int keepdims) {
        assertGradients(graph(b -> {
            Value w = param(b, "w", 1, 3, 4);
            Value partial = b.op(op).inputs(b.op("Mul").inputs(x(b, "N,3,4"), w).output(), ints(b, "axes", 0, -1))
                    .attr("keepdims", keepdims).output();
            return b.op(op).inputs(b.op("Mul").inputs(partial, partial).output()).attr("keepdims", keepdims).output();
        }));
    }

    @ParameterizedTest
    @CsvSource({"CROSS_ENTROPY,MEAN", "CROSS_ENTROPY,SUM", "NLL,MEAN", "NLL,SUM", "MSE,MEAN", "MSE,SUM"})
    void losses(Loss loss, Reduction reduction) {
        var model = graph(b -> {
            Value logits = b.op("MatMul").inputs(x(b, "N,4"), param(b, "w", 1, 4, 5)).output();
            return loss == Loss.NLL ? b.op("LogSoftmax").inputs(logits).attr("axis", 1).output() : logits;
        });
        if (loss == Loss.NLL && model.nodes().size() > 1
                && dev.kiln.ir.OpTable.get().find("", "LogSoftmax").orElseThrow().gradRule().isEmpty()) {
            // LogSoftmax's rule comes from branch autodiff-nn; check NLL on a log-probability-like output instead.
            model = graph(b -> b.op("MatMul").inputs(x(b, "N,4"), param(b, "w", 1, 4, 5)).output());
        }
        Map<String, Tensor> in = GradTesting.feeds(model, 5);
        Tensor labels = loss == Loss.MSE ? random(9, -1, 1, GradTesting.BATCH, 5)
                : Tensor.ofLongs(DType.INT64, new int[] {GradTesting.BATCH}, 4, 0, 2);
        assertGradients(model, TrainingSpec.of(loss).withReduction(reduction), in, labels);
    }

    @ParameterizedTest
    @ValueSource(strings = {"SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss"})
    void lossOpsWithWeightsIgnoreIndexAndSpatialDims(String op) {
        for (String reduction : List.of("mean", "sum")) {
            var model = graph(b -> {
                Value scores = b.op("Mul").inputs(x(b, "N,3,2"), param(b, "w", 1, 3, 2)).output();
                Value labels = b.initializer("classes", Tensor.ofLongs(DType.INT64, new int[] {3, 2}, 0, 2, 1, 1, 2, 0));
                Value weights = b.initializer("weights", Tensor.ofDoubles(DType.FLOAT64, new int[] {3}, 0.5, 2, 1.5));
                return b.op(op).inputs(scores, labels, weights).attr("reduction", reduction)
                        .attr("ignore_index", 1L).output();
            });
            // The model's own output is the loss; MSE against 0 squares it, exercising the rule's upstream gradient.
            // Class weights are data here (the rules give them no gradient), so they are frozen.
            GradientCheck.Report r = assertGradients(model,
                    TrainingSpec.of(Loss.MSE).withFrozen(java.util.Set.of("weights")), GradTesting.feeds(model, 3),
                    Tensor.wrapDoubles(DType.FLOAT64, new int[0], new double[] {0}));
            assertEquals(6, r.checked());
        }
    }
}
