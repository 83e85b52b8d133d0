package dev.kiln.ir.ops;

/**
 * The packed-panel weight layout {@code kiln.panel16.v1} of docs/KERNELS.md, as the reference semantics read it:
 * a k x n matrix in {@code ceil(n/16)} column panels, each stored k-major with 16 floats per row (zeros past
 * n). The runtime's {@code PackedMatrix.pack} writes it; a test in {@code passes} checks the two agree.
 */
public final class PanelLayout {
    public static final String NAME = "kiln.panel16.v1";
    public static final int WIDTH = 16;

    private PanelLayout() {}

    /** Floats a packed k x n matrix takes. */
    public static long length(long k, long n) {
        return (n + WIDTH - 1) / WIDTH * WIDTH * k;
    }

    /** Where element (row, col) of the k-row matrix lives in the packed array. */
    public static int index(int k, int row, int col) {
        return (col / WIDTH) * WIDTH * k + row * WIDTH + col % WIDTH;
    }
}
