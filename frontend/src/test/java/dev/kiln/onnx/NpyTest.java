package dev.kiln.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.KilnException;
import dev.kiln.ir.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Npy against files written by NumPy 2.4 (src/test/resources/npy), and round trips of what Kiln writes. */
class NpyTest {
    @TempDir
    Path tmp;

    private static Tensor resource(String name) throws IOException {
        try (InputStream in = NpyTest.class.getResourceAsStream("/npy/" + name)) {
            return Npy.read(in, name);
        }
    }

    @Test
    void readsFloat32InCOrder() throws IOException {
        Tensor t = resource("f32_2x3.npy");
        assertEquals(DType.FLOAT32, t.dtype());
        assertArrayEquals(new int[] {2, 3}, t.shape());
        assertArrayEquals(new double[] {1.5, -2.25, 3.0, 0.1f, 1e-30f, -0.0}, t.doubles());
    }

    @Test
    void readsBigEndianFloat64WithNaN() throws IOException {
        Tensor t = resource("f64_be.npy");
        assertEquals(DType.FLOAT64, t.dtype());
        assertEquals(1.0 / 3, t.getDouble(0));
        assertEquals(-2.5e300, t.getDouble(1));
        assertTrue(Double.isNaN(t.getDouble(2)));
    }

    @Test
    void readsFloat16() throws IOException {
        Tensor t = resource("f16.npy");
        assertEquals(DType.FLOAT16, t.dtype());
        // -1/3 in half precision is -0.333251953125
        assertArrayEquals(new double[] {0.5, 65504.0, -0.333251953125}, t.doubles());
    }

    @Test
    void readsSignedIntegersAtTheirLimits() throws IOException {
        assertArrayEquals(new long[] {-128, 127, 0}, resource("i8.npy").longs());
        Tensor i16 = resource("i16_be.npy");
        assertEquals(DType.INT16, i16.dtype());
        assertArrayEquals(new int[] {2, 1}, i16.shape());
        assertArrayEquals(new long[] {-32768, 32767}, i16.longs());
        assertArrayEquals(new long[] {Integer.MIN_VALUE, Integer.MAX_VALUE}, resource("i32.npy").longs());
        assertArrayEquals(new long[] {Long.MIN_VALUE, Long.MAX_VALUE, 42}, resource("i64.npy").longs());
    }

    @Test
    void readsUnsignedIntegersWithoutSignExtension() throws IOException {
        assertArrayEquals(new long[] {0, 255, 128}, resource("u8.npy").longs());
        assertArrayEquals(new long[] {65535, 1}, resource("u16.npy").longs());
        Tensor u32 = resource("u32_be.npy");
        assertEquals(DType.UINT32, u32.dtype());
        assertArrayEquals(new long[] {4294967295L, 7}, u32.longs());
        Tensor u64 = resource("u64.npy");
        assertEquals(DType.UINT64, u64.dtype());
        assertEquals(18446744073709551615.0, u64.getDouble(0));
        assertEquals(3, u64.getLong(1));
    }

    @Test
    void readsBoolScalarAndEmpty() throws IOException {
        Tensor b = resource("bool.npy");
        assertEquals(DType.BOOL, b.dtype());
        assertArrayEquals(new boolean[] {true, false, false, true}, b.bools());
        Tensor s = resource("scalar.npy");
        assertEquals(0, s.rank());
        assertEquals(7.25, s.getDouble(0));
        Tensor e = resource("empty.npy");
        assertArrayEquals(new int[] {0, 4}, e.shape());
        assertEquals(0, e.size());
    }

    @Test
    void readsFormatVersions2And3() throws IOException {
        for (String name : new String[] {"v2.npy", "v3.npy"}) {
            Tensor t = resource(name);
            assertEquals(DType.INT32, t.dtype(), name);
            assertArrayEquals(new int[] {2, 2}, t.shape(), name);
            assertArrayEquals(new long[] {0, 1, 2, 3}, t.longs(), name);
        }
    }

    @Test
    void rejectsFortranOrderAndComplexWithClearMessages() {
        KilnException fortran = assertThrows(KilnException.class, () -> resource("fortran.npy"));
        assertTrue(fortran.getMessage().contains("Fortran"), fortran.getMessage());
        KilnException complex = assertThrows(KilnException.class, () -> resource("complex.npy"));
        assertTrue(complex.getMessage().contains("'<c8'"), complex.getMessage());
    }

    @Test
    void rejectsNonNpyAndTruncatedFiles() throws IOException {
        Path junk = tmp.resolve("junk.npy");
        Files.writeString(junk, "hello, not numpy");
        KilnException e = assertThrows(KilnException.class, () -> Npy.read(junk));
        assertTrue(e.getMessage().contains("junk.npy") && e.getMessage().contains("not a .npy"), e.getMessage());

        byte[] whole = Npy.toBytes(Tensor.ofFloats(new int[] {4}, 1, 2, 3, 4));
        Path cut = tmp.resolve("cut.npy");
        Files.write(cut, Arrays.copyOf(whole, whole.length - 3));
        KilnException t = assertThrows(KilnException.class, () -> Npy.read(cut));
        assertTrue(t.getMessage().contains("truncated"), t.getMessage());

        KilnException missing = assertThrows(KilnException.class, () -> Npy.read(tmp.resolve("nope.npy")));
        assertTrue(missing.getMessage().contains("nope.npy"), missing.getMessage());
    }

    @Test
    void writesNumpyCompatibleAlignedHeader() {
        byte[] bytes = Npy.toBytes(Tensor.ofFloats(new int[] {2, 3}, 1, 2, 3, 4, 5, 6));
        int headerLength = (bytes[8] & 0xFF) | (bytes[9] & 0xFF) << 8;
        assertEquals(1, bytes[6]);
        assertEquals(0, (10 + headerLength) % 64, "data starts on a 64-byte boundary");
        String header = new String(bytes, 10, headerLength, StandardCharsets.US_ASCII);
        assertEquals("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", header.strip());
        assertEquals('\n', header.charAt(header.length() - 1));
        assertEquals(10 + headerLength + 6 * 4, bytes.length);
    }

    @Test
    void roundTripsEveryWritableDtype() throws IOException {
        Tensor[] tensors = {
            Tensor.ofFloats(new int[] {3}, 1.5f, Float.NaN, Float.NEGATIVE_INFINITY),
            Tensor.ofDoubles(DType.FLOAT64, new int[] {2}, Math.PI, -0.0),
            Tensor.ofDoubles(DType.FLOAT16, new int[] {2}, 0.5, -2.0),
            Tensor.ofLongs(DType.INT8, new int[] {2}, -128, 127),
            Tensor.ofLongs(DType.INT16, new int[] {1}, -300),
            Tensor.ofLongs(DType.INT32, new int[] {1, 1}, -70000),
            Tensor.ofLongs(DType.INT64, new int[] {2}, Long.MIN_VALUE, 5),
            Tensor.ofLongs(DType.UINT8, new int[] {1}, 255),
            Tensor.ofLongs(DType.UINT16, new int[] {1}, 65535),
            Tensor.ofLongs(DType.UINT32, new int[] {1}, 4294967295L),
            Tensor.ofLongs(DType.UINT64, new int[] {1}, -1),
            Tensor.wrapBools(new int[] {3}, new boolean[] {true, false, true}),
            Tensor.scalarFloat(2.5f),
            Tensor.zeros(DType.FLOAT32, new int[] {0, 3}),
        };
        for (Tensor t : tensors) {
            Path f = tmp.resolve("t.npy");
            Npy.write(f, t);
            assertEquals(t, Npy.read(f), t.toString());
        }
    }

    @Test
    void refusesDtypesNumpyLacks() {
        Tensor bf16 = Tensor.ofDoubles(DType.BFLOAT16, new int[] {1}, 1.0);
        KilnException e = assertThrows(KilnException.class, () -> Npy.toBytes(bf16));
        assertTrue(e.getMessage().contains("bfloat16"), e.getMessage());
    }
}
