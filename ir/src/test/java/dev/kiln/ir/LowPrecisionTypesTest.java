package dev.kiln.ir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The float8, float4 and float8e8m0 formats bit by bit, rounding ties and saturation, and the sub-byte integers. */
class LowPrecisionTypesTest {

    @ParameterizedTest
    @EnumSource(MiniFloat.class)
    void everyBitPatternDecodesToAValueThatRoundsAndEncodesToItself(MiniFloat f) {
        int nans = 0;
        for (int bits = 0; bits < 1 << f.bits(); bits++) {
            double v = f.fromBits(bits);
            if (Double.isNaN(v)) {
                nans++;
                assertTrue(Double.isNaN(f.round(v, false)));
                continue;
            }
            assertEquals(bits, f.toBits(v), f + " " + Integer.toHexString(bits));
            assertSame(v, f.round(v, false), f + " " + v);
            if (!Double.isInfinite(v)) {
                assertSame(v, f.round(v, true), f + " " + v);
            }
        }
        int expectedNans = switch (f) {
            case E4M3FN -> 2;   // S.1111.111
            case E4M3FNUZ, E5M2FNUZ -> 1; // the bits of -0
            case E5M2 -> 6;     // S.11111.01, 10, 11
            case E2M1 -> 0;
        };
        assertEquals(expectedNans, nans, f.toString());
    }

    @Test
    void formatsHaveOnnxsRanges() {
        assertEquals(448, MiniFloat.E4M3FN.max());
        assertEquals(240, MiniFloat.E4M3FNUZ.max());
        assertEquals(57344, MiniFloat.E5M2.max());
        assertEquals(57344, MiniFloat.E5M2FNUZ.max());
        assertEquals(6, MiniFloat.E2M1.max());
        assertEquals(0x1p-9, MiniFloat.E4M3FN.fromBits(1));
        assertEquals(0x1p-10, MiniFloat.E4M3FNUZ.fromBits(1));
        assertEquals(0x1p-16, MiniFloat.E5M2.fromBits(1));
        assertEquals(0x1p-17, MiniFloat.E5M2FNUZ.fromBits(1));
        assertEquals(Double.POSITIVE_INFINITY, MiniFloat.E5M2.fromBits(0x7C));
        assertEquals(Double.NEGATIVE_INFINITY, MiniFloat.E5M2.fromBits(0xFC));
        List<Double> e2m1 = new ArrayList<>();
        for (int bits = 0; bits < 8; bits++) {
            e2m1.add(MiniFloat.E2M1.fromBits(bits));
        }
        assertEquals(List.of(0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0), e2m1);
        assertEquals(-6.0, MiniFloat.E2M1.fromBits(0xF));
    }

    /** Halfway between two neighbours rounds to the even bit pattern; just off halfway to the nearer one. */
    @ParameterizedTest
    @EnumSource(MiniFloat.class)
    void tiesRoundToEvenAndOtherwiseToNearest(MiniFloat f) {
        for (int bits = 0; bits + 1 < 1 << (f.bits() - 1); bits++) {
            double lo = f.fromBits(bits);
            double hi = f.fromBits(bits + 1);
            if (!(hi > lo) || Double.isInfinite(hi)) {
                continue; // past the largest finite value
            }
            double mid = (lo + hi) / 2;
            double even = (bits & 1) == 0 ? lo : hi;
            for (boolean saturate : new boolean[] {false, true}) {
                assertEquals(even, f.round(mid, saturate), f + " tie " + mid);
                assertEquals(even, Math.abs(f.round(-mid, saturate)), f + " tie " + -mid);
                assertEquals(lo, f.round(Math.nextDown(mid), saturate), f + " below " + mid);
                assertEquals(hi, f.round(Math.nextUp(mid), saturate), f + " above " + mid);
            }
        }
    }

    @Test
    void saturateDecidesWhatLiesBeyondTheLargestValue() {
        MiniFloat fn = MiniFloat.E4M3FN;
        assertEquals(448, fn.round(464, false)); // the tie between 448 and 480 (NaN's bits) goes to even 448
        assertTrue(Double.isNaN(fn.round(465, false)));
        assertEquals(448, fn.round(465, true));
        assertEquals(-448, fn.round(Double.NEGATIVE_INFINITY, true));
        assertTrue(Double.isNaN(fn.round(Double.POSITIVE_INFINITY, false)));
        MiniFloat e5m2 = MiniFloat.E5M2;
        assertEquals(57344, e5m2.round(61439, false));
        assertEquals(Double.POSITIVE_INFINITY, e5m2.round(61440, false)); // the tie goes to even: 2^16, infinity
        assertEquals(57344, e5m2.round(61440, true));
        assertEquals(Double.NEGATIVE_INFINITY, e5m2.round(Double.NEGATIVE_INFINITY, false));
        assertEquals(-57344, e5m2.round(Double.NEGATIVE_INFINITY, true));
        assertTrue(Double.isNaN(MiniFloat.E5M2FNUZ.round(1e6, false)));
        assertEquals(-57344, MiniFloat.E5M2FNUZ.round(-1e6, true));
        assertTrue(Double.isNaN(MiniFloat.E4M3FNUZ.round(Double.NEGATIVE_INFINITY, false)));
        assertEquals(240, MiniFloat.E4M3FNUZ.round(Double.POSITIVE_INFINITY, true));
        // FNUZ has no -0: negative numbers that round to zero become +0; FN keeps the sign.
        assertSame(0.0, MiniFloat.E4M3FNUZ.round(-1e-7, true));
        assertSame(0.0, MiniFloat.E5M2FNUZ.round(-0.0, false));
        assertSame(-0.0, MiniFloat.E4M3FN.round(-1e-7, true));
        assertEquals(0x80, MiniFloat.E4M3FNUZ.toBits(Double.NaN));
        // float4 always saturates and, as ONNX's reference, takes NaN to -0.
        MiniFloat e2m1 = MiniFloat.E2M1;
        assertEquals(6, e2m1.round(100, false));
        assertEquals(-6, e2m1.round(Double.NEGATIVE_INFINITY, false));
        assertSame(-0.0, e2m1.round(Double.NaN, true));
        assertEquals(4, e2m1.round(5, true)); // tie between 4 (even) and 6
        assertEquals(0, e2m1.round(0.25, true)); // tie between 0 (even) and 0.5
    }

    @Test
    void float8e8m0HoldsPowersOfTwoRoundedByMode() {
        for (int bits = 0; bits < 256; bits++) {
            double v = ScaleFloat.fromBits(bits);
            if (bits == 0xFF) {
                assertTrue(Double.isNaN(v));
                continue;
            }
            assertEquals(Math.scalb(1.0, bits - 127), v);
            for (ScaleFloat.RoundMode mode : ScaleFloat.RoundMode.values()) {
                for (boolean saturate : new boolean[] {false, true}) {
                    assertEquals(bits, ScaleFloat.toBits(v, saturate, mode), bits + " " + mode);
                }
            }
        }
        assertEquals(4, ScaleFloat.round(3, true, ScaleFloat.RoundMode.UP));
        assertEquals(2, ScaleFloat.round(3, true, ScaleFloat.RoundMode.DOWN));
        assertEquals(4, ScaleFloat.round(3, true, ScaleFloat.RoundMode.NEAREST)); // 1.5 x 2: ties go up
        assertEquals(2, ScaleFloat.round(2.9, true, ScaleFloat.RoundMode.NEAREST));
        assertEquals(0.125, ScaleFloat.round(0.124, true, ScaleFloat.RoundMode.UP));
        assertEquals(4, ScaleFloat.round(-3, true, ScaleFloat.RoundMode.UP)); // the magnitude, as ONNX's reference
        assertEquals(0x1p-127, ScaleFloat.round(0, true, ScaleFloat.RoundMode.UP));
        assertTrue(Double.isNaN(ScaleFloat.round(0, false, ScaleFloat.RoundMode.NEAREST)));
        assertEquals(0x1p127, ScaleFloat.round(Double.POSITIVE_INFINITY, true, ScaleFloat.RoundMode.UP));
        assertTrue(Double.isNaN(ScaleFloat.round(Double.POSITIVE_INFINITY, false, ScaleFloat.RoundMode.UP)));
        assertEquals(0x1p127, ScaleFloat.round(0x1.8p127, true, ScaleFloat.RoundMode.UP));
        assertTrue(Double.isNaN(ScaleFloat.round(0x1.8p127, false, ScaleFloat.RoundMode.UP)));
        assertEquals(0x1p-127, ScaleFloat.round(0x1p-140, true, ScaleFloat.RoundMode.DOWN));
        assertTrue(Double.isNaN(ScaleFloat.round(0x1p-140, false, ScaleFloat.RoundMode.DOWN)));
        assertTrue(Double.isNaN(ScaleFloat.round(Double.NaN, true, ScaleFloat.RoundMode.UP)));
    }

    @Test
    void subByteIntegersWrapAndClamp() {
        assertEquals(7, DType.INT4.wrap(-9));
        assertEquals(-8, DType.INT4.wrap(8));
        assertEquals(15, DType.UINT4.wrap(-1));
        assertEquals(1, DType.INT2.wrap(-3));
        assertEquals(-2, DType.INT2.wrap(2));
        assertEquals(3, DType.UINT2.wrap(7));
        assertEquals(-8, DType.INT4.minValue());
        assertEquals(15, DType.UINT4.maxValue());
        assertEquals(-2, DType.INT2.minValue());
        assertEquals(3, DType.UINT2.maxValue());
        assertTrue(DType.UINT4.isUnsigned() && DType.UINT2.isUnsigned() && !DType.INT4.isUnsigned());
        assertEquals(4, DType.INT4.bitSize());
        assertEquals(2, DType.UINT2.bitSize());
        assertEquals(3, DType.FLOAT4E2M1.packedBytes(5));
        assertEquals(2, DType.INT2.packedBytes(5));
        assertEquals(5, DType.FLOAT8E5M2.packedBytes(5));
        // Cast truncates and wraps into them like any integer type (ONNX's backend tests expect -9 -> 7).
        Tensor x = Tensor.ofDoubles(DType.FLOAT32, new int[] {4}, -9, 8.7, -2.5, 15);
        assertEquals(List.of(7L, -8L, -2L, -1L), boxed(x.castTo(DType.INT4).longs()));
        assertEquals(List.of(3L, 0L, 2L, 3L), boxed(x.castTo(DType.UINT2).longs()));
    }

    private static List<Long> boxed(long[] a) {
        return java.util.Arrays.stream(a).boxed().toList();
    }

    /** Equal including the sign of zero. */
    private static void assertSame(double expected, double actual) {
        assertSame(expected, actual, "");
    }

    private static void assertSame(double expected, double actual, String what) {
        assertEquals(Double.doubleToLongBits(expected), Double.doubleToLongBits(actual), what + ": " + expected + " vs "
                + actual);
    }
}
