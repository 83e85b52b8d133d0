package dev.kiln.runtime.train;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads the float data of a serialized ONNX TensorProto (the {@code .pb} files of the shared training references)
 * without a protobuf dependency: fields 1 (dims), 2 (data_type), 4 (float_data) and 9 (raw_data) of the wire format.
 */
final class TensorProtoFile {
    private static final int FLOAT = 1;

    private TensorProtoFile() { }

    static float[] readFloats(Path file) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        long count = 1;
        int type = -1;
        float[] data = null;
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
                    } else if (field == 4 || field == 9) {
                        data = new float[len / 4];
                        part.asFloatBuffer().get(data);
                    }
                }
                default -> throw new IOException(file + ": unsupported protobuf wire type " + wire);
            }
        }
        if (type != FLOAT || data == null || data.length != count) {
            throw new IOException(file + ": expected a float tensor of " + count + " elements, data_type " + type);
        }
        return data;
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
