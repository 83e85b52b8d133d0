package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The ops on ONNX sequences (ordered lists of tensors of one element type, shapes free to differ): building one
 * (SequenceEmpty, SequenceConstruct, SequenceInsert, SplitToSequence), reading it (SequenceAt, SequenceLength,
 * ConcatFromSequence) and removing from it (SequenceErase). Positions may be negative, counting from the back. A
 * sequence's static type keeps the dims all its tensors share; when the sequence is a known constant (an empty one
 * from SequenceEmpty, say) the rules read its actual tensors, so inserting into an empty sequence gives the
 * inserted tensor's type rather than an unknown one.
 */
public final class SequenceOps {
    private SequenceOps() {}

    public static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("SequenceEmpty").since(11)
                .doc("An empty sequence of tensors of element type 'dtype'.")
                .outputs("output")
                .attrInt("dtype", DType.FLOAT32.onnxCode(), "the element type as an ONNX DataType code (float)")
                .properties(OpProperty.CONTAINERS)
                .shape(ctx -> List.of(TensorType.unrankedSequence(dtype(ctx))))
                .eval(ctx -> List.of(Tensor.sequence(dtype(ctx), List.of())))
                .build());
        r.add(OpDef.builder("SequenceConstruct").since(11)
                .doc("The sequence of the input tensors, in order.")
                .inputs("inputs...").outputs("output_sequence")
                .properties(OpProperty.CONTAINERS)
                .shape(SequenceOps::constructType)
                .eval(ctx -> {
                    List<Tensor> elements = new ArrayList<>();
                    for (int i = 0; i < ctx.inputCount(); i++) {
                        elements.add(ctx.input(i));
                    }
                    return List.of(Tensor.sequence(elements.get(0).dtype(), elements));
                })
                .build());
        r.add(OpDef.builder("SequenceInsert").since(11)
                .doc("The sequence with tensor inserted before 'position' (in [-n, n], default n: at the back).")
                .inputs("input_sequence", "tensor", "position?").outputs("output_sequence")
                .properties(OpProperty.CONTAINERS)
                .shape(SequenceOps::insertType)
                .eval(ctx -> {
                    Tensor seq = sequenceInput(ctx, 0);
                    Tensor t = tensorInput(ctx, 1, seq.dtype());
                    int n = seq.elements().size();
                    int at = ctx.hasInput(2) ? position(ctx, 2, n, true) : n;
                    List<Tensor> elements = new ArrayList<>(seq.elements());
                    elements.add(at, t);
                    return List.of(Tensor.sequence(seq.dtype(), elements));
                })
                .build());
        r.add(OpDef.builder("SequenceAt").since(11)
                .doc("The tensor at 'position' (in [-n, n-1]) of the sequence.")
                .inputs("input_sequence", "position").outputs("tensor")
                .properties(OpProperty.CONTAINERS)
                .shape(SequenceOps::atType)
                .eval(ctx -> {
                    Tensor seq = sequenceInput(ctx, 0);
                    return List.of(seq.elements().get(position(ctx, 1, seq.elements().size(), false)));
                })
                .build());
        r.add(OpDef.builder("SequenceErase").since(11)
                .doc("The sequence without the tensor at 'position' (in [-n, n-1], default -1: the last one).")
                .inputs("input_sequence", "position?").outputs("output_sequence")
                .properties(OpProperty.CONTAINERS)
                .shape(ctx -> List.of(sequenceType(ctx, 0)))
                .eval(ctx -> {
                    Tensor seq = sequenceInput(ctx, 0);
                    int n = seq.elements().size();
                    if (n == 0) {
                        throw ctx.fail("cannot erase from an empty sequence");
                    }
                    List<Tensor> elements = new ArrayList<>(seq.elements());
                    elements.remove(ctx.hasInput(1) ? position(ctx, 1, n, false) : n - 1);
                    return List.of(Tensor.sequence(seq.dtype(), elements));
                })
                .build());
        r.add(OpDef.builder("SequenceLength").since(11)
                .doc("The number of tensors in the sequence, as an i64 scalar.")
                .inputs("input_sequence").outputs("length")
                .properties(OpProperty.CONTAINERS)
                .shape(ctx -> {
                    sequenceType(ctx, 0);
                    return List.of(new TensorType(DType.INT64, Shape.SCALAR));
                })
                .eval(ctx -> List.of(Tensor.scalarLong(DType.INT64, sequenceInput(ctx, 0).elements().size())))
                .build());
        r.add(OpDef.builder("ConcatFromSequence").since(11)
                .doc("The sequence's tensors concatenated along 'axis', or stacked along a new 'axis' when new_axis=1.")
                .inputs("input_sequence").outputs("concat_result")
                .requiredAttr("axis", AttrType.INT, "the axis to join along: in [-r, r-1], or [-r-1, r] with new_axis=1")
                .attrInt("new_axis", 0, "1 to stack (insert a new axis of the sequence's length) instead of concatenating")
                .properties(OpProperty.CONTAINERS)
                .shape(SequenceOps::concatType)
                .eval(SequenceOps::concat)
                .build());
        r.add(OpDef.builder("SplitToSequence").since(11)
                .doc("The input split along 'axis' into a sequence: in parts of size 1 (squeezed unless keepdims), "
                        + "of size 'split' (a scalar; the last part may be smaller) or of the sizes in 'split' (1-D).")
                .inputs("input", "split?").outputs("output_sequence")
                .attrInt("axis", 0, "the axis to split, in [-r, r-1]")
                .attrInt("keepdims", 1, "without 'split': 0 removes the split axis from each part (of size 1)")
                .properties(OpProperty.CONTAINERS)
                .shape(SequenceOps::splitType)
                .eval(SequenceOps::split)
                .build());
        OptionalOps.register(r);
    }

    private static DType dtype(NodeContext ctx) {
        try {
            return DType.fromOnnx(Math.toIntExact(ctx.attrInt("dtype")));
        } catch (RuntimeException e) {
            throw ctx.unsupported("element type code " + ctx.attrInt("dtype"));
        }
    }

    // ---- shape rules ----

    /** The type of sequence input i, failing unless it is a sequence. */
    static TensorType sequenceType(ShapeContext ctx, int i) {
        TensorType t = ctx.inputType(i);
        if (!t.isSequence()) {
            throw ctx.fail("input " + ctx.def().inputName(i) + " must be a sequence but is " + t);
        }
        return t;
    }

    private static TensorType tensorType(ShapeContext ctx, int i, DType dtype) {
        TensorType t = ctx.inputType(i);
        if (!t.isTensor() || t.dtype() != dtype) {
            throw ctx.fail("input " + ctx.def().inputName(i) + " must be a " + dtype.shortName() + " tensor but is " + t);
        }
        return t;
    }

    /** The sequence type whose element shape keeps the dims that {@code a} and {@code b} share. */
    private static TensorType merge(TensorType seq, TensorType element) {
        if (!seq.ranked() || seq.rank() != element.rank()) {
            return TensorType.unrankedSequence(seq.dtype());
        }
        List<Dim> dims = new ArrayList<>();
        for (int d = 0; d < element.rank(); d++) {
            Dim a = seq.shape().dim(d);
            Dim b = element.shape().dim(d);
            dims.add(a.equals(b) ? a : Dim.unknown());
        }
        return TensorType.sequenceOf(new TensorType(seq.dtype(), new Shape(dims)));
    }

    private static List<TensorType> constructType(ShapeContext ctx) {
        DType dtype = ctx.inputDtype(0);
        TensorType seq = TensorType.sequenceOf(tensorType(ctx, 0, dtype));
        for (int i = 1; i < ctx.inputCount(); i++) {
            seq = merge(seq, tensorType(ctx, i, dtype));
        }
        return List.of(seq);
    }

    private static List<TensorType> insertType(ShapeContext ctx) {
        TensorType seq = sequenceType(ctx, 0);
        TensorType t = tensorType(ctx, 1, seq.dtype());
        positionType(ctx, 2);
        boolean empty = ctx.constant(0).map(c -> c.elements().isEmpty()).orElse(false);
        return List.of(empty ? TensorType.sequenceOf(t) : merge(seq, t));
    }

    private static List<TensorType> atType(ShapeContext ctx) {
        TensorType seq = sequenceType(ctx, 0);
        positionType(ctx, 1);
        Optional<Tensor> known = ctx.constant(0);
        Optional<long[]> position = ctx.constantLongs(1);
        if (known.isPresent() && position.isPresent()) {
            int n = known.get().elements().size();
            long p = position.get()[0];
            if (p >= -n && p < n) {
                return List.of(known.get().elements().get((int) (p < 0 ? p + n : p)).type());
            }
        }
        return List.of(element(ctx, seq));
    }

    /** The tensor type of a sequence's elements, which must have a known rank. */
    private static TensorType element(ShapeContext ctx, TensorType seq) {
        if (!seq.ranked()) {
            throw ctx.unsupported("a sequence whose tensors' rank is unknown (" + seq + ") read as a tensor");
        }
        return seq.content();
    }

    /**
     * A position input is an int32 or int64 scalar; a tensor of shape [1] is read as one, as ONNX's reference
     * implementation and ONNX Runtime do (ONNX's own SequenceInsert test feeds one).
     */
    private static void positionType(ShapeContext ctx, int i) {
        if (!ctx.hasInput(i)) {
            return;
        }
        TensorType t = ctx.inputType(i);
        boolean single = t.isTensor() && (t.rank() == 0
                || t.rank() == 1 && t.shape().dim(0).isStatic() && t.shape().dim(0).value() == 1);
        if (!single || (t.dtype() != DType.INT64 && t.dtype() != DType.INT32)) {
            throw ctx.fail(ctx.def().inputName(i) + " must be an int32 or int64 scalar but is " + t);
        }
    }

    private static List<TensorType> concatType(ShapeContext ctx) {
        TensorType seq = sequenceType(ctx, 0);
        Optional<Tensor> known = ctx.constant(0);
        if (known.isPresent() && known.get().elements().isEmpty()) {
            throw ctx.fail("cannot concatenate an empty sequence");
        }
        TensorType e = element(ctx, seq);
        boolean stack = ctx.attrInt("new_axis") != 0;
        int axis = concatAxis(ctx, e.rank(), stack);
        List<Dim> dims = new ArrayList<>(e.shape().dims());
        if (stack) {
            dims.add(axis, Dim.unknown());
        } else {
            dims.set(axis, Dim.unknown());
        }
        return List.of(new TensorType(e.dtype(), new Shape(dims)));
    }

    /** ConcatFromSequence's axis normalized: in [-r, r-1], or in [-r-1, r] when stacking along a new axis. */
    static int concatAxis(NodeContext ctx, int rank, boolean stack) {
        int outRank = stack ? rank + 1 : rank;
        long axis = ctx.attrInt("axis");
        long a = axis < 0 ? axis + outRank : axis;
        if (a < 0 || a >= outRank) {
            throw ctx.fail("axis " + axis + " is out of range for tensors of rank " + rank
                    + (stack ? " stacked along a new axis" : ""));
        }
        return (int) a;
    }

    private static List<TensorType> splitType(ShapeContext ctx) {
        TensorType x = ctx.inputType(0);
        if (!x.isTensor()) {
            throw ctx.fail("input must be a tensor but is " + x);
        }
        if (x.rank() == 0) {
            throw ctx.fail("cannot split a scalar");
        }
        int axis = Indexing.axis(ctx, ctx.attrInt("axis"), x.rank());
        List<Dim> dims = new ArrayList<>(x.shape().dims());
        if (!ctx.hasInput(1)) {
            if (ctx.attrInt("keepdims") == 0) {
                dims.remove(axis);
            } else {
                dims.set(axis, Dim.of(1));
            }
            return List.of(TensorType.sequenceOf(new TensorType(x.dtype(), new Shape(dims))));
        }
        TensorType split = ctx.inputType(1);
        if (!split.isTensor() || (split.dtype() != DType.INT64 && split.dtype() != DType.INT32) || split.rank() > 1) {
            throw ctx.fail("split must be an int32 or int64 scalar or 1-D tensor but is " + split);
        }
        dims.set(axis, ctx.constantLongs(1).flatMap(sizes -> commonPart(sizes, split.rank() == 0, x.shape().dim(axis)))
                .orElseGet(Dim::unknown));
        return List.of(TensorType.sequenceOf(new TensorType(x.dtype(), new Shape(dims))));
    }

    /** The size every part has, when the split sizes make them all equal. */
    private static Optional<Dim> commonPart(long[] sizes, boolean scalar, Dim along) {
        if (scalar) {
            boolean even = along.isStatic() && sizes[0] > 0 && along.value() % sizes[0] == 0;
            return even ? Optional.of(Dim.of(sizes[0])) : Optional.empty();
        }
        for (long s : sizes) {
            if (s != sizes[0]) {
                return Optional.empty();
            }
        }
        return sizes.length == 0 ? Optional.empty() : Optional.of(Dim.of(sizes[0]));
    }

    // ---- reference semantics ----

    static Tensor sequenceInput(EvalContext ctx, int i) {
        Tensor t = ctx.input(i);
        if (t.kind() != TensorType.Kind.SEQUENCE) {
            throw ctx.fail("input " + ctx.def().inputName(i) + " must be a sequence but is " + t.type());
        }
        return t;
    }

    private static Tensor tensorInput(EvalContext ctx, int i, DType dtype) {
        Tensor t = ctx.input(i);
        if (!t.isPlain() || t.dtype() != dtype) {
            throw ctx.fail("input " + ctx.def().inputName(i) + " must be a " + dtype.shortName() + " tensor but is "
                    + t.type());
        }
        return t;
    }

    /**
     * Input i as a position in a sequence of n tensors, normalized: negative counts from the back. Legal positions are
     * [-n, n-1] to read or erase, [-n, n] to insert (n: after the last tensor).
     */
    static int position(EvalContext ctx, int i, int n, boolean insert) {
        long p = ctx.input(i).getLong(0);
        long max = insert ? n : n - 1;
        if (p < -n || p > max) {
            throw ctx.fail("position " + p + " is outside [" + -n + ", " + max + "] for a sequence of " + n
                    + " tensors");
        }
        return (int) (p < 0 ? p + n : p);
    }

    /** Concatenation through Concat's own semantics; stacking first gives each tensor the new axis of size 1. */
    private static List<Tensor> concat(EvalContext ctx) {
        List<Tensor> elements = sequenceInput(ctx, 0).elements();
        if (elements.isEmpty()) {
            throw ctx.fail("cannot concatenate an empty sequence");
        }
        boolean stack = ctx.attrInt("new_axis") != 0;
        int rank = elements.get(0).rank();
        int axis = concatAxis(ctx, rank, stack);
        List<Tensor> parts = new ArrayList<>();
        for (Tensor e : elements) {
            if (e.rank() != rank) {
                throw ctx.fail("the sequence's tensors differ in rank (" + elements.get(0).type() + " and " + e.type()
                        + ")");
            }
            if (!stack) {
                parts.add(e);
                continue;
            }
            int[] shape = new int[rank + 1];
            for (int d = 0, s = 0; d <= rank; d++) {
                shape[d] = d == axis ? 1 : e.dim(s++);
            }
            parts.add(e.reshape(shape));
        }
        OpDef concat = OpTable.get().find("", "Concat").orElseThrow();
        Attributes attrs = Attributes.builder().i("axis", axis).build();
        return concat.evalRule().evaluate(new EvalContext(concat, ctx.nodeDescription(), attrs, parts, 1, ctx.random()));
    }

    /** The part sizes along the axis, then each part cut through Split's own semantics. */
    private static List<Tensor> split(EvalContext ctx) {
        Tensor x = ctx.input(0);
        if (x.rank() == 0) {
            throw ctx.fail("cannot split a scalar");
        }
        int axis = Indexing.axis(ctx, ctx.attrInt("axis"), x.rank());
        long[] sizes;
        try {
            sizes = partSizes(ctx.hasInput(1) ? Optional.of(ctx.input(1)) : Optional.empty(), x.dim(axis));
        } catch (IllegalArgumentException e) {
            throw ctx.fail(e.getMessage());
        }
        DType dtype = x.dtype();
        if (sizes.length == 0) {
            return List.of(Tensor.sequence(dtype, List.of()));
        }
        OpDef splitOp = OpTable.get().find("", "Split").orElseThrow();
        Attributes attrs = Attributes.builder().i("axis", axis).build();
        List<Tensor> in = List.of(x, Tensor.ofInt64s(sizes));
        List<Tensor> parts = splitOp.evalRule().evaluate(
                new EvalContext(splitOp, ctx.nodeDescription(), attrs, in, sizes.length, ctx.random()));
        if (!ctx.hasInput(1) && ctx.attrInt("keepdims") == 0) {
            int[] shape = x.shape();
            int[] squeezed = new int[shape.length - 1];
            for (int d = 0, s = 0; d < shape.length; d++) {
                if (d != axis) {
                    squeezed[s++] = shape[d];
                }
            }
            parts = parts.stream().map(p -> p.reshape(squeezed)).toList();
        }
        return List.of(Tensor.sequence(dtype, parts));
    }

    /**
     * The sizes of the parts of a dim of length {@code d}: ones without 'split'; chunks of a scalar split (the last
     * one smaller when it does not divide d); the entries of a 1-D split, which must add up to d.
     *
     * @throws IllegalArgumentException for a scalar split that is not positive, a negative entry, or entries whose
     *     sum is not d
     */
    public static long[] partSizes(Optional<Tensor> split, int d) {
        if (split.isEmpty()) {
            long[] ones = new long[d];
            java.util.Arrays.fill(ones, 1);
            return ones;
        }
        long[] values = split.get().toLongArray();
        if (split.get().rank() == 0) {
            long chunk = values[0];
            if (chunk <= 0) {
                throw new IllegalArgumentException("split " + chunk + " must be positive");
            }
            int n = (int) ((d + chunk - 1) / chunk);
            long[] sizes = new long[n];
            for (int i = 0; i < n; i++) {
                sizes[i] = Math.min(chunk, d - i * chunk);
            }
            return sizes;
        }
        long sum = 0;
        for (long s : values) {
            // The spec asks for positive sizes, but ONNX's own reference and tests (simple/test_sequence_model8 splits
            // an empty tensor by [0, 0, 0]) take empty parts, as Split does.
            if (s < 0) {
                throw new IllegalArgumentException("split sizes " + java.util.Arrays.toString(values)
                        + " must not be negative");
            }
            sum += s;
        }
        if (sum != d) {
            throw new IllegalArgumentException("split sizes " + java.util.Arrays.toString(values) + " add up to " + sum
                    + " but the axis has " + d);
        }
        return values;
    }
}
