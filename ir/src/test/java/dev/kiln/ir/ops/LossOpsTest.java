package dev.kiln.ir.ops;

import static dev.kiln.ir.ops.SingleNode.assertTensor;
import static dev.kiln.ir.ops.SingleNode.dims;
import static dev.kiln.ir.ops.SingleNode.f32;
import static dev.kiln.ir.ops.SingleNode.f64;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ShapeException;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class LossOpsTest {
    private static final double EXACT = 1e-12;

    // The spec's examples: N, C, d1 = 2, 3, 2; target = [[2, 1], [0, 2]]; weight = [0.2, 0.3, 0.1].
    private static final Tensor INPUT = f64(dims(2, 3, 2), 1, 2, 2, 2, 3, 2, 0, 1, 2, 2, 1, 2);
    private static final Tensor TARGET = Tensor.ofLongs(DType.INT64, dims(2, 2), 2, 1, 0, 2);
    private static final Tensor WEIGHT = f64(dims(3), 0.2, 0.3, 0.1);

    private static Tensor nll(Attributes a, Tensor weight) {
        return SingleNode.run("NegativeLogLikelihoodLoss", a, Arrays.asList(INPUT, TARGET, weight), "loss").get(0);
    }

    @Test
    void nllNoReductionPicksMinusTheTargetClass() {
        // [[-input[0,2,0], -input[0,1,1]], [-input[1,0,0], -input[1,2,1]]] = [[-3, -2], [-0, -2]]
        assertTensor(dims(2, 2), new double[] {-3, -2, 0, -2}, nll(Attributes.builder().s("reduction", "none").build(),
                null), EXACT);
    }

    @Test
    void nllWeightedSumAndWeightedMean() {
        // sum: -(3*0.1 + 2*0.3 + 0*0.2 + 2*0.1) = -1.1; mean divides by the weights taken: 0.1+0.3+0.2+0.1 = 0.7
        assertTensor(dims(), new double[] {-1.1}, nll(Attributes.builder().s("reduction", "sum").build(), WEIGHT), 1e-12);
        assertTensor(dims(), new double[] {-1.1 / 0.7}, nll(Attributes.EMPTY, WEIGHT), 1e-12);
        assertEquals(-1.57, -1.1 / 0.7, 0.01);
    }

    @Test
    void nllUnweightedMeanIsTheAverage() {
        assertTensor(dims(), new double[] {(-3 - 2 - 0 - 2) / 4.0}, nll(Attributes.EMPTY, null), EXACT);
    }

    @Test
    void ignoredSamplesLeaveBothSumAndMeanDenominator() {
        // ignore_index 2 drops samples (0,0) and (1,1): left -2 (class 1) and -0 (class 0)
        Attributes ignore2 = Attributes.builder().i("ignore_index", 2).build();
        assertTensor(dims(), new double[] {-2 / 2.0}, nll(ignore2, null), EXACT);
        assertTensor(dims(), new double[] {(-2 * 0.3 - 0 * 0.2) / (0.3 + 0.2)}, nll(ignore2, WEIGHT), EXACT);
        assertTensor(dims(2, 2), new double[] {0, -2, 0, 0},
                nll(ignore2.with("reduction", new dev.kiln.ir.Attr.Str("none")), null), EXACT);
    }

    @Test
    void negativeIgnoreIndexIsNotUsedAsAClass() {
        Tensor target = Tensor.ofLongs(DType.INT64, dims(2, 2), -1, 1, 0, -1);
        Tensor loss = SingleNode.run("NegativeLogLikelihoodLoss", Attributes.builder().i("ignore_index", -1).build(),
                Arrays.asList(INPUT, target, null), "loss").get(0);
        assertTensor(dims(), new double[] {(-2 - 0) / 2.0}, loss, EXACT);
    }

    @Test
    void labelOutsideTheClassesFails() {
        Tensor target = Tensor.ofLongs(DType.INT64, dims(2, 2), 3, 1, 0, 2);
        ShapeException e = assertThrows(ShapeException.class, () -> SingleNode.run("NegativeLogLikelihoodLoss",
                Attributes.EMPTY, Arrays.asList(INPUT, target), "loss"));
        assertTrue(e.getMessage().contains("value 3") && e.getMessage().contains("[0, 3)"), e.getMessage());
    }

    @Test
    void softmaxCrossEntropyOfTwoClassesByHand() {
        // scores (0, ln 3) -> softmax (1/4, 3/4); labels 1 and 0 -> losses -ln(3/4), -ln(1/4)
        double ln3 = Math.log(3);
        Tensor scores = f64(dims(2, 2), 0, ln3, 0, ln3);
        Tensor labels = Tensor.ofLongs(DType.INT32, dims(2), 1, 0);
        List<Tensor> none = SingleNode.run("SoftmaxCrossEntropyLoss", Attributes.builder().s("reduction", "none").build(),
                List.of(scores, labels), "loss", "log_prob");
        assertTensor(dims(2), new double[] {0.2876820724517809, 1.3862943611198906}, none.get(0), EXACT);
        assertTensor(dims(2, 2), new double[] {Math.log(0.25), Math.log(0.75), Math.log(0.25), Math.log(0.75)},
                none.get(1), EXACT);
        Tensor mean = SingleNode.run("SoftmaxCrossEntropyLoss", Attributes.EMPTY, List.of(scores, labels), "loss").get(0);
        assertTensor(dims(), new double[] {(0.2876820724517809 + 1.3862943611198906) / 2}, mean, EXACT);
        // weights (1, 3): mean = (3*0.2877 + 1*1.3863) / (3 + 1)
        Tensor weighted = SingleNode.run("SoftmaxCrossEntropyLoss", Attributes.EMPTY,
                List.of(scores, labels, f64(dims(2), 1, 3)), "loss").get(0);
        assertTensor(dims(), new double[] {(3 * 0.2876820724517809 + 1.3862943611198906) / 4}, weighted, 1e-12);
    }

    @Test
    void softmaxCrossEntropyIsStableForLargeScoresAndWorksOverSpatialDims() {
        // (N=1, C=2, d1=2): position 0 scores (1000, 1000 + ln 3) behave as (0, ln 3); position 1 is ignored
        double ln3 = Math.log(3);
        Tensor scores = f64(dims(1, 2, 2), 1000, 5, 1000 + ln3, -5);
        Tensor labels = Tensor.ofLongs(DType.INT64, dims(1, 2), 1, 7);
        List<Tensor> out = SingleNode.run("SoftmaxCrossEntropyLoss",
                Attributes.builder().s("reduction", "sum").i("ignore_index", 7).build(), List.of(scores, labels),
                "loss", "log_prob");
        assertTensor(dims(), new double[] {0.2876820724517809}, out.get(0), 1e-9);
        double[] lp = out.get(1).toDoubleArray();
        assertEquals(Math.log(0.25), lp[0], 1e-9);
        assertEquals(Math.log(0.75), lp[2], 1e-9);
        assertEquals(-Math.log1p(Math.exp(-10)), lp[1], 1e-12);
    }

    @Test
    void float32LossIsRoundedOnce() {
        Tensor scores = f32(dims(1, 3), 0.1, 0.2, 0.7);
        Tensor labels = Tensor.ofLongs(DType.INT64, dims(1), 2);
        Tensor loss = SingleNode.run("SoftmaxCrossEntropyLoss", Attributes.EMPTY, List.of(scores, labels), "loss").get(0);
        double a = (float) 0.1;
        double b = (float) 0.2;
        double c = (float) 0.7;
        double expected = -(c - Math.log(Math.exp(a) + Math.exp(b) + Math.exp(c)));
        assertEquals(DType.FLOAT32, loss.dtype());
        assertEquals((float) expected, loss.toFloatArray()[0]);
    }

    @Test
    void shapesFollowTheReductionAndKeepTheBatchSymbolic() {
        GraphBuilder g = new GraphBuilder("g");
        Value x = g.input("x", DType.FLOAT32, Shape.parse("N,10,4"));
        Value y = g.input("y", DType.INT64, Shape.parse("N,4"));
        assertEquals("f32[N,4]", g.op("SoftmaxCrossEntropyLoss").inputs(x, y).attr("reduction", "none")
                .outputNames("l0").output().type().toString());
        List<Value> mean = g.op("SoftmaxCrossEntropyLoss").inputs(x, y).outputNames("l1", "lp").build();
        assertEquals("f32[]", mean.get(0).type().toString());
        assertEquals("f32[N,10,4]", mean.get(1).type().toString());
        assertEquals("f32[]", g.op("NegativeLogLikelihoodLoss").inputs(x, y).attr("reduction", "sum")
                .outputNames("l2").output().type().toString());
        Value wrong = g.input("wrong", DType.INT64, Shape.parse("N,5"));
        ShapeException e = assertThrows(ShapeException.class,
                () -> g.op("NegativeLogLikelihoodLoss").inputs(x, wrong).outputNames("l3").output());
        assertTrue(e.getMessage().contains("target must have shape [N,4]"), e.getMessage());
        Value badWeight = g.input("bw", DType.FLOAT32, Shape.parse("9"));
        assertThrows(ShapeException.class,
                () -> g.op("NegativeLogLikelihoodLoss").inputs(x, y, badWeight).outputNames("l4").output());
        assertThrows(ShapeException.class, () -> g.op("NegativeLogLikelihoodLoss").inputs(x, y)
                .attr("reduction", "avg").outputNames("l5").output());
    }
}
