package dev.kiln.ir.ops;

import static dev.kiln.ir.ops.OpRunner.attrs;
import static dev.kiln.ir.ops.OpRunner.floats;
import static dev.kiln.ir.ops.OpRunner.iota;
import static dev.kiln.ir.ops.OpRunner.longs;
import static dev.kiln.ir.ops.OpRunner.none;
import static dev.kiln.ir.ops.OpRunner.run;
import static dev.kiln.ir.ops.OpRunner.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import org.junit.jupiter.api.Test;

class ResizeOpTest {
    private static final Tensor NO_ROI = Tensor.ofFloats(new int[] {0});

    @Test
    void nearestUpsampleRepeatsPixels() {
        Tensor x = floats(shape(1, 1, 2, 2), 1, 2, 3, 4);
        Tensor y = run("Resize", none(), x, NO_ROI, floats(shape(4), 1, 1, 2, 2));
        assertEquals(floats(shape(1, 1, 4, 4), 1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4), y);
    }

    @Test
    void linearHalfPixelAndAlignCorners() {
        // [0, 1] to 4 points, half_pixel: source coords -0.25, 0.25, 0.75, 1.25 -> clamped 0, 0.25, 0.75, 1.
        Tensor x = iota(1, 2);
        Tensor lin = run("Resize", attrs().s("mode", "linear").build(), x, null, null, longs(1, 4));
        assertArrayEquals(new float[] {0, 0.25f, 0.75f, 1}, lin.toFloatArray(), 1e-6f);
        // align_corners: source coords 0, 1/3, 2/3, 1.
        Tensor ac = run("Resize", attrs().s("mode", "linear").s("coordinate_transformation_mode", "align_corners").build(),
                x, null, null, longs(1, 4));
        assertArrayEquals(new float[] {0, 1 / 3f, 2 / 3f, 1}, ac.toFloatArray(), 1e-6f);
    }

    @Test
    void cubicAtIntegerScaleKeepsSamplesAndUsesKeysKernel() {
        // asymmetric x2: even outputs land on samples; odd ones at +0.5 use weights (-1/16, 9/16, 9/16, -1/16) for a=-0.5.
        Tensor x = floats(shape(4), 0, 1, 4, 9);
        Tensor y = run("Resize", attrs().s("mode", "cubic").f("cubic_coeff_a", -0.5f)
                .s("coordinate_transformation_mode", "asymmetric").build(), x, null, floats(shape(1), 2));
        float[] v = y.toFloatArray();
        assertEquals(1f, v[2], 1e-6f);
        assertEquals(4f, v[4], 1e-6f);
        // between 1 and 4: (-0 + 9*1 + 9*4 - 9) / 16 = 2.25
        assertEquals(2.25f, v[3], 1e-6f);
    }

    @Test
    void tfCropAndResizeExtrapolates() {
        // roi [0.5, 1.5] on [0, 1]: coordinates 0.5 and 1.5 (outside) -> 0.5 and the extrapolation value 7.
        Tensor y = run("Resize", attrs().s("mode", "linear").s("coordinate_transformation_mode", "tf_crop_and_resize")
                .f("extrapolation_value", 7).build(), iota(2), floats(shape(2), 0.5f, 1.5f), null, longs(2));
        assertArrayEquals(new float[] {0.5f, 7f}, y.toFloatArray(), 1e-6f);
    }

    @Test
    void symbolicBatchSurvivesSpatialResize() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,3,8,8"));
        Value scales = b.initializer("s", floats(shape(4), 1, 1, 2, 0.5f));
        Value y = b.op("Resize").inputs(x, Value.ABSENT, scales).output();
        assertEquals("f32[N,3,16,4]", y.type().toString(), "constant scales size the static axes beside the batch");
        Value sizes = b.initializer("z", longs(16, 4));
        Value z = b.op("Resize").inputs(x, Value.ABSENT, Value.ABSENT, sizes).attr("axes", new long[] {2, 3}).output();
        assertEquals("f32[N,3,16,4]", z.type().toString());
        Value kept = b.op("Resize").inputs(x, Value.ABSENT, Value.ABSENT, sizes).attr("axes", new long[] {2, 3})
                .attr("keep_aspect_ratio_policy", "not_larger").output();
        assertEquals("f32[N,3,4,4]", kept.type().toString(), "one scale for the axes sized together, all static");
        Value batchScaled = b.op("Resize").inputs(x, Value.ABSENT, b.initializer("s2", floats(shape(4), 2, 1, 2, 2)))
                .output();
        assertTrue(batchScaled.shape().dim(0).hasUnknown(), "floor(2.0 * N) is left unknown");
        assertEquals("3 16 16", batchScaled.shape().dim(1) + " " + batchScaled.shape().dim(2) + " "
                + batchScaled.shape().dim(3));
    }
}
