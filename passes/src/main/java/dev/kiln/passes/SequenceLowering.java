package dev.kiln.passes;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.SequenceOps;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Replaces reads of sequences and optionals whose contents are known at compile time by plain tensor ops: a
 * sequence built by SequenceEmpty, SequenceConstruct, SequenceInsert and SequenceErase at constant positions, or by
 * SplitToSequence of a static dim, is a known list of tensor values, so SequenceAt at a constant position becomes the
 * tensor it reads, SequenceLength a constant (also when only the length is known: a split by k run-time sizes makes
 * k parts), ConcatFromSequence a Concat (of Unsqueezed tensors when new_axis=1);
 * an optional made by Optional of a value is that value, so OptionalGetElement becomes it and OptionalHasElement a
 * constant true. Generated code holds tensors only, so this is what lets it compile such models; the sequence ops
 * left unread go with dead-code elimination. Nothing is rewritten whose result depends on run-time values.
 */
public final class SequenceLowering implements Pass {
    @Override
    public String name() { return "sequence-lowering"; }

    @Override
    public Graph apply(Graph g) {
        if (g.nodes().stream().noneMatch(n -> !n.op().equals("Identity") && OpTable.get().find(n.domain(), n.op())
                .map(d -> d.has(dev.kiln.ir.OpProperty.CONTAINERS)).orElse(false))) {
            return g;
        }
        Rewriter rw = new Rewriter(g);
        Map<Value, List<Value>> sequences = new IdentityHashMap<>();
        Map<Value, Value> optionals = new IdentityHashMap<>();
        // How many tensors a sequence holds when that is known but its tensors are not (a split by a run-time 1-D
        // split of static length: k sizes make k parts, whatever their values).
        Map<Value, Integer> lengths = new IdentityHashMap<>();
        boolean[] emitted = {false};
        boolean changed = false;
        for (Node n : g.nodes()) {
            if (!n.domain().isEmpty() && !n.domain().equals("ai.onnx")) {
                rw.keep(n);
                continue;
            }
            boolean lowered = switch (n.op()) {
                case "SequenceEmpty" -> record(sequences, n, List.of());
                case "SequenceConstruct" -> record(sequences, n, n.inputs());
                case "SequenceInsert" -> known(sequences, n, 0).flatMap(s -> position(g, n, 2, s.size(), true)
                        .map(p -> {
                            List<Value> out = new ArrayList<>(s);
                            out.add(p, n.input(1));
                            return out;
                        })).map(s -> record(sequences, n, s)).orElse(false);
                case "SequenceErase" -> known(sequences, n, 0).filter(s -> !s.isEmpty())
                        .flatMap(s -> position(g, n, 1, s.size(), false).map(p -> {
                            List<Value> out = new ArrayList<>(s);
                            out.remove((int) p);
                            return out;
                        })).map(s -> record(sequences, n, s)).orElse(false);
                case "Identity" -> {
                    known(sequences, n, 0).ifPresent(s -> sequences.put(n.output(0), s));
                    yield false;
                }
                case "Optional" -> {
                    if (n.hasInput(0)) {
                        optionals.put(n.output(0), n.input(0));
                        known(sequences, n, 0).ifPresent(s -> sequences.put(n.output(0), s));
                    }
                    yield false;
                }
                case "SplitToSequence" -> {
                    emitted[0] |= split(g, rw, n, sequences);
                    if (!sequences.containsKey(n.output(0)) && n.hasInput(1) && n.input(1).type().rank() == 1
                            && n.input(1).shape().dim(0).isStatic()) {
                        lengths.put(n.output(0), Math.toIntExact(n.input(1).shape().dim(0).value()));
                    }
                    yield false;
                }
                case "SequenceAt" -> known(sequences, n, 0).flatMap(s -> position(g, n, 1, s.size(), false)
                        .map(p -> replace(rw, n, s.get(p)))).orElse(false);
                case "SequenceLength" -> known(sequences, n, 0).map(List::size)
                        .or(() -> Optional.ofNullable(lengths.get(n.input(0)))).map(length -> replace(rw, n,
                                rw.addInitializer(n.output(0).name() + "_length", Tensor.scalarLong(DType.INT64, length))))
                        .orElse(false);
                case "ConcatFromSequence" -> known(sequences, n, 0).filter(s -> !s.isEmpty())
                        .map(s -> concat(rw, n, s)).orElse(false);
                case "OptionalGetElement" -> {
                    Value in = n.input(0);
                    if (in.type().isTensor()) {
                        yield replace(rw, n, in);
                    }
                    Value content = optionals.get(in);
                    if (content != null && content.type().isTensor()) {
                        yield replace(rw, n, content);
                    }
                    if (content != null) {
                        known(sequences, n, 0).ifPresent(s -> sequences.put(n.output(0), s));
                    }
                    yield false;
                }
                case "OptionalHasElement" -> n.hasInput(0) && (n.input(0).type().isTensor() || optionals.containsKey(n.input(0)))
                        && replace(rw, n, rw.addInitializer(n.output(0).name() + "_has",
                                Tensor.wrapBools(new int[0], new boolean[] {true})));
                default -> false;
            };
            propagateLength(n, sequences, lengths);
            if (lowered) {
                changed = true;
            } else {
                rw.keep(n);
            }
        }
        return changed || emitted[0] ? rw.finish() : g;
    }

    /**
     * A sequence's length through Identity, SequenceInsert (one more) and SequenceErase (one fewer) when only the
     * length of its input is known.
     */
    private static void propagateLength(Node n, Map<Value, List<Value>> sequences, Map<Value, Integer> lengths) {
        if (!n.hasInput(0) || n.outputs().isEmpty() || sequences.containsKey(n.output(0))) {
            return;
        }
        Integer length = lengths.get(n.input(0));
        if (length == null) {
            return;
        }
        switch (n.op()) {
            case "Identity" -> lengths.put(n.output(0), length);
            case "SequenceInsert" -> lengths.put(n.output(0), length + 1);
            case "SequenceErase" -> {
                if (length > 0) {
                    lengths.put(n.output(0), length - 1);
                }
            }
            default -> { }
        }
    }

    /** Notes what a sequence-building node's output holds; the node itself stays (DCE removes it once unread). */
    private static boolean record(Map<Value, List<Value>> sequences, Node n, List<Value> elements) {
        sequences.put(n.output(0), List.copyOf(elements));
        return false;
    }

    private static Optional<List<Value>> known(Map<Value, List<Value>> sequences, Node n, int input) {
        return n.hasInput(input) ? Optional.ofNullable(sequences.get(n.input(input))) : Optional.empty();
    }

    /**
     * Input i of n as a position in a sequence of {@code size} tensors, normalized, when it is a constant in range
     * (an out-of-range one is left for the evaluator's or the generated code's error); the default when absent: the
     * back for an insert, the last tensor otherwise.
     */
    private static Optional<Integer> position(Graph g, Node n, int i, int size, boolean insert) {
        if (!n.hasInput(i)) {
            return Optional.of(insert ? size : size - 1);
        }
        Tensor t = g.initializers().get(n.input(i));
        if (t == null || t.size() != 1) {
            return Optional.empty();
        }
        long p = t.getLong(0);
        long max = insert ? size : size - 1;
        if (p < -size || p > max) {
            return Optional.empty();
        }
        return Optional.of((int) (p < 0 ? p + size : p));
    }

    private static boolean replace(Rewriter rw, Node n, Value by) {
        rw.replace(n.output(0), by);
        return true;
    }

    // ConcatFromSequence(seq(x1..xn), axis) -> Concat(x1..xn, axis); with new_axis=1 -> Concat(Unsqueeze(xi, axis))
    private static boolean concat(Rewriter rw, Node n, List<Value> elements) {
        TensorType first = elements.get(0).type();
        for (Value e : elements) {
            if (e.type().rank() != first.rank()) {
                return false;
            }
        }
        boolean stack = OpTable.get().intAttr(n, "new_axis") != 0;
        int outRank = first.rank() + (stack ? 1 : 0);
        long axis = OpTable.get().intAttr(n, "axis");
        if (axis < -outRank || axis >= outRank) {
            return false;
        }
        int a = (int) (axis < 0 ? axis + outRank : axis);
        List<Value> parts = new ArrayList<>();
        if (stack) {
            Value axes = rw.addInitializer(n.output(0).name() + "_axis", Tensor.ofInt64s(a));
            for (Value e : elements) {
                List<dev.kiln.ir.Dim> shape = new ArrayList<>(e.shape().dims());
                shape.add(a, dev.kiln.ir.Dim.of(1));
                Value u = rw.newValue(e.name() + "_unsqueezed", e.type().withShape(new dev.kiln.ir.Shape(shape)));
                rw.emit(new Node("Unsqueeze", "", n.name(), List.of(e, axes), List.of(u), Attributes.EMPTY));
                parts.add(u);
            }
        } else {
            parts.addAll(elements);
        }
        Value out = n.output(0);
        rw.emit(new Node("Concat", "", n.name(), parts, List.of(out), Attributes.builder().i("axis", a).build()));
        return true;
    }

    // SplitToSequence(x, sizes) -> Split(x, sizes) when the dim is static; without 'split' and keepdims=0 each part
    // is then Squeezed. The SplitToSequence stays for its other readers (DCE drops it once unread); true when parts
    // were emitted.
    private static boolean split(Graph g, Rewriter rw, Node n, Map<Value, List<Value>> sequences) {
        Value x = n.input(0);
        if (x.type().rank() == 0) {
            return false;
        }
        long axisAttr = OpTable.get().intAttr(n, "axis");
        int rank = x.type().rank();
        if (axisAttr < -rank || axisAttr >= rank) {
            return false;
        }
        int axis = (int) (axisAttr < 0 ? axisAttr + rank : axisAttr);
        if (!x.shape().dim(axis).isStatic()) {
            return false;
        }
        long d = x.shape().dim(axis).value();
        Optional<Tensor> split = n.hasInput(1) ? Optional.ofNullable(g.initializers().get(n.input(1))) : Optional.empty();
        if (n.hasInput(1) && split.isEmpty()) {
            return false;
        }
        long[] parts;
        try {
            parts = SequenceOps.partSizes(split, Math.toIntExact(d));
        } catch (IllegalArgumentException e) {
            return false; // an invalid split stays for the evaluator to report
        }
        if (parts.length == 0) {
            sequences.put(n.output(0), List.of());
            return false;
        }
        boolean squeeze = !n.hasInput(1) && OpTable.get().intAttr(n, "keepdims") == 0;
        Value splitSizes = rw.addInitializer(n.output(0).name() + "_split", Tensor.ofInt64s(parts));
        List<Value> pieces = new ArrayList<>();
        for (int i = 0; i < parts.length; i++) {
            List<dev.kiln.ir.Dim> shape = new ArrayList<>(x.shape().dims());
            shape.set(axis, dev.kiln.ir.Dim.of(parts[i]));
            pieces.add(rw.newValue(n.output(0).name() + "_" + i, x.type().withShape(new dev.kiln.ir.Shape(shape))));
        }
        rw.emit(new Node("Split", "", n.name(), List.of(x, splitSizes), pieces, Attributes.builder().i("axis", axis)
                .build()));
        List<Value> elements = pieces;
        if (squeeze) {
            Value axes = rw.addInitializer(n.output(0).name() + "_axis", Tensor.ofInt64s(axis));
            elements = new ArrayList<>();
            for (Value p : pieces) {
                List<dev.kiln.ir.Dim> shape = new ArrayList<>(p.shape().dims());
                shape.remove(axis);
                Value s = rw.newValue(p.name() + "_squeezed", p.type().withShape(new dev.kiln.ir.Shape(shape)));
                rw.emit(new Node("Squeeze", "", n.name(), List.of(p, axes), List.of(s), Attributes.EMPTY));
                elements.add(s);
            }
        }
        sequences.put(n.output(0), elements);
        return false;
    }
}
