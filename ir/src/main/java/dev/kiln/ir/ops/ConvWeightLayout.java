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

    private ConvWeightLayout() {}

    /** Floats the packed weights of a conv with these sizes take. */
    public static long length(String layout, long m, long cPerGroup, long taps, long group) {
        long kv = cPerGroup * taps;
        return switch (layout) {
            case ROW_MAJOR -> m * kv;
            case DIRECT4, DIRECT5 -> group * ((m / group + block(layout) - 1) / block(layout)) * kv * block(layout);
            default -> throw new IllegalArgumentException("unknown conv weight layout " + layout);
        };
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
