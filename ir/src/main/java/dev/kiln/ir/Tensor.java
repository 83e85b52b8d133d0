package dev.kiln.ir;

import java.util.Arrays;
import java.util.Objects;

/**
 * A concrete, immutable tensor: the currency of the reference evaluator, initializers and constant folding.
 *
 * <p>Storage is by {@link DType.Kind}: floating types in a {@code double[]} whose values are already rounded
 * to the dtype's precision, integer types in a {@code long[]} (wrapped to the dtype's range), BOOL in a
 * {@code boolean[]}, STRING in a {@code String[]}. Elements are in row-major order. The arrays returned by
 * {@link #doubles()} and friends are the tensor's own storage: callers must not modify them.
 *
 * <p>A value of ONNX sequence or optional type is also a {@code Tensor} here, of a {@link #kind()} other than
 * {@link TensorType.Kind#TENSOR}: it holds its tensors in {@link #elements()} (an optional none or one) and no data of
 * its own, so the evaluator, feeds and test data carry every ONNX value alike. Only ops declared
 * {@link OpProperty#CONTAINERS} ever see one.
 */
public final class Tensor {
    private final DType dtype;
    /** The container's type (its kind, dtype and element shape); null for a plain tensor. */
    private final TensorType containerType;
    /** A sequence's tensors, an optional's zero or one; empty for a plain tensor. */
    private final java.util.List<Tensor> elements;
    private final int[] shape;
    private final int size;
    private final double[] doubles;
    private final long[] longs;
    private final boolean[] bools;
    private final String[] strings;

    private Tensor(DType dtype, int[] shape, double[] d, long[] l, boolean[] b, String[] s) {
        this.containerType = null;
        this.elements = java.util.List.of();
        this.dtype = Objects.requireNonNull(dtype);
        this.shape = shape.clone();
        this.size = sizeOf(shape);
        this.doubles = d;
        this.longs = l;
        this.bools = b;
        this.strings = s;
        int len = d != null ? d.length : l != null ? l.length : b != null ? b.length : s.length;
        if (len != size) {
            throw new IllegalArgumentException(
                    "tensor data has " + len + " elements but shape " + Arrays.toString(shape) + " needs " + size);
        }
    }

    private Tensor(TensorType type, java.util.List<Tensor> elements) {
        this.dtype = type.dtype();
        this.containerType = type;
        this.elements = java.util.List.copyOf(elements);
        this.shape = new int[0];
        this.size = 0;
        this.doubles = null;
        this.longs = null;
        this.bools = null;
        this.strings = null;
        TensorType.Kind held = type.kind() == TensorType.Kind.OPTIONAL_SEQUENCE ? TensorType.Kind.SEQUENCE
                : TensorType.Kind.TENSOR;
        for (Tensor e : this.elements) {
            if (e.kind() != held || e.dtype != dtype) {
                throw new IllegalArgumentException("a " + type + " cannot hold " + e.type());
            }
        }
    }

    // ---- sequences and optionals ----

    /** A sequence of {@code dtype} tensors (each plain, of that dtype; shapes may differ). */
    public static Tensor sequence(DType dtype, java.util.List<Tensor> elements) {
        return new Tensor(sequenceType(dtype, elements), elements);
    }

    /** The optional holding {@code content} (a plain tensor or a sequence). */
    public static Tensor optionalOf(Tensor content) {
        if (content.isPlain()) {
            return new Tensor(TensorType.optionalOf(content.type()), java.util.List.of(content));
        }
        if (content.kind() != TensorType.Kind.SEQUENCE) {
            throw new IllegalArgumentException("an optional holds a tensor or a sequence, not " + content.type());
        }
        return new Tensor(TensorType.optionalOf(content.type()), java.util.List.of(content));
    }

    /** The empty optional of type {@code type} (an optional type). */
    public static Tensor emptyOptional(TensorType type) {
        if (!type.isOptional()) {
            throw new IllegalArgumentException("not an optional type: " + type);
        }
        return new Tensor(type, java.util.List.of());
    }

    /** The type of a sequence of these tensors: dims the elements share stay, others are unknown. */
    private static TensorType sequenceType(DType dtype, java.util.List<Tensor> elements) {
        if (elements.isEmpty()) {
            return TensorType.unrankedSequence(dtype);
        }
        int[] first = elements.get(0).shape;
        for (Tensor e : elements) {
            if (e.shape.length != first.length) {
                return TensorType.unrankedSequence(dtype);
            }
        }
        java.util.List<Dim> dims = new java.util.ArrayList<>();
        for (int d = 0; d < first.length; d++) {
            int axis = d;
            boolean same = elements.stream().allMatch(e -> e.shape[axis] == first[axis]);
            dims.add(same ? Dim.of(first[d]) : Dim.unknown());
        }
        return TensorType.sequenceOf(new TensorType(dtype, new Shape(dims)));
    }

    /** Tensor, sequence, or optional. */
    public TensorType.Kind kind() { return containerType == null ? TensorType.Kind.TENSOR : containerType.kind(); }

    /** True for a plain tensor (not a sequence or optional). */
    public boolean isPlain() { return containerType == null; }

    /** A sequence's tensors in order; an optional's content (none or one); empty for a plain tensor. */
    public java.util.List<Tensor> elements() { return elements; }

    /** Number of elements of a shape (1 for a scalar). */
    public static int sizeOf(int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dim in " + Arrays.toString(shape));
            }
            n *= d;
        }
        return Math.toIntExact(n);
    }

    // ---- factories: each takes ownership of nothing (arrays are copied) unless named wrap* ----

    /** A floating tensor of {@code dtype}; values are rounded to its precision. Takes ownership of {@code data}. */
    public static Tensor wrapDoubles(DType dtype, int[] shape, double[] data) {
        if (!dtype.isFloat()) {
            throw new IllegalArgumentException(dtype + " is not a floating type");
        }
        if (dtype != DType.FLOAT64) {
            for (int i = 0; i < data.length; i++) {
                data[i] = dtype.round(data[i]);
            }
        }
        return new Tensor(dtype, shape, data, null, null, null);
    }

    /** An integer tensor of {@code dtype}; values are wrapped to its range. Takes ownership of {@code data}. */
    public static Tensor wrapLongs(DType dtype, int[] shape, long[] data) {
        if (!dtype.isInteger()) {
            throw new IllegalArgumentException(dtype + " is not an integer type");
        }
        if (dtype != DType.INT64 && dtype != DType.UINT64) {
            for (int i = 0; i < data.length; i++) {
                data[i] = dtype.wrap(data[i]);
            }
        }
        return new Tensor(dtype, shape, null, data, null, null);
    }

    /** A BOOL tensor. Takes ownership of {@code data}. */
    public static Tensor wrapBools(int[] shape, boolean[] data) {
        return new Tensor(DType.BOOL, shape, null, null, data, null);
    }

    /** A STRING tensor. Takes ownership of {@code data}. */
    public static Tensor wrapStrings(int[] shape, String[] data) {
        return new Tensor(DType.STRING, shape, null, null, null, data);
    }

    public static Tensor ofFloats(int[] shape, float... data) {
        double[] d = new double[data.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = data[i];
        }
        return new Tensor(DType.FLOAT32, shape, d, null, null, null);
    }

    public static Tensor ofDoubles(DType dtype, int[] shape, double... data) {
        return wrapDoubles(dtype, shape, data.clone());
    }

    public static Tensor ofLongs(DType dtype, int[] shape, long... data) {
        return wrapLongs(dtype, shape, data.clone());
    }

    public static Tensor ofInt64s(long... data) {
        return wrapLongs(DType.INT64, new int[] {data.length}, data.clone());
    }

    public static Tensor scalarFloat(float v) {
        return ofFloats(new int[0], v);
    }

    public static Tensor scalarLong(DType dtype, long v) {
        return wrapLongs(dtype, new int[0], new long[] {v});
    }

    /** A tensor of the given dtype and shape filled with zeros (false, empty strings). */
    public static Tensor zeros(DType dtype, int[] shape) {
        int n = sizeOf(shape);
        return switch (dtype.kind()) {
            case FLOAT -> new Tensor(dtype, shape, new double[n], null, null, null);
            case INTEGER -> new Tensor(dtype, shape, null, new long[n], null, null);
            case BOOL -> new Tensor(dtype, shape, null, null, new boolean[n], null);
            case STRING -> {
                String[] s = new String[n];
                Arrays.fill(s, "");
                yield new Tensor(dtype, shape, null, null, null, s);
            }
        };
    }

    /**
     * A tensor of {@code dtype} whose element i is {@code values[i]} converted as ONNX Cast would
     * (rounded for floats, truncated toward zero and wrapped for integers, non-zero for BOOL).
     */
    public static Tensor fromDoubles(DType dtype, int[] shape, double[] values) {
        return switch (dtype.kind()) {
            case FLOAT -> wrapDoubles(dtype, shape, values.clone());
            case INTEGER -> {
                long[] l = new long[values.length];
                for (int i = 0; i < l.length; i++) {
                    l[i] = castToLong(dtype, values[i]);
                }
                yield wrapLongs(dtype, shape, l);
            }
            case BOOL -> {
                boolean[] b = new boolean[values.length];
                for (int i = 0; i < b.length; i++) {
                    b[i] = values[i] != 0;
                }
                yield wrapBools(shape, b);
            }
            case STRING -> throw new KilnException("cannot build a STRING tensor from numbers");
        };
    }

    private static long castToLong(DType dtype, double v) {
        if (Double.isNaN(v)) {
            return 0;
        }
        if (dtype == DType.UINT64 && v >= 0x1p63) {
            return (long) (v - 0x1p63) + Long.MIN_VALUE;
        }
        return (long) v;
    }

    // ---- accessors ----

    public DType dtype() { return dtype; }

    /** A copy of the concrete shape. */
    public int[] shape() { return shape.clone(); }

    public int rank() { return shape.length; }

    public int dim(int i) { return shape[i]; }

    public int size() { return size; }

    /** The tensor's type; a sequence's or optional's own type (its dims shared by all its tensors). */
    public TensorType type() { return containerType != null ? containerType : new TensorType(dtype, Shape.of(shape)); }

    /** Floating storage (read-only); throws if the dtype is not floating. */
    public double[] doubles() {
        if (doubles == null) {
            throw new KilnException("tensor of " + dtype + " has no floating storage");
        }
        return doubles;
    }

    /** Integer storage (read-only); throws if the dtype is not an integer type. */
    public long[] longs() {
        if (longs == null) {
            throw new KilnException("tensor of " + dtype + " has no integer storage");
        }
        return longs;
    }

    /** BOOL storage (read-only). */
    public boolean[] bools() {
        if (bools == null) {
            throw new KilnException("tensor of " + dtype + " has no bool storage");
        }
        return bools;
    }

    /** STRING storage (read-only). */
    public String[] strings() {
        if (strings == null) {
            throw new KilnException("tensor of " + dtype + " has no string storage");
        }
        return strings;
    }

    /** Element i as a double, whatever the numeric or bool dtype (unsigned 64-bit read as unsigned). */
    public double getDouble(int i) {
        if (doubles != null) {
            return doubles[i];
        }
        if (longs != null) {
            long v = longs[i];
            if (dtype == DType.UINT64 && v < 0) {
                return (double) (v >>> 1) * 2.0 + (v & 1);
            }
            return v;
        }
        if (bools != null) {
            return bools[i] ? 1 : 0;
        }
        throw new KilnException("STRING tensor has no numeric value");
    }

    /** Element i as a long (floats truncated toward zero). */
    public long getLong(int i) {
        if (longs != null) {
            return longs[i];
        }
        if (doubles != null) {
            return (long) doubles[i];
        }
        if (bools != null) {
            return bools[i] ? 1 : 0;
        }
        throw new KilnException("STRING tensor has no numeric value");
    }

    /** Element i as a bool (non-zero is true). */
    public boolean getBool(int i) {
        if (bools != null) {
            return bools[i];
        }
        return getDouble(i) != 0;
    }

    /** All elements as doubles (a new array). */
    public double[] toDoubleArray() {
        double[] out = new double[size];
        for (int i = 0; i < size; i++) {
            out[i] = getDouble(i);
        }
        return out;
    }

    /** All elements as floats (a new array). */
    public float[] toFloatArray() {
        float[] out = new float[size];
        for (int i = 0; i < size; i++) {
            out[i] = (float) getDouble(i);
        }
        return out;
    }

    /** All elements as longs (a new array). */
    public long[] toLongArray() {
        long[] out = new long[size];
        for (int i = 0; i < size; i++) {
            out[i] = getLong(i);
        }
        return out;
    }

    /** All elements as ints, failing on values outside int range (for shape-like tensors). */
    public int[] toIntArray() {
        int[] out = new int[size];
        for (int i = 0; i < size; i++) {
            out[i] = Math.toIntExact(getLong(i));
        }
        return out;
    }

    /** The same data with another shape of equal size. */
    public Tensor reshape(int[] newShape) {
        return new Tensor(dtype, newShape, doubles, longs, bools, strings);
    }

    /** This tensor converted to {@code target} as ONNX Cast does. */
    public Tensor castTo(DType target) {
        if (target == dtype) {
            return this;
        }
        if (target == DType.STRING) {
            String[] s = new String[size];
            for (int i = 0; i < size; i++) {
                s[i] = dtype.isFloat() ? formatFloat(getDouble(i)) : dtype == DType.BOOL
                        ? (bools[i] ? "1" : "0") : Long.toString(getLong(i));
            }
            return wrapStrings(shape, s);
        }
        if (dtype == DType.STRING) {
            double[] d = new double[size];
            for (int i = 0; i < size; i++) {
                d[i] = parseNumber(strings[i]);
            }
            return fromDoubles(target, shape, d);
        }
        if (target.isInteger() && dtype.isInteger()) {
            long[] l = longs.clone();
            return wrapLongs(target, shape, l);
        }
        return fromDoubles(target, shape, toDoubleArray());
    }

    private static String formatFloat(double v) {
        return Double.isNaN(v) ? "NaN" : Double.isInfinite(v) ? (v > 0 ? "INF" : "-INF") : Float.toString((float) v);
    }

    private static double parseNumber(String s) {
        String t = s.strip();
        return switch (t.toLowerCase(java.util.Locale.ROOT)) {
            case "nan" -> Double.NaN;
            case "inf", "+inf", "infinity", "+infinity" -> Double.POSITIVE_INFINITY;
            case "-inf", "-infinity" -> Double.NEGATIVE_INFINITY;
            default -> Double.parseDouble(t);
        };
    }

    /** True if any element is NaN or infinite (floating types only). */
    public boolean hasNonFinite() {
        if (doubles == null) {
            return false;
        }
        for (double v : doubles) {
            if (!Double.isFinite(v)) {
                return true;
            }
        }
        return false;
    }

    /** Same dtype, shape and elements (NaN equals NaN). */
    @Override
    public boolean equals(Object o) {
        return o instanceof Tensor t && dtype == t.dtype && kind() == t.kind() && elements.equals(t.elements)
                && Arrays.equals(shape, t.shape)
                && Arrays.equals(doubles, t.doubles) && Arrays.equals(longs, t.longs)
                && Arrays.equals(bools, t.bools) && Arrays.equals(strings, t.strings);
    }

    @Override
    public int hashCode() {
        return Objects.hash(dtype, kind(), elements, Arrays.hashCode(shape), Arrays.hashCode(doubles), Arrays.hashCode(longs),
                Arrays.hashCode(bools), Arrays.hashCode(strings));
    }

    /** {@code f32[2,3]} followed by up to 8 elements. */
    @Override
    public String toString() {
        if (!isPlain()) {
            return type() + " " + elements;
        }
        StringBuilder sb = new StringBuilder(type().toString()).append(" {");
        int n = Math.min(size, 8);
        for (int i = 0; i < n; i++) {
            if (i > 0) {
                sb.append(", ");
            }
            sb.append(strings != null ? '"' + strings[i] + '"' : dtype.isFloat()
                    ? Double.toString(doubles[i]) : bools != null ? Boolean.toString(bools[i]) : Long.toString(longs[i]));
        }
        if (size > n) {
            sb.append(", ...");
        }
        return sb.append('}').toString();
    }
}
