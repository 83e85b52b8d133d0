package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Dims resolved at run time for intermediates the model does not declare: Pad and Slice write the dims their values
 * give (checking the dims the code was compiled with and the spec's rules), buffers grow only when a run needs more,
 * and the passing path allocates nothing.
 */
class DynamicTensorsTest {
    private static final long U = ShapeChecks.UNKNOWN;

    private static long[] v(long... values) {
        return values;
    }

    private static void fails(Runnable check, String... fragments) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, check::run);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "message lacks '" + f + "': " + e.getMessage());
        }
    }

    @Test
    void padWritesThePaddedDims() {
        String node = "node 'p' (Pad)";
        long[] window = new long[6];
        long[] dims = new long[3];
        long[] dims2 = new long[2];
        // x [3, 20, 8] padded on axes 1 and 2 (axes given): 20 + 0 + 0, 8 + 1 + 0 (pads from a shape input).
        DynamicTensors.pad(node, "pads", v(0, 1, 0, 0), 0, 4, v(1, 2), 0, 2, v(3, 20, 8), v(3, U, U), 1, window, dims);
        assertArrayEquals(v(3, 20, 9), dims);
        assertArrayEquals(v(0, 0, 1, 0, 0, 0), window);
        // Negative pads crop; the batch (-1 = 1 x batch) is substituted in the input and the compiled dims.
        DynamicTensors.pad(node, "pads", v(9, 0, -2, 0, -5), 1, 4, ShapeChecks.ABSENT, 0, 0, v(-1, 8), v(-1, U), 4,
                new long[4], dims2);
        assertArrayEquals(v(4, 1), dims2);
        // A compiled dim the values contradict, crops below zero and a pad count that does not match the axes.
        fails(() -> DynamicTensors.pad(node, "pads", v(1, 0, 0, 0, 0, 0), 0, 6, ShapeChecks.ABSENT, 0, 0, v(3, 20, 8),
                        v(3, U, U), 1, window, dims), node, "input 'pads' holds [1, 0, 0, 0, 0, 0]", "output shape [4, 20, 8]",
                "compiled for [3, ?, ?]");
        fails(() -> DynamicTensors.pad(node, "pads", v(0, -30), 0, 2, v(1), 0, 1, v(3, 20, 8), v(3, U, 8), 1, window,
                dims), "crops axis 1 of the input [3, 20, 8] below zero");
        fails(() -> DynamicTensors.pad(node, "pads", v(1, 1), 0, 2, ShapeChecks.ABSENT, 0, 0, v(3, 20, 8), v(U, U, U),
                1, window, dims), "2 pads for 3 axes");
        fails(() -> DynamicTensors.pad(node, "pads", v(0, 1L << 40), 0, 2, ShapeChecks.ABSENT, 0, 0, v(3), v(U), 1,
                window, new long[1]), "output shape [1099511627779], more elements than a Java array holds");
    }

    @Test
    void sliceWritesTheCounts() {
        String node = "node 's' (Slice)";
        long[] window = new long[6];
        long[] dims = new long[2];
        // x [10, 7]: rows [2, 100) clamp to [2, 10), columns from the end backwards by 2: 6, 4, 2, 0.
        DynamicTensors.slice(node, "'starts', 'ends', 'axes', 'steps'", v(2, -1), 0, v(100, -100), 0, v(0, 1), 0,
                v(1, -2), 0, 2, v(10, 7), v(U, U), 1, window, dims);
        assertArrayEquals(v(8, 4), dims);
        assertArrayEquals(v(2, 6, 1, -2, 8, 4), window);
        // An axis not sliced keeps its dim, which the compiled shape fixes.
        DynamicTensors.slice(node, "'starts', 'ends'", v(3), 0, v(5), 0, ShapeChecks.ABSENT, 0, ShapeChecks.ABSENT, 0, 1,
                v(10, 7), v(U, 7), 1, window, dims);
        assertArrayEquals(v(2, 7), dims);
        fails(() -> DynamicTensors.slice(node, "'starts', 'ends'", v(3), 0, v(5), 0, ShapeChecks.ABSENT, 0,
                        ShapeChecks.ABSENT, 0, 1, v(10, 7), v(U, 6), 1, window, dims), node,
                "inputs 'starts', 'ends' hold starts [3], ends [5]", "output shape [2, 7]", "compiled for [?, 6]");
        fails(() -> DynamicTensors.slice(node, "'starts', 'ends', 'axes', 'steps'", v(0), 0, v(5), 0, v(0), 0, v(0), 0, 1,
                v(10, 7), v(U, U), 1, window, dims), "step of 0");
        fails(() -> DynamicTensors.slice(node, "'starts', 'ends', 'axes'", v(0), 0, v(5), 0, v(2), 0, ShapeChecks.ABSENT,
                0, 1, v(10, 7), v(U, U), 1, window, dims), "slices axis 2 of an input of rank 2");
    }

    @Test
    void requireDimTiesADimToOneResolvedEarlier() {
        DynamicTensors.requireDim("node 'a' (Add)", "y", v(4, 6), 1, 6);
        fails(() -> DynamicTensors.requireDim("node 'a' (Add)", "y", v(4, 6), 1, 5), "node 'a' (Add)", "'y' has the dims"
                + " [4, 6]", "ties dim 1 to a dim resolved earlier, 5");
    }

    @Test
    void buffersGrowOnlyWhenARunNeedsMore() {
        float[] floats = new float[8];
        assertSame(floats, DynamicTensors.fit(floats, 8));
        assertSame(floats, DynamicTensors.fit(floats, 0));
        float[] grown = DynamicTensors.fit(floats, 9);
        assertNotSame(floats, grown);
        assertEquals(9, grown.length);
        assertEquals(5, DynamicTensors.fit(new double[0], 5).length);
        assertEquals(5, DynamicTensors.fit(new long[2], 5).length);
        assertEquals(5, DynamicTensors.fit(new int[0], 5).length);
        boolean[] bools = new boolean[6];
        assertSame(bools, DynamicTensors.fit(bools, 5));
    }

    @Test
    void resolvingAllocatesNothing() {
        long[] padWindow = new long[6];
        long[] sliceWindow = new long[6];
        long[] dims = new long[3];
        long[] sliced = new long[2];
        long[] pads = v(0, 1, 0, 0);
        long[] axes = v(1, 2);
        long[] in = v(3, 20, 8);
        long[] compiled = v(3, U, U);
        long[] starts = v(2, -1);
        long[] ends = v(100, -100);
        long[] steps = v(1, -2);
        long[] sliceIn = v(10, 7);
        long[] sliceCompiled = v(U, U);
        float[] buffer = new float[540];
        Runnable run = () -> {
            DynamicTensors.pad("p", "pads", pads, 0, 4, axes, 0, 2, in, compiled, 1, padWindow, dims);
            DynamicTensors.slice("s", "'s'", starts, 0, ends, 0, ShapeChecks.ABSENT, 0, steps, 0, 2, sliceIn,
                    sliceCompiled, 1, sliceWindow, sliced);
            DynamicTensors.fit(buffer, (int) (dims[0] * dims[1] * dims[2]));
        };
        long least = Allocations.steadyBytesPerCall(run);
        assertEquals(0, least, "resolving dims allocated bytes");
    }
}
