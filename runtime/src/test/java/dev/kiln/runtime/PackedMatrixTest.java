package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The {@code kiln.panel16.v1} layout: where each element of B lands, padding, transposed sources, wrap. */
class PackedMatrixTest {

    @Test
    void packedLengthRoundsColumnsUpToWholePanels() {
        assertEquals(0, PackedMatrix.packedLength(0, 5));
        assertEquals(16 * 3, PackedMatrix.packedLength(3, 1));
        assertEquals(16 * 3, PackedMatrix.packedLength(3, 16));
        assertEquals(2 * 16 * 3, PackedMatrix.packedLength(3, 17));
        assertEquals(32 * 16 * 784, PackedMatrix.packedLength(784, 512));
        assertThrows(IllegalArgumentException.class, () -> PackedMatrix.packedLength(-1, 3));
    }

    @Test
    void elementsSitWhereTheLayoutSays() {
        int k = 5;
        int n = 37;
        int off = 3;
        float[] src = new float[off + k * n];
        for (int kk = 0; kk < k; kk++) {
            for (int j = 0; j < n; j++) {
                src[off + kk * n + j] = 1000 * kk + j + 1;
            }
        }
        PackedMatrix p = PackedMatrix.pack(src, off, k, n, false);
        float[] d = p.data();
        assertEquals(3 * 16 * k, d.length);
        for (int panel = 0; panel < 3; panel++) {
            for (int kk = 0; kk < k; kk++) {
                for (int j = 0; j < 16; j++) {
                    int col = 16 * panel + j;
                    float want = col < n ? 1000 * kk + col + 1 : 0f;
                    assertEquals(want, d[panel * 16 * k + kk * 16 + j], "panel " + panel + " k " + kk + " j " + j);
                }
            }
        }
    }

    @Test
    void transposedSourceGivesTheSamePanels() {
        Random r = new Random(7);
        for (int[] shape : new int[][] {{1, 1}, {7, 16}, {9, 33}, {64, 10}}) {
            int k = shape[0];
            int n = shape[1];
            float[] b = new float[k * n];
            float[] bt = new float[2 + k * n];
            for (int kk = 0; kk < k; kk++) {
                for (int j = 0; j < n; j++) {
                    b[kk * n + j] = r.nextFloat();
                    bt[2 + j * k + kk] = b[kk * n + j];
                }
            }
            PackedMatrix p = PackedMatrix.pack(b, 0, k, n, false);
            PackedMatrix q = PackedMatrix.pack(bt, 2, k, n, true);
            assertArrayEquals(p.data(), q.data());
            for (int kk = 0; kk < k; kk++) {
                for (int j = 0; j < n; j++) {
                    assertEquals(b[kk * n + j], q.get(kk, j));
                }
            }
        }
    }

    @Test
    void wrapRoundTripsAndChecksTheLength() {
        float[] b = new float[6 * 20];
        for (int i = 0; i < b.length; i++) {
            b[i] = i;
        }
        PackedMatrix p = PackedMatrix.pack(b, 0, 6, 20, false);
        PackedMatrix w = PackedMatrix.wrap(p.data(), 6, 20);
        assertSame(p.data(), w.data());
        assertEquals(6, w.k());
        assertEquals(20, w.n());
        assertEquals(2, w.panels());
        assertEquals(b[3 * 20 + 19], w.get(3, 19));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PackedMatrix.wrap(new float[6 * 20], 6, 20));
        assertTrue(e.getMessage().contains("192"), e.getMessage());
    }

    @Test
    void packRejectsAShortSource() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PackedMatrix.pack(new float[11], 1, 3, 4, false));
        assertTrue(e.getMessage().contains("3x4"), e.getMessage());
    }
}
