package dev.kiln.onnx;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.kiln.ir.DType;
import dev.kiln.ir.ModelFormatException;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.onnx.proto.Onnx.OptionalProto;
import dev.kiln.onnx.proto.Onnx.SequenceProto;
import dev.kiln.onnx.proto.Onnx.StringStringEntryProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * Converts between ONNX {@code TensorProto} and Kiln's {@link Tensor}: every {@link DType}, from
 * little-endian {@code raw_data}, the typed repeated fields, or external data files beside the model; and
 * reads/writes single-tensor {@code .pb} files such as ONNX test data ({@code input_0.pb}), and reads the
 * SequenceProto and OptionalProto files of test data of sequence and optional type.
 */
public final class TensorProtos {
    private TensorProtos() {}

    /** Reads a file holding one serialized TensorProto; external data is resolved against the file's folder. */
    public static NamedTensor read(Path pbFile) {
        byte[] bytes = FileIo.readAll(pbFile, "tensor file");
        TensorProto p;
        try {
            p = TensorProto.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new ModelFormatException("tensor file " + pbFile + " is not a valid TensorProto (truncated or corrupt: "
                    + e.getMessage() + ")", e);
        }
        Path dir = pbFile.toAbsolutePath().getParent();
        return new NamedTensor(p.getName(), toTensor(p, dir, pbFile.toString()));
    }

    /**
     * Reads a test-data file holding a value of type {@code type}: a TensorProto for a tensor, a SequenceProto for a
     * sequence, an OptionalProto for an optional (the file itself does not say which, so the model's type decides).
     * The empty optional takes {@code type}.
     */
    public static NamedTensor read(Path pbFile, TensorType type) {
        if (type.isTensor()) {
            return read(pbFile);
        }
        byte[] bytes = FileIo.readAll(pbFile, "value file");
        Path dir = pbFile.toAbsolutePath().getParent();
        String what = pbFile.toString();
        try {
            if (type.isSequence()) {
                SequenceProto p = SequenceProto.parseFrom(bytes);
                return new NamedTensor(p.getName(), toSequence(p, type.dtype(), dir, what));
            }
            OptionalProto p = OptionalProto.parseFrom(bytes);
            if (type.kind() == TensorType.Kind.OPTIONAL_SEQUENCE && p.getElemType() == 1) { // ONNX: TENSOR
                // ONNX's test data writes a present optional sequence as the bare SequenceProto (test_loop16_seq_none);
                // read as an OptionalProto its repeated tensors look like one tensor value.
                SequenceProto q = SequenceProto.parseFrom(bytes);
                return new NamedTensor(q.getName(), Tensor.optionalOf(toSequence(q, type.dtype(), dir, what)));
            }
            return new NamedTensor(p.getName(), toOptional(p, type, dir, what));
        } catch (InvalidProtocolBufferException e) {
            throw new ModelFormatException(what + " is not a valid " + (type.isSequence() ? "SequenceProto"
                    : "OptionalProto") + " (truncated or corrupt: " + e.getMessage() + ")", e);
        }
    }

    /** The sequence of tensors a SequenceProto holds; an empty one takes {@code dtype}. */
    static Tensor toSequence(SequenceProto p, DType dtype, Path baseDir, String what) {
        if (p.getElemType() != SequenceProto.DataType.TENSOR_VALUE && p.getTensorValuesCount() == 0
                && (p.getSequenceValuesCount() > 0 || p.getMapValuesCount() > 0 || p.getOptionalValuesCount() > 0
                || p.getSparseTensorValuesCount() > 0)) {
            throw new UnsupportedModelException(what + ": sequence '" + p.getName() + "' holds values of kind "
                    + p.getElemType() + "; Kiln supports sequences of tensors");
        }
        List<Tensor> elements = new java.util.ArrayList<>();
        for (TensorProto t : p.getTensorValuesList()) {
            elements.add(toTensor(t, baseDir, what));
        }
        DType elementType = elements.isEmpty() ? dtype : elements.get(0).dtype();
        if (elementType != dtype) {
            throw new ModelFormatException(what + ": sequence '" + p.getName() + "' holds " + elementType.shortName()
                    + " tensors but the model declares " + dtype.shortName());
        }
        try {
            return Tensor.sequence(dtype, elements);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(what + ": sequence '" + p.getName() + "': " + e.getMessage());
        }
    }

    /** The value an OptionalProto holds, or the empty optional of {@code type}. */
    static Tensor toOptional(OptionalProto p, TensorType type, Path baseDir, String what) {
        if (p.hasTensorValue()) {
            return Tensor.optionalOf(toTensor(p.getTensorValue(), baseDir, what));
        }
        if (p.hasSequenceValue()) {
            return Tensor.optionalOf(toSequence(p.getSequenceValue(), type.dtype(), baseDir, what));
        }
        if (p.hasSparseTensorValue() || p.hasMapValue() || p.hasOptionalValue()) {
            throw new UnsupportedModelException(what + ": optional '" + p.getName() + "' holds a value of kind "
                    + p.getElemType() + "; Kiln supports optionals of tensors and sequences of tensors");
        }
        return Tensor.emptyOptional(type);
    }

    /**
     * The serialized file form of any value: a TensorProto for a tensor, a SequenceProto for a sequence, an
     * OptionalProto for an optional (as ONNX's test data holds them).
     */
    public static byte[] valueBytes(String name, Tensor value) {
        return switch (value.kind()) {
            case TENSOR -> toProto(name, value).toByteArray();
            case SEQUENCE -> toSequenceProto(name, value).toByteArray();
            case OPTIONAL_TENSOR, OPTIONAL_SEQUENCE -> {
                OptionalProto.Builder b = OptionalProto.newBuilder().setName(name);
                if (!value.elements().isEmpty()) {
                    Tensor content = value.elements().get(0);
                    if (content.isPlain()) {
                        b.setElemType(SequenceProto.DataType.TENSOR_VALUE).setTensorValue(toProto("", content));
                    } else {
                        b.setElemType(SequenceProto.DataType.SEQUENCE_VALUE).setSequenceValue(toSequenceProto("", content));
                    }
                }
                yield b.build().toByteArray();
            }
        };
    }

    private static SequenceProto toSequenceProto(String name, Tensor sequence) {
        SequenceProto.Builder b = SequenceProto.newBuilder().setName(name)
                .setElemType(SequenceProto.DataType.TENSOR_VALUE);
        for (Tensor e : sequence.elements()) {
            b.addTensorValues(toProto("", e));
        }
        return b.build();
    }

    /** Writes {@code tensor} named {@code name} as one serialized TensorProto, whole or not at all. */
    public static void write(Path pbFile, String name, Tensor tensor) {
        FileIo.writeAtomically(pbFile, toProto(name, tensor).toByteArray());
    }

    /**
     * The tensor a TensorProto holds.
     *
     * @param baseDir the folder external data locations are relative to (the model's folder)
     * @param source how messages name the file the proto came from
     */
    public static Tensor toTensor(TensorProto p, Path baseDir, String source) {
        String what = source + ": tensor '" + p.getName() + "'";
        DType dtype = dtype(p.getDataType(), what);
        int[] shape = shape(p.getDimsList(), what);
        if (p.hasSegment()) {
            throw new UnsupportedModelException(what + " is segmented (TensorProto.segment); Kiln does not support "
                    + "segmented tensors");
        }
        int n;
        try {
            n = Tensor.sizeOf(shape);
        } catch (ArithmeticException e) {
            throw new ModelFormatException(what + " has too many elements (dims " + p.getDimsList() + ")");
        }
        if (p.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
            if (dtype == DType.STRING) {
                throw new ModelFormatException(what + ": STRING tensors cannot use external data");
            }
            return fromRaw(dtype, shape, n, readExternal(p, baseDir, dtype.packedBytes(n), what), what);
        }
        if (p.hasRawData()) {
            if (dtype == DType.STRING) {
                throw new ModelFormatException(what + ": STRING tensors cannot use raw_data");
            }
            return fromRaw(dtype, shape, n, p.getRawData().asReadOnlyByteBuffer(), what);
        }
        return fromTypedFields(p, dtype, shape, n, what);
    }

    /** A TensorProto holding {@code t}: numbers and bools as little-endian raw_data, strings as string_data. */
    public static TensorProto toProto(String name, Tensor t) {
        TensorProto.Builder b = TensorProto.newBuilder().setName(name).setDataType(t.dtype().onnxCode());
        for (int d : t.shape()) {
            b.addDims(d);
        }
        if (t.dtype() == DType.STRING) {
            for (String s : t.strings()) {
                b.addStringData(ByteString.copyFromUtf8(s));
            }
            return b.build();
        }
        return b.setRawData(ByteString.copyFrom(rawBytes(t))).build();
    }

    /** The dense little-endian encoding of a numeric or bool tensor (as ONNX raw_data). */
    static byte[] rawBytes(Tensor t) {
        DType dtype = t.dtype();
        if (PackedElements.handles(dtype)) {
            return PackedElements.pack(t);
        }
        int n = t.size();
        ByteBuffer buf = ByteBuffer.allocate(n * dtype.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        switch (dtype) {
            case FLOAT32 -> {
                for (double v : t.doubles()) {
                    buf.putFloat((float) v);
                }
            }
            case FLOAT64 -> {
                for (double v : t.doubles()) {
                    buf.putDouble(v);
                }
            }
            case FLOAT16 -> {
                for (double v : t.doubles()) {
                    buf.putShort(Float.floatToFloat16((float) v));
                }
            }
            case BFLOAT16 -> {
                // Values are already rounded to bfloat16, so dropping the low 16 bits is exact.
                for (double v : t.doubles()) {
                    buf.putShort((short) (Float.floatToRawIntBits((float) v) >>> 16));
                }
            }
            case INT8, UINT8 -> {
                for (long v : t.longs()) {
                    buf.put((byte) v);
                }
            }
            case INT16, UINT16 -> {
                for (long v : t.longs()) {
                    buf.putShort((short) v);
                }
            }
            case INT32, UINT32 -> {
                for (long v : t.longs()) {
                    buf.putInt((int) v);
                }
            }
            case INT64, UINT64 -> {
                for (long v : t.longs()) {
                    buf.putLong(v);
                }
            }
            case BOOL -> {
                for (boolean v : t.bools()) {
                    buf.put((byte) (v ? 1 : 0));
                }
            }
            case STRING -> throw new IllegalArgumentException("STRING tensors have no raw encoding");
            default -> throw new IllegalStateException("unhandled dtype " + dtype);
        }
        return buf.array();
    }

    /** Kiln's dtype for an ONNX element type code, or an error naming the type. */
    static DType dtype(int code, String what) {
        for (DType t : DType.values()) {
            if (t.onnxCode() == code) {
                return t;
            }
        }
        if (code == 0) {
            throw new ModelFormatException(what + " has no element type (data_type UNDEFINED)");
        }
        throw new UnsupportedModelException(what + " has element type " + dtypeName(code) + " (code " + code
                + "), which Kiln does not support (supported: "
                + java.util.Arrays.stream(DType.values()).map(DType::shortName).collect(java.util.stream.Collectors.joining(", "))
                + ")");
    }

    /** ONNX's name of an element type code ({@code COMPLEX64}), or {@code unknown}. */
    static String dtypeName(int code) {
        TensorProto.DataType t = TensorProto.DataType.forNumber(code);
        return t == null ? "unknown" : t.name();
    }

    private static int[] shape(List<Long> dims, String what) {
        int[] shape = new int[dims.size()];
        for (int i = 0; i < shape.length; i++) {
            long d = dims.get(i);
            if (d < 0 || d > Integer.MAX_VALUE) {
                throw new ModelFormatException(what + " has invalid dims " + dims);
            }
            shape[i] = (int) d;
        }
        return shape;
    }

    private static Tensor fromRaw(DType dtype, int[] shape, int n, ByteBuffer raw, String what) {
        long expected = dtype.packedBytes(n);
        if (raw.remaining() != expected) {
            throw new ModelFormatException(what + " of " + dtype + java.util.Arrays.toString(shape) + " needs "
                    + expected + " bytes of data but has " + raw.remaining());
        }
        ByteBuffer buf = raw.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (PackedElements.handles(dtype)) {
            byte[] bytes = new byte[buf.remaining()];
            buf.get(bytes);
            return PackedElements.unpack(dtype, shape, n, bytes);
        }
        return switch (dtype.kind()) {
            case FLOAT -> {
                double[] d = new double[n];
                for (int i = 0; i < n; i++) {
                    d[i] = switch (dtype) {
                        case FLOAT32 -> buf.getFloat();
                        case FLOAT64 -> buf.getDouble();
                        case FLOAT16 -> Float.float16ToFloat(buf.getShort());
                        default -> bfloat16ToFloat(buf.getShort());
                    };
                }
                yield Tensor.wrapDoubles(dtype, shape, d);
            }
            case INTEGER -> {
                long[] l = new long[n];
                for (int i = 0; i < n; i++) {
                    l[i] = switch (dtype) {
                        case INT8 -> buf.get();
                        case UINT8 -> buf.get() & 0xFFL;
                        case INT16 -> buf.getShort();
                        case UINT16 -> buf.getShort() & 0xFFFFL;
                        case INT32 -> buf.getInt();
                        case UINT32 -> buf.getInt() & 0xFFFF_FFFFL;
                        default -> buf.getLong();
                    };
                }
                yield Tensor.wrapLongs(dtype, shape, l);
            }
            case BOOL -> {
                boolean[] b = new boolean[n];
                for (int i = 0; i < n; i++) {
                    b[i] = buf.get() != 0;
                }
                yield Tensor.wrapBools(shape, b);
            }
            case STRING -> throw new ModelFormatException(what + ": STRING tensors cannot use raw data");
        };
    }

    private static float bfloat16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** Decodes the typed repeated field ONNX assigns to each element type. */
    private static Tensor fromTypedFields(TensorProto p, DType dtype, int[] shape, int n, String what) {
        if (PackedElements.handles(dtype)) {
            // int32_data holds one byte per entry: an element of float8, the packed elements of the sub-byte types.
            int bytes = Math.toIntExact(dtype.packedBytes(n));
            if (p.getInt32DataCount() != bytes) {
                throw new ModelFormatException(what + " has " + p.getInt32DataCount() + " entries in int32_data but its "
                        + n + " " + dtype + " elements need " + bytes + (dtype.isSubByte()
                        ? " (one byte per entry, " + 8 / dtype.bitSize() + " elements to a byte)" : ""));
            }
            byte[] b = new byte[bytes];
            for (int i = 0; i < bytes; i++) {
                b[i] = (byte) p.getInt32Data(i);
            }
            return PackedElements.unpack(dtype, shape, n, b);
        }
        switch (dtype) {
            case FLOAT32 -> {
                check(p.getFloatDataCount(), n, "float_data", what);
                double[] d = new double[n];
                for (int i = 0; i < n; i++) {
                    d[i] = p.getFloatData(i);
                }
                return Tensor.wrapDoubles(dtype, shape, d);
            }
            case FLOAT64 -> {
                check(p.getDoubleDataCount(), n, "double_data", what);
                double[] d = new double[n];
                for (int i = 0; i < n; i++) {
                    d[i] = p.getDoubleData(i);
                }
                return Tensor.wrapDoubles(dtype, shape, d);
            }
            case FLOAT16, BFLOAT16 -> {
                // int32_data holds the 16-bit patterns, one per element.
                check(p.getInt32DataCount(), n, "int32_data", what);
                double[] d = new double[n];
                for (int i = 0; i < n; i++) {
                    short bits = (short) p.getInt32Data(i);
                    d[i] = dtype == DType.FLOAT16 ? Float.float16ToFloat(bits) : bfloat16ToFloat(bits);
                }
                return Tensor.wrapDoubles(dtype, shape, d);
            }
            case INT8, UINT8, INT16, UINT16, INT32 -> {
                check(p.getInt32DataCount(), n, "int32_data", what);
                long[] l = new long[n];
                for (int i = 0; i < n; i++) {
                    l[i] = p.getInt32Data(i);
                }
                return Tensor.wrapLongs(dtype, shape, l);
            }
            case BOOL -> {
                check(p.getInt32DataCount(), n, "int32_data", what);
                boolean[] b = new boolean[n];
                for (int i = 0; i < n; i++) {
                    b[i] = p.getInt32Data(i) != 0;
                }
                return Tensor.wrapBools(shape, b);
            }
            case INT64 -> {
                check(p.getInt64DataCount(), n, "int64_data", what);
                long[] l = new long[n];
                for (int i = 0; i < n; i++) {
                    l[i] = p.getInt64Data(i);
                }
                return Tensor.wrapLongs(dtype, shape, l);
            }
            case UINT32, UINT64 -> {
                check(p.getUint64DataCount(), n, "uint64_data", what);
                long[] l = new long[n];
                for (int i = 0; i < n; i++) {
                    l[i] = p.getUint64Data(i);
                }
                return Tensor.wrapLongs(dtype, shape, l);
            }
            case STRING -> {
                check(p.getStringDataCount(), n, "string_data", what);
                String[] s = new String[n];
                for (int i = 0; i < n; i++) {
                    s[i] = p.getStringData(i).toStringUtf8();
                }
                return Tensor.wrapStrings(shape, s);
            }
            default -> { }
        }
        throw new IllegalStateException("unhandled dtype " + dtype);
    }

    private static void check(int have, int n, String field, String what) {
        if (have != n) {
            throw new ModelFormatException(what + " has " + have + " elements in " + field + " but its dims need " + n);
        }
    }

    /** Reads the bytes of an externally stored tensor, refusing locations outside {@code baseDir}. */
    private static ByteBuffer readExternal(TensorProto p, Path baseDir, long expected, String what) {
        String location = null;
        long offset = 0;
        long length = -1;
        for (StringStringEntryProto e : p.getExternalDataList()) {
            switch (e.getKey()) {
                case "location" -> location = e.getValue();
                case "offset" -> offset = parseLong(e.getValue(), "offset", what);
                case "length" -> length = parseLong(e.getValue(), "length", what);
                default -> { } // "checksum" and future keys do not change the data
            }
        }
        if (location == null || location.isEmpty()) {
            throw new ModelFormatException(what + " is stored externally but names no location");
        }
        Path file = resolveExternal(baseDir, location, what);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            long len = length >= 0 ? length : size - offset;
            if (offset < 0 || len < 0 || offset + len > size) {
                throw new ModelFormatException(what + ": external data range offset " + offset + " length " + len
                        + " lies outside " + location + " (" + size + " bytes)");
            }
            if (len != expected) {
                throw new ModelFormatException(what + " needs " + expected + " bytes but its external data in "
                        + location + " has " + len);
            }
            ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(len));
            while (buf.hasRemaining()) {
                if (ch.read(buf, offset + buf.position()) < 0) {
                    throw new ModelFormatException(what + ": external data file " + location + " ended early");
                }
            }
            return buf.flip();
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(what + ": external data file " + location + " does not exist (looked in "
                    + baseDir + ")", e);
        } catch (IOException e) {
            throw new ModelFormatException(what + ": cannot read external data file " + location + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * The file an external-data location names, which must lie inside the model's folder: absolute paths,
     * {@code ..} components and symbolic links leading out are refused so a model cannot read arbitrary files.
     */
    static Path resolveExternal(Path baseDir, String location, String what) {
        String refusal = what + ": external data location '" + location + "' ";
        for (String part : location.split("[/\\\\]")) {
            if (part.equals("..")) {
                throw new ModelFormatException(refusal + "escapes the model folder ('..' is not allowed)");
            }
        }
        if (location.startsWith("/") || location.startsWith("\\") || location.matches("^[A-Za-z]:.*")) {
            throw new ModelFormatException(refusal + "is absolute; it must be relative to the model folder");
        }
        Path rel;
        try {
            rel = Path.of(location);
        } catch (InvalidPathException e) {
            throw new ModelFormatException(refusal + "is not a valid path", e);
        }
        if (rel.isAbsolute()) {
            throw new ModelFormatException(refusal + "is absolute; it must be relative to the model folder");
        }
        Path base = baseDir.toAbsolutePath().normalize();
        Path file = base.resolve(rel).normalize();
        if (!file.startsWith(base)) {
            throw new ModelFormatException(refusal + "escapes the model folder " + base);
        }
        if (Files.exists(file)) {
            try {
                if (!file.toRealPath().startsWith(base.toRealPath())) {
                    throw new ModelFormatException(refusal + "leads out of the model folder through a symbolic link");
                }
            } catch (IOException e) {
                throw new ModelFormatException(refusal + "cannot be resolved: " + e.getMessage(), e);
            }
        }
        return file;
    }

    private static long parseLong(String s, String key, String what) {
        try {
            return Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
            throw new ModelFormatException(what + ": external data " + key + " '" + s + "' is not a number", e);
        }
    }
}
