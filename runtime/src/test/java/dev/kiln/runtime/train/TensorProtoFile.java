package dev.kiln.runtime.train;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads the data of a serialized ONNX TensorProto (the {@code .pb} files of the shared training references)
 * without a protobuf dependency: fields 1 (dims), 2 (data_type) and 9 (raw_data, little-endian) of the wire
 * format, plus 4 (packed float_data).
 */
final class TensorProtoFile {
    private static final int FLOAT = 1;
    private static final int INT64 = 7;

    private TensorProtoFile() { }

    static float[] readFloats(Path file) throws IOException {
        Raw raw = read(file, FLOAT, 4);
        float[] out = new float[raw.count];
        raw.data.asFloatBuffer().get(out);
        return out;
    }

    /** An INT64 tensor (class labels) narrowed to int. */
    static int[] readLabels(Path file) throws IOException {
        Raw raw = read(file, INT64, 8);
        int[] out = new int[raw.count];
        for (int i = 0; i < out.length; i++) {
            out[i] = Math.toIntExact(raw.data.getLong(8 * i));
        }
        return out;
    }

    private record Raw(int count, ByteBuffer data) { }

    private static Raw read(Path file, int wantType, int width) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        long count = 1;
        int type = -1;
        ByteBuffer data = null;
        while (b.hasRemaining()) {
            long key = varint(b);
            int field = (int) (key >>> 3);
            int wire = (int) (key & 7);
            switch (wire) {
                case 0 -> {
                    long v = varint(b);
                    if (field == 1) {
                        count *= v;
                    } else if (field == 2) {
                        type = (int) v;
                    }
                }
                case 1 -> b.position(b.position() + 8);
                case 5 -> b.position(b.position() + 4);
                case 2 -> {
                    int len = (int) varint(b);
                    ByteBuffer part = b.slice(b.position(), len).order(ByteOrder.LITTLE_ENDIAN);
                    b.position(b.position() + len);
                    if (field == 1) {
                        while (part.hasRemaining()) {
                            count *= varint(part);
                        }
                    } else if (field == 9 || field == 4 && wantType == FLOAT) {
                        data = part;
                    }
                }
                default -> throw new IOException(file + ": unsupported protobuf wire type " + wire);
            }
        }
        if (type != wantType || data == null || data.remaining() != count * width) {
            throw new IOException(file + ": expected a tensor of type " + wantType + " with " + count
                    + " elements, found type " + type);
        }
        return new Raw((int) count, data);
    }

    private static long varint(ByteBuffer b) {
        long r = 0;
        for (int shift = 0; ; shift += 7) {
            byte c = b.get();
            r |= (long) (c & 0x7f) << shift;
            if (c >= 0) {
                return r;
            }
        }
    }
}
