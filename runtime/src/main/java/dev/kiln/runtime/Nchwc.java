package dev.kiln.runtime;

/**
 * The blocked activation layout NCHWc ({@code kiln.nchwc.v1}): channels in blocks of {@code block} that sit
 * innermost, [N, ceil(C/block), H, W, block], the channels past C zero; converted to and from NCHW here.
 */
public final class Nchwc {
    /** Name of the activation layout, as the IR's dev.kiln.ToBlocked/FromBlocked ops and docs/KERNELS.md call it. */
    public static final String LAYOUT = "kiln.nchwc.v1";

    private Nchwc() {}

    /** The block this runtime's blocked kernels run: one float vector of the kernels' species. */
    public static int block() {
        return GemmKernel.SPECIES.length();
    }

    /**
     * Fails, naming both widths and the remedies, when code compiled for {@code block} runs on a JVM whose kernels
     * use another vector width: blocked weights and activations are laid out for one width (docs/KERNELS.md).
     */
    public static void requireBlock(int block) {
        if (block != block()) {
            throw new IllegalStateException("this model keeps activations in NCHWc blocks of " + block
                    + " channels (" + block * 32 + "-bit vectors) but this JVM's float vectors hold " + block()
                    + " lanes: recompile the model on a machine of this vector width (or with kiln.nchwc.block="
                    + block() + "), or run with -XX:MaxVectorSize=" + block * 4 + " if that is smaller");
        }
    }

    /** Blocks of {@code block} channels needed for {@code c} channels. */
    public static int blocks(int c, int block) {
        return Math.ceilDiv(c, block);
    }

    /** Floats of one blocked image of c channels and h x w pixels. */
    public static int imageLength(int c, int h, int w, int block) {
        return blocks(c, block) * block * h * w;
    }

    /** NCHW {@code batch x c x h x w} to NCHWc, zero-filling the channels past c. */
    public static void toBlocked(int batch, int c, int h, int w, int block, float[] in, int inOff, float[] out,
                                 int outOff) {
        int plane = h * w;
        int cb = blocks(c, block);
        for (int n = 0; n < batch; n++) {
            int src = inOff + n * c * plane;
            int dst = outOff + n * cb * block * plane;
            for (int b = 0; b < cb; b++) {
                for (int p = 0; p < plane; p++) {
                    int o = dst + (b * plane + p) * block;
                    for (int j = 0; j < block; j++) {
                        int ch = b * block + j;
                        out[o + j] = ch < c ? in[src + ch * plane + p] : 0f;
                    }
                }
            }
        }
    }

    /** NCHWc back to NCHW {@code batch x c x h x w}, dropping the padding channels. */
    public static void fromBlocked(int batch, int c, int h, int w, int block, float[] in, int inOff, float[] out,
                                   int outOff) {
        int plane = h * w;
        int cb = blocks(c, block);
        for (int n = 0; n < batch; n++) {
            int src = inOff + n * cb * block * plane;
            int dst = outOff + n * c * plane;
            for (int ch = 0; ch < c; ch++) {
                int b = ch / block;
                int j = ch % block;
                for (int p = 0; p < plane; p++) {
                    out[dst + ch * plane + p] = in[src + (b * plane + p) * block + j];
                }
            }
        }
    }
}
