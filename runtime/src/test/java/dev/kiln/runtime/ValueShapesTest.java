package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class ValueShapesTest {
    @Test
    void topKReturnsTheCompiledKAndRefusesOthers() {
        assertEquals(3, ValueShapes.topK("node 't' (TopK)", "k", new long[] {9, 3}, 1, 4, 1, new int[] {2, 3}));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ValueShapes.topK("node 't' (TopK)", "k", new long[] {2}, 0, 4, 1, new int[] {2, 3}));
        assertEquals("node 't' (TopK): input 'k' = [2] gives output shape [2, 2], but the code was compiled for [2, 3]",
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> ValueShapes.topK("node 't' (TopK)", "k", new long[] {5}, 0, 4, 1, new int[] {2, 5}));
        assertEquals("node 't' (TopK): input 'k' = [5] is outside [0, 4], the length of axis 1", e.getMessage());
    }

    @Test
    void keptAndNonZeroCountsMustBeTheCompiledLength() {
        boolean[] condition = {false, true, true, false};
        ValueShapes.kept("node 'c' (Compress)", "condition", condition, 0, 4, 2, 0, new int[] {2, 5});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ValueShapes.kept(
                "node 'c' (Compress)", "condition", condition, 1, 3, 2, 1, new int[] {5, 3}));
        assertEquals("node 'c' (Compress): input 'condition' = [true, true, false] (2 true) gives output shape [5, 2],"
                + " but the code was compiled for [5, 3]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ValueShapes.kept("c", "condition", new boolean[20], 0,
                20, 0, 0, new int[] {1}));
        assertEquals("c: input 'condition' = [false, false, false, false, false, false, false, false, false, false, "
                + "false, false, false, false, false, false, ...] (0 true) gives output shape [0], but the code was "
                + "compiled for [1]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ValueShapes.nonZero("NonZero node producing 'y'", "x", 4,
                new int[] {2, 3}));
        assertEquals("NonZero node producing 'y': input 'x' has 4 non-zero elements, giving output shape [2, 4], but the"
                + " code was compiled for [2, 3]", e.getMessage());
    }

    @Test
    void aShapeFedAsValuesMustBeTheCompiledOne() {
        ValueShapes.shape("u", "output_shape", new long[] {0, 1, 1, 5, 5}, 1, new int[] {1, 1, 5, 5});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ValueShapes.shape(
                "node 'u' (MaxUnpool)", "output_shape", new long[] {1, 1, 6, 5}, 0, new int[] {1, 1, 5, 5}));
        assertEquals("node 'u' (MaxUnpool): input 'output_shape' = [1, 1, 6, 5] gives output shape [1, 1, 6, 5], but"
                + " the code was compiled for [1, 1, 5, 5]", e.getMessage());
    }
}
