package dev.kiln.runtime.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** IDX files byte for byte as MNIST lays them out, round trips of every type (plain and gzip), and the errors. */
class IdxTest {

    @TempDir
    Path dir;

    /** MNIST's label file header: magic 0x00000801, then the count, then one unsigned byte per label. */
    private static final byte[] LABELS = {0, 0, 8, 1, 0, 0, 0, 4, 7, 2, 1, (byte) 255};
    /** Two 2x3 ubyte "images". */
    private static final byte[] IMAGES = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3,
                                          0, 1, 2, 3, (byte) 128, (byte) 255, 9, 8, 7, 6, 5, 4};

    @Test
    void readsMnistLayouts() throws IOException {
        IdxTensor labels = Idx.parse("labels", LABELS);
        assertEquals(IdxType.UBYTE, labels.type());
        assertArrayEquals(new int[] {4}, labels.dims());
        assertArrayEquals(new int[] {7, 2, 1, 255}, labels.ints());
        IdxTensor images = Idx.parse("images", IMAGES);
        assertArrayEquals(new int[] {2, 2, 3}, images.dims());
        assertEquals(6, images.sampleSize());
        assertEquals(12, images.size());
        assertArrayEquals(new float[] {0, 1, 2, 3, 128, 255, 9, 8, 7, 6, 5, 4}, images.floats());
        Path file = dir.resolve("train-labels-idx1-ubyte");
        Files.write(file, LABELS);
        assertArrayEquals(new int[] {7, 2, 1, 255}, Idx.readLabels(file));
    }

    @Test
    void writesTheSameBytes() throws IOException {
        assertArrayEquals(LABELS, Idx.toBytes(IdxTensor.ofInts(IdxType.UBYTE, new int[] {4}, new int[] {7, 2, 1, 255})));
        assertArrayEquals(IMAGES, Idx.toBytes(IdxTensor.ofInts(IdxType.UBYTE, new int[] {2, 2, 3},
                new int[] {0, 1, 2, 3, 128, 255, 9, 8, 7, 6, 5, 4})));
        byte[] floats = Idx.toBytes(IdxTensor.ofFloats(new int[] {1}, new float[] {1.5f}));
        assertArrayEquals(new byte[] {0, 0, 0x0D, 1, 0, 0, 0, 1, 0x3F, (byte) 0xC0, 0, 0}, floats);
    }

    @Test
    void everyTypeRoundTripsThroughPlainAndGzipFiles() throws IOException {
        IdxTensor[] tensors = {
            IdxTensor.ofInts(IdxType.UBYTE, new int[] {3, 2}, new int[] {0, 255, 1, 2, 3, 4}),
            IdxTensor.ofInts(IdxType.BYTE, new int[] {2}, new int[] {-128, 127}),
            IdxTensor.ofInts(IdxType.SHORT, new int[] {2, 1}, new int[] {-30000, 12345}),
            IdxTensor.ofInts(IdxType.INT, new int[] {3}, new int[] {Integer.MIN_VALUE, 0, 123456789}),
            IdxTensor.ofFloats(new int[] {2, 2}, new float[] {-0.5f, 1e-30f, Float.MAX_VALUE, 3}),
            IdxTensor.ofFloats(new int[] {0, 5}, new float[0]),
        };
        for (IdxTensor t : tensors) {
            for (String name : new String[] {"t.idx", "t.idx.gz"}) {
                Path file = dir.resolve(name);
                Idx.write(file, t);
                IdxTensor back = Idx.read(file);
                assertEquals(t, back, t + " via " + name);
                assertArrayEquals(t.floats(), back.floats());
            }
        }
        Path gz = dir.resolve("labels.gz");
        Idx.write(gz, Idx.parse("labels", LABELS));
        assertTrue(Files.size(gz) > 0 && Files.readAllBytes(gz)[0] == 0x1F, "written gzip-compressed");
    }

    @Test
    void readsDoubles() throws IOException {
        byte[] bytes = {0, 0, 0x0E, 1, 0, 0, 0, 1, 0x3F, (byte) 0xF8, 0, 0, 0, 0, 0, 0};
        assertArrayEquals(new float[] {1.5f}, Idx.parse("d", bytes).floats());
        assertThrows(IllegalStateException.class, () -> Idx.parse("d", bytes).ints());
    }

    @Test
    void errorsNameTheFileAndWhatWasExpected() throws IOException {
        error(new byte[] {0, 0, 8}, "f: not an IDX file: 3 bytes, the magic number alone needs 4");
        error(new byte[] {1, 2, 8, 1, 0, 0, 0, 0}, "f: not an IDX file: magic number 0x01020801");
        error(new byte[] {0x1F, (byte) 0x8B, 8, 0}, "f: gzip-compressed data; name the file *.gz");
        error(new byte[] {0, 0, 7, 1, 0, 0, 0, 0}, "f: unknown IDX element type 0x07 (known: 0x08 ubyte");
        error(new byte[] {0, 0, 8, 0}, "f: IDX header declares 0 dimensions");
        error(new byte[] {0, 0, 8, 3, 0, 0, 0, 2, 0, 0}, "f: truncated header: 3 dimensions need 16 header bytes, "
                + "the file has 10");
        error(Arrays.copyOf(IMAGES, IMAGES.length - 1), "f: truncated: dims [2, 2, 3] of ubyte need 12 data bytes "
                + "after the 16-byte header, the file has 11");
        error(Arrays.copyOf(LABELS, LABELS.length + 2), "f: corrupt: dims [4] of ubyte need 4 data bytes");
        error(new byte[] {0, 0, 8, 1, (byte) 0x80, 0, 0, 0}, "f: dimension 0 is 2147483648");
        error(new byte[] {0, 0, 0x0E, 2, 0x7F, 0, 0, 0, 0x7F, 0, 0, 0}, "exceed a Java array");

        Path gz = dir.resolve("images.gz");
        Idx.write(gz, Idx.parse("images", IMAGES));
        byte[] whole = Files.readAllBytes(gz);
        Files.write(gz, Arrays.copyOf(whole, whole.length - 12));
        String msg = assertThrows(IdxFormatException.class, () -> Idx.read(gz)).getMessage();
        assertTrue(msg.startsWith(gz + ": corrupt or truncated gzip data"), msg);

        Path images = dir.resolve("images-idx3-ubyte");
        Files.write(images, IMAGES);
        msg = assertThrows(IdxFormatException.class, () -> Idx.readLabels(images)).getMessage();
        assertTrue(msg.contains(images + ": expected labels (1 dimension of an integer type), found ubyte [2, 2, 3]"),
                msg);
    }

    @Test
    void valuesMustFitTheirType() {
        String msg = assertThrows(IllegalArgumentException.class,
                () -> IdxTensor.ofInts(IdxType.UBYTE, new int[] {2}, new int[] {3, 256})).getMessage();
        assertTrue(msg.contains("value 256 at index 1 does not fit IDX type ubyte"), msg);
        assertThrows(IllegalArgumentException.class, () -> IdxTensor.ofInts(IdxType.FLOAT, new int[] {1}, new int[1]));
        assertThrows(IllegalArgumentException.class, () -> IdxTensor.ofFloats(new int[] {2, 2}, new float[3]));
    }

    private static void error(byte[] bytes, String expected) {
        String msg = assertThrows(IdxFormatException.class, () -> Idx.parse("f", bytes)).getMessage();
        assertTrue(msg.contains(expected), "got: " + msg);
    }
}
