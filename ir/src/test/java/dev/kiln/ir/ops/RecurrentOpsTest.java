package dev.kiln.ir.ops;

import static dev.kiln.ir.ops.SingleNode.assertTensor;
import static dev.kiln.ir.ops.SingleNode.dims;
import static dev.kiln.ir.ops.SingleNode.f32;
import static dev.kiln.ir.ops.SingleNode.f64;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attr;
import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ShapeException;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RecurrentOpsTest {
    private static final double EXACT = 1e-12;

    private static double sigmoid(double x) { return 1 / (1 + Math.exp(-x)); }

    // One LSTM step, hidden 1, input 1: x = 1, H0 = 0.5, C0 = 2,
    // W[iofc] = (0.5, -0.5, 0.25, 1), R[iofc] = (1, 0, 0, -1), Wb = 0, Rb[o] = 0.5.
    private static final Tensor LSTM_X = f64(dims(1, 1, 1), 1);
    private static final Tensor LSTM_W = f64(dims(1, 4, 1), 0.5, -0.5, 0.25, 1);
    private static final Tensor LSTM_R = f64(dims(1, 4, 1), 1, 0, 0, -1);
    private static final Tensor LSTM_B = f64(dims(1, 8), 0, 0, 0, 0, 0, 0.5, 0, 0);
    private static final Tensor LSTM_H0 = f64(dims(1, 1, 1), 0.5);
    private static final Tensor LSTM_C0 = f64(dims(1, 1, 1), 2);

    @Test
    void lstmOneStepByHand() {
        // i = sig(0.5*1 + 1*0.5) = sig(1); f = sig(0.25); c~ = tanh(1 - 0.5); o = sig(-0.5 + 0.5) = 0.5
        // C = f*2 + i*c~ = 1.4621877139186372; H = 0.5 * tanh(C) = 0.44903833104885804
        List<Tensor> out = SingleNode.run("LSTM", Attributes.builder().i("hidden_size", 1).build(),
                Arrays.asList(LSTM_X, LSTM_W, LSTM_R, LSTM_B, null, LSTM_H0, LSTM_C0), "Y", "Y_h", "Y_c");
        double c = sigmoid(0.25) * 2 + sigmoid(1) * Math.tanh(0.5);
        assertEquals(1.4621877139186372, c, EXACT);
        assertTensor(dims(1, 1, 1, 1), new double[] {0.44903833104885804}, out.get(0), EXACT);
        assertTensor(dims(1, 1, 1), new double[] {0.44903833104885804}, out.get(1), EXACT);
        assertTensor(dims(1, 1, 1), new double[] {1.4621877139186372}, out.get(2), EXACT);
    }

    @Test
    void lstmPeepholesSeeOldCellForInputAndForgetAndNewCellForOutput() {
        // P[iof] = (0.1, -0.2, 0.3): i = sig(1 + 0.1*C0), f = sig(0.25 + 0.3*C0), o = sig(0 - 0.2*Ct)
        Tensor p = f64(dims(1, 3), 0.1, -0.2, 0.3);
        List<Tensor> out = SingleNode.run("LSTM", Attributes.EMPTY,
                Arrays.asList(LSTM_X, LSTM_W, LSTM_R, LSTM_B, null, LSTM_H0, LSTM_C0, p), "", "Y_h", "Y_c");
        assertTensor(dims(1, 1, 1), new double[] {0.38915491581708633}, out.get(1), EXACT);
        assertTensor(dims(1, 1, 1), new double[] {1.7562827731823762}, out.get(2), EXACT);
    }

    @Test
    void lstmInputForgetCouplesForgetGateToOneMinusInputGate() {
        // f = 1 - sig(1): C = (1 - sig(1))*2 + sig(1)*tanh(0.5) = 0.8757175548870313
        List<Tensor> out = SingleNode.run("LSTM", Attributes.builder().i("input_forget", 1).build(),
                Arrays.asList(LSTM_X, LSTM_W, LSTM_R, LSTM_B, null, LSTM_H0, LSTM_C0), "", "Y_h", "Y_c");
        assertTensor(dims(1, 1, 1), new double[] {0.3521337198411479}, out.get(1), EXACT);
        assertTensor(dims(1, 1, 1), new double[] {0.8757175548870313}, out.get(2), EXACT);
    }

    @Test
    void lstmClipBoundsGateArgumentsButNotTheCell() {
        // clip 0.3: i = sig(0.3), f = sig(0.25) (inside), c~ = tanh(0.3), o = sig(0); C = 1.29 is not clipped
        List<Tensor> out = SingleNode.run("LSTM", Attributes.builder().f("clip", 0.3f).build(),
                Arrays.asList(LSTM_X, LSTM_W, LSTM_R, LSTM_B, null, LSTM_H0, LSTM_C0), "", "Y_h", "Y_c");
        double clip = (float) 0.3;
        double c = sigmoid(0.25) * 2 + sigmoid(clip) * Math.tanh(clip);
        assertEquals(1.2916953520472674, c, 1e-7);
        assertTensor(dims(1, 1, 1), new double[] {c}, out.get(2), EXACT);
        assertTensor(dims(1, 1, 1), new double[] {0.5 * Math.tanh(c)}, out.get(1), EXACT);
    }

    @Test
    void lstmNamedActivationsWithAlphas() {
        // f = HardSigmoid(alpha 0.5, beta 0.5), g = LeakyRelu(alpha 0.1), h = Affine(alpha 2, beta 0.1):
        // alphas are consumed in order (0.5, 0.1, 2), betas by the functions that take one (0.5, then 0.1)
        Attributes a = Attributes.builder()
                .set("activations", new Attr.Strs(List.of("HardSigmoid", "LeakyRelu", "Affine")))
                .floats("activation_alpha", 0.5f, 0.1f, 2f).floats("activation_beta", 0.5f, 0.1f).build();
        List<Tensor> out = SingleNode.run("LSTM", a,
                Arrays.asList(LSTM_X, LSTM_W, LSTM_R, LSTM_B, null, LSTM_H0, LSTM_C0), "", "Y_h", "Y_c");
        double i = Math.min(Math.max(0.5 * 1.0 + 0.5, 0), 1);     // 1
        double f = Math.min(Math.max(0.5 * 0.25 + 0.5, 0), 1);    // 0.625
        double g = 0.5;                                            // LeakyRelu(0.5)
        double c = f * 2 + i * g;                                  // 1.75
        double o = 0.5;                                            // HardSigmoid(0) = beta
        double h = o * (2 * c + (double) 0.1f);                     // o * Affine(C)
        assertEquals(1.75, c, EXACT);
        assertTensor(dims(1, 1, 1), new double[] {c}, out.get(2), EXACT);
        assertTensor(dims(1, 1, 1), new double[] {h}, out.get(1), 1e-9);
    }

    // One GRU step, hidden 1, input 1: x = 1, H0 = 0.5, W[zrh] = (0.5, -1, 2), R[zrh] = (1, 1, -1),
    // Wb = (0, 0, 0.1), Rb = (0, 0, 0.3). z = sig(1), r = sig(-0.5).
    private static List<Tensor> gruStep(int linearBeforeReset) {
        return SingleNode.run("GRU", Attributes.builder().i("linear_before_reset", linearBeforeReset).build(),
                Arrays.asList(f64(dims(1, 1, 1), 1), f64(dims(1, 3, 1), 0.5, -1, 2), f64(dims(1, 3, 1), 1, 1, -1),
                        f64(dims(1, 6), 0, 0, 0.1, 0, 0, 0.3), null, f64(dims(1, 1, 1), 0.5)),
                "Y", "Y_h");
    }

    @Test
    void gruResetAppliedBeforeTheRecurrentProduct() {
        // h~ = tanh(2 + (r*0.5)*(-1) + 0.3 + 0.1); H = (1-z)*h~ + z*0.5
        double z = sigmoid(1);
        double r = sigmoid(-0.5);
        double h = (1 - z) * Math.tanh(2 + (r * 0.5) * -1 + 0.3 + 0.1) + z * 0.5;
        assertEquals(0.6280901992722181, h, EXACT);
        List<Tensor> out = gruStep(0);
        assertTensor(dims(1, 1, 1, 1), new double[] {h}, out.get(0), EXACT);
        assertTensor(dims(1, 1, 1), new double[] {h}, out.get(1), EXACT);
    }

    @Test
    void gruLinearBeforeResetMultipliesResetIntoRecurrentProductPlusBias() {
        // h~ = tanh(2 + r*(-1*0.5 + 0.3) + 0.1)
        double z = sigmoid(1);
        double r = sigmoid(-0.5);
        double h = (1 - z) * Math.tanh(2 + r * (-1 * 0.5 + 0.3) + 0.1) + z * 0.5;
        assertEquals(0.6252507821808626, h, EXACT);
        assertTensor(dims(1, 1, 1), new double[] {h}, gruStep(1).get(1), EXACT);
    }

    @Test
    void bidirectionalRnnRunsTheSecondDirectionBackwards() {
        // X = [1, 2]; forward W=1, R=1: h1 = tanh(1), h2 = tanh(2 + h1);
        // reverse W=0.5, R=-1 starts at the last step: g1 = tanh(1), g0 = tanh(0.5 - g1)
        List<Tensor> out = SingleNode.run("RNN", Attributes.builder().s("direction", "bidirectional").build(),
                Arrays.asList(f64(dims(2, 1, 1), 1, 2), f64(dims(2, 1, 1), 1, 0.5), f64(dims(2, 1, 1), 1, -1)),
                "Y", "Y_h");
        double h1 = Math.tanh(1);
        double h2 = Math.tanh(2 + h1);
        double g1 = Math.tanh(1);
        double g0 = Math.tanh(0.5 - g1);
        assertTensor(dims(2, 2, 1, 1), new double[] {h1, g0, h2, g1}, out.get(0), EXACT);
        assertTensor(dims(2, 1, 1), new double[] {h2, g0}, out.get(1), EXACT);
        assertEquals(-0.25578599506943733, g0, EXACT);
    }

    // A linear RNN (Affine alpha 1, beta 0; W = R = 1) whose state is the running sum of its inputs.
    private static List<Tensor> runningSum(String direction, Tensor lens, Tensor h0) {
        Attributes a = Attributes.builder().s("direction", direction)
                .set("activations", new Attr.Strs(List.of("Affine"))).floats("activation_alpha", 1f)
                .floats("activation_beta", 0f).build();
        // X [seq 3, batch 3, 1]: row 0 = 1,2,3; row 1 = 10,20,30; row 2 = 100,200,300
        Tensor x = f64(dims(3, 3, 1), 1, 10, 100, 2, 20, 200, 3, 30, 300);
        return SingleNode.run("RNN", a, Arrays.asList(x, f64(dims(1, 1, 1), 1), f64(dims(1, 1, 1), 1), null, lens, h0),
                "Y", "Y_h");
    }

    @Test
    void sequenceLensStopShortRowsAndZeroTheirOutputs() {
        Tensor lens = Tensor.ofLongs(DType.INT32, dims(3), 3, 1, 0);
        List<Tensor> out = runningSum("forward", lens, f64(dims(1, 3, 1), 0, 0, 7));
        // row 0: 1, 3, 6; row 1: 10 then zeros; row 2: no steps, all zeros
        assertTensor(dims(3, 1, 3, 1), new double[] {1, 10, 0, 3, 0, 0, 6, 0, 0}, out.get(0), EXACT);
        // a row of length 0 ends with a zero state, as in ONNX Runtime
        assertTensor(dims(1, 3, 1), new double[] {6, 10, 0}, out.get(1), EXACT);
    }

    @Test
    void reverseDirectionStartsAtEachRowsOwnLastValidStep() {
        Tensor lens = Tensor.ofLongs(DType.INT32, dims(3), 3, 2, 1);
        List<Tensor> out = runningSum("reverse", lens, null);
        // row 0 reads 3, 2, 1: Y = 6, 5, 3; row 1 reads 20, 10: Y = 30, 20, 0; row 2 reads 100: Y = 100, 0, 0
        assertTensor(dims(3, 1, 3, 1), new double[] {6, 30, 100, 5, 20, 0, 3, 0, 0}, out.get(0), EXACT);
        assertTensor(dims(1, 3, 1), new double[] {6, 30, 100}, out.get(1), EXACT);
    }

    @Test
    void sequenceLensOutsideTheSequenceFail() {
        Tensor lens = Tensor.ofLongs(DType.INT32, dims(3), 4, 1, 1);
        ShapeException e = assertThrows(ShapeException.class, () -> runningSum("forward", lens, null));
        assertTrue(e.getMessage().contains("sequence_lens[0] = 4"), e.getMessage());
    }

    @Test
    void batchFirstLayoutIsTheTransposeOfLayoutZero() {
        Random rnd = new Random(42);
        int seq = 3;
        int batch = 2;
        int input = 3;
        int hidden = 2;
        int dirs = 2;
        double[] x = randoms(rnd, seq * batch * input);
        double[] h0 = randoms(rnd, dirs * batch * hidden);
        double[] c0 = randoms(rnd, dirs * batch * hidden);
        List<Tensor> weights = List.of(f32(dims(dirs, 4 * hidden, input), randoms(rnd, dirs * 4 * hidden * input)),
                f32(dims(dirs, 4 * hidden, hidden), randoms(rnd, dirs * 4 * hidden * hidden)),
                f32(dims(dirs, 8 * hidden), randoms(rnd, dirs * 8 * hidden)));
        Attributes seqFirst = Attributes.builder().s("direction", "bidirectional").i("hidden_size", hidden).build();
        List<Tensor> a = SingleNode.run("LSTM", seqFirst, Arrays.asList(f32(dims(seq, batch, input), x),
                weights.get(0), weights.get(1), weights.get(2), null, f32(dims(dirs, batch, hidden), h0),
                f32(dims(dirs, batch, hidden), c0)), "Y", "Y_h", "Y_c");
        List<Tensor> b = SingleNode.run("LSTM", seqFirst.with("layout", new Attr.Int(1)),
                Arrays.asList(f32(dims(batch, seq, input), swap01(x, seq, batch, input)),
                        weights.get(0), weights.get(1), weights.get(2), null,
                        f32(dims(batch, dirs, hidden), swap01(h0, dirs, batch, hidden)),
                        f32(dims(batch, dirs, hidden), swap01(c0, dirs, batch, hidden))),
                "Y", "Y_h", "Y_c");
        // Y [seq, dirs, batch, hidden] -> [batch, seq, dirs, hidden]
        double[] ya = a.get(0).toDoubleArray();
        double[] expectedY = new double[ya.length];
        for (int t = 0; t < seq; t++) {
            for (int d = 0; d < dirs; d++) {
                for (int n = 0; n < batch; n++) {
                    for (int j = 0; j < hidden; j++) {
                        expectedY[((n * seq + t) * dirs + d) * hidden + j] = ya[((t * dirs + d) * batch + n) * hidden + j];
                    }
                }
            }
        }
        assertTensor(dims(batch, seq, dirs, hidden), expectedY, b.get(0), 0);
        assertTensor(dims(batch, dirs, hidden), swap01(a.get(1).toDoubleArray(), dirs, batch, hidden), b.get(1), 0);
        assertTensor(dims(batch, dirs, hidden), swap01(a.get(2).toDoubleArray(), dirs, batch, hidden), b.get(2), 0);
    }

    private static double[] randoms(Random rnd, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = rnd.nextDouble() * 2 - 1;
        }
        return v;
    }

    /** [a, b, c] -> [b, a, c]. */
    private static double[] swap01(double[] v, int a, int b, int c) {
        double[] out = new double[v.length];
        for (int i = 0; i < a; i++) {
            for (int j = 0; j < b; j++) {
                System.arraycopy(v, (i * b + j) * c, out, (j * a + i) * c, c);
            }
        }
        return out;
    }

    @Test
    void shapesKeepTheBatchSymbolic() {
        GraphBuilder g = new GraphBuilder("g");
        Value x = g.input("x", DType.FLOAT32, Shape.parse("28,N,28"));
        Value w = g.input("w", DType.FLOAT32, Shape.parse("1,512,28"));
        Value r = g.input("r", DType.FLOAT32, Shape.parse("1,512,128"));
        Value b = g.input("b", DType.FLOAT32, Shape.parse("1,1024"));
        Value h0 = g.input("h0", DType.FLOAT32, Shape.parse("1,N,128"));
        List<Value> out = g.op("LSTM").inputs(x, w, r, b, Value.ABSENT, h0, h0).attr("hidden_size", 128L)
                .outputNames("y", "y_h", "y_c").build();
        assertEquals("f32[28,1,N,128]", out.get(0).type().toString());
        assertEquals("f32[1,N,128]", out.get(1).type().toString());
        assertEquals("f32[1,N,128]", out.get(2).type().toString());

        Value xb = g.input("xb", DType.FLOAT32, Shape.parse("N,5,28"));
        Value w3 = g.input("w3", DType.FLOAT32, Shape.parse("2,384,28"));
        Value r3 = g.input("r3", DType.FLOAT32, Shape.parse("2,384,128"));
        List<Value> gru = g.op("GRU").inputs(xb, w3, r3).attr("direction", "bidirectional").attr("layout", 1L)
                .outputNames("gy", "gy_h").build();
        assertEquals("f32[N,5,2,128]", gru.get(0).type().toString());
        assertEquals("f32[N,2,128]", gru.get(1).type().toString());

        List<Value> onlyLast = g.op("RNN").inputs(x, g.input("w1", DType.FLOAT32, Shape.parse("1,16,28")),
                g.input("r1", DType.FLOAT32, Shape.parse("1,16,16"))).outputNames("", "ry_h").build();
        assertTrue(onlyLast.get(0).isAbsent());
        assertEquals("f32[1,N,16]", onlyLast.get(1).type().toString());
    }

    @Test
    void wrongWeightShapeIsRejectedNamingTheInput() {
        GraphBuilder g = new GraphBuilder("g");
        Value x = g.input("x", DType.FLOAT32, Shape.parse("28,N,28"));
        Value w = g.input("w", DType.FLOAT32, Shape.parse("1,384,28"));
        Value r = g.input("r", DType.FLOAT32, Shape.parse("1,512,128"));
        ShapeException e = assertThrows(ShapeException.class,
                () -> g.op("LSTM").name("lstm1").inputs(x, w, r).outputNames("y").build());
        assertTrue(e.getMessage().contains("'lstm1'") && e.getMessage().contains("W must have shape [1,512,28]")
                && e.getMessage().contains("[1,384,28]"), e.getMessage());
    }

    @Test
    void unknownActivationIsRejected() {
        Attributes a = Attributes.builder().set("activations", new Attr.Strs(List.of("Swish"))).build();
        ShapeException e = assertThrows(ShapeException.class, () -> SingleNode.run("RNN", a,
                List.of(f64(dims(1, 1, 1), 1), f64(dims(1, 1, 1), 1), f64(dims(1, 1, 1), 1)), "Y"));
        assertTrue(e.getMessage().contains("unknown activation 'Swish'"), e.getMessage());
    }

    @Test
    void activationFunctionsMatchTheSpecFormulas() {
        assertEquals(0.01 * -2, new RnnActivation(RnnActivation.Function.LEAKY_RELU, 0.01, 0).apply(-2), EXACT);
        assertEquals(1.5, new RnnActivation(RnnActivation.Function.THRESHOLDED_RELU, 1.5, 0).apply(1.5), EXACT);
        assertEquals(0, new RnnActivation(RnnActivation.Function.THRESHOLDED_RELU, 1.5, 0).apply(1.4), EXACT);
        assertEquals(2 * Math.tanh(0.5 * 3), new RnnActivation(RnnActivation.Function.SCALED_TANH, 2, 0.5).apply(3),
                EXACT);
        assertEquals(1, new RnnActivation(RnnActivation.Function.HARD_SIGMOID, 0.2, 0.5).apply(3), EXACT);
        assertEquals(0.2 * -1 + 0.5, new RnnActivation(RnnActivation.Function.HARD_SIGMOID, 0.2, 0.5).apply(-1),
                EXACT);
        assertEquals(1.0 * (Math.exp(-1) - 1), new RnnActivation(RnnActivation.Function.ELU, 1, 0).apply(-1), EXACT);
        assertEquals(-3.0 / 4, new RnnActivation(RnnActivation.Function.SOFTSIGN, 0, 0).apply(-3), EXACT);
        assertEquals(Math.log(1 + Math.exp(0.7)), new RnnActivation(RnnActivation.Function.SOFTPLUS, 0, 0).apply(0.7),
                EXACT);
        assertEquals(800, new RnnActivation(RnnActivation.Function.SOFTPLUS, 0, 0).apply(800), EXACT);
        assertEquals(0, new RnnActivation(RnnActivation.Function.RELU, 0, 0).apply(-4), EXACT);
        assertEquals(1 / (1 + Math.exp(-0.3)), new RnnActivation(RnnActivation.Function.SIGMOID, 0, 0).apply(0.3), EXACT);
        assertEquals(0, new RnnActivation(RnnActivation.Function.SIGMOID, 0, 0).apply(-1000), EXACT);
    }

    @Test
    void float32OutputsAreRoundedFromDoubleComputation() {
        List<Tensor> out = SingleNode.run("LSTM", Attributes.EMPTY,
                Arrays.asList(f32(dims(1, 1, 1), 1), f32(dims(1, 4, 1), 0.5, -0.5, 0.25, 1),
                        f32(dims(1, 4, 1), 1, 0, 0, -1), f32(dims(1, 8), 0, 0, 0, 0, 0, 0.5, 0, 0), null,
                        f32(dims(1, 1, 1), 0.5), f32(dims(1, 1, 1), 2)), "", "Y_h");
        assertEquals(DType.FLOAT32, out.get(1).dtype());
        assertArrayEquals(new float[] {(float) 0.44903833104885804}, out.get(1).toFloatArray());
    }
}
