package dev.kiln.runtime;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * The binary weights resource written beside a generated class ({@code Net.weights}): named float32 arrays
 * behind a versioned header and a CRC32 of everything before it, so a truncated or corrupted file is refused
 * with a message that names it instead of producing wrong numbers.
 *
 * <pre>
 * "KILNWTS\0"  u32 version (1)  u32 count
 * count x { u16 name length, name (UTF-8), u32 element count, float32[count] little-endian }
 * u32 CRC32 of all preceding bytes
 * </pre>
 */
public final class WeightsFile {
    static final byte[] MAGIC = {'K', 'I', 'L', 'N', 'W', 'T', 'S', 0};
    public static final int VERSION = 1;

    private WeightsFile() {}

    /** The bytes of a weights file holding {@code arrays} in iteration order. */
    public static byte[] write(Map<String, float[]> arrays) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.write(MAGIC);
            out.writeInt(Integer.reverseBytes(VERSION));
            out.writeInt(Integer.reverseBytes(arrays.size()));
            ByteBuffer chunk = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
            for (Map.Entry<String, float[]> e : arrays.entrySet()) {
                byte[] name = e.getKey().getBytes(StandardCharsets.UTF_8);
                if (name.length > 0xFFFF) {
                    throw new IllegalArgumentException("weight name too long: " + e.getKey());
                }
                out.writeShort(Short.reverseBytes((short) name.length));
                out.write(name);
                float[] v = e.getValue();
                out.writeInt(Integer.reverseBytes(v.length));
                for (int i = 0; i < v.length; ) {
                    chunk.clear();
                    while (i < v.length && chunk.remaining() >= 4) {
                        chunk.putFloat(v[i++]);
                    }
                    out.write(chunk.array(), 0, chunk.position());
                }
            }
            out.flush();
            CRC32 crc = new CRC32();
            crc.update(bytes.toByteArray());
            out.writeInt(Integer.reverseBytes((int) crc.getValue()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** Writes a weights file atomically (temporary file, then move), so a reader never sees half of one. */
    public static void write(Path file, Map<String, float[]> arrays) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
        try {
            Files.write(tmp, write(arrays));
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Reads a weights file; {@code source} names it in errors. */
    public static Map<String, float[]> read(byte[] data, String source) {
        if (data.length < MAGIC.length + 12) {
            throw new WeightsException(source + ": truncated weights file (" + data.length + " bytes)");
        }
        for (int i = 0; i < MAGIC.length; i++) {
            if (data[i] != MAGIC[i]) {
                throw new WeightsException(source + ": not a Kiln weights file (bad magic)");
            }
        }
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        CRC32 crc = new CRC32();
        crc.update(data, 0, data.length - 4);
        int stored = b.getInt(data.length - 4);
        if (stored != (int) crc.getValue()) {
            throw new WeightsException(String.format("%s: checksum mismatch (stored %08x, computed %08x): the file is "
                    + "truncated or corrupted", source, stored, (int) crc.getValue()));
        }
        b.position(MAGIC.length);
        int version = b.getInt();
        if (version != VERSION) {
            throw new WeightsException(source + ": weights format version " + version + ", this runtime reads "
                    + VERSION + " (regenerate the model with a matching Kiln)");
        }
        int count = b.getInt();
        Map<String, float[]> out = new LinkedHashMap<>();
        try {
            for (int i = 0; i < count; i++) {
                byte[] name = new byte[Short.toUnsignedInt(b.getShort())];
                b.get(name);
                float[] v = new float[b.getInt()];
                b.asFloatBuffer().get(v);
                b.position(b.position() + 4 * v.length);
                out.put(new String(name, StandardCharsets.UTF_8), v);
            }
        } catch (RuntimeException e) {
            throw new WeightsException(source + ": malformed weights file: " + e);
        }
        if (b.position() != data.length - 4) {
            throw new WeightsException(source + ": malformed weights file: " + (data.length - 4 - b.position())
                    + " unexpected bytes after the last array");
        }
        return Collections.unmodifiableMap(out);
    }

    /** Reads the resource {@code name} beside {@code owner} (the generated class). */
    public static Map<String, float[]> readResource(Class<?> owner, String name) {
        String source = owner.getPackageName().replace('.', '/') + "/" + name;
        try (InputStream in = owner.getResourceAsStream(name)) {
            if (in == null) {
                throw new WeightsException(source + ": weights resource not found on the class path (it is "
                        + "generated beside " + owner.getSimpleName() + ".java; add it to the resources)");
            }
            return read(in.readAllBytes(), source);
        } catch (IOException e) {
            throw new WeightsException(source + ": cannot read weights: " + e.getMessage());
        }
    }

    /** Per generated class (not per name: two class loaders may each define a class of the same name). */
    private static final ClassValue<Map<String, Map<String, float[]>>> SHARED = new ClassValue<>() {
        @Override
        protected Map<String, Map<String, float[]>> computeValue(Class<?> type) {
            return new java.util.concurrent.ConcurrentHashMap<>();
        }
    };

    /**
     * {@link #readResource} once per class and resource, then the same arrays for every caller: instances of a
     * generated class share one copy of their weights (which inference never writes).
     */
    public static Map<String, float[]> readResourceShared(Class<?> owner, String name) {
        return SHARED.get(owner).computeIfAbsent(name, k -> readResource(owner, name));
    }

    /** The array {@code name} of length {@code length}, or an error naming the weights source. */
    public static float[] require(Map<String, float[]> weights, String name, int length, String source) {
        float[] v = weights.get(name);
        if (v == null) {
            throw new WeightsException(source + ": no weights named '" + name + "' (the file belongs to another model "
                    + "or another version of it)");
        }
        if (v.length != length) {
            throw new WeightsException(source + ": weights '" + name + "' have " + v.length + " values, the model needs "
                    + length);
        }
        return v;
    }

    /** Reads a weights file from disk. */
    public static Map<String, float[]> read(Path file) {
        try {
            return read(Files.readAllBytes(file), file.toString());
        } catch (java.nio.file.NoSuchFileException e) {
            throw new WeightsException(file + ": weights file not found");
        } catch (IOException e) {
            throw new WeightsException(file + ": cannot read weights: " + e.getMessage());
        }
    }
}
