package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ReduceAxesTest {
    private static final String NODE = "node 'r' (ReduceSum)";

    @Test
    void negativeAxesSelectFromTheEndAndGiveTheCompiledShape() {
        boolean[] reduced = new boolean[3];
        long[] axes = {7, -1, 0};
        assertTrue(ReduceAxes.resolve(NODE, "axes", axes, 1, 2, new int[] {2, 3, 4}, false, false, new int[] {3},
                reduced));
        assertArrayEquals(new boolean[] {true, false, true}, reduced);
        assertTrue(ReduceAxes.resolve(NODE, "axes", axes, 1, 1, new int[] {2, 3, 4}, true, false,
                new int[] {2, 3, 1}, reduced));
        assertArrayEquals(new boolean[] {false, false, true}, reduced);
    }

    @Test
    void emptyAxesReduceEverythingOrNothing() {
        boolean[] reduced = new boolean[2];
        assertTrue(ReduceAxes.resolve(NODE, "axes", new long[0], 0, 0, new int[] {2, 3}, true, false, new int[] {1, 1},
                reduced));
        assertArrayEquals(new boolean[] {true, true}, reduced);
        assertFalse(ReduceAxes.resolve(NODE, "axes", new long[0], 0, 0, new int[] {2, 3}, true, true,
                new int[] {2, 3}, reduced), "noop_with_empty_axes: no axis is reduced");
        assertArrayEquals(new boolean[] {false, false}, reduced);
        // Groups of one element each, in order: the reduction folds every element alone.
        int[] starts = new int[6];
        int[] members = new int[1];
        assertEquals(1, ReduceAxes.layout(new int[] {2, 3}, reduced, starts, members));
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5}, starts);
        assertArrayEquals(new int[] {0}, members);
    }

    @Test
    void valuesGivingAnotherShapeFailNamingNodeInputValuesAndShapes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ReduceAxes.resolve(NODE,
                "axes", new long[] {0}, 0, 1, new int[] {2, 3, 4}, true, false, new int[] {2, 3, 1}, new boolean[3]));
        assertEquals("node 'r' (ReduceSum): input 'axes' = [0] gives output shape [1, 3, 4], but the code was compiled"
                + " for [2, 3, 1]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ReduceAxes.resolve(NODE, "axes", new long[] {0}, 0, 1,
                new int[] {3, 4}, false, false, new int[] {3}, new boolean[2]));
        assertEquals("node 'r' (ReduceSum): input 'axes' = [0] gives output shape [4], but the code was compiled for"
                + " [3]", e.getMessage());
        assertTrue(ReduceAxes.resolve(NODE, "axes", new long[] {0}, 0, 1, new int[] {3, 3}, false, false,
                new int[] {3}, new boolean[2]), "the dims match, so the values are accepted");
    }

    @Test
    void outOfRangeAndRepeatedAxesFail() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ReduceAxes.resolve(NODE,
                "axes", new long[] {3}, 0, 1, new int[] {2, 3, 4}, true, false, new int[] {2, 3, 1}, new boolean[3]));
        assertEquals("node 'r' (ReduceSum): input 'axes' = [3] has axis 3, out of range for rank 3", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ReduceAxes.resolve(NODE, "axes", new long[] {1, -2}, 0,
                2, new int[] {2, 3, 4}, true, false, new int[] {2, 1, 4}, new boolean[3]));
        assertEquals("node 'r' (ReduceSum): input 'axes' = [1, -2] lists axis -2 twice", e.getMessage());
    }

    @Test
    void layoutListsGroupStartsAndMemberOffsetsInRowMajorOrder() {
        int[] shape = {2, 3, 4};
        boolean[] reduced = {true, false, true};
        int[] starts = new int[3];
        int[] members = new int[8];
        assertEquals(8, ReduceAxes.layout(shape, reduced, starts, members));
        assertArrayEquals(new int[] {0, 4, 8}, starts);
        assertArrayEquals(new int[] {0, 1, 2, 3, 12, 13, 14, 15}, members);
        // A reduced axis of size 0 gives empty groups.
        assertEquals(0, ReduceAxes.layout(new int[] {2, 0, 4}, new boolean[] {false, true, false}, new int[8],
                new int[8]));
        assertArrayEquals(new int[] {1, 3, 1}, ReduceAxes.outputShape(shape, reduced, true));
        assertArrayEquals(new int[] {3}, ReduceAxes.outputShape(shape, reduced, false));
    }
}
