package dev.kiln.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.kiln.ir.DType;
import dev.kiln.ir.KilnException;
import dev.kiln.ir.ModelFormatException;
import dev.kiln.ir.Tensor;
import dev.kiln.onnx.proto.Onnx.StringStringEntryProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** TensorProto <-> Tensor for every dtype, through raw_data, typed fields, external data and .pb files. */
class TensorProtosTest {
    @TempDir
    Path tmp;

    /** A 2x3 tensor of {@code dtype} whose values include the type's extremes and awkward floats. */
    static Tensor sample(DType dtype) {
        int[] shape = {2, 3};
        return switch (dtype) {
            case FLOAT32, FLOAT64, FLOAT16, BFLOAT16 -> Tensor.ofDoubles(dtype, shape,
                    1.0, -2.5, 0.1, Double.NaN, Double.NEGATIVE_INFINITY, -0.0);
            case INT8 -> Tensor.ofLongs(dtype, shape, -128, 127, 0, -1, 5, 42);
            case UINT8 -> Tensor.ofLongs(dtype, shape, 0, 255, 128, 1, 7, 200);
            case INT16 -> Tensor.ofLongs(dtype, shape, Short.MIN_VALUE, Short.MAX_VALUE, 0, -1, 300, -300);
            case UINT16 -> Tensor.ofLongs(dtype, shape, 0, 65535, 32768, 1, 2, 3);
            case INT32 -> Tensor.ofLongs(dtype, shape, Integer.MIN_VALUE, Integer.MAX_VALUE, 0, -1, 1 << 20, -7);
            case UINT32 -> Tensor.ofLongs(dtype, shape, 0, 0xFFFF_FFFFL, 0x8000_0000L, 1, 2, 3);
            case INT64 -> Tensor.ofLongs(dtype, shape, Long.MIN_VALUE, Long.MAX_VALUE, 0, -1, 1L << 40, -9);
            case UINT64 -> Tensor.ofLongs(dtype, shape, 0, -1L /* 2^64-1 */, Long.MIN_VALUE /* 2^63 */, 1, 2, 3);
            case BOOL -> Tensor.wrapBools(shape, new boolean[] {true, false, false, true, true, false});
            case STRING -> Tensor.wrapStrings(shape, new String[] {"", "a", "héllo", "日本", "x y", "\u0000z"});
            case FLOAT8E4M3FN -> Tensor.ofDoubles(dtype, shape, 1.0, -2.5, 448, Double.NaN, -0.0, 0x1p-9);
            case FLOAT8E4M3FNUZ -> Tensor.ofDoubles(dtype, shape, 1.0, -2.5, -240, Double.NaN, 0.0, 0x1p-10);
            case FLOAT8E5M2 -> Tensor.ofDoubles(dtype, shape, 1.0, -2.5, 57344, Double.NaN, Double.NEGATIVE_INFINITY,
                    0x1p-16);
            case FLOAT8E5M2FNUZ -> Tensor.ofDoubles(dtype, shape, 1.0, -2.5, -57344, Double.NaN, 0.0, 0x1p-17);
            case FLOAT4E2M1 -> Tensor.ofDoubles(dtype, shape, 0.5, -1.5, 6, -6, -0.0, 3);
            case FLOAT8E8M0 -> Tensor.ofDoubles(dtype, shape, 1.0, 0x1p-127, 0x1p127, Double.NaN, 0.125, 4);
            case INT4 -> Tensor.ofLongs(dtype, shape, -8, 7, 0, -1, 3, -5);
            case UINT4 -> Tensor.ofLongs(dtype, shape, 0, 15, 8, 1, 7, 9);
            case INT2 -> Tensor.ofLongs(dtype, shape, -2, 1, 0, -1, 1, -2);
            case UINT2 -> Tensor.ofLongs(dtype, shape, 0, 3, 2, 1, 0, 3);
        };
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void roundTripsEveryDtypeThroughProto(DType dtype) {
        Tensor t = sample(dtype);
        TensorProto p = TensorProtos.toProto("w", t);
        assertEquals(dtype.onnxCode(), p.getDataType());
        assertEquals(java.util.List.of(2L, 3L), p.getDimsList());
        assertEquals(t, TensorProtos.toTensor(p, tmp, "mem"));
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void roundTripsEveryDtypeThroughFile(DType dtype) {
        Path f = tmp.resolve(dtype + ".pb");
        TensorProtos.write(f, "input_" + dtype, sample(dtype));
        NamedTensor back = TensorProtos.read(f);
        assertEquals("input_" + dtype, back.name());
        assertEquals(sample(dtype), back.tensor());
    }

    @Test
    void roundTripsScalarsAndEmptyTensors() {
        for (Tensor t : new Tensor[] {Tensor.scalarFloat(3.5f), Tensor.scalarLong(DType.INT64, -4),
                Tensor.zeros(DType.FLOAT32, new int[] {0, 5}), Tensor.zeros(DType.STRING, new int[] {0})}) {
            assertEquals(t, TensorProtos.toTensor(TensorProtos.toProto("t", t), tmp, "mem"));
        }
    }

    @Test
    void rawDataIsLittleEndianWithOnnxBitPatterns() {
        assertEquals("0000803f", hex(Tensor.ofFloats(new int[] {1}, 1f)));
        assertEquals("000000000000f0bf", hex(Tensor.ofDoubles(DType.FLOAT64, new int[] {1}, -1.0)));
        assertEquals("003c00c0", hex(Tensor.ofDoubles(DType.FLOAT16, new int[] {2}, 1.0, -2.0)));
        assertEquals("803f40c0", hex(Tensor.ofDoubles(DType.BFLOAT16, new int[] {2}, 1.0, -3.0)));
        assertEquals("feff", hex(Tensor.ofLongs(DType.INT16, new int[] {1}, -2)));
        assertEquals("ffffffff", hex(Tensor.ofLongs(DType.UINT32, new int[] {1}, 0xFFFF_FFFFL)));
        assertEquals("0100", hex(Tensor.wrapBools(new int[] {2}, new boolean[] {true, false})));
    }

    @Test
    void packsSubByteTypesLowBitsFirstAndPadsTheLastByte() {
        // Three int4 elements: 7 and -8 share the first byte (low nibble first), -1 and a zero nibble the second.
        assertEquals("870f", hex(Tensor.ofLongs(DType.INT4, new int[] {3}, 7, -8, -1)));
        assertEquals("f1", hex(Tensor.ofLongs(DType.UINT4, new int[] {2}, 1, 15)));
        assertEquals("a2", hex(Tensor.ofDoubles(DType.FLOAT4E2M1, new int[] {2}, 1.0, -1.0)));
        // Five int2 elements: four in the first byte, lowest bits first, the fifth alone in the second.
        assertEquals("3902", hex(Tensor.ofLongs(DType.INT2, new int[] {5}, 1, -2, -1, 0, -2)));
        assertEquals("e403", hex(Tensor.ofLongs(DType.UINT2, new int[] {5}, 0, 1, 2, 3, 3)));
        assertEquals("387e7f", hex(Tensor.ofDoubles(DType.FLOAT8E4M3FN, new int[] {3}, 1.0, 448, Double.NaN)));
        assertEquals("7f80", hex(Tensor.ofDoubles(DType.FLOAT8E8M0, new int[] {2}, 1.0, 2.0)));
        for (DType t : new DType[] {DType.INT4, DType.UINT4, DType.FLOAT4E2M1, DType.INT2, DType.UINT2}) {
            for (int n = 0; n <= 9; n++) {
                Tensor x = Tensor.fromDoubles(t, new int[] {n}, java.util.stream.IntStream.range(0, n)
                        .mapToDouble(i -> i % 3 - 1).toArray());
                TensorProto p = TensorProtos.toProto("x", x);
                assertEquals(t.packedBytes(n), p.getRawData().size(), t + " of " + n);
                assertEquals(x, TensorProtos.toTensor(p, tmp, "mem"), t + " of " + n);
            }
        }
    }

    @Test
    void decodesPackedBytesFromInt32Data() {
        // int32_data holds one byte per entry: float8 elements, or packed sub-byte elements.
        TensorProto.Builder b = TensorProto.newBuilder().addDims(3);
        assertArrayEquals(new long[] {1, 1, 1}, TensorProtos.toTensor(b.clone().setDataType(22)
                .addInt32Data(0x11).addInt32Data(0x01).build(), tmp, "t").longs());
        assertArrayEquals(new double[] {0, 96, -104}, TensorProtos.toTensor(b.clone().setDataType(17)
                .addInt32Data(0).addInt32Data(0x6C).addInt32Data(0xED).build(), tmp, "t").doubles());
        KilnException few = assertThrows(ModelFormatException.class, () -> TensorProtos.toTensor(b.clone()
                .setDataType(21).addInt32Data(0).build(), tmp, "t"));
        assertTrue(few.getMessage().endsWith("has 1 entries in int32_data but its 3 uint4 elements need 2 (one byte per "
                + "entry, 2 elements to a byte)"), few.getMessage());
    }

    private static String hex(Tensor t) {
        return HexFormat.of().formatHex(TensorProtos.toProto("", t).getRawData().toByteArray());
    }

    @Test
    void decodesEveryTypedField() {
        TensorProto.Builder base = TensorProto.newBuilder().addDims(2);
        assertArrayEquals(new double[] {1.5, -2}, TensorProtos.toTensor(base.clone()
                .setDataType(1).addFloatData(1.5f).addFloatData(-2f).build(), tmp, "t").doubles());
        assertArrayEquals(new double[] {0.1, 1e300}, TensorProtos.toTensor(base.clone()
                .setDataType(11).addDoubleData(0.1).addDoubleData(1e300).build(), tmp, "t").doubles());
        // float16 and bfloat16 keep their bit patterns in int32_data.
        assertArrayEquals(new double[] {1.0, -2.0}, TensorProtos.toTensor(base.clone()
                .setDataType(10).addInt32Data(0x3C00).addInt32Data(0xC000).build(), tmp, "t").doubles());
        assertArrayEquals(new double[] {1.0, -3.0}, TensorProtos.toTensor(base.clone()
                .setDataType(16).addInt32Data(0x3F80).addInt32Data(0xC040).build(), tmp, "t").doubles());
        assertArrayEquals(new long[] {-128, 127}, TensorProtos.toTensor(base.clone()
                .setDataType(3).addInt32Data(-128).addInt32Data(127).build(), tmp, "t").longs());
        assertArrayEquals(new long[] {255, 0}, TensorProtos.toTensor(base.clone()
                .setDataType(2).addInt32Data(255).addInt32Data(0).build(), tmp, "t").longs());
        assertArrayEquals(new long[] {65535, -32768}, new long[] {
                TensorProtos.toTensor(base.clone().setDataType(4).addInt32Data(65535).addInt32Data(0).build(), tmp, "t")
                        .longs()[0],
                TensorProtos.toTensor(base.clone().setDataType(5).addInt32Data(-32768).addInt32Data(0).build(), tmp, "t")
                        .longs()[0]});
        assertArrayEquals(new long[] {Integer.MIN_VALUE, 7}, TensorProtos.toTensor(base.clone()
                .setDataType(6).addInt32Data(Integer.MIN_VALUE).addInt32Data(7).build(), tmp, "t").longs());
        assertArrayEquals(new long[] {Long.MIN_VALUE, 7}, TensorProtos.toTensor(base.clone()
                .setDataType(7).addInt64Data(Long.MIN_VALUE).addInt64Data(7).build(), tmp, "t").longs());
        assertArrayEquals(new long[] {0xFFFF_FFFFL, 1}, TensorProtos.toTensor(base.clone()
                .setDataType(12).addUint64Data(0xFFFF_FFFFL).addUint64Data(1).build(), tmp, "t").longs());
        Tensor u64 = TensorProtos.toTensor(base.clone().setDataType(13).addUint64Data(-1L).addUint64Data(1).build(),
                tmp, "t");
        assertEquals(18446744073709551615.0, u64.getDouble(0), 0.0);
        assertArrayEquals(new boolean[] {true, false}, TensorProtos.toTensor(base.clone()
                .setDataType(9).addInt32Data(1).addInt32Data(0).build(), tmp, "t").bools());
        assertArrayEquals(new String[] {"ab", "ü"}, TensorProtos.toTensor(base.clone().setDataType(8)
                .addStringData(ByteString.copyFromUtf8("ab")).addStringData(ByteString.copyFromUtf8("ü")).build(),
                tmp, "t").strings());
    }

    @Test
    void readsOnnxTestDataFiles() {
        SharedModels.model("mlp");
        NamedTensor in = TensorProtos.read(SharedModels.testData("mlp", 0, "input_0.pb"));
        NamedTensor out = TensorProtos.read(SharedModels.testData("mlp", 0, "output_0.pb"));
        assertEquals(DType.FLOAT32, in.tensor().dtype());
        assertEquals(2, in.tensor().rank());
        assertEquals(784, in.tensor().dim(1));
        assertArrayEquals(new int[] {in.tensor().dim(0), 10}, out.tensor().shape());
    }

    @Test
    void readsExternalDataWithOffsetAndLength() throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(8 + 12).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(0x1234_5678L).putFloat(1.5f).putFloat(-2f).putFloat(8f);
        Files.createDirectories(tmp.resolve("data"));
        Files.write(tmp.resolve("data/w.bin"), buf.array());
        TensorProto p = external("w", "data/w.bin", 8, 12).addDims(3).build();
        assertArrayEquals(new float[] {1.5f, -2f, 8f}, TensorProtos.toTensor(p, tmp, "m.onnx").toFloatArray());
        // Without a length, the data runs to the end of the file.
        TensorProto rest = TensorProto.newBuilder(p).clearExternalData()
                .addExternalData(entry("location", "data/w.bin")).addExternalData(entry("offset", "8")).build();
        assertArrayEquals(new float[] {1.5f, -2f, 8f}, TensorProtos.toTensor(rest, tmp, "m.onnx").toFloatArray());
    }

    @Test
    void refusesExternalDataOutsideTheModelFolder() throws IOException {
        Path model = Files.createDirectories(tmp.resolve("model"));
        Files.write(tmp.resolve("secret.bin"), new byte[12]);
        for (String location : new String[] {"../secret.bin", "sub/../../secret.bin", "..\\secret.bin",
                tmp.resolve("secret.bin").toString()}) {
            TensorProto p = external("w", location, 0, 12).addDims(3).build();
            ModelFormatException e = assertThrows(ModelFormatException.class,
                    () -> TensorProtos.toTensor(p, model, "model.onnx"));
            assertTrue(e.getMessage().contains("model.onnx: tensor 'w': external data location '" + location + "'")
                    && (e.getMessage().contains("escapes") || e.getMessage().contains("absolute")), e.getMessage());
        }
        Files.createSymbolicLink(model.resolve("link.bin"), tmp.resolve("secret.bin"));
        ModelFormatException e = assertThrows(ModelFormatException.class, () ->
                TensorProtos.toTensor(external("w", "link.bin", 0, 12).addDims(3).build(), model, "model.onnx"));
        assertTrue(e.getMessage().contains("symbolic link"), e.getMessage());
    }

    @Test
    void reportsMissingOrShortExternalData() throws IOException {
        ModelFormatException missing = assertThrows(ModelFormatException.class, () ->
                TensorProtos.toTensor(external("w", "nope.bin", 0, 12).addDims(3).build(), tmp, "m.onnx"));
        assertTrue(missing.getMessage().contains("external data file nope.bin does not exist"), missing.getMessage());
        Files.write(tmp.resolve("short.bin"), new byte[8]);
        ModelFormatException shortFile = assertThrows(ModelFormatException.class, () ->
                TensorProtos.toTensor(external("w", "short.bin", 0, 12).addDims(3).build(), tmp, "m.onnx"));
        assertTrue(shortFile.getMessage().contains("lies outside short.bin"), shortFile.getMessage());
    }

    @Test
    void reportsMalformedAndUnsupportedTensors() {
        KilnException wrongSize = assertThrows(ModelFormatException.class, () -> TensorProtos.toTensor(
                TensorProto.newBuilder().setName("b").setDataType(1).addDims(3)
                        .setRawData(ByteString.copyFrom(new byte[8])).build(), tmp, "m.onnx"));
        assertEquals("m.onnx: tensor 'b' of float32[3] needs 12 bytes of data but has 8", wrongSize.getMessage());
        KilnException fewFloats = assertThrows(ModelFormatException.class, () -> TensorProtos.toTensor(
                TensorProto.newBuilder().setName("b").setDataType(1).addDims(2).addFloatData(1).build(), tmp, "m.onnx"));
        assertTrue(fewFloats.getMessage().contains("has 1 elements in float_data but its dims need 2"));
        KilnException complex = assertThrows(UnsupportedModelException.class, () -> TensorProtos.toTensor(
                TensorProto.newBuilder().setName("c").setDataType(14).addDims(1).build(), tmp, "m.onnx"));
        assertTrue(complex.getMessage().startsWith("m.onnx: tensor 'c' has element type COMPLEX64 (code 14)"),
                complex.getMessage());
        KilnException segmented = assertThrows(UnsupportedModelException.class, () -> TensorProtos.toTensor(
                TensorProto.newBuilder().setName("s").setDataType(1).addDims(1).addFloatData(1)
                        .setSegment(TensorProto.Segment.newBuilder().setBegin(0).setEnd(1)).build(), tmp, "m.onnx"));
        assertTrue(segmented.getMessage().contains("segmented"));
        assertThrows(ModelFormatException.class, () -> TensorProtos.toTensor(
                TensorProto.newBuilder().setDataType(1).addDims(-1).build(), tmp, "m.onnx"));
    }

    @Test
    void reportsMissingAndCorruptTensorFiles() throws IOException {
        ModelFormatException missing = assertThrows(ModelFormatException.class,
                () -> TensorProtos.read(tmp.resolve("input_0.pb")));
        assertTrue(missing.getMessage().contains("input_0.pb does not exist"), missing.getMessage());
        Path bad = tmp.resolve("bad.pb");
        Files.write(bad, new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF});
        ModelFormatException corrupt = assertThrows(ModelFormatException.class, () -> TensorProtos.read(bad));
        assertTrue(corrupt.getMessage().contains("bad.pb is not a valid TensorProto"), corrupt.getMessage());
    }

    @Test
    void writeLeavesNoTemporaryFiles() throws IOException {
        Path f = tmp.resolve("out/t.pb");
        TensorProtos.write(f, "t", sample(DType.FLOAT32));
        TensorProtos.write(f, "t", sample(DType.INT64)); // overwrite
        try (Stream<Path> files = Files.list(f.getParent())) {
            assertEquals(Set.of("t.pb"), files.map(p -> p.getFileName().toString()).collect(
                    java.util.stream.Collectors.toSet()));
        }
        assertEquals(sample(DType.INT64), TensorProtos.read(f).tensor());
    }

    private static TensorProto.Builder external(String name, String location, long offset, long length) {
        return TensorProto.newBuilder().setName(name).setDataType(1)
                .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(entry("location", location))
                .addExternalData(entry("offset", Long.toString(offset)))
                .addExternalData(entry("length", Long.toString(length)));
    }

    private static StringStringEntryProto entry(String k, String v) {
        return StringStringEntryProto.newBuilder().setKey(k).setValue(v).build();
    }
}
