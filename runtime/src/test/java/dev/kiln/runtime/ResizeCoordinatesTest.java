package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ResizeCoordinatesTest {
    private static final String NODE = "node 'up' (Resize)";
    private static final int[] ALL = {0, 1, 2, 3};

    @Test
    void scalesGiveFlooredLengthsAndTheTransformUsesTheScale() {
        double[] scale = new double[4];
        double[] start = new double[4];
        double[] end = {1, 1, 1, 1};
        ResizeCoordinates.fromScales(NODE, "scales", new int[] {1, 1, 4, 4}, ALL, new float[] {1, 1, 0.8f, 0.8f}, 0,
                start, end, new int[] {1, 1, 3, 3}, scale);
        assertEquals(0.8f, scale[2], 0);
        // half_pixel at scale 0.8: output 1 maps to 1.5 / 0.8 - 0.5 = 1.375 (out/in would give 1.5).
        ResizeCoordinates.Mode linear = new ResizeCoordinates.Mode("linear", "half_pixel", "round_prefer_floor", false,
                -0.75, false);
        // (0.8f is 0.800000011920929, hence the tolerance.)
        assertEquals(1.375, ResizeCoordinates.sourceCoordinate(linear, 1, 4, 3, scale[2], 0, 1), 1e-7);
        int[] index = new int[6];
        double[] weight = new double[6];
        ResizeCoordinates.taps(NODE, linear, 4, 3, scale[2], 0, 1, 2, index, weight, new boolean[0]);
        assertArrayEquals(new int[] {1, 2}, java.util.Arrays.copyOfRange(index, 2, 4));
        assertEquals(0.625, weight[2], 1e-7);
        assertEquals(0.375, weight[3], 1e-7);
    }

    @Test
    void scalesOrSizesGivingAnotherShapeFailNamingNodeInputValuesAndShapes() {
        double[] end = {1, 1, 1, 1};
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ResizeCoordinates.fromScales(
                NODE, "scales", new int[] {1, 1, 4, 4}, ALL, new float[] {1, 1, 0.5f, 0.5f}, 0, new double[4], end,
                new int[] {1, 1, 3, 3}, new double[4]));
        assertEquals("node 'up' (Resize): input 'scales' = [1.0, 1.0, 0.5, 0.5] gives output shape [1, 1, 2, 2], but the"
                + " code was compiled for [1, 1, 3, 3]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ResizeCoordinates.fromSizes(NODE, "sizes",
                new int[] {1, 1, 4, 4}, new int[] {2, 3}, new long[] {9, 5, 7}, 1, "stretch", new int[] {1, 1, 3, 3},
                new double[4]));
        assertEquals("node 'up' (Resize): input 'sizes' = [5, 7] gives output shape [1, 1, 5, 7], but the code was"
                + " compiled for [1, 1, 3, 3]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ResizeCoordinates.fromScales(NODE, "scales",
                new int[] {4}, new int[] {0}, new float[] {-2}, 0, new double[1], new double[] {1}, new int[] {8},
                new double[1]));
        assertTrue(e.getMessage().contains("scales must be positive"), e.getMessage());
    }

    @Test
    void keepAspectRatioPoliciesShareOneScale() {
        double[] scale = new double[4];
        // not_larger: min(7/4, 8/4) = 1.75 for both listed axes, lengths rounded: 7 and 7.
        ResizeCoordinates.fromSizes(NODE, "sizes", new int[] {1, 1, 4, 4}, new int[] {2, 3}, new long[] {7, 8}, 0,
                "not_larger", new int[] {1, 1, 7, 7}, scale);
        assertArrayEquals(new double[] {1, 1, 1.75, 1.75}, scale, 0);
        ResizeCoordinates.fromSizes(NODE, "sizes", new int[] {1, 1, 4, 4}, new int[] {2, 3}, new long[] {7, 8}, 0,
                "not_smaller", new int[] {1, 1, 8, 8}, scale);
        assertEquals(2, scale[3], 0);
    }

    @Test
    void nearestSelectsAndCropMarksCoordinatesOutsideTheInput() {
        ResizeCoordinates.Mode nearest = new ResizeCoordinates.Mode("nearest", "asymmetric", "floor", false, -0.75, false);
        int[] index = new int[8];
        ResizeCoordinates.taps(NODE, nearest, 4, 8, 2, 0, 1, 1, index, new double[8], new boolean[0]);
        assertArrayEquals(new int[] {0, 0, 1, 1, 2, 2, 3, 3}, index);
        ResizeCoordinates.Mode crop = new ResizeCoordinates.Mode("linear", "tf_crop_and_resize", "round_prefer_floor",
                false, -0.75, false);
        boolean[] outside = new boolean[3];
        double[] start = new double[1];
        double[] end = new double[1];
        ResizeCoordinates.roi(NODE, "roi", new int[] {0}, new double[] {0.5, 1.5}, 2, start, end);
        assertEquals(1.5, end[0], 0);
        ResizeCoordinates.taps(NODE, crop, 5, 3, 0.6, start[0], end[0], 2, new int[6], new double[6], outside);
        // Coordinates 2, 4 and 6 of an input of 5: the last is past its end.
        assertArrayEquals(new boolean[] {false, false, true}, outside);
    }

    @Test
    void antialiasWidensTheWindowAndTooNarrowTablesFail() {
        ResizeCoordinates.Mode aa = new ResizeCoordinates.Mode("linear", "half_pixel", "round_prefer_floor", true,
                -0.75, false);
        assertEquals(2, aa.width(1.5));
        assertEquals(4, aa.width(0.5));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ResizeCoordinates.taps(NODE,
                aa, 8, 4, 0.5, 0, 1, 2, new int[8], new double[8], new boolean[0]));
        assertTrue(e.getMessage().startsWith("node 'up' (Resize): scale 0.5 needs 4 taps"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new ResizeCoordinates.Mode("bilinear", "half_pixel",
                "floor", false, -0.75, false));
    }
}
