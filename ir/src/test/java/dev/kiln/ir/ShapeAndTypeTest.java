package dev.kiln.ir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ShapeAndTypeTest {
    @Test
    void shapesMayBeEqualUnlessARankOrTwoStaticDimsDiffer() {
        assertTrue(Shape.parse("[N,4]").mayEqual(Shape.parse("[3,4]")));
        assertTrue(Shape.parse("[N,4]").mayEqual(Shape.parse("[M,4]")));
        assertFalse(Shape.parse("[N,4]").mayEqual(Shape.parse("[N,5]")));
        assertFalse(Shape.parse("[4]").mayEqual(Shape.parse("[1,4]")));
        assertTrue(Dim.of(2).mayEqual(Dim.of(2)));
        assertFalse(Dim.of(2).mayEqual(Dim.of(3)));
    }

    @Test
    void integerRangesAreTheTypesOwn() {
        assertEquals(-128, DType.INT8.minValue());
        assertEquals(255, DType.UINT8.maxValue());
        assertEquals(-32768, DType.INT16.minValue());
        assertEquals(65535, DType.UINT16.maxValue());
        assertEquals(0xFFFF_FFFFL, DType.UINT32.maxValue());
        assertThrows(KilnException.class, DType.UINT64::maxValue);
        assertThrows(KilnException.class, DType.FLOAT32::minValue);
    }
}
