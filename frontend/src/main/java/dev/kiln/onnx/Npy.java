package dev.kiln.onnx;

import dev.kiln.ir.DType;
import dev.kiln.ir.KilnException;
import dev.kiln.ir.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads and writes NumPy {@code .npy} files (format versions 1.0, 2.0 and 3.0) as {@link Tensor}s.
 *
 * <p>Supported element types: f2, f4, f8, i1..i8, u1..u8 and b1 (bool), little or big endian on read; only C
 * (row-major) order, since a Fortran-ordered file would need a transpose the caller did not ask for. Files are
 * written little endian, C order, in the oldest format version whose header length field fits.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");
    /** Header plus preamble is padded to a multiple of this, as NumPy does, so data is aligned for mmap. */
    private static final int ALIGNMENT = 64;

    private Npy() {}

    /** Reads the tensor stored in {@code file}; errors name the file. */
    public static Tensor read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new KilnException("cannot read .npy file '" + file + "': " + describe(e), e);
        }
        return parse(bytes, file.toString());
    }

    /** Reads a whole .npy stream; {@code source} names it in error messages. */
    public static Tensor read(InputStream in, String source) throws IOException {
        return parse(in.readAllBytes(), source);
    }

    /** Writes {@code tensor} to {@code file} (replacing it). */
    public static void write(Path file, Tensor tensor) {
        byte[] bytes = toBytes(tensor);
        try {
            Files.write(file, bytes);
        } catch (IOException e) {
            throw new KilnException("cannot write .npy file '" + file + "': " + describe(e), e);
        }
    }

    /** Writes {@code tensor} as a complete .npy stream. */
    public static void write(OutputStream out, Tensor tensor) throws IOException {
        out.write(toBytes(tensor));
    }

    /** The .npy encoding of {@code tensor}. */
    public static byte[] toBytes(Tensor tensor) {
        String descr = descrOf(tensor.dtype());
        StringBuilder shape = new StringBuilder("(");
        for (int i = 0; i < tensor.rank(); i++) {
            shape.append(tensor.dim(i)).append(tensor.rank() == 1 ? "," : i + 1 < tensor.rank() ? ", " : "");
        }
        shape.append(')');
        String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
        int major = 1;
        int preamble = MAGIC.length + 2 + 2;
        int headerLength = paddedLength(preamble, dict.length());
        if (headerLength > 0xFFFF) {
            major = 2;
            preamble = MAGIC.length + 2 + 4;
            headerLength = paddedLength(preamble, dict.length());
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(preamble + headerLength
                + tensor.size() * tensor.dtype().byteSize());
        out.writeBytes(MAGIC);
        out.write(major);
        out.write(0);
        ByteBuffer len = ByteBuffer.allocate(major == 1 ? 2 : 4).order(ByteOrder.LITTLE_ENDIAN);
        if (major == 1) {
            len.putShort((short) headerLength);
        } else {
            len.putInt(headerLength);
        }
        out.writeBytes(len.array());
        StringBuilder header = new StringBuilder(dict);
        while (header.length() < headerLength - 1) {
            header.append(' ');
        }
        header.append('\n');
        out.writeBytes(header.toString().getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(data(tensor));
        return out.toByteArray();
    }

    private static int paddedLength(int preamble, int dictLength) {
        int total = preamble + dictLength + 1;
        int padded = (total + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
        return padded - preamble;
    }

    private static String descrOf(DType dtype) {
        return switch (dtype) {
            case FLOAT32 -> "<f4";
            case FLOAT64 -> "<f8";
            case FLOAT16 -> "<f2";
            case INT8 -> "|i1";
            case INT16 -> "<i2";
            case INT32 -> "<i4";
            case INT64 -> "<i8";
            case UINT8 -> "|u1";
            case UINT16 -> "<u2";
            case UINT32 -> "<u4";
            case UINT64 -> "<u8";
            case BOOL -> "|b1";
            // NumPy itself has no bfloat16, float8, float4 or sub-byte integers (ml_dtypes adds them, as .npy files
            // NumPy alone cannot read back).
            default -> throw new KilnException("cannot write a " + dtype + " tensor as .npy: NumPy has no such dtype");
        };
    }

    private static byte[] data(Tensor t) {
        DType dtype = t.dtype();
        ByteBuffer buf = ByteBuffer.allocate(t.size() * dtype.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < t.size(); i++) {
            switch (dtype) {
                case FLOAT32 -> buf.putFloat((float) t.getDouble(i));
                case FLOAT64 -> buf.putDouble(t.getDouble(i));
                case FLOAT16 -> buf.putShort(Float.floatToFloat16((float) t.getDouble(i)));
                case INT8, UINT8 -> buf.put((byte) t.getLong(i));
                case INT16, UINT16 -> buf.putShort((short) t.getLong(i));
                case INT32, UINT32 -> buf.putInt((int) t.getLong(i));
                case INT64, UINT64 -> buf.putLong(t.getLong(i));
                case BOOL -> buf.put((byte) (t.getBool(i) ? 1 : 0));
                default -> throw new IllegalStateException("unreachable: " + dtype);
            }
        }
        return buf.array();
    }

    private static Tensor parse(byte[] bytes, String source) {
        if (bytes.length < MAGIC.length + 4 || !startsWithMagic(bytes)) {
            throw new KilnException("'" + source + "' is not a .npy file (no \\x93NUMPY magic)");
        }
        int major = bytes[6] & 0xFF;
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int headerStart;
        long headerLength;
        switch (major) {
            case 1 -> {
                headerLength = buf.getShort(8) & 0xFFFF;
                headerStart = 10;
            }
            case 2, 3 -> {
                if (bytes.length < 12) {
                    throw truncated(source);
                }
                headerLength = buf.getInt(8) & 0xFFFF_FFFFL;
                headerStart = 12;
            }
            default -> throw new KilnException("'" + source + "' has .npy format version " + major + "."
                    + (bytes[7] & 0xFF) + "; Kiln reads versions 1.0, 2.0 and 3.0");
        }
        if (headerStart + headerLength > bytes.length) {
            throw truncated(source);
        }
        String header = new String(bytes, headerStart, (int) headerLength,
                major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        String descr = find(DESCR, header, "descr", source);
        if (find(FORTRAN, header, "fortran_order", source).equals("True")) {
            throw new KilnException("'" + source + "' is stored in Fortran (column-major) order; Kiln reads only "
                    + "C order (save it with numpy.ascontiguousarray)");
        }
        int[] shape = parseShape(find(SHAPE, header, "shape", source), source);
        ElementType type = ElementType.parse(descr, source);
        long count = 1;
        for (int d : shape) {
            count *= d;
        }
        int dataStart = headerStart + (int) headerLength;
        long needed = count * type.size;
        if (bytes.length - dataStart < needed) {
            throw new KilnException("'" + source + "' is truncated: shape " + java.util.Arrays.toString(shape)
                    + " of " + descr + " needs " + needed + " data bytes but the file has " + (bytes.length - dataStart));
        }
        ByteBuffer data = ByteBuffer.wrap(bytes, dataStart, (int) needed).slice().order(type.order);
        return type.decode(data, shape, (int) count);
    }

    private static boolean startsWithMagic(byte[] bytes) {
        for (int i = 0; i < MAGIC.length; i++) {
            if (bytes[i] != MAGIC[i]) {
                return false;
            }
        }
        return true;
    }

    private static KilnException truncated(String source) {
        return new KilnException("'" + source + "' is truncated inside its .npy header");
    }

    private static String find(Pattern p, String header, String key, String source) {
        Matcher m = p.matcher(header);
        if (!m.find()) {
            throw new KilnException("'" + source + "' has a malformed .npy header (no '" + key + "'): " + header.strip());
        }
        return m.group(1);
    }

    private static int[] parseShape(String text, String source) {
        List<Integer> dims = new ArrayList<>();
        for (String tok : text.split(",")) {
            String s = tok.strip();
            if (s.endsWith("L")) {
                s = s.substring(0, s.length() - 1); // Python 2 long literals
            }
            if (s.isEmpty()) {
                continue;
            }
            try {
                dims.add(Integer.parseInt(s));
            } catch (NumberFormatException e) {
                throw new KilnException("'" + source + "' has a malformed .npy shape (" + text + ")");
            }
        }
        return dims.stream().mapToInt(Integer::intValue).toArray();
    }

    /** A parsed {@code descr}: Kiln dtype, byte order and element size. */
    private record ElementType(DType dtype, ByteOrder order, int size) {
        static ElementType parse(String descr, String source) {
            if (descr.length() < 2) {
                throw unsupported(descr, source);
            }
            char orderChar = descr.charAt(0);
            String rest = descr;
            ByteOrder order = ByteOrder.LITTLE_ENDIAN;
            if (orderChar == '<' || orderChar == '>' || orderChar == '|' || orderChar == '=') {
                rest = descr.substring(1);
                if (orderChar == '>') {
                    order = ByteOrder.BIG_ENDIAN;
                } else if (orderChar == '=') {
                    order = ByteOrder.nativeOrder();
                }
            }
            DType dtype = switch (rest) {
                case "f2" -> DType.FLOAT16;
                case "f4" -> DType.FLOAT32;
                case "f8" -> DType.FLOAT64;
                case "i1" -> DType.INT8;
                case "i2" -> DType.INT16;
                case "i4" -> DType.INT32;
                case "i8" -> DType.INT64;
                case "u1" -> DType.UINT8;
                case "u2" -> DType.UINT16;
                case "u4" -> DType.UINT32;
                case "u8" -> DType.UINT64;
                case "b1", "?" -> DType.BOOL;
                default -> throw unsupported(descr, source);
            };
            return new ElementType(dtype, order, dtype.byteSize());
        }

        private static KilnException unsupported(String descr, String source) {
            return new KilnException("'" + source + "' has .npy dtype '" + descr + "'; Kiln reads float16/32/64, "
                    + "int8..int64, uint8..uint64 and bool");
        }

        Tensor decode(ByteBuffer b, int[] shape, int n) {
            switch (dtype.kind()) {
                case FLOAT -> {
                    double[] d = new double[n];
                    for (int i = 0; i < n; i++) {
                        d[i] = switch (size) {
                            case 2 -> Float.float16ToFloat(b.getShort());
                            case 4 -> b.getFloat();
                            default -> b.getDouble();
                        };
                    }
                    return Tensor.wrapDoubles(dtype, shape, d);
                }
                case INTEGER -> {
                    long[] l = new long[n];
                    boolean unsigned = dtype.isUnsigned();
                    for (int i = 0; i < n; i++) {
                        l[i] = switch (size) {
                            case 1 -> unsigned ? b.get() & 0xFFL : b.get();
                            case 2 -> unsigned ? b.getShort() & 0xFFFFL : b.getShort();
                            case 4 -> unsigned ? b.getInt() & 0xFFFF_FFFFL : b.getInt();
                            default -> b.getLong();
                        };
                    }
                    return Tensor.wrapLongs(dtype, shape, l);
                }
                case BOOL -> {
                    boolean[] v = new boolean[n];
                    for (int i = 0; i < n; i++) {
                        v[i] = b.get() != 0;
                    }
                    return Tensor.wrapBools(shape, v);
                }
                default -> throw new IllegalStateException("unreachable: " + dtype);
            }
        }
    }

    private static String describe(IOException e) {
        return e instanceof java.nio.file.NoSuchFileException ? "no such file"
                : e instanceof java.nio.file.AccessDeniedException ? "access denied"
                : e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
    }
}
