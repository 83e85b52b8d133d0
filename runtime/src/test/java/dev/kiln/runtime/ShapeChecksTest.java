package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The run-time shape checks per ONNX op: values consistent with the compiled shape pass, inconsistent or invalid
 * ones fail with a message naming the node, the input, the values and both shapes; the passing path allocates nothing.
 */
class ShapeChecksTest {
    private static final String NODE = "node 'r' (Reshape)";

    /** Asserts that the check fails and its message holds every fragment. */
    private static void fails(Runnable check, String... fragments) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, check::run);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "message lacks '" + f + "': " + e.getMessage());
        }
    }

    private static long[] v(long... values) {
        return values;
    }

    @Test
    void reshapeCopiesZerosInfersMinusOneAndSubstitutesTheBatch() {
        long[] in = v(2, 3, 4);
        assertDoesNotThrow(() -> ShapeChecks.reshape(NODE, "shape", v(4, 2, 3), 0, 3, in, v(4, 2, 3), false, 1));
        assertDoesNotThrow(() -> ShapeChecks.reshape(NODE, "shape", v(0, -1), 0, 2, in, v(2, 12), false, 1));
        // Read from an offset into a larger array (a tensor in the arena).
        assertDoesNotThrow(() -> ShapeChecks.reshape(NODE, "shape", v(9, 9, 0, -1, 9), 2, 2, in, v(2, 12), false, 1));
        // allowzero: 0 is a zero dim, so the element counts must agree (0 elements in, 0 out).
        assertDoesNotThrow(() -> ShapeChecks.reshape(NODE, "shape", v(3, 0), 0, 2, v(0, 3), v(3, 0), true, 1));
        // -1 times the batch: input [batch, 6] at batch 5 is 30 elements, compiled output [batch, 2, 3].
        assertDoesNotThrow(() -> ShapeChecks.reshape(NODE, "shape", v(5, 2, 3), 0, 3, v(-1, 6), v(-1, 2, 3), false, 5));
        fails(() -> ShapeChecks.reshape(NODE, "shape", v(4, 6), 0, 2, in, v(2, 12), false, 1),
                NODE, "input 'shape'", "[4, 6]", "gives the output shape [4, 6]", "compiled for [2, 12]");
        fails(() -> ShapeChecks.reshape(NODE, "shape", v(4, 2, 3), 0, 3, v(-1, 6), v(-1, 2, 3), false, 5),
                "[4, 2, 3]", "elements", "compiled for [5, 2, 3] at batch 5");
        fails(() -> ShapeChecks.reshape(NODE, "shape", v(-1, -1), 0, 2, in, v(2, 12), false, 1), "more than one -1");
        fails(() -> ShapeChecks.reshape(NODE, "shape", v(5, -1), 0, 2, in, v(2, 12), false, 1), "no whole dim");
        fails(() -> ShapeChecks.reshape(NODE, "shape", v(0, -1), 0, 2, v(0, 3), v(0, 3), true, 1), "both 0 and -1");
        fails(() -> ShapeChecks.reshape(NODE, "shape", v(-2, 12), 0, 2, in, v(2, 12), false, 1), "negative dim -2");
    }

    @Test
    void expandBroadcastsBothWays() {
        String node = "Expand node producing 'y'";
        assertDoesNotThrow(() -> ShapeChecks.expand(node, "shape", v(2, 1, 6), 0, 3, v(3, 1), v(2, 3, 6), 1));
        assertDoesNotThrow(() -> ShapeChecks.expand(node, "shape", v(1), 0, 1, v(3, 4), v(3, 4), 1));
        assertDoesNotThrow(() -> ShapeChecks.expand(node, "shape", v(1, 4), 0, 2, v(-1, 1), v(-1, 4), 4));
        fails(() -> ShapeChecks.expand(node, "shape", v(2, 1, 5), 0, 3, v(3, 1), v(2, 3, 6), 1),
                node, "input 'shape'", "[2, 1, 5]", "output shape [2, 3, 5]", "compiled for [2, 3, 6]");
        fails(() -> ShapeChecks.expand(node, "shape", v(2, 4), 0, 2, v(3, 1), v(3, 4), 1), "does not broadcast",
                "input [3, 1]");
    }

    @Test
    void tileMultipliesEachAxis() {
        String node = "Tile node producing 'z'";
        assertDoesNotThrow(() -> ShapeChecks.tile(node, "repeats", v(2, 3), 0, 2, v(-1, 4), v(-2, 12), 3));
        fails(() -> ShapeChecks.tile(node, "repeats", v(3, 3), 0, 2, v(2, 4), v(4, 12), 1),
                "[3, 3]", "output shape [6, 12]", "compiled for [4, 12]");
        fails(() -> ShapeChecks.tile(node, "repeats", v(2), 0, 1, v(2, 4), v(4, 4), 1), "1 entries for an input of rank 2");
        fails(() -> ShapeChecks.tile(node, "repeats", v(2, -1), 0, 2, v(2, 4), v(4, 4), 1), "negative repeat -1");
    }

    @Test
    void squeezeAndUnsqueezeTakeNegativeAxes() {
        String node = "node 's' (Squeeze)";
        assertDoesNotThrow(() -> ShapeChecks.squeeze(node, "axes", v(-2), 0, 1, v(3, 1, 5), v(3, 5), 1));
        fails(() -> ShapeChecks.squeeze(node, "axes", v(0), 0, 1, v(3, 1, 5), v(3, 5), 1),
                "axis 0 of size 3", "cannot be squeezed");
        fails(() -> ShapeChecks.squeeze(node, "axes", v(0), 0, 1, v(1, 5, 1), v(1, 5), 1), "[0]", "output shape [5, 1]",
                "compiled for [1, 5]");
        fails(() -> ShapeChecks.squeeze(node, "axes", v(3), 0, 1, v(3, 1, 5), v(3, 5), 1), "outside [-3, 3)");
        String un = "node 'u' (Unsqueeze)";
        assertDoesNotThrow(() -> ShapeChecks.unsqueeze(un, "axes", v(4, 1), 0, 2, v(3, 4, 5), v(3, 1, 4, 5, 1), 1));
        assertDoesNotThrow(() -> ShapeChecks.unsqueeze(un, "axes", v(-1), 0, 1, v(-1, 4), v(-1, 4, 1), 7));
        fails(() -> ShapeChecks.unsqueeze(un, "axes", v(0, 1), 0, 2, v(3, 4, 5), v(3, 1, 4, 5, 1), 1),
                un, "input 'axes'", "[0, 1]", "output shape [1, 1, 3, 4, 5]", "compiled for [3, 1, 4, 5, 1]");
        fails(() -> ShapeChecks.unsqueeze(un, "axes", v(1, -3), 0, 2, v(3, 4), v(3, 1, 1, 4), 1), "axis 1 twice");
    }

    @Test
    void splitSizesMustSumToTheAxisAndMatchEachOutput() {
        String node = "Split node producing 'a'";
        assertDoesNotThrow(() -> ShapeChecks.split(node, "split", v(2, 4), 0, 2, 1, v(3, 6), v(2, 4), 1));
        fails(() -> ShapeChecks.split(node, "split", v(4, 2), 0, 2, 1, v(3, 6), v(2, 4), 1),
                node, "input 'split'", "[4, 2]", "compiled for [2, 4]");
        fails(() -> ShapeChecks.split(node, "split", v(2, 3), 0, 2, 1, v(3, 6), v(2, 4), 1), "sums to 5", "dim 6");
        fails(() -> ShapeChecks.split(node, "split", v(6), 0, 1, 1, v(3, 6), v(2, 4), 1), "1 sizes for 2 outputs");
    }

    @Test
    void constantOfShapeTakesTheValuesAsDims() {
        String node = "ConstantOfShape node producing 'y'";
        assertDoesNotThrow(() -> ShapeChecks.constantOfShape(node, "shape", v(4, 3, 2), 0, 3, v(4, 3, 2), 1));
        fails(() -> ShapeChecks.constantOfShape(node, "shape", v(4, 3), 0, 2, v(4, 3, 2), 1),
                "[4, 3]", "output shape [4, 3]", "compiled for [4, 3, 2]");
        fails(() -> ShapeChecks.constantOfShape(node, "shape", v(-4), 0, 1, v(4), 1), "negative dim -4");
    }

    @Test
    void sliceClampsAndFillsTheWindow() {
        String node = "Slice node producing 'y'";
        long[] window = new long[9];
        // x [20, 10, 5]: axis 0 [0, 3), axis 1 [0, 10) step 1 (end past the dim), axis 2 whole.
        ShapeChecks.slice(node, "'s', 'e'", v(0, 0), 0, v(3, 1000), 0, ShapeChecks.ABSENT, 0, ShapeChecks.ABSENT, 0, 2,
                v(20, 10, 5), v(3, 10, 5), 1, window);
        assertArrayEquals(v(0, 0, 0, 1, 1, 1, 3, 10, 5), window);
        // Negative steps and axes: axis -2 from 20 back to 0 exclusive, by -3: 20 clamps to 9, 9 6 3 (3 elements).
        ShapeChecks.slice(node, "'s', 'e', 'a', 't'", v(20), 0, v(0), 0, v(-2), 0, v(-3), 0, 1, v(20, 10, 5),
                v(20, 3, 5), 1, window);
        assertArrayEquals(v(0, 9, 0, 1, -3, 1, 20, 3, 5), window);
        fails(() -> ShapeChecks.slice(node, "'s', 'e'", v(0, 0), 0, v(3, 4), 0, ShapeChecks.ABSENT, 0,
                        ShapeChecks.ABSENT, 0, 2, v(20, 10, 5), v(3, 10, 5), 1, window),
                node, "inputs 's', 'e'", "starts [0, 0], ends [3, 4]", "output shape [3, 4, 5]", "compiled for [3, 10, 5]");
        fails(() -> ShapeChecks.slice(node, "'s', 'e', 'a', 't'", v(0), 0, v(3), 0, v(0), 0, v(0), 0, 1, v(20, 10, 5),
                v(3, 10, 5), 1, window), "steps [0]", "step of 0");
        fails(() -> ShapeChecks.slice(node, "'s', 'e', 'a'", v(0, 0), 0, v(3, 3), 0, v(1, -2), 0, ShapeChecks.ABSENT, 0,
                2, v(20, 10, 5), v(20, 3, 5), 1, window), "axis 1 twice");
    }

    @Test
    void padAddsBothSidesAndCrops() {
        String node = "Pad node producing 'y'";
        long[] window = new long[4];
        ShapeChecks.pad(node, "pads", v(0, 2, 0, -1), 0, 4, ShapeChecks.ABSENT, 0, 0, v(3, 4), v(3, 5), 1, window);
        assertArrayEquals(v(0, 2, 0, -1), window);
        ShapeChecks.pad(node, "pads", v(1, 3), 0, 2, v(-1), 0, 1, v(3, 4), v(3, 8), 1, window);
        assertArrayEquals(v(0, 1, 0, 3), window);
        fails(() -> ShapeChecks.pad(node, "pads", v(1, 1, 1, 1), 0, 4, ShapeChecks.ABSENT, 0, 0, v(3, 4), v(3, 5), 1,
                window), node, "input 'pads'", "[1, 1, 1, 1]", "output shape [5, 6]", "compiled for [3, 5]");
        fails(() -> ShapeChecks.pad(node, "pads", v(1, 1), 0, 2, ShapeChecks.ABSENT, 0, 0, v(3, 4), v(3, 5), 1, window),
                "2 pads for 2 axes");
        fails(() -> ShapeChecks.pad(node, "pads", v(0, -3, 0, -3), 0, 4, ShapeChecks.ABSENT, 0, 0, v(3, 4), v(3, 0), 1,
                window), "below zero");
    }

    @Test
    void rangeCountsCeilOfTheSpanOverDelta() {
        String node = "Range node producing 'y'";
        assertDoesNotThrow(() -> ShapeChecks.range(node, "'s', 'l', 'd'", 10L, 4L, -3L, 2));
        assertDoesNotThrow(() -> ShapeChecks.range(node, "'s', 'l', 'd'", 1L, 1L, 5L, 0));
        assertDoesNotThrow(() -> ShapeChecks.range(node, "'s', 'l', 'd'", 1.0, 5.0, 1.5, 3));
        assertDoesNotThrow(() -> ShapeChecks.range(node, "'s', 'l', 'd'", 5.0, 1.0, 1.0, 0));
        fails(() -> ShapeChecks.range(node, "'s', 'l', 'd'", 0L, 10L, 3L, 3), node, "inputs 's', 'l', 'd'",
                "start 0, limit 10, delta 3", "output shape [4]", "compiled for [3]");
        fails(() -> ShapeChecks.range(node, "'s', 'l', 'd'", 1.0, 5.0, 0.5, 3), "output shape [8]", "compiled for [3]");
        fails(() -> ShapeChecks.range(node, "'s', 'l', 'd'", 0L, 10L, 0L, 3), "delta must not be 0");
        fails(() -> ShapeChecks.range(node, "'s', 'l', 'd'", 0.0, 10.0, 0.0, 3), "delta must be non-zero");
    }

    @Test
    void oneHotDepthIsTheNewAxis() {
        String node = "OneHot node producing 'y'";
        assertDoesNotThrow(() -> ShapeChecks.oneHot(node, "depth", 10, 10));
        fails(() -> ShapeChecks.oneHot(node, "depth", 9, 10), node, "input 'depth'", "depth 9", "compiled for 10");
    }

    @Test
    void passingChecksAllocateNothing() {
        long[] in = v(-1, 6);
        long[] out = v(-1, 2, 3);
        long[] shape = v(5, 2, 3);
        long[] window = new long[9];
        long[] starts = v(0, 1);
        long[] ends = v(3, 10);
        long[] sliceIn = v(20, 10, 5);
        long[] sliceOut = v(3, 9, 5);
        Runnable checks = () -> {
            ShapeChecks.reshape(NODE, "shape", shape, 0, 3, in, out, false, 5);
            ShapeChecks.expand(NODE, "shape", shape, 0, 3, out, out, 5);
            ShapeChecks.slice(NODE, "'s', 'e'", starts, 0, ends, 0, ShapeChecks.ABSENT, 0, ShapeChecks.ABSENT, 0, 2,
                    sliceIn, sliceOut, 1, window);
            ShapeChecks.range(NODE, "'s', 'l', 'd'", 0L, 10L, 3L, 4);
        };
        long least = Allocations.steadyBytesPerCall(checks);
        assertTrue(least == 0, "passing checks allocated " + least + " bytes");
    }
}
