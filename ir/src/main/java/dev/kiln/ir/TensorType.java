package dev.kiln.ir;

import java.util.Objects;

/**
 * The static type of a value. Most values are tensors: an element type and a shape. ONNX also has sequences of
 * tensors and optionals (of a tensor or of a sequence); their type here is the same record with a {@link Kind} other
 * than {@link Kind#TENSOR}, whose dtype and shape describe the tensors inside: every element of a sequence has that
 * dtype and a shape that matches {@code shape} (an unknown dim stands for one that differs between elements). The
 * element rank of a sequence or optional may be unknown ({@link #ranked()} false, e.g. an ONNX input declared without
 * a shape, or {@code SequenceEmpty}); a tensor's rank is always known.
 *
 * @param dtype element type
 * @param shape dims, possibly symbolic; of the contained tensors for a sequence or optional ({@link Shape#SCALAR}
 *     when unranked)
 * @param kind tensor, sequence, or optional
 * @param ranked false only for a sequence or optional whose tensors' rank is unknown
 */
public record TensorType(DType dtype, Shape shape, Kind kind, boolean ranked) {
    /** What kind of value a type describes. */
    public enum Kind {
        TENSOR,
        /** An ordered list of tensors (ONNX {@code seq(tensor(T))}); may be empty. */
        SEQUENCE,
        /** A tensor or nothing (ONNX {@code optional(tensor(T))}). */
        OPTIONAL_TENSOR,
        /** A sequence or nothing (ONNX {@code optional(seq(tensor(T)))}). */
        OPTIONAL_SEQUENCE
    }

    public TensorType {
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(kind, "kind");
        if (!ranked && (kind == Kind.TENSOR || shape.rank() != 0)) {
            throw new IllegalArgumentException("only a sequence or optional may leave its tensors' rank unknown");
        }
    }

    /** A tensor type. */
    public TensorType(DType dtype, Shape shape) {
        this(dtype, shape, Kind.TENSOR, true);
    }

    public static TensorType of(DType dtype, long... dims) {
        return new TensorType(dtype, Shape.of(dims));
    }

    /** A sequence of tensors of type {@code element}. */
    public static TensorType sequenceOf(TensorType element) {
        requireTensor(element, "a sequence element");
        return new TensorType(element.dtype, element.shape, Kind.SEQUENCE, true);
    }

    /** A sequence of {@code dtype} tensors whose rank is unknown. */
    public static TensorType unrankedSequence(DType dtype) {
        return new TensorType(dtype, Shape.SCALAR, Kind.SEQUENCE, false);
    }

    /** An optional of {@code content}, a tensor or a sequence type. */
    public static TensorType optionalOf(TensorType content) {
        return switch (content.kind) {
            case TENSOR -> new TensorType(content.dtype, content.shape, Kind.OPTIONAL_TENSOR, true);
            case SEQUENCE -> new TensorType(content.dtype, content.shape, Kind.OPTIONAL_SEQUENCE, content.ranked);
            default -> throw new IllegalArgumentException("an optional holds a tensor or a sequence, not " + content);
        };
    }

    private static void requireTensor(TensorType t, String what) {
        if (!t.isTensor()) {
            throw new IllegalArgumentException(what + " must be a tensor type, not " + t);
        }
    }

    public boolean isTensor() { return kind == Kind.TENSOR; }

    public boolean isSequence() { return kind == Kind.SEQUENCE; }

    public boolean isOptional() { return kind == Kind.OPTIONAL_TENSOR || kind == Kind.OPTIONAL_SEQUENCE; }

    /**
     * The tensor type of a sequence's elements or an optional tensor's content; the sequence type of an optional
     * sequence's content. Only for ranked types (an unranked element has no tensor type in Kiln's IR).
     */
    public TensorType content() {
        if (!ranked) {
            throw new IllegalStateException("the tensors of " + this + " have no known rank");
        }
        return switch (kind) {
            case TENSOR -> throw new IllegalStateException(this + " is a tensor, not a sequence or optional");
            case SEQUENCE, OPTIONAL_TENSOR -> new TensorType(dtype, shape);
            case OPTIONAL_SEQUENCE -> sequenceOf(new TensorType(dtype, shape));
        };
    }

    /** This type with another shape (of the tensor, or of the contained tensors), same kind. */
    public TensorType withShape(Shape other) {
        return new TensorType(dtype, other, kind, true);
    }

    public int rank() { return shape.rank(); }

    /**
     * Whether a concrete value of type {@code actual} may be held by a value of this declared type: the same kind
     * and dtype and, where both ranks are known, the same rank.
     */
    public boolean admits(TensorType actual) {
        return kind == actual.kind && dtype == actual.dtype && (!ranked || !actual.ranked || rank() == actual.rank());
    }

    /** {@code f32[N,784]}; {@code seq(f32[?,3])}, {@code opt(i64[])}, {@code opt(seq(f32[*]))} ({@code *}: any rank). */
    @Override
    public String toString() {
        String tensor = dtype.shortName() + (ranked ? shape.toString() : "[*]");
        return switch (kind) {
            case TENSOR -> tensor;
            case SEQUENCE -> "seq(" + tensor + ")";
            case OPTIONAL_TENSOR -> "opt(" + tensor + ")";
            case OPTIONAL_SEQUENCE -> "opt(seq(" + tensor + "))";
        };
    }
}
