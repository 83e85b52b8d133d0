package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class ScalarMathTest {
    @Test
    void erfMatchesKnownValuesToFloatPrecision() {
        // erf values from Abramowitz & Stegun table 7.1 (to 9+ digits).
        double[][] table = {{0, 0}, {0.1, 0.1124629160}, {0.5, 0.5204998778}, {1, 0.8427007929},
            {1.5, 0.9661051465}, {2, 0.9953222650}, {3, 0.9999779095}, {-0.5, -0.5204998778}, {-2, -0.9953222650}};
        for (double[] row : table) {
            assertEquals(row[1], ScalarMath.erf((float) row[0]), 2e-7, "erf(" + row[0] + ")");
        }
        assertEquals(1f, ScalarMath.erf(10f));
        assertEquals(-1f, ScalarMath.erf(-10f));
    }
}
