package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WeightsFileTest {
    private static Map<String, float[]> sample() {
        Map<String, float[]> m = new LinkedHashMap<>();
        m.put("fc1.weight", new float[] {1.5f, -2f, Float.MIN_VALUE, Float.NaN});
        m.put("empty", new float[0]);
        float[] big = new float[70_000];
        for (int i = 0; i < big.length; i++) {
            big[i] = i * 0.25f;
        }
        m.put("big", big);
        return m;
    }

    @Test
    void roundTripsNamesOrderAndBits() {
        Map<String, float[]> back = WeightsFile.read(WeightsFile.write(sample()), "t.weights");
        assertEquals(java.util.List.of("fc1.weight", "empty", "big"), java.util.List.copyOf(back.keySet()));
        sample().forEach((k, v) -> assertArrayEquals(v, back.get(k), k));
    }

    @Test
    void refusesTruncatedCorruptedAndForeignFiles() {
        byte[] good = WeightsFile.write(sample());
        WeightsException cut = assertThrows(WeightsException.class,
                () -> WeightsFile.read(Arrays.copyOf(good, good.length / 2), "Net.weights"));
        assertTrue(cut.getMessage().contains("Net.weights") && cut.getMessage().contains("checksum mismatch"),
                cut.getMessage());
        byte[] flipped = good.clone();
        flipped[100] ^= 1;
        assertTrue(assertThrows(WeightsException.class, () -> WeightsFile.read(flipped, "Net.weights")).getMessage()
                .contains("checksum mismatch"));
        byte[] foreign = good.clone();
        foreign[0] = 'X';
        assertTrue(assertThrows(WeightsException.class, () -> WeightsFile.read(foreign, "x")).getMessage()
                .contains("bad magic"));
        assertTrue(assertThrows(WeightsException.class, () -> WeightsFile.read(new byte[3], "tiny")).getMessage()
                .contains("truncated"));
    }

    @Test
    void missingResourceNamesIt() {
        WeightsException e = assertThrows(WeightsException.class,
                () -> WeightsFile.readResource(WeightsFileTest.class, "Nope.weights"));
        assertTrue(e.getMessage().contains("dev/kiln/runtime/Nope.weights"), e.getMessage());
    }

    @Test
    void roundTripsEveryElementType() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("f", new float[] {1.5f, Float.NaN});
        m.put("d", new double[] {Math.PI, -0.0});
        m.put("l", new long[] {Long.MIN_VALUE, 7});
        m.put("i", new int[] {-3, 255});
        m.put("b", new boolean[] {true, false, true});
        Map<String, Object> back = WeightsFile.readAll(WeightsFile.write(m), "t.weights");
        assertArrayEquals((float[]) m.get("f"), (float[]) back.get("f"));
        assertArrayEquals((double[]) m.get("d"), (double[]) back.get("d"));
        assertArrayEquals((long[]) m.get("l"), (long[]) back.get("l"));
        assertArrayEquals((int[]) m.get("i"), WeightsFile.requireInts(back, "i", 2, "t.weights"));
        assertArrayEquals((boolean[]) m.get("b"), WeightsFile.requireBooleans(back, "b", 3, "t.weights"));
        WeightsException wrongType = assertThrows(WeightsException.class,
                () -> WeightsFile.requireLongs(back, "i", 2, "t.weights"));
        assertTrue(wrongType.getMessage().contains("'i' are int32, the model needs int64"), wrongType.getMessage());
        WeightsException floatsOnly = assertThrows(WeightsException.class,
                () -> WeightsFile.read(WeightsFile.write(m), "t.weights"));
        assertTrue(floatsOnly.getMessage().contains("readAll"), floatsOnly.getMessage());
    }

    @Test
    void readsVersionOneFiles() {
        // Version 1: no element type byte, float32 arrays only.
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + 4 + 4 + 2 + 1 + 4 + 8 + 4)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put(WeightsFile.MAGIC).putInt(1).putInt(1).putShort((short) 1).put((byte) 'w').putInt(2).putFloat(2.5f)
                .putFloat(-1f);
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(b.array(), 0, b.position());
        b.putInt((int) crc.getValue());
        assertArrayEquals(new float[] {2.5f, -1f}, WeightsFile.read(b.array(), "old.weights").get("w"));
    }

    @Test
    void roundTripsStrings() {
        Map<String, Object> m = new LinkedHashMap<>();
        String[] words = {"", "a", "héllo", "日本", "x y", "\u0000z", "😀"};
        m.put("words", words);
        m.put("none", new String[0]);
        m.put("after", new float[] {4f});
        byte[] bytes = WeightsFile.write(m);
        assertEquals(WeightsFile.VERSION, java.nio.ByteBuffer.wrap(bytes, 8, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .getInt());
        Map<String, Object> back = WeightsFile.readAll(bytes, "t.weights");
        assertArrayEquals(words, WeightsFile.requireStrings(back, "words", 7, "t.weights"));
        assertArrayEquals(new String[0], WeightsFile.requireStrings(back, "none", 0, "t.weights"));
        assertArrayEquals(new float[] {4f}, WeightsFile.require(back, "after", 1, "t.weights"));
        WeightsException wrongLength = assertThrows(WeightsException.class,
                () -> WeightsFile.requireStrings(back, "words", 6, "t.weights"));
        assertTrue(wrongLength.getMessage().contains("'words' have 7 values, the model needs 6"), wrongLength.getMessage());
        WeightsException wrongType = assertThrows(WeightsException.class,
                () -> WeightsFile.requireStrings(back, "after", 1, "t.weights"));
        assertTrue(wrongType.getMessage().contains("'after' are float32, the model needs string"), wrongType.getMessage());
        IllegalArgumentException nul = assertThrows(IllegalArgumentException.class,
                () -> WeightsFile.write(Map.of("s", new String[] {"a", null})));
        assertTrue(nul.getMessage().contains("'s' has a null string at index 1"), nul.getMessage());
    }

    /** A file of {@code version} holding one array of element type {@code tag} and the given payload. */
    private static byte[] file(int version, int tag, int count, byte[] payload) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + 4 + 4 + 2 + 1 + 1 + 4 + payload.length + 4)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put(WeightsFile.MAGIC).putInt(version).putInt(1).putShort((short) 1).put((byte) 'w').put((byte) tag)
                .putInt(count).put(payload);
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(b.array(), 0, b.position());
        b.putInt((int) crc.getValue());
        return b.array();
    }

    @Test
    void readsVersionTwoFilesAndRefusesStringsInThem() {
        byte[] longs = java.nio.ByteBuffer.allocate(16).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(-5).putLong(9)
                .array();
        assertArrayEquals(new long[] {-5, 9}, (long[]) WeightsFile.readAll(file(2, 3, 2, longs), "v2.weights").get("w"));
        byte[] oneString = java.nio.ByteBuffer.allocate(5).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(1)
                .put((byte) 'q').array();
        assertArrayEquals(new String[] {"q"}, (String[]) WeightsFile.readAll(file(3, 6, 1, oneString), "v3").get("w"));
        WeightsException inV2 = assertThrows(WeightsException.class,
                () -> WeightsFile.readAll(file(2, 6, 1, oneString), "v2.weights"));
        assertTrue(inV2.getMessage().contains("string array 'w' in a version 2 file"), inV2.getMessage());
        WeightsException future = assertThrows(WeightsException.class,
                () -> WeightsFile.readAll(file(4, 3, 2, longs), "v4.weights"));
        assertTrue(future.getMessage().contains("version 4, this runtime reads 1 to 3"), future.getMessage());
        byte[] cut = java.nio.ByteBuffer.allocate(5).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(9).put((byte) 'q')
                .array();
        WeightsException truncated = assertThrows(WeightsException.class,
                () -> WeightsFile.readAll(file(3, 6, 1, cut), "bad.weights"));
        assertTrue(truncated.getMessage().contains("bad.weights: malformed weights file"), truncated.getMessage());
    }
}
