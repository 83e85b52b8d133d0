package dev.kiln.passes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.ConvShape;
import org.junit.jupiter.api.Test;

/**
 * The cost model reproduces what NchwcBench measured (docs/KERNELS.md, block 8, µs per image, the run after
 * Winograd F(4x4) landed and narrow planes went to im2col): within 25 % on the measured shapes, and the same
 * winner wherever the measured times differ by more than that.
 */
class LayoutCostModelTest {
    private static ConvShape pad1(int c, int h, int w, int m, int k, int stride) {
        return new ConvShape(c, h, w, m, k, k, stride, stride, k / 2, k / 2, k / 2, k / 2, 1, 1, 1);
    }

    @Test
    void estimatesTrackTheMeasuredKernels() {
        // shape, measured NCHWc µs, measured µs of the NCHW kernel the runtime picks
        Object[][] measured = {
            {pad1(64, 28, 28, 64, 3, 1), 844.0, 351.0},     // Winograd F(4x4) wins
            {pad1(256, 7, 7, 256, 3, 1), 866.0, 331.0},     // Winograd F(4x4) wins
            {pad1(64, 28, 28, 128, 3, 2), 423.0, 577.0},    // im2col
            {ConvShape.of(128, 7, 7, 512, 1), 115.0, 126.0}, // im2col on a plane narrower than a vector
            {ConvShape.of(256, 14, 14, 64, 1), 101.0, 108.0}, // direct5
            {ConvShape.of(32, 15, 15, 64, 3), 95.0, 71.0},   // cifar conv2, Winograd F(4x4)
        };
        for (Object[] row : measured) {
            ConvShape s = (ConvShape) row[0];
            double blocked = LayoutCostModel.nchwc(s, 8);
            double nchw = LayoutCostModel.nchw(s, 8);
            double mBlocked = (double) row[1];
            double mNchw = (double) row[2];
            assertEquals(mBlocked, blocked, 0.25 * mBlocked, "NCHWc " + s);
            assertEquals(mNchw, nchw, 0.25 * mNchw, "NCHW " + s);
            if (Math.abs(mBlocked - mNchw) > 0.25 * Math.min(mBlocked, mNchw)) {
                assertEquals(mBlocked < mNchw, blocked < nchw, "winner for " + s + ": estimated NCHWc " + blocked
                        + " vs NCHW " + nchw);
            }
        }
    }

    @Test
    void conversionsCostAbout075NanosecondsPerFloat() {
        // NchwcBench: to + from NCHWc of 64 x 28 x 28 took 72 µs, i.e. ~36 µs each.
        assertTrue(Math.abs(LayoutCostModel.conversion(64, 28, 28, 8) - 36) < 8);
    }
}
