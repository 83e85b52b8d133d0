package dev.kiln.ir.ops;

import java.util.List;

/**
 * Tables of which spatial cell each kernel tap touches, over all spatial axes of a resolved
 * {@link ConvGeometry}, so the reference loops of Conv, ConvTranspose and the pools stay flat and plain.
 * Spatial positions are flat row-major indices over the spatial axes only.
 */
public final class WindowTaps {
    /** A tap that falls in the explicit or automatic padding. */
    public static final int PAD = -1;
    /** A tap past the padded input, which only ceil_mode windows reach; it is not even padding. */
    public static final int BEYOND = -2;

    private final List<ConvGeometry.Axis> axes;
    private final int inSize;
    private final int outSize;
    private final int kernelSize;
    private final int[] inShape;
    private final int[] outShape;
    private final int[] kernelShape;

    public WindowTaps(List<ConvGeometry.Axis> axes) {
        this.axes = List.copyOf(axes);
        int in = 1;
        int out = 1;
        int k = 1;
        for (ConvGeometry.Axis a : axes) {
            in = Math.multiplyExact(in, a.in());
            out = Math.multiplyExact(out, a.out());
            k = Math.multiplyExact(k, a.kernel());
        }
        this.inSize = in;
        this.outSize = out;
        this.kernelSize = k;
        this.inShape = axes.stream().mapToInt(ConvGeometry.Axis::in).toArray();
        this.outShape = axes.stream().mapToInt(ConvGeometry.Axis::out).toArray();
        this.kernelShape = axes.stream().mapToInt(ConvGeometry.Axis::kernel).toArray();
    }

    public List<ConvGeometry.Axis> axes() { return axes; }

    /** Number of input spatial cells. */
    public int inSize() { return inSize; }

    /** Number of output spatial cells. */
    public int outSize() { return outSize; }

    /** Number of kernel taps. */
    public int kernelSize() { return kernelSize; }

    public int[] inShape() { return inShape.clone(); }

    public int[] outShape() { return outShape.clone(); }

    /**
     * For a forward window: entry {@code o * kernelSize() + k} is the input cell that tap k of output cell o
     * reads, or {@link #PAD} / {@link #BEYOND}.
     */
    public int[] gather() {
        int rank = axes.size();
        int[] table = new int[outSize * kernelSize];
        int[] o = new int[rank];
        int[] k = new int[rank];
        for (int oi = 0; oi < outSize; oi++) {
            unflatten(oi, outShape, o);
            for (int ki = 0; ki < kernelSize; ki++) {
                unflatten(ki, kernelShape, k);
                int flat = 0;
                int status = 0;
                for (int d = 0; d < rank; d++) {
                    ConvGeometry.Axis a = axes.get(d);
                    int p = o[d] * a.stride() - a.padBegin() + k[d] * a.dilation();
                    if (p < -a.padBegin() || p >= a.in() + a.padEnd()) {
                        status = BEYOND;
                    } else if ((p < 0 || p >= a.in()) && status == 0) {
                        status = PAD;
                    }
                    flat = flat * a.in() + Math.clamp(p, 0, a.in() - 1);
                }
                table[oi * kernelSize + ki] = status == 0 ? flat : status;
            }
        }
        return table;
    }

    /**
     * For a transposed window: entry {@code i * kernelSize() + k} is the output cell that tap k of input cell i
     * adds to, or {@link #PAD} when it falls outside the output (cropped by the pads).
     */
    public int[] scatter() {
        int rank = axes.size();
        int[] table = new int[inSize * kernelSize];
        int[] i = new int[rank];
        int[] k = new int[rank];
        for (int ii = 0; ii < inSize; ii++) {
            unflatten(ii, inShape, i);
            for (int ki = 0; ki < kernelSize; ki++) {
                unflatten(ki, kernelShape, k);
                int flat = 0;
                boolean inside = true;
                for (int d = 0; d < rank; d++) {
                    ConvGeometry.Axis a = axes.get(d);
                    int p = i[d] * a.stride() - a.padBegin() + k[d] * a.dilation();
                    inside &= p >= 0 && p < a.out();
                    flat = flat * a.out() + Math.clamp(p, 0, a.out() - 1);
                }
                table[ii * kernelSize + ki] = inside ? flat : PAD;
            }
        }
        return table;
    }

    /** Row-major coordinates of a flat index. */
    static void unflatten(int flat, int[] shape, int[] into) {
        int rest = flat;
        for (int d = shape.length - 1; d >= 0; d--) {
            into[d] = rest % shape[d];
            rest /= shape[d];
        }
    }
}
