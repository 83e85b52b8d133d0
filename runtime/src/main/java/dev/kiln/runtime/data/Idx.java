package dev.kiln.runtime.data;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import java.util.zip.ZipException;

/**
 * Reads and writes IDX files, the format MNIST ships in: a magic number {@code 00 00 TT DD} (TT the element type,
 * DD the number of dimensions), DD big-endian int32 dimensions, then the elements big-endian in row-major order.
 * A name ending in {@code .gz} is read and written through gzip, as the MNIST downloads are.
 */
public final class Idx {

    private static final int GZIP_MAGIC = 0x1F8B;

    private Idx() { }

    /**
     * Reads a whole IDX file.
     *
     * @throws IdxFormatException naming the file and what was expected when it is not IDX, is truncated or has
     *     bytes left over after the elements its dimensions announce
     */
    public static IdxTensor read(Path file) throws IOException {
        Objects.requireNonNull(file, "file");
        byte[] bytes;
        if (isGzip(file)) {
            try (InputStream in = new GZIPInputStream(Files.newInputStream(file))) {
                bytes = in.readAllBytes();
            } catch (ZipException | java.io.EOFException e) {
                throw new IdxFormatException(file + ": corrupt or truncated gzip data (" + e.getMessage() + ")", e);
            }
        } else {
            bytes = Files.readAllBytes(file);
        }
        return parse(file.toString(), bytes);
    }

    /** Reads an IDX label file (one dimension, integer type) as ints, e.g. MNIST's {@code t10k-labels-idx1-ubyte}. */
    public static int[] readLabels(Path file) throws IOException {
        IdxTensor t = read(file);
        if (t.dims().length != 1 || !t.type().isInteger()) {
            throw new IdxFormatException(file + ": expected labels (1 dimension of an integer type), found "
                    + t.type().name().toLowerCase() + " " + Arrays.toString(t.dims()));
        }
        return t.ints();
    }

    /** Writes {@code tensor} to {@code file} (gzip-compressed when the name ends in .gz), replacing it. */
    public static void write(Path file, IdxTensor tensor) throws IOException {
        Objects.requireNonNull(tensor, "tensor");
        byte[] bytes = toBytes(tensor);
        try (OutputStream out = isGzip(file) ? new GZIPOutputStream(Files.newOutputStream(file))
                : Files.newOutputStream(file)) {
            out.write(bytes);
        }
    }

    /** The file form of {@code tensor}: header and elements. */
    public static byte[] toBytes(IdxTensor tensor) {
        int[] dims = tensor.dims();
        ByteBuffer data = tensor.bytes();
        ByteArrayOutputStream out = new ByteArrayOutputStream(4 + 4 * dims.length + data.remaining());
        ByteBuffer header = ByteBuffer.allocate(4 + 4 * dims.length).order(ByteOrder.BIG_ENDIAN);
        header.put((byte) 0).put((byte) 0).put((byte) tensor.type().code()).put((byte) dims.length);
        for (int d : dims) {
            header.putInt(d);
        }
        out.write(header.array(), 0, header.capacity());
        byte[] body = new byte[data.remaining()];
        data.get(body);
        out.write(body, 0, body.length);
        return out.toByteArray();
    }

    /** Parses the bytes of an IDX file; {@code name} is used in error messages. */
    public static IdxTensor parse(String name, byte[] bytes) throws IdxFormatException {
        if (bytes.length < 4) {
            throw new IdxFormatException(name + ": not an IDX file: " + bytes.length
                    + " bytes, the magic number alone needs 4");
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.BIG_ENDIAN);
        int magic = b.getInt();
        if ((magic >>> 16) == GZIP_MAGIC) {
            throw new IdxFormatException(name + ": gzip-compressed data; name the file *.gz to read it");
        }
        if ((magic >>> 16) != 0) {
            throw new IdxFormatException(name + ": not an IDX file: magic number " + String.format("0x%08X", magic)
                    + ", expected 0x0000TTDD (TT element type, DD dimension count)");
        }
        IdxType type = IdxType.ofCode((magic >>> 8) & 0xFF);
        if (type == null) {
            throw new IdxFormatException(name + ": unknown IDX element type " + String.format("0x%02X", (magic >>> 8)
                    & 0xFF) + " (known: " + IdxType.known() + ")");
        }
        int rank = magic & 0xFF;
        if (rank == 0) {
            throw new IdxFormatException(name + ": IDX header declares 0 dimensions");
        }
        int headerBytes = 4 + 4 * rank;
        if (bytes.length < headerBytes) {
            throw new IdxFormatException(name + ": truncated header: " + rank + " dimensions need " + headerBytes
                    + " header bytes, the file has " + bytes.length);
        }
        int[] dims = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++) {
            dims[i] = b.getInt();
            if (dims[i] < 0) {
                throw new IdxFormatException(name + ": dimension " + i + " is " + (dims[i] & 0xFFFFFFFFL)
                        + ", beyond what a Java array holds");
            }
            count *= dims[i];
            if (count * type.bytes() > Integer.MAX_VALUE - 16) {
                throw new IdxFormatException(name + ": dims " + Arrays.toString(Arrays.copyOf(dims, i + 1))
                        + "... of " + type.name().toLowerCase() + " exceed a Java array");
            }
        }
        long need = count * type.bytes();
        long have = bytes.length - headerBytes;
        if (have != need) {
            throw new IdxFormatException(name + ": " + (have < need ? "truncated" : "corrupt") + ": dims "
                    + Arrays.toString(dims) + " of " + type.name().toLowerCase() + " need " + need
                    + " data bytes after the " + headerBytes + "-byte header, the file has " + have);
        }
        return new IdxTensor(type, dims, ByteBuffer.wrap(bytes, headerBytes, (int) need).slice());
    }

    private static boolean isGzip(Path file) {
        Path name = file.getFileName();
        return name != null && name.toString().endsWith(".gz");
    }
}
