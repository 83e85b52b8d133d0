package dev.kiln.runtime.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The optimizers against PyTorch's update formulas written out plainly in double (the oracles below, transcribed
 * from torch 1.13's {@code _single_tensor_*} functions), over {@value #STEPS} steps with fresh random gradients each
 * step, for every option combination; the vector loop against its scalar twin (bit for bit); {@code maximize}
 * against minimizing the negated gradient (bit for bit); and small cases worked by hand.
 *
 * <p>Tolerance: the optimizer works in float, the oracle in double from the same float gradients, so each step
 * adds a few float roundings of the parameter (|p| ≤ ~2) and of the update; over {@value #STEPS} steps that
 * stays below {@code 2e-6} absolute + {@code 2e-6} relative.
 */
class OptimizerTest {

    private static final int STEPS = 6;
    /** Lengths exercising empty, tail-only and vector + tail loops for every vector width. */
    private static final int[] SIZES = {0, 1, 7, 16, 37, 100};
    private static final double ABS = 2e-6;
    private static final double REL = 2e-6;

    /** PyTorch's update for one parameter, in double. */
    private interface Oracle {
        void step(int t, double[] p, float[] g);
    }

    @Test
    void sgdMatchesPyTorchFormulaForEveryOptionCombination() {
        for (double momentum : new double[] {0, 0.9}) {
            for (double dampening : new double[] {0, 0.3}) {
                for (double wd : new double[] {0, 0.05}) {
                    for (boolean nesterov : new boolean[] {false, true}) {
                        if (nesterov && (momentum == 0 || dampening != 0)) {
                            continue;
                        }
                        Sgd opt = Optimizer.sgd(0.1, momentum, dampening, wd, nesterov);
                        check(opt, () -> sgdOracle(0.1, momentum, dampening, wd, nesterov));
                    }
                }
            }
        }
    }

    @Test
    void adamMatchesPyTorchFormula() {
        for (double wd : new double[] {0, 0.1}) {
            for (double[] betas : new double[][] {{0.9, 0.999}, {0.5, 0.8}, {0, 0.99}}) {
                for (double eps : new double[] {1e-8, 1e-3}) {
                    Adam opt = Optimizer.adam(0.01, betas[0], betas[1], eps, wd);
                    check(opt, () -> adamOracle(0.01, betas[0], betas[1], eps, wd, false));
                }
            }
        }
    }

    @Test
    void adamWMatchesPyTorchFormula() {
        for (double wd : new double[] {0, 0.01, 0.5}) {
            for (double[] betas : new double[][] {{0.9, 0.999}, {0.8, 0.9}}) {
                AdamW opt = Optimizer.adamW(0.02, betas[0], betas[1], 1e-8, wd);
                check(opt, () -> adamOracle(0.02, betas[0], betas[1], 1e-8, wd, true));
            }
        }
    }

    @Test
    void amsgradAndMaximizeMatchPyTorchFormulaForAdamAndAdamW() {
        for (boolean amsgrad : new boolean[] {false, true}) {
            for (boolean maximize : new boolean[] {false, true}) {
                for (double wd : new double[] {0, 0.1}) {
                    // beta2 = 0.8 lets v fall below its maximum within the six steps, so amsgrad changes the result.
                    check(new Adam(0.01, 0.9, 0.8, 1e-8, wd, amsgrad, maximize),
                            () -> maximizing(maximize, adamOracle(0.01, 0.9, 0.8, 1e-8, wd, false, amsgrad)));
                    check(new AdamW(0.01, 0.9, 0.8, 1e-8, wd, amsgrad, maximize),
                            () -> maximizing(maximize, adamOracle(0.01, 0.9, 0.8, 1e-8, wd, true, amsgrad)));
                }
            }
        }
    }

    @Test
    void rmspropMatchesPyTorchFormulaForEveryOptionCombination() {
        for (double momentum : new double[] {0, 0.9}) {
            for (boolean centered : new boolean[] {false, true}) {
                for (double wd : new double[] {0, 0.05}) {
                    for (boolean maximize : new boolean[] {false, true}) {
                        for (double alpha : new double[] {0.99, 0.5}) {
                            RmsProp opt = new RmsProp(0.01, alpha, 1e-8, wd, momentum, centered, maximize);
                            check(opt, () -> maximizing(maximize,
                                    rmspropOracle(0.01, alpha, 1e-8, wd, momentum, centered)));
                        }
                    }
                }
            }
        }
        check(Optimizer.rmsprop(0.003, 0.9, 1e-3, 0, 0.5, true), () -> rmspropOracle(0.003, 0.9, 1e-3, 0, 0.5, true));
    }

    @Test
    void adagradMatchesPyTorchFormulaForEveryOptionCombination() {
        for (double lrDecay : new double[] {0, 0.3}) {
            for (double wd : new double[] {0, 0.05}) {
                for (double initial : new double[] {0, 0.1}) {
                    for (boolean maximize : new boolean[] {false, true}) {
                        Adagrad opt = new Adagrad(0.05, lrDecay, wd, initial, 1e-10, maximize);
                        check(opt, () -> maximizing(maximize, adagradOracle(0.05, lrDecay, wd, initial, 1e-10)));
                    }
                }
            }
        }
        check(Optimizer.adagrad(0.1, 0, 0, 0, 1e-3), () -> adagradOracle(0.1, 0, 0, 0, 1e-3));
    }

    @Test
    void updateSplitOverThreadsGivesTheBitsOfOneThread() {
        // parameters of several runs of the split (16K elements), a tail, one shorter than a run, one empty; packed
        // into shared arrays at offsets, as a generated trainer's are not but the offsets API allows
        int[] sizes = {40_000, 16_384, 5, 0, 33_000};
        Optimizer[] optimizers = {new Sgd(0.1, 0.9, 0, 0.01, true, false), Optimizer.adam(1e-3),
            new Adam(0.01, 0.9, 0.999, 1e-8, 0.1, true, true), Optimizer.adamW(1e-3, 0.9, 0.999, 1e-8, 0.01),
            new RmsProp(0.01, 0.99, 1e-8, 0.1, 0.9, true, false), Optimizer.adagrad(0.01, 0.1, 0, 0.1, 1e-10)};
        try (dev.kiln.runtime.WorkerPool pool = dev.kiln.runtime.WorkerPool.of(2)) {
            for (Optimizer opt : optimizers) {
                Random r = new Random(9);
                float[][] one = new float[sizes.length][];
                float[][] two = new float[sizes.length][];
                int[] offsets = new int[sizes.length];
                for (int i = 0; i < sizes.length; i++) {
                    offsets[i] = i % 3;
                    one[i] = random(r, sizes[i] + offsets[i]);
                    two[i] = one[i].clone();
                }
                OptimizerState s1 = opt.state(sizes);
                OptimizerState s2 = opt.state(sizes);
                for (int t = 1; t <= 3; t++) {
                    float[][] g = new float[sizes.length][];
                    for (int i = 0; i < sizes.length; i++) {
                        g[i] = random(r, sizes[i] + 1);
                    }
                    int[] gOffsets = new int[sizes.length];
                    java.util.Arrays.fill(gOffsets, 1);
                    opt.update(t, one, offsets, g, gOffsets, s1);
                    opt.update(t, two, offsets, g, gOffsets, s2, pool);
                    for (int i = 0; i < sizes.length; i++) {
                        assertArrayEquals(one[i], two[i], opt + ", parameter " + i + ", step " + t);
                    }
                }
            }
        }
    }

    @Test
    void maximizeStepsAsMinimizingTheNegatedGradientDoesToTheBit() {
        for (Optimizer[] pair : new Optimizer[][] {
                {new Sgd(0.1, 0.9, 0, 0, true, true), new Sgd(0.1, 0.9, 0, 0, true, false)},
                {new Adam(0.01, 0.9, 0.999, 1e-8, 0, true, true), new Adam(0.01, 0.9, 0.999, 1e-8, 0, true, false)},
                {new AdamW(0.01, 0.9, 0.999, 1e-8, 0.1, false, true), new AdamW(0.01, 0.9, 0.999, 1e-8, 0.1, false, false)},
                {new RmsProp(0.01, 0.99, 1e-8, 0, 0.9, true, true), new RmsProp(0.01, 0.99, 1e-8, 0, 0.9, true, false)},
                {new Adagrad(0.01, 0.1, 0, 0.1, 1e-10, true), new Adagrad(0.01, 0.1, 0, 0.1, 1e-10, false)}}) {
            Random r = new Random(3);
            float[][] up = {random(r, 37)};
            float[][] down = {up[0].clone()};
            OptimizerState su = pair[0].state(37);
            OptimizerState sd = pair[1].state(37);
            for (int t = 1; t <= 3; t++) {
                float[] g = random(r, 37);
                float[] neg = new float[37];
                for (int j = 0; j < 37; j++) {
                    neg[j] = -g[j];
                }
                pair[0].update(t, up, new float[][] {g}, su);
                pair[1].update(t, down, new float[][] {neg}, sd);
                assertArrayEquals(down[0], up[0], pair[0] + ", step " + t);
            }
        }
    }

    @Test
    void firstRmspropStepMovesByTenTimesLrAgainstTheGradientSign() {
        RmsProp opt = Optimizer.rmsprop(0.01);
        OptimizerState s = opt.state(2);
        float[][] p = {{1f, 1f}};
        opt.update(1, p, new float[][] {{0.5f, -2f}}, s);
        // square_avg = 0.01 g², so g / (sqrt(square_avg) + eps) = 10 sign(g) up to eps
        assertArrayEquals(new float[] {0.0025f, 0.04f}, s.slot("square_avg", 0), 1e-9f);
        assertEquals(0.9, p[0][0], 1e-7);
        assertEquals(1.1, p[0][1], 1e-7);
    }

    @Test
    void centeredRmspropWithMomentumKeepsItsThreeBuffers() {
        RmsProp opt = Optimizer.rmsprop(0.01, 0.5, 0, 0, 0.9, true);
        OptimizerState s = opt.state(1);
        float[][] p = {{0f}};
        opt.update(1, p, new float[][] {{2f}}, s);
        // square_avg = 0.5 * 4 = 2, grad_avg = 0.5 * 2 = 1, avg = sqrt(2 - 1) = 1, buffer = g / avg = 2, p = -0.01 * 2
        assertEquals(2f, s.slot("square_avg", 0)[0]);
        assertEquals(1f, s.slot("grad_avg", 0)[0]);
        assertEquals(2f, s.slot("momentum_buffer", 0)[0]);
        assertEquals(-0.02f, p[0][0]);
        opt.update(2, p, new float[][] {{2f}}, s);
        // square_avg = 1 + 2 = 3, grad_avg = 0.5 + 1 = 1.5, avg = sqrt(0.75), buffer = 1.8 + 2 / sqrt(0.75)
        double buf = 1.8 + 2 / Math.sqrt(0.75);
        assertEquals(buf, s.slot("momentum_buffer", 0)[0], 1e-6);
        assertEquals(-0.02 - 0.01 * buf, p[0][0], 1e-7);
    }

    @Test
    void adagradDecaysTheRateAndStartsAndResetsItsSumAtTheInitialValue() {
        Adagrad opt = Optimizer.adagrad(0.1, 0.5, 0, 1, 1e-10);
        OptimizerState s = opt.state(1);
        assertEquals(1f, s.slot("sum", 0)[0]);
        float[][] p = {{0f}};
        float[][] g = {{3f}};
        opt.update(1, p, g, s);
        // sum = 1 + 9, p = -0.1 * 3 / sqrt(10)
        assertEquals(10f, s.slot("sum", 0)[0]);
        assertEquals(-0.3 / Math.sqrt(10), p[0][0], 1e-7);
        opt.update(2, p, g, s);
        // rate 0.1 / (1 + 0.5), sum = 19
        assertEquals(-0.3 / Math.sqrt(10) - 0.1 / 1.5 * 3 / Math.sqrt(19), p[0][0], 1e-7);
        s.reset();
        assertEquals(1f, s.slot("sum", 0)[0]);
        assertEquals(0, s.steps());
    }

    @Test
    void amsgradDividesByTheLargestSecondMomentSoFar() {
        Adam opt = new Adam(0.1, 0.9, 0.5, 1e-8, 0, true, false);
        OptimizerState s = opt.state(1);
        float[][] p = {{0f}};
        opt.update(1, p, new float[][] {{1f}}, s);
        assertEquals(0.5f, s.slot("exp_avg_sq", 0)[0]);
        assertEquals(0.5f, s.slot("max_exp_avg_sq", 0)[0]);
        float p1 = p[0][0];
        opt.update(2, p, new float[][] {{0f}}, s);
        // v = 0.25 falls below its maximum 0.5; m = 0.09; step = lr / (1 - 0.81) * m / (sqrt(0.5) / sqrt(0.75) + eps)
        assertEquals(0.25f, s.slot("exp_avg_sq", 0)[0]);
        assertEquals(0.5f, s.slot("max_exp_avg_sq", 0)[0]);
        assertEquals(p1 - 0.1 / 0.19 * 0.09 / (Math.sqrt(0.5) / Math.sqrt(0.75)), p[0][0], 1e-7);
    }

    @Test
    void firstSgdMomentumStepUsesTheGradientUndampened() {
        Sgd opt = Optimizer.sgd(0.5, 0.9, 0.3, 0, false);
        OptimizerState s = opt.state(3);
        float[][] p = {{1f, 2f, 3f}};
        float[][] g = {{0.25f, -1f, 4f}};
        opt.update(1, p, g, s);
        assertArrayEquals(g[0], s.slot("momentum_buffer", 0));
        assertArrayEquals(new float[] {0.875f, 2.5f, 1f}, p[0]);
        opt.update(2, p, g, s);
        // buffer = 0.9 * g + 0.7 * g = 1.6 g (dampening applies from step 2 on)
        assertEquals(1.6 * 0.25, s.slot("momentum_buffer", 0)[0], 1e-7);
        assertEquals(0.875 - 0.5 * 1.6 * 0.25, p[0][0], 1e-7);
    }

    @Test
    void firstAdamStepMovesEachParameterByLrTowardsMinusTheGradientSign() {
        Adam opt = Optimizer.adam(1e-3);
        OptimizerState s = opt.state(4);
        float[][] p = {{0f, 1f, -1f, 5f}};
        float[][] g = {{3f, -0.5f, 1e-2f, -20f}};
        opt.update(1, p, g, s);
        // bias-corrected m / sqrt(v) = g / |g| at t = 1, so p moves by lr * |g| / (|g| + eps)
        float[] expected = {-1e-3f, 1.001f, -1.001f, 5.001f};
        for (int i = 0; i < 4; i++) {
            assertEquals(expected[i], p[0][i], 2e-7, "element " + i);
        }
    }

    @Test
    void adamWDecaysBeforeTheStepAndAdamThroughTheGradient() {
        // With a zero gradient Adam's decay (through g) moves p by ~lr, AdamW's only by lr * wd * p.
        float[][] pw = {{2f}};
        Optimizer.adamW(0.1, 0.9, 0.999, 1e-8, 0.5).update(1, pw, new float[][] {{0f}},
                Optimizer.adamW(0.1).state(1));
        assertEquals(2 * (1 - 0.1 * 0.5), pw[0][0], 1e-7);
        float[][] pa = {{2f}};
        Optimizer.adam(0.1, 0.9, 0.999, 1e-8, 0.5).update(1, pa, new float[][] {{0f}}, Optimizer.adam(0.1).state(1));
        assertEquals(2 - 0.1, pa[0][0], 1e-6);
    }

    @Test
    void offsetsAddressParametersPackedInOneArray() {
        Adam opt = Optimizer.adam(0.01);
        Random r = new Random(7);
        float[] flat = random(r, 3 + 20 + 9);
        float[] grad = random(r, 5 + 20 + 9);
        float[][] sep = {java.util.Arrays.copyOfRange(flat, 3, 23), java.util.Arrays.copyOfRange(flat, 23, 32)};
        float[][] sepG = {java.util.Arrays.copyOfRange(grad, 5, 25), java.util.Arrays.copyOfRange(grad, 25, 34)};
        OptimizerState a = opt.state(20, 9);
        OptimizerState b = opt.state(20, 9);
        opt.update(1, new float[][] {flat, flat}, new int[] {3, 23}, new float[][] {grad, grad}, new int[] {5, 25}, a);
        opt.update(1, sep, sepG, b);
        assertArrayEquals(sep[0], java.util.Arrays.copyOfRange(flat, 3, 23));
        assertArrayEquals(sep[1], java.util.Arrays.copyOfRange(flat, 23, 32));
    }

    @Test
    void misuseFailsBeforeTouchingAnything() {
        Sgd opt = Optimizer.sgd(0.1, 0.9, 0, 0, false);
        OptimizerState s = opt.state(4, 2);
        float[][] p = {{1, 2, 3, 4}, {5, 6}};
        float[][] g = {{1, 1, 1, 1}, {1, 1}};
        String msg = assertThrows(IllegalArgumentException.class, () -> opt.update(0, p, g, s)).getMessage();
        assertTrue(msg.contains("expected step 1"), msg);
        msg = assertThrows(IllegalArgumentException.class,
                () -> opt.update(1, p, new float[][] {{1, 1, 1, 1}, {1}}, s)).getMessage();
        assertTrue(msg.contains("gradient 1 needs 2 floats"), msg);
        msg = assertThrows(IllegalArgumentException.class, () -> opt.update(1, new float[][] {p[0]}, g, s))
                .getMessage();
        assertTrue(msg.contains("state has 2 parameters"), msg);
        msg = assertThrows(IllegalArgumentException.class,
                () -> Optimizer.adam(0.1).update(1, p, g, s)).getMessage();
        assertTrue(msg.contains("state was made for sgd"), msg);
        assertArrayEquals(new float[] {1, 2, 3, 4}, p[0]);
        assertEquals(0, s.steps());
        opt.update(1, p, g, s);
        assertEquals(1, s.steps());
        s.reset();
        assertEquals(0, s.steps());
        assertArrayEquals(new float[4], s.slot("momentum_buffer", 0));
    }

    @Test
    void stateHasPyTorchsBufferNames() {
        assertEquals(List.of(), Optimizer.sgd(0.1).state(3).slotNames());
        assertEquals(List.of("momentum_buffer"), Optimizer.sgd(0.1, 0.5, 0, 0, false).state(3).slotNames());
        OptimizerState s = Optimizer.adamW(0.1).state(3, 5);
        assertEquals(List.of("exp_avg", "exp_avg_sq"), s.slotNames());
        assertEquals(5, s.slot("exp_avg_sq", 1).length);
        assertThrows(IllegalArgumentException.class, () -> s.slot("momentum_buffer", 0));
        assertEquals(List.of("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
                Optimizer.parse("adam:amsgrad=true").slotNames());
        assertEquals(List.of("square_avg"), Optimizer.rmsprop(0.01).slotNames());
        assertEquals(List.of("square_avg", "momentum_buffer"),
                Optimizer.rmsprop(0.01, 0.99, 1e-8, 0, 0.5, false).slotNames());
        assertEquals(List.of("square_avg", "grad_avg"), Optimizer.rmsprop(0.01, 0.99, 1e-8, 0, 0, true).slotNames());
        assertEquals(List.of("square_avg", "momentum_buffer", "grad_avg"),
                Optimizer.rmsprop(0.01, 0.99, 1e-8, 0, 0.5, true).slotNames());
        assertEquals(List.of("sum"), Optimizer.adagrad(0.01).state(2).slotNames());
        // A state keeps the buffers of its optimizer's options: amsgrad's maximum is not Adam's plain state.
        String msg = assertThrows(IllegalArgumentException.class, () -> Optimizer.parse("adam:amsgrad=true")
                .update(1, new float[][] {{0}}, new float[][] {{0}}, Optimizer.adam(0.1).state(1))).getMessage();
        assertTrue(msg.contains("max_exp_avg_sq"), msg);
    }

    @Test
    void constructorsRejectWhatPyTorchRejects() {
        assertThrows(IllegalArgumentException.class, () -> Optimizer.sgd(-0.1));
        assertThrows(IllegalArgumentException.class, () -> Optimizer.sgd(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> Optimizer.sgd(0.1, 0, 0, 0, true));
        assertThrows(IllegalArgumentException.class, () -> Optimizer.sgd(0.1, 0.9, 0.1, 0, true));
        assertThrows(IllegalArgumentException.class, () -> Optimizer.sgd(0.1, -0.9, 0, 0, false));
        assertThrows(IllegalArgumentException.class, () -> Optimizer.adam(0.1, 1.0, 0.999, 1e-8, 0));
        assertThrows(IllegalArgumentException.class, () -> Optimizer.adam(0.1, 0.9, -0.1, 1e-8, 0));
        assertThrows(IllegalArgumentException.class, () -> Optimizer.adamW(0.1, 0.9, 0.999, -1e-8, 0));
        assertThrows(IllegalArgumentException.class, () -> Optimizer.adamW(0.1, 0.9, 0.999, 1e-8, -1));
        assertThrows(IllegalArgumentException.class, () -> Optimizer.rmsprop(-0.01));
        assertThrows(IllegalArgumentException.class, () -> Optimizer.rmsprop(0.01, -0.5, 1e-8, 0, 0, false));
        assertThrows(IllegalArgumentException.class, () -> Optimizer.rmsprop(0.01, 0.99, -1e-8, 0, 0, false));
        assertThrows(IllegalArgumentException.class, () -> Optimizer.rmsprop(0.01, 0.99, 1e-8, -1, 0, false));
        assertThrows(IllegalArgumentException.class, () -> Optimizer.rmsprop(0.01, 0.99, 1e-8, 0, -0.9, false));
        assertThrows(IllegalArgumentException.class, () -> Optimizer.adagrad(Double.POSITIVE_INFINITY));
        assertThrows(IllegalArgumentException.class, () -> Optimizer.adagrad(0.01, -0.1, 0, 0, 1e-10));
        assertThrows(IllegalArgumentException.class, () -> Optimizer.adagrad(0.01, 0, -0.1, 0, 1e-10));
        assertThrows(IllegalArgumentException.class, () -> Optimizer.adagrad(0.01, 0, 0, -0.1, 1e-10));
        assertThrows(IllegalArgumentException.class, () -> Optimizer.adagrad(0.01, 0, 0, 0, -1e-10));
    }

    /** Runs opt (vector and scalar) and fresh oracles on random parameters of every size for STEPS steps. */
    private static void check(Optimizer opt, java.util.function.Supplier<Oracle> oracles) {
        Random r = new Random(opt.spec().hashCode());
        int count = SIZES.length;
        float[][] pv = new float[count][];
        float[][] ps = new float[count][];
        double[][] pd = new double[count][];
        List<Oracle> ref = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            pv[i] = random(r, SIZES[i]);
            ps[i] = pv[i].clone();
            pd[i] = new double[SIZES[i]];
            for (int j = 0; j < SIZES[i]; j++) {
                pd[i][j] = pv[i][j];
            }
            ref.add(oracles.get());
        }
        OptimizerState sv = opt.state(SIZES);
        OptimizerState ss = opt.state(SIZES);
        for (int t = 1; t <= STEPS; t++) {
            float[][] g = new float[count][];
            for (int i = 0; i < count; i++) {
                g[i] = random(r, SIZES[i]);
                if (t == 3 && g[i].length > 0) {
                    g[i][0] = 0; // a zero gradient after non-zero ones: the second moments keep the step finite
                }
                ref.get(i).step(t, pd[i], g[i]);
            }
            opt.update(t, pv, g, sv);
            opt.updateScalar(t, ps, g, ss);
            for (int i = 0; i < count; i++) {
                assertArrayEquals(ps[i], pv[i], opt + ": vector and scalar differ, step " + t + " size " + SIZES[i]);
                for (int j = 0; j < SIZES[i]; j++) {
                    double err = Math.abs(pv[i][j] - pd[i][j]);
                    if (!(err <= ABS + REL * Math.abs(pd[i][j]))) {
                        fail(opt + ": step " + t + ", size " + SIZES[i] + ", element " + j + " is " + pv[i][j]
                                + ", PyTorch's formula gives " + pd[i][j]);
                    }
                }
            }
        }
    }

    private static Oracle sgdOracle(double lr, double momentum, double dampening, double wd, boolean nesterov) {
        return new Oracle() {
            double[] buf;

            @Override
            public void step(int t, double[] p, float[] g) {
                if (buf == null) {
                    buf = new double[p.length];
                }
                for (int j = 0; j < p.length; j++) {
                    double d = g[j] + wd * p[j];
                    if (momentum != 0) {
                        buf[j] = t == 1 ? d : momentum * buf[j] + (1 - dampening) * d;
                        d = nesterov ? d + momentum * buf[j] : buf[j];
                    }
                    p[j] -= lr * d;
                }
            }
        };
    }

    private static Oracle adamOracle(double lr, double beta1, double beta2, double eps, double wd, boolean decoupled) {
        return adamOracle(lr, beta1, beta2, eps, wd, decoupled, false);
    }

    private static Oracle adamOracle(double lr, double beta1, double beta2, double eps, double wd, boolean decoupled,
                                     boolean amsgrad) {
        return new Oracle() {
            double[] m;
            double[] v;
            double[] vmax;

            @Override
            public void step(int t, double[] p, float[] g) {
                if (m == null) {
                    m = new double[p.length];
                    v = new double[p.length];
                    vmax = new double[p.length];
                }
                double bc1 = 1 - Math.pow(beta1, t);
                double bc2 = 1 - Math.pow(beta2, t);
                for (int j = 0; j < p.length; j++) {
                    double gj = g[j];
                    if (decoupled) {
                        p[j] *= 1 - lr * wd;
                    } else {
                        gj += wd * p[j];
                    }
                    m[j] = beta1 * m[j] + (1 - beta1) * gj;
                    v[j] = beta2 * v[j] + (1 - beta2) * gj * gj;
                    vmax[j] = Math.max(vmax[j], v[j]);
                    double second = amsgrad ? vmax[j] : v[j];
                    p[j] -= lr / bc1 * m[j] / (Math.sqrt(second) / Math.sqrt(bc2) + eps);
                }
            }
        };
    }

    private static Oracle rmspropOracle(double lr, double alpha, double eps, double wd, double momentum,
                                        boolean centered) {
        return new Oracle() {
            double[] sq;
            double[] avgG;
            double[] buf;

            @Override
            public void step(int t, double[] p, float[] g) {
                if (sq == null) {
                    sq = new double[p.length];
                    avgG = new double[p.length];
                    buf = new double[p.length];
                }
                for (int j = 0; j < p.length; j++) {
                    double gj = g[j] + wd * p[j];
                    sq[j] = alpha * sq[j] + (1 - alpha) * gj * gj;
                    double avg;
                    if (centered) {
                        avgG[j] = alpha * avgG[j] + (1 - alpha) * gj;
                        avg = Math.sqrt(sq[j] - avgG[j] * avgG[j]) + eps;
                    } else {
                        avg = Math.sqrt(sq[j]) + eps;
                    }
                    if (momentum > 0) {
                        buf[j] = momentum * buf[j] + gj / avg;
                        p[j] -= lr * buf[j];
                    } else {
                        p[j] -= lr * gj / avg;
                    }
                }
            }
        };
    }

    private static Oracle adagradOracle(double lr, double lrDecay, double wd, double initial, double eps) {
        return new Oracle() {
            double[] sum;

            @Override
            public void step(int t, double[] p, float[] g) {
                if (sum == null) {
                    sum = new double[p.length];
                    java.util.Arrays.fill(sum, (float) initial);
                }
                double clr = lr / (1 + (t - 1) * lrDecay);
                for (int j = 0; j < p.length; j++) {
                    double gj = g[j] + wd * p[j];
                    sum[j] += gj * gj;
                    p[j] -= clr * gj / (Math.sqrt(sum[j]) + eps);
                }
            }
        };
    }

    /** {@code oracle} ascending when {@code maximize}: PyTorch negates the gradient before anything else. */
    private static Oracle maximizing(boolean maximize, Oracle oracle) {
        if (!maximize) {
            return oracle;
        }
        return (t, p, g) -> {
            float[] neg = new float[g.length];
            for (int j = 0; j < g.length; j++) {
                neg[j] = -g[j];
            }
            oracle.step(t, p, neg);
        };
    }

    static float[] random(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = r.nextFloat() * 2 - 1;
        }
        return a;
    }
}
