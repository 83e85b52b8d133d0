package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class ElementMathTest {
    @Test
    void integerDivisionAndRemainderFollowOnnx() {
        assertEquals(-2, ElementMath.div(-7, 3));
        assertEquals(0, ElementMath.div(5, 0));
        assertEquals(2, ElementMath.mod(-7, 3, false));
        assertEquals(-1, ElementMath.mod(-7, 3, true));
        assertEquals(1, ElementMath.divUnsigned(-1L, -1L));
        assertEquals(-0.5, ElementMath.mod(5.5, -3.0, false), 0);
    }

    @Test
    void powersShiftsAndConversions() {
        assertEquals(1024, ElementMath.pow(2, 10));
        assertEquals(0, ElementMath.pow(2, -1));
        assertEquals(-1, ElementMath.pow(-1, -3));
        assertEquals(0, ElementMath.shift(1, 8, 8, true) & 0xFF);
        assertEquals(0, ElementMath.shift(1, 64, 64, true));
        assertEquals(0x1p64 - 2048, ElementMath.unsignedToDouble(-2048L), 0);
        assertEquals(Long.MIN_VALUE, ElementMath.toLong(0x1p63));
        assertEquals(0, ElementMath.toLong(Double.NaN));
        assertEquals(255, ElementMath.toUint8(-1));
        assertEquals(-128, ElementMath.toInt8(128));
    }

    @Test
    void roundsToHalfAndBfloat16() {
        assertEquals(1.0009765625f, ElementMath.toFloat16(1.0009f));
        assertEquals(1.0f, ElementMath.toBfloat16(1.001f));
        assertEquals(1.0078125f, ElementMath.toBfloat16(1.006f));
        assertEquals(Float.NaN, ElementMath.toBfloat16(Float.NaN));
    }

    @Test
    void parsesNumbersAsCastFromStringReadsThem() {
        assertEquals(3.14, ElementMath.parseNumber("3.14"));
        assertEquals(1e-5, ElementMath.parseNumber("1e-5"));
        assertEquals(1e8, ElementMath.parseNumber(" 1E8\t"));
        assertEquals(Double.POSITIVE_INFINITY, ElementMath.parseNumber("+INF"));
        assertEquals(Double.NEGATIVE_INFINITY, ElementMath.parseNumber("-inf"));
        assertEquals(Double.NaN, ElementMath.parseNumber("nan"));
        NumberFormatException e = org.junit.jupiter.api.Assertions.assertThrows(NumberFormatException.class,
                () -> ElementMath.parseNumber("Hello World!"));
        assertEquals("Cast from string: \"Hello World!\" is not a number", e.getMessage());
    }
}
