package dev.kiln.onnx;

import dev.kiln.ir.DType;
import dev.kiln.ir.MiniFloat;
import dev.kiln.ir.ScaleFloat;
import dev.kiln.ir.Tensor;

/**
 * The byte encoding of ONNX's element types of at most 8 bits that are not plain bytes: float8 and
 * float8e8m0 one byte per element; the 4-bit (INT4, UINT4, FLOAT4E2M1) and 2-bit (INT2, UINT2) types packed
 * several to a byte, the first element in the lowest bits, the last byte padded with zero bits.
 */
final class PackedElements {
    private PackedElements() {}

    /** True for the types this class encodes. */
    static boolean handles(DType t) {
        return t.isLowPrecisionFloat() || t.isSubByte();
    }

    /** {@code t}'s elements packed as ONNX's raw_data holds them. */
    static byte[] pack(Tensor t) {
        DType dtype = t.dtype();
        int bits = dtype.bitSize();
        byte[] out = new byte[Math.toIntExact(dtype.packedBytes(t.size()))];
        int mask = (1 << bits) - 1;
        for (int i = 0; i < t.size(); i++) {
            long at = (long) i * bits;
            out[(int) (at / 8)] |= (byte) ((code(t, i) & mask) << (at % 8));
        }
        return out;
    }

    /** The tensor of {@code n} elements of {@code dtype} whose packed bytes are {@code bytes}. */
    static Tensor unpack(DType dtype, int[] shape, int n, byte[] bytes) {
        int bits = dtype.bitSize();
        int mask = (1 << bits) - 1;
        int[] codes = new int[n];
        for (int i = 0; i < n; i++) {
            long at = (long) i * bits;
            codes[i] = (bytes[(int) (at / 8)] & 0xFF) >>> (at % 8) & mask;
        }
        if (dtype.isFloat()) {
            double[] d = new double[n];
            for (int i = 0; i < n; i++) {
                d[i] = dtype == DType.FLOAT8E8M0 ? ScaleFloat.fromBits(codes[i]) : MiniFloat.of(dtype).fromBits(codes[i]);
            }
            return Tensor.wrapDoubles(dtype, shape, d);
        }
        long[] l = new long[n];
        for (int i = 0; i < n; i++) {
            l[i] = codes[i]; // wrapLongs sign-extends the signed types
        }
        return Tensor.wrapLongs(dtype, shape, l);
    }

    /** The bit pattern of element {@code i} (integers: their two's complement low bits). */
    private static int code(Tensor t, int i) {
        DType dtype = t.dtype();
        if (!dtype.isFloat()) {
            return (int) t.longs()[i];
        }
        double v = t.doubles()[i];
        return dtype == DType.FLOAT8E8M0 ? ScaleFloat.toBits(v, true, ScaleFloat.RoundMode.UP)
                : MiniFloat.of(dtype).toBits(v);
    }
}
