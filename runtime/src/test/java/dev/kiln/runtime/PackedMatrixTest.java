package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The {@code kiln.panel16.v1} layout: where each element of B lands, padding, transposed sources, wrap; what a
 * constant matrix keeps about its values and a view does not.
 */
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

    @Test
    void aConstantMatrixKeepsOneLineAlignedCopyAViewNone() {
        Random r = new Random(5);
        PackedMatrix p = PackedMatrix.pack(Check.random(r, 28 * 100), 0, 28, 100, false);
        MemorySegment copy = p.aligned();
        assertNotNull(copy);
        assertSame(copy, p.aligned());
        assertEquals(0, copy.address() % 64, "copy at " + copy.address());
        assertArrayEquals(p.data(), copy.toArray(ValueLayout.JAVA_FLOAT));
        assertNull(PackedMatrix.view(p.data(), 28, 100).aligned());
        assertNull(PackedMatrix.pack(new float[0], 0, 0, 5, false).aligned(), "empty");
        int cols = (int) (PackedMatrix.ALIGNED_COPY_MAX_BYTES / 4) + 16;
        assertNull(PackedMatrix.wrap(new float[PackedMatrix.packedLength(1, cols)], 1, cols).aligned(), "too large");
    }

    @Test
    void aViewIsReadAfreshByEveryProduct() {
        // A trainer repacks its operands into the same arrays every step: a batch-1 product (the aligned copy's
        // path for constant matrices) and the finiteness check must see the current values.
        Random r = new Random(9);
        int k = 40;
        int n = 70;
        float[] work = new float[PackedMatrix.packedLength(k, n)];
        PackedMatrix view = PackedMatrix.view(work, k, n);
        float[] a = Check.random(r, k);
        for (int round = 0; round < 3; round++) {
            PackedMatrix now = PackedMatrix.pack(Check.random(r, k * n), 0, k, n, false);
            System.arraycopy(now.data(), 0, work, 0, work.length);
            float[] got = new float[n];
            float[] want = new float[n];
            Gemm.gemm(1, a, 0, k, view, null, got, 0, n, false, Epilogue.none());
            Gemm.gemm(1, a, 0, k, now, null, want, 0, n, false, Epilogue.none());
            assertArrayEquals(want, got, "round " + round);
            assertTrue(view.allFinite());
        }
        work[17] = Float.NaN;
        assertFalse(view.allFinite());
    }

    /** Run by {@link #withoutRoomForTheCopyTheHeapArrayServes} in a JVM whose direct memory cannot hold the copy. */
    public static void main(String[] args) {
        Random r = new Random(2);
        int k = 128;
        int n = 512;
        PackedMatrix b = PackedMatrix.pack(Check.random(r, k * n), 0, k, n, false);
        float[] a = Check.random(r, k);
        float[] got = new float[n];
        Gemm.gemm(1, a, 0, k, b, null, got, 0, n, false, Epilogue.none());
        float[] want = new float[n];
        Gemm.gemm(1, a, 0, k, PackedMatrix.view(b.data(), k, n), null, want, 0, n, false, Epilogue.none());
        if (b.aligned() != null || !java.util.Arrays.equals(want, got)) {
            throw new AssertionError("copy " + b.aligned() + ", same result " + java.util.Arrays.equals(want, got));
        }
    }

    @Test
    void withoutRoomForTheCopyTheHeapArrayServes() throws Exception {
        // A 256 KB matrix against a 64 KB direct-memory limit: the first batch-1 product must not fail
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process p = new ProcessBuilder(java, "--add-modules=jdk.incubator.vector", "-XX:MaxDirectMemorySize=64k",
                "-cp", System.getProperty("java.class.path"), PackedMatrixTest.class.getName())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), out);
    }
}
