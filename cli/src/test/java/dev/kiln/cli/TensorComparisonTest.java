package dev.kiln.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Tensor;
import org.junit.jupiter.api.Test;

/** The ONNX backend tolerance and the error figures a FAIL line reports. */
class TensorComparisonTest {
    private static final Tolerance ONNX = Tolerance.ONNX_BACKEND;

    @Test
    void toleranceIsAtolPlusRtolTimesExpected() {
        assertTrue(ONNX.accepts(1000.0, 1000.0 + 0.9999));     // 1e-7 + 1e-3 * 1000 = 1.0000001
        assertFalse(ONNX.accepts(1000.0, 1000.0 + 1.0001));
        assertTrue(ONNX.accepts(0.0, 1e-7));
        assertFalse(ONNX.accepts(0.0, 2e-7));
        assertTrue(ONNX.accepts(Double.NaN, Double.NaN));
        assertFalse(ONNX.accepts(Double.NaN, 0));
        assertFalse(ONNX.accepts(0, Double.NaN));
        assertTrue(ONNX.accepts(Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY));
        assertFalse(ONNX.accepts(Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY));
        assertFalse(ONNX.accepts(1e30, Double.POSITIVE_INFINITY));
        assertEquals("|actual - expected| <= 1e-7 + 0.001 * |expected|", ONNX.describe());
    }

    @Test
    void reportsMaxAbsAndRelErrorAndWorstIndex() {
        Tensor expected = Tensor.ofFloats(new int[] {2, 2}, 1, 2, 4, 8);
        Tensor actual = Tensor.ofFloats(new int[] {2, 2}, 1, 2, 4.5f, 8.25f);
        TensorComparison c = TensorComparison.of(expected, actual, ONNX);
        assertFalse(c.matches());
        assertEquals(0.5, c.maxAbsError(), 0);
        assertEquals(0.125, c.maxRelError(), 0);
        assertEquals("max abs error 0.500, max rel error 0.125; worst at [1, 0]: expected 4.0, got 4.5", c.problem());
    }

    @Test
    void acceptsFloatRoundingAndMatchingNaNs() {
        Tensor expected = Tensor.ofFloats(new int[] {3}, 1f, Float.NaN, -3f);
        Tensor actual = Tensor.ofFloats(new int[] {3}, 1.0000005f, Float.NaN, -3.002f);
        TensorComparison c = TensorComparison.of(expected, actual, ONNX);
        assertTrue(c.matches(), c.problem());
        assertEquals(0.002, c.maxAbsError(), 1e-6);
    }

    @Test
    void integerAndBoolOutputsMustBeExact() {
        Tensor e = Tensor.ofLongs(DType.INT64, new int[] {3}, 1, 2, 3);
        assertTrue(TensorComparison.of(e, Tensor.ofLongs(DType.INT64, new int[] {3}, 1, 2, 3), ONNX).matches());
        TensorComparison c = TensorComparison.of(e, Tensor.ofLongs(DType.INT64, new int[] {3}, 1, 2, 4), ONNX);
        assertFalse(c.matches());
        assertEquals("1 of 3 elements differ (exact comparison); first at [2]: expected 3, got 4", c.problem());
        TensorComparison b = TensorComparison.of(Tensor.wrapBools(new int[] {2}, new boolean[] {true, false}),
                Tensor.wrapBools(new int[] {2}, new boolean[] {true, true}), ONNX);
        assertFalse(b.matches());
    }

    @Test
    void dtypeAndShapeMismatchesAreFailures() {
        Tensor f = Tensor.ofFloats(new int[] {2}, 1, 2);
        assertEquals("expected f32[2] but got f64[2]",
                TensorComparison.of(f, Tensor.ofDoubles(DType.FLOAT64, new int[] {2}, 1, 2), ONNX).problem());
        assertEquals("expected shape [2] but got [1, 2]",
                TensorComparison.of(f, Tensor.ofFloats(new int[] {1, 2}, 1, 2), ONNX).problem());
    }
}
