package dev.kiln.ir.ops;

import static dev.kiln.ir.ops.OpHarness.assertTensor;
import static dev.kiln.ir.ops.OpHarness.f32;
import static dev.kiln.ir.ops.OpHarness.infer;
import static dev.kiln.ir.ops.OpHarness.run;
import static dev.kiln.ir.ops.OpHarness.run1;
import static dev.kiln.ir.ops.OpHarness.shape;
import static dev.kiln.ir.ops.OpHarness.type;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.ShapeException;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The normalization ops on inputs whose moments are small whole numbers, so results check by hand. */
class NormalizationOpsTest {
    private static final double TOL = 1e-6;
    private static final Attributes NO_EPS = Attributes.builder().f("epsilon", 0).build();

    @Test
    void batchNormInferenceUsesTheGivenStatistics() {
        // channel 0: (x - 2) / 1 * 1 + 0; channel 1: (x - 3) / 2 * 2 + 1
        Tensor y = run1("BatchNormalization", NO_EPS, f32(shape(1, 2, 1, 2), 1, 3, 2, 4), f32(shape(2), 1, 2),
                f32(shape(2), 0, 1), f32(shape(2), 2, 3), f32(shape(2), 1, 4));
        assertTensor(shape(1, 2, 1, 2), new double[] {-1, 1, 0, 2}, y, TOL);
        Tensor eps = run1("BatchNormalization", Attributes.builder().f("epsilon", 3).build(), f32(shape(1, 1), 5),
                f32(shape(1), 1), f32(shape(1), 0), f32(shape(1), 3), f32(shape(1), 1));
        assertTensor(shape(1, 1), new double[] {1}, eps, TOL);
    }

    @Test
    void batchNormTrainingModeUsesBatchStatisticsAndUpdatesRunningOnes() {
        Attributes a = Attributes.builder().f("epsilon", 0).i("training_mode", 1).build();
        // channel 0 sees {1, 3}: mean 2, var 1; channel 1 sees {2, 6}: mean 4, var 4.
        List<Tensor> out = run("BatchNormalization", a, 3, f32(shape(2, 2), 1, 2, 3, 6), f32(shape(2), 1, 1),
                f32(shape(2), 0, 0), f32(shape(2), 0, 0), f32(shape(2), 1, 1));
        assertTensor(shape(2, 2), new double[] {-1, -1, 1, 1}, out.get(0), TOL);
        assertTensor(shape(2), new double[] {0.2, 0.4}, out.get(1), TOL);
        assertTensor(shape(2), new double[] {1.0, 1.3}, out.get(2), TOL);
    }

    @Test
    void instanceNormNormalizesEachPlane() {
        Tensor y = run1("InstanceNormalization", NO_EPS, f32(shape(1, 2, 2), 1, 3, 0, 4), f32(shape(2), 1, 2),
                f32(shape(2), 0, 1));
        assertTensor(shape(1, 2, 2), new double[] {-1, 1, -1, 3}, y, TOL);
    }

    @Test
    void layerNormWithScaleBiasAndStatistics() {
        List<Tensor> out = run("LayerNormalization", NO_EPS, 3, f32(shape(2, 2), 1, 3, 0, 4), f32(shape(2), 2, 1),
                f32(shape(2), 0, 1));
        assertTensor(shape(2, 2), new double[] {-2, 2, -2, 2}, out.get(0), TOL);
        assertTensor(shape(2, 1), new double[] {2, 2}, out.get(1), TOL);
        assertTensor(shape(2, 1), new double[] {1, 0.5}, out.get(2), TOL);
        List<TensorType> t = infer("LayerNormalization", Attributes.builder().i("axis", 1).build(), 3,
                type("f32[N,4,8]"), type("f32[4,8]"));
        assertEquals("f32[N,4,8]", t.get(0).toString());
        assertEquals("f32[N,1,1]", t.get(1).toString());
    }

    @Test
    void layerNormOverAllAxesWithoutBias() {
        Tensor y = run1("LayerNormalization", Attributes.builder().f("epsilon", 0).i("axis", 0).build(),
                f32(shape(2, 2), 1, 3, 1, 3), f32(shape(2, 2), 1, 1, 1, 1), null);
        assertTensor(shape(2, 2), new double[] {-1, 1, -1, 1}, y, TOL);
    }

    @Test
    void rmsNormDividesByTheRootMeanSquareThenScales() {
        // Rows (3, 4) and (0, 2): root mean squares sqrt(12.5) and sqrt(2).
        Tensor y = run1("RMSNormalization", NO_EPS, f32(shape(2, 2), 3, 4, 0, 2), f32(shape(2), 2, 1));
        double a = 1 / Math.sqrt(12.5);
        double b = 1 / Math.sqrt(2);
        assertTensor(shape(2, 2), new double[] {6 * a, 4 * a, 0, 2 * b}, y, TOL);
        Tensor all = run1("RMSNormalization", Attributes.builder().f("epsilon", 1).i("axis", 0).build(),
                f32(shape(2, 2), 1, 1, 1, 1), f32(shape(1), 3));
        double c = 3 / Math.sqrt(2);
        assertTensor(shape(2, 2), new double[] {c, c, c, c}, all, TOL);
        assertEquals("f32[N,4,8]", infer("RMSNormalization", Attributes.builder().i("axis", 1).build(), 1,
                type("f32[N,4,8]"), type("f32[8]")).get(0).toString());
        ShapeException e = assertThrows(ShapeException.class, () -> infer("RMSNormalization",
                Attributes.builder().i("axis", 1).build(), 1, type("f32[N,4,8]"), type("f32[2,4,8]")));
        assertTrue(e.getMessage().contains("does not broadcast to the normalized dims [4,8]"), e.getMessage());
    }

    @Test
    void groupNormNormalizesChannelGroupsThenScalesPerChannel() {
        Attributes a = Attributes.builder().f("epsilon", 0).i("num_groups", 2).build();
        Tensor y = run1("GroupNormalization", a, f32(shape(1, 4, 1, 1), 1, 3, 2, 6), f32(shape(4), 1, 2, 3, 4),
                f32(shape(4), 0, 0, 0, 1));
        assertTensor(shape(1, 4, 1, 1), new double[] {-1, 2, -3, 5}, y, TOL);
    }

    @Test
    void lrnSumsSquaresOverNeighbouringChannels() {
        Attributes a = Attributes.builder().i("size", 3).f("alpha", 3).f("beta", 1).f("bias", 1).build();
        Tensor y = run1("LRN", a, f32(shape(1, 3, 1, 1), 1, 2, 3));
        assertTensor(shape(1, 3, 1, 1), new double[] {1.0 / 6, 2.0 / 15, 3.0 / 14}, y, TOL);
    }

    @Test
    void lpNormalizationL1AndL2() {
        Tensor x = f32(shape(2, 2), 3, 4, 1, -1);
        assertTensor(shape(2, 2), new double[] {0.6, 0.8, Math.sqrt(0.5), -Math.sqrt(0.5)},
                run1("LpNormalization", Attributes.EMPTY, x), TOL);
        assertTensor(shape(2, 2), new double[] {0.75, 0.8, 0.25, -0.2},
                run1("LpNormalization", Attributes.builder().i("axis", 0).i("p", 1).build(), x), TOL);
        assertTensor(shape(2, 2), new double[] {0, 0.6, 0, 0.8}, run1("LpNormalization",
                Attributes.builder().i("axis", 0).build(), f32(shape(2, 2), 0, 3, 0, 4)), TOL);
    }

    @Test
    void meanVarianceNormalizationPerChannelByDefault() {
        Tensor y = run1("MeanVarianceNormalization", Attributes.EMPTY, f32(shape(1, 2, 1, 2), 1, 3, 0, 4));
        assertTensor(shape(1, 2, 1, 2), new double[] {-1, 1, -1, 1}, y, TOL);
    }
}
