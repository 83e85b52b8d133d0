package dev.kiln.ir.ops;

/**
 * The packed layouts of convolution weights that the runtime's {@code Conv2d} kernels read, as the reference
 * semantics read them (docs/KERNELS.md): {@code kiln.conv.rowmajor.v1} is the ONNX tensor [M, C/g, kh, kw]
 * unchanged; {@code kiln.conv.direct5.v1} (and the older {@code direct4}) stores, per group, blocks of 5 (4)
 * output channels tap by tap ({@code [g][M/g/5 blocks][C/g*kh*kw taps][5]}, zeros past M/g).
 * {@code Conv2d.packWeights} writes them; a test in {@code passes} checks the two agree.
 */
public final class ConvWeightLayout {
    public static final String ROW_MAJOR = "kiln.conv.rowmajor.v1";
    public static final String DIRECT4 = "kiln.conv.direct4.v1";
    public static final String DIRECT5 = "kiln.conv.direct5.v1";
    /**
     * Winograd F(2x2,3x3) ({@code WinogradConv.packWeights}): U = G g G^T of each 3x3 kernel as one
     * {@code kiln.panel16.v1} matrix [C rows x 16*Mp columns], Mp = M rounded up to 32, column
     * {@code xi*Mp + m} = U[m][c][xi]; group 1 only. Not a permutation: {@link #logical} inverts the transform.
     */
    public static final String WINOGRAD2 = "kiln.conv.winograd2.v1";
    /**
     * Winograd F(4x4,3x3) ({@code WinogradF4Conv.packWeights}): as {@link #WINOGRAD2} with the 6x6 U = G g G^T, 36
     * frequencies: [C rows x 36*Mp columns], column {@code xi*Mp + m} = U[m][c][xi], xi = 6 * row + column.
     */
    public static final String WINOGRAD4 = "kiln.conv.winograd4.v1";

    private ConvWeightLayout() {}

    /** Floats the packed weights of a conv with these sizes take. */
    public static long length(String layout, long m, long cPerGroup, long taps, long group) {
        long kv = cPerGroup * taps;
        return switch (layout) {
            case ROW_MAJOR -> m * kv;
            case WINOGRAD2 -> cPerGroup * 16 * winogradMp(m);
            case WINOGRAD4 -> cPerGroup * 36 * winogradMp(m);
            case DIRECT4, DIRECT5 -> group * ((m / group + block(layout) - 1) / block(layout)) * kv * block(layout);
            default -> throw new IllegalArgumentException("unknown conv weight layout " + layout);
        };
    }

    private static long winogradMp(long m) {
        return (m + 31) / 32 * 32;
    }

    /**
     * The logical weights [m, kv] (kv = C/group * taps) read out of a packed layout. For Winograd the kernel is
     * recovered through a left inverse of G (rows 0, 1 - 2 and 3 of U), exact up to the rounding of U.
     */
    public static double[] logical(String layout, double[] packed, int m, int kv, int group) {
        double[] w = new double[m * kv];
        if (layout.equals(WINOGRAD2) || layout.equals(WINOGRAD4)) {
            if (group != 1 || kv % 9 != 0) {
                throw new IllegalArgumentException(layout + " holds 3x3 kernels of one group, not " + kv
                        + " taps in " + group + " groups");
            }
            double[][] inverse = layout.equals(WINOGRAD2) ? G_INVERSE : G4_INVERSE;
            int side = inverse[0].length;
            int c = kv / 9;
            int mp = (int) winogradMp(m);
            double[] u = new double[side * side];
            for (int o = 0; o < m; o++) {
                for (int ch = 0; ch < c; ch++) {
                    for (int xi = 0; xi < u.length; xi++) {
                        int col = xi * mp + o;
                        u[xi] = packed[(col / 16) * 16 * c + ch * 16 + col % 16];
                    }
                    for (int a = 0; a < 3; a++) {
                        for (int b = 0; b < 3; b++) {
                            w[(o * c + ch) * 9 + 3 * a + b] = inverse(inverse, u, a, b);
                        }
                    }
                }
            }
            return w;
        }
        for (int o = 0; o < m; o++) {
            for (int k = 0; k < kv; k++) {
                w[o * kv + k] = packed[index(layout, m, kv, group, o, k)];
            }
        }
        return w;
    }

    /** A left inverse of Winograd's G for F(2, 3) (4x3): Gp G = I. */
    private static final double[][] G_INVERSE = {{1, 0, 0, 0}, {0, 1, -1, 0}, {0, 0, 0, 1}};

    /** A left inverse of G for F(4, 3) (6x3, rows 1/4 g0; -(g0+g1+g2)/6; -(g0-g1+g2)/6; ...; g2): Gp G = I. */
    private static final double[][] G4_INVERSE = {{4, 0, 0, 0, 0, 0}, {0, -3, 3, 0, 0, 0}, {0, 0, 0, 0, 0, 1}};

    /** g[a][b] = (Gp U Gp^T)[a][b] of a row-major square U. */
    private static double inverse(double[][] gp, double[] u, int a, int b) {
        int n = gp[0].length;
        double sum = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                sum += gp[a][i] * u[n * i + j] * gp[b][j];
            }
        }
        return sum;
    }

    /** Output channels per block of a direct layout. */
    private static int block(String layout) {
        return layout.equals(DIRECT4) ? 4 : 5;
    }

    /** The packed index of weight (output channel {@code out}, tap {@code k} of its C/g*kh*kw taps). */
    public static int index(String layout, int m, int kv, int group, int out, int k) {
        if (layout.equals(ROW_MAJOR)) {
            return out * kv + k;
        }
        int block = block(layout);
        int mg = m / group;
        int blocks = (mg + block - 1) / block;
        int g = out / mg;
        int within = out % mg;
        return ((g * blocks + within / block) * kv + k) * block + within % block;
    }
}
