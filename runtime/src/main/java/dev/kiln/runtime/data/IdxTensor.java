package dev.kiln.runtime.data;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * The contents of one IDX file: element type, dimensions and the elements, kept as the file's big-endian bytes
 * (MNIST's 60000 training images stay 47 MB) and converted on request.
 */
public final class IdxTensor {

    private final IdxType type;
    private final int[] dims;
    private final ByteBuffer data;

    IdxTensor(IdxType type, int[] dims, ByteBuffer data) {
        this.type = type;
        this.dims = dims;
        this.data = data.asReadOnlyBuffer().order(ByteOrder.BIG_ENDIAN);
    }

    /** Integer elements of an integer type (UBYTE, BYTE, SHORT or INT), range-checked against it. */
    public static IdxTensor ofInts(IdxType type, int[] dims, int[] values) {
        Objects.requireNonNull(type, "type");
        if (!type.isInteger()) {
            throw new IllegalArgumentException("ofInts needs an integer IDX type, got " + type);
        }
        int count = checkCount(dims, values.length);
        ByteBuffer b = ByteBuffer.allocate(count * type.bytes()).order(ByteOrder.BIG_ENDIAN);
        for (int i = 0; i < count; i++) {
            int v = values[i];
            boolean fits = switch (type) {
                case UBYTE -> v >= 0 && v <= 255;
                case BYTE -> v >= Byte.MIN_VALUE && v <= Byte.MAX_VALUE;
                case SHORT -> v >= Short.MIN_VALUE && v <= Short.MAX_VALUE;
                default -> true;
            };
            if (!fits) {
                throw new IllegalArgumentException("value " + v + " at index " + i + " does not fit IDX type "
                        + type.name().toLowerCase());
            }
            switch (type) {
                case UBYTE, BYTE -> b.put((byte) v);
                case SHORT -> b.putShort((short) v);
                default -> b.putInt(v);
            }
        }
        return new IdxTensor(type, dims.clone(), b.flip());
    }

    /** FLOAT elements. */
    public static IdxTensor ofFloats(int[] dims, float[] values) {
        int count = checkCount(dims, values.length);
        ByteBuffer b = ByteBuffer.allocate(count * 4).order(ByteOrder.BIG_ENDIAN);
        b.asFloatBuffer().put(values, 0, count);
        return new IdxTensor(IdxType.FLOAT, dims.clone(), b);
    }

    public IdxType type() { return type; }

    /** The dimensions, e.g. {@code [60000, 28, 28]} for MNIST's training images. */
    public int[] dims() { return dims.clone(); }

    /** Number of elements: the product of the dimensions. */
    public int size() { return data.capacity() / type.bytes(); }

    /** Elements per entry of the first dimension (784 for 28x28 images; 1 for a label file). */
    public int sampleSize() {
        int s = 1;
        for (int i = 1; i < dims.length; i++) {
            s *= dims[i];
        }
        return s;
    }

    /** The elements of an integer type (UBYTE read as 0..255). */
    public int[] ints() {
        if (!type.isInteger()) {
            throw new IllegalStateException("IDX " + type.name().toLowerCase() + " data has no int view; use floats()");
        }
        int[] out = new int[size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (type) {
                case UBYTE -> data.get(i) & 0xFF;
                case BYTE -> data.get(i);
                case SHORT -> data.getShort(2 * i);
                default -> data.getInt(4 * i);
            };
        }
        return out;
    }

    /** The elements as floats (UBYTE read as 0..255; INT and DOUBLE rounded to the nearest float). */
    public float[] floats() {
        float[] out = new float[size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (type) {
                case UBYTE -> data.get(i) & 0xFF;
                case BYTE -> data.get(i);
                case SHORT -> data.getShort(2 * i);
                case INT -> data.getInt(4 * i);
                case FLOAT -> data.getFloat(4 * i);
                case DOUBLE -> (float) data.getDouble(8 * i);
            };
        }
        return out;
    }

    /** The big-endian element bytes, as they appear in the file after the header. */
    ByteBuffer bytes() {
        return data.duplicate().order(ByteOrder.BIG_ENDIAN);
    }

    private static int checkCount(int[] dims, int available) {
        Objects.requireNonNull(dims, "dims");
        if (dims.length < 1 || dims.length > 255) {
            throw new IllegalArgumentException("an IDX file has 1 to 255 dimensions, got " + dims.length);
        }
        long count = 1;
        for (int d : dims) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in " + Arrays.toString(dims));
            }
            count *= d;
            if (count > Integer.MAX_VALUE / 8) {
                throw new IllegalArgumentException("IDX dims " + Arrays.toString(dims) + " exceed a Java array");
            }
        }
        if (count != available) {
            throw new IllegalArgumentException("IDX dims " + Arrays.toString(dims) + " hold " + count
                    + " elements, got " + available);
        }
        return (int) count;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof IdxTensor t && type == t.type && Arrays.equals(dims, t.dims) && data.equals(t.data);
    }

    @Override
    public int hashCode() { return 31 * (31 * type.hashCode() + Arrays.hashCode(dims)) + data.hashCode(); }

    @Override
    public String toString() { return "IdxTensor[" + type.name().toLowerCase() + " " + Arrays.toString(dims) + "]"; }
}
