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
 * The binary weights resource written beside a generated class ({@code Net.weights}): named arrays (float32,
 * float64, int64, int32, bool or string) behind a versioned header and a CRC32 of everything before it, so a truncated or
 * corrupted file is refused with a message that names it instead of producing wrong numbers.
 *
 * <pre>
 * "KILNWTS\0"  u32 version (3)  u32 count
 * count x { u16 name length, name (UTF-8), u8 element type, u32 element count, elements little-endian }
 * u32 CRC32 of all preceding bytes
 * </pre>
 *
 * Element types: 1 float32 ({@code float[]}), 2 float64 ({@code double[]}), 3 int64 ({@code long[]}), 4 int32
 * ({@code int[]}), 5 bool ({@code boolean[]}, one byte 0 or 1 each), 6 string ({@code String[]}, each element a u32
 * byte length then its UTF-8 bytes; the element count counts strings). Version 2 files (types 1 to 5) and version 1
 * files (float32 arrays only, no element type byte) are still read.
 */
public final class WeightsFile {
    static final byte[] MAGIC = {'K', 'I', 'L', 'N', 'W', 'T', 'S', 0};
    public static final int VERSION = 3;
    private static final int FLOAT32 = 1;
    private static final int FLOAT64 = 2;
    private static final int INT64 = 3;
    private static final int INT32 = 4;
    private static final int BOOL = 5;
    private static final int STRING = 6;

    private WeightsFile() {}

    /**
     * The bytes of a weights file holding {@code arrays} in iteration order; each value is a {@code float[]},
     * {@code double[]}, {@code long[]}, {@code int[]}, {@code boolean[]} or {@code String[]} (without nulls).
     */
    public static byte[] write(Map<String, ?> arrays) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.write(MAGIC);
            out.writeInt(Integer.reverseBytes(VERSION));
            out.writeInt(Integer.reverseBytes(arrays.size()));
            ByteBuffer chunk = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
            for (Map.Entry<String, ?> e : arrays.entrySet()) {
                byte[] name = e.getKey().getBytes(StandardCharsets.UTF_8);
                if (name.length > 0xFFFF) {
                    throw new IllegalArgumentException("weight name too long: " + e.getKey());
                }
                out.writeShort(Short.reverseBytes((short) name.length));
                out.write(name);
                writeArray(out, chunk, e.getKey(), e.getValue());
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

    private static void writeArray(DataOutputStream out, ByteBuffer chunk, String name, Object array) throws IOException {
        int length = switch (array) {
            case float[] v -> v.length;
            case double[] v -> v.length;
            case long[] v -> v.length;
            case int[] v -> v.length;
            case boolean[] v -> v.length;
            case String[] v -> v.length;
            case null, default -> throw new IllegalArgumentException("weight '" + name + "' is "
                    + (array == null ? "null" : array.getClass().getSimpleName())
                    + "; a weights file holds float[], double[], long[], int[], boolean[] or String[]");
        };
        out.writeByte(switch (array) {
            case float[] v -> FLOAT32;
            case double[] v -> FLOAT64;
            case long[] v -> INT64;
            case int[] v -> INT32;
            case String[] v -> STRING;
            default -> BOOL;
        });
        out.writeInt(Integer.reverseBytes(length));
        if (array instanceof String[] strings) {
            for (int i = 0; i < length; i++) {
                if (strings[i] == null) {
                    throw new IllegalArgumentException("weight '" + name + "' has a null string at index " + i);
                }
                byte[] utf8 = strings[i].getBytes(StandardCharsets.UTF_8);
                out.writeInt(Integer.reverseBytes(utf8.length));
                out.write(utf8);
            }
            return;
        }
        for (int i = 0; i < length; ) {
            chunk.clear();
            while (i < length && chunk.remaining() >= 8) {
                switch (array) {
                    case float[] v -> chunk.putFloat(v[i]);
                    case double[] v -> chunk.putDouble(v[i]);
                    case long[] v -> chunk.putLong(v[i]);
                    case int[] v -> chunk.putInt(v[i]);
                    case boolean[] v -> chunk.put((byte) (v[i] ? 1 : 0));
                    default -> throw new IllegalStateException();
                }
                i++;
            }
            out.write(chunk.array(), 0, chunk.position());
        }
    }

    /** Writes a weights file atomically (temporary file, then move), so a reader never sees half of one. */
    public static void write(Path file, Map<String, ?> arrays) throws IOException {
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

    /**
     * Reads a weights file of float32 arrays only; {@code source} names it in errors. A file holding other element
     * types is refused (read it with {@link #readAll(byte[], String)}).
     */
    public static Map<String, float[]> read(byte[] data, String source) {
        return floatsOnly(readAll(data, source), source);
    }

    /**
     * Reads a weights file; {@code source} names it in errors. Values are {@code float[]}, {@code double[]},
     * {@code long[]}, {@code int[]}, {@code boolean[]} or {@code String[]} by element type.
     */
    public static Map<String, Object> readAll(byte[] data, String source) {
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
        if (version < 1 || version > VERSION) {
            throw new WeightsException(source + ": weights format version " + version + ", this runtime reads 1 to "
                    + VERSION + " (regenerate the model with a matching Kiln)");
        }
        int count = b.getInt();
        Map<String, Object> out = new LinkedHashMap<>();
        try {
            for (int i = 0; i < count; i++) {
                byte[] name = new byte[Short.toUnsignedInt(b.getShort())];
                b.get(name);
                int type = version == 1 ? FLOAT32 : b.get();
                int length = b.getInt();
                Object array = switch (type) {
                    case FLOAT32 -> {
                        float[] v = new float[length];
                        b.asFloatBuffer().get(v);
                        b.position(b.position() + 4 * length);
                        yield v;
                    }
                    case FLOAT64 -> {
                        double[] v = new double[length];
                        b.asDoubleBuffer().get(v);
                        b.position(b.position() + 8 * length);
                        yield v;
                    }
                    case INT64 -> {
                        long[] v = new long[length];
                        b.asLongBuffer().get(v);
                        b.position(b.position() + 8 * length);
                        yield v;
                    }
                    case INT32 -> {
                        int[] v = new int[length];
                        b.asIntBuffer().get(v);
                        b.position(b.position() + 4 * length);
                        yield v;
                    }
                    case BOOL -> {
                        boolean[] v = new boolean[length];
                        for (int k = 0; k < length; k++) {
                            v[k] = b.get() != 0;
                        }
                        yield v;
                    }
                    case STRING -> {
                        if (version < 3) {
                            throw new WeightsException(source + ": malformed weights file: string array '"
                                    + new String(name, StandardCharsets.UTF_8) + "' in a version " + version + " file");
                        }
                        String[] v = new String[length];
                        for (int k = 0; k < length; k++) {
                            int bytes = b.getInt();
                            if (bytes < 0 || bytes > b.remaining()) {
                                throw new WeightsException(source + ": malformed weights file: string " + k + " of '"
                                        + new String(name, StandardCharsets.UTF_8) + "' claims " + Integer.toUnsignedString(bytes)
                                        + " bytes, " + b.remaining() + " remain");
                            }
                            byte[] utf8 = new byte[bytes];
                            b.get(utf8);
                            v[k] = new String(utf8, StandardCharsets.UTF_8);
                        }
                        yield v;
                    }
                    default -> throw new WeightsException(source + ": malformed weights file: element type " + type
                            + " of '" + new String(name, StandardCharsets.UTF_8) + "' is unknown");
                };
                out.put(new String(name, StandardCharsets.UTF_8), array);
            }
        } catch (WeightsException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new WeightsException(source + ": malformed weights file: " + e);
        }
        if (b.position() != data.length - 4) {
            throw new WeightsException(source + ": malformed weights file: " + (data.length - 4 - b.position())
                    + " unexpected bytes after the last array");
        }
        return Collections.unmodifiableMap(out);
    }

    private static Map<String, float[]> floatsOnly(Map<String, Object> all, String source) {
        Map<String, float[]> out = new LinkedHashMap<>();
        all.forEach((name, array) -> {
            if (!(array instanceof float[] f)) {
                throw new WeightsException(source + ": weights '" + name + "' are " + typeName(array)
                        + ", not float32 (read the file with WeightsFile.readAll)");
            }
            out.put(name, f);
        });
        return Collections.unmodifiableMap(out);
    }

    private static String typeName(Object array) {
        return switch (array) {
            case float[] v -> "float32";
            case double[] v -> "float64";
            case long[] v -> "int64";
            case int[] v -> "int32";
            case boolean[] v -> "bool";
            case String[] v -> "string";
            case null, default -> String.valueOf(array);
        };
    }

    /** Reads the resource {@code name} beside {@code owner} (the generated class). */
    public static Map<String, Object> readResource(Class<?> owner, String name) {
        String source = owner.getPackageName().replace('.', '/') + "/" + name;
        try (InputStream in = owner.getResourceAsStream(name)) {
            if (in == null) {
                throw new WeightsException(source + ": weights resource not found on the class path (it is "
                        + "generated beside " + owner.getSimpleName() + ".java; add it to the resources)");
            }
            return readAll(in.readAllBytes(), source);
        } catch (IOException e) {
            throw new WeightsException(source + ": cannot read weights: " + e.getMessage());
        }
    }

    /** Per generated class (not per name: two class loaders may each define a class of the same name). */
    private static final ClassValue<Map<String, Map<String, Object>>> SHARED = new ClassValue<>() {
        @Override
        protected Map<String, Map<String, Object>> computeValue(Class<?> type) {
            return new java.util.concurrent.ConcurrentHashMap<>();
        }
    };

    /**
     * {@link #readResource} once per class and resource, then the same arrays for every caller: instances of a
     * generated class share one copy of their weights (which inference never writes).
     */
    public static Map<String, Object> readResourceShared(Class<?> owner, String name) {
        return SHARED.get(owner).computeIfAbsent(name, k -> readResource(owner, name));
    }

    /** The float32 array {@code name} of length {@code length}, or an error naming the weights source. */
    public static float[] require(Map<String, ?> weights, String name, int length, String source) {
        return (float[]) require(weights, name, length, source, "float32");
    }

    /** The float64 array {@code name} of length {@code length}, or an error naming the weights source. */
    public static double[] requireDoubles(Map<String, ?> weights, String name, int length, String source) {
        return (double[]) require(weights, name, length, source, "float64");
    }

    /** The int64 array {@code name} of length {@code length}, or an error naming the weights source. */
    public static long[] requireLongs(Map<String, ?> weights, String name, int length, String source) {
        return (long[]) require(weights, name, length, source, "int64");
    }

    /** The int32 array {@code name} of length {@code length}, or an error naming the weights source. */
    public static int[] requireInts(Map<String, ?> weights, String name, int length, String source) {
        return (int[]) require(weights, name, length, source, "int32");
    }

    /** The bool array {@code name} of length {@code length}, or an error naming the weights source. */
    public static boolean[] requireBooleans(Map<String, ?> weights, String name, int length, String source) {
        return (boolean[]) require(weights, name, length, source, "bool");
    }

    /** The string array {@code name} of length {@code length}, or an error naming the weights source. */
    public static String[] requireStrings(Map<String, ?> weights, String name, int length, String source) {
        return (String[]) require(weights, name, length, source, "string");
    }

    private static Object require(Map<String, ?> weights, String name, int length, String source, String type) {
        Object v = weights.get(name);
        if (v == null) {
            throw new WeightsException(source + ": no weights named '" + name + "' (the file belongs to another model "
                    + "or another version of it)");
        }
        if (!typeName(v).equals(type)) {
            throw new WeightsException(source + ": weights '" + name + "' are " + typeName(v) + ", the model needs "
                    + type);
        }
        int actual = switch (v) {
            case float[] a -> a.length;
            case double[] a -> a.length;
            case long[] a -> a.length;
            case int[] a -> a.length;
            case boolean[] a -> a.length;
            case String[] a -> a.length;
            default -> throw new IllegalStateException();
        };
        if (actual != length) {
            throw new WeightsException(source + ": weights '" + name + "' have " + actual + " values, the model needs "
                    + length);
        }
        return v;
    }

    /** Reads a weights file of float32 arrays from disk (see {@link #read(byte[], String)}). */
    public static Map<String, float[]> read(Path file) {
        return floatsOnly(readAll(file), file.toString());
    }

    /** Reads a weights file from disk, arrays of every element type (see {@link #readAll(byte[], String)}). */
    public static Map<String, Object> readAll(Path file) {
        try {
            return readAll(Files.readAllBytes(file), file.toString());
        } catch (java.nio.file.NoSuchFileException e) {
            throw new WeightsException(file + ": weights file not found");
        } catch (IOException e) {
            throw new WeightsException(file + ": cannot read weights: " + e.getMessage());
        }
    }
}
