package dev.kiln.ir;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The shape of a value: a list of {@link Dim}s, static or symbolic. Rank is always known in Kiln's IR.
 *
 * @param dims the dims, outermost first
 */
public record Shape(List<Dim> dims) {

    public static final Shape SCALAR = new Shape(List.of());

    public Shape {
        dims = List.copyOf(dims);
    }

    /** A static shape. */
    public static Shape of(long... dims) {
        List<Dim> list = new ArrayList<>(dims.length);
        for (long d : dims) {
            list.add(Dim.of(d));
        }
        return new Shape(list);
    }

    /** A static shape from int dims (e.g. a concrete tensor's shape). */
    public static Shape of(int[] dims) {
        return of(Arrays.stream(dims).asLongStream().toArray());
    }

    public static Shape of(Dim... dims) {
        return new Shape(List.of(dims));
    }

    /**
     * Parses the printer's notation without brackets, e.g. {@code "N,784"} or {@code ""} for a scalar;
     * a token that is not a number is a symbol.
     */
    public static Shape parse(String text) {
        String t = text.strip();
        if (t.startsWith("[") && t.endsWith("]")) {
            t = t.substring(1, t.length() - 1).strip();
        }
        if (t.isEmpty()) {
            return SCALAR;
        }
        List<Dim> list = new ArrayList<>();
        for (String tok : t.split(",")) {
            String s = tok.strip();
            list.add(s.chars().allMatch(Character::isDigit) ? Dim.of(Long.parseLong(s)) : Dim.sym(s));
        }
        return new Shape(list);
    }

    public int rank() { return dims.size(); }

    /** The product of dims {@code [from, to)} (1 when empty): the extent of a block of axes, e.g. before an axis. */
    public Dim product(int from, int to) {
        Dim p = Dim.of(1);
        for (int d = from; d < to; d++) {
            p = p.times(dims.get(d));
        }
        return p;
    }

    public Dim dim(int i) { return dims.get(i); }

    public boolean isStatic() { return dims.stream().allMatch(Dim::isStatic); }

    /** Whether this shape and {@code other} may be equal: the same rank, and each pair of dims {@link Dim#mayEqual}. */
    public boolean mayEqual(Shape other) {
        if (rank() != other.rank()) {
            return false;
        }
        for (int d = 0; d < rank(); d++) {
            if (!dim(d).mayEqual(other.dim(d))) {
                return false;
            }
        }
        return true;
    }

    /** Product of all dims (1 for a scalar). */
    public Dim elementCount() {
        Dim n = Dim.of(1);
        for (Dim d : dims) {
            n = n.times(d);
        }
        return n;
    }

    /** The static dims as ints; throws if any dim is symbolic. */
    public int[] toIntArray() {
        int[] out = new int[dims.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = Math.toIntExact(dims.get(i).value());
        }
        return out;
    }

    /** The static dims, if every dim is static. */
    public Optional<int[]> staticDims() {
        return isStatic() ? Optional.of(toIntArray()) : Optional.empty();
    }

    /** The concrete shape for the given symbol values. */
    public int[] evaluate(Map<String, Long> bindings) {
        int[] out = new int[dims.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = Math.toIntExact(dims.get(i).evaluate(bindings));
        }
        return out;
    }

    /** Normalizes a possibly negative axis against this rank, throwing {@link ShapeException} if out of range. */
    public int axis(long axis) {
        return normalizeAxis(axis, rank());
    }

    /** Normalizes axis in [-rank, rank) to [0, rank). */
    public static int normalizeAxis(long axis, int rank) {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) {
            throw new ShapeException("axis " + axis + " out of range for rank " + rank);
        }
        return (int) a;
    }

    /** {@code [N,784]}. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < dims.size(); i++) {
            if (i > 0) {
                sb.append(',');
            }
            sb.append(dims.get(i));
        }
        return sb.append(']').toString();
    }
}
