package dev.kiln.ir;

import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One dimension of a shape: a monomial {@code coefficient * sym1^e1 * sym2^e2 ...}.
 *
 * <p>A static dim has no symbols ({@code 784}); the dynamic batch is a symbol ({@code N}). Monomials are
 * closed under the products and exact quotients that Reshape and Flatten need ({@code N*20*4*4 / 320 = N}),
 * and keep memory offsets linear in the batch. A sum that is not a monomial ({@code N + 3}) has no exact
 * representation: shape rules then ask for a {@link #unknown() fresh unknown} dim.
 *
 * @param coefficient the constant factor, ≥ 0
 * @param symbols symbol name -> positive exponent (empty for a static dim)
 */
public record Dim(long coefficient, SortedMap<String, Integer> symbols) {

    private static final AtomicLong UNKNOWN_COUNTER = new AtomicLong();

    /** Prefix of symbols standing for dims that shape inference could not express. */
    public static final String UNKNOWN_PREFIX = "?";

    public Dim {
        if (coefficient < 0) {
            throw new IllegalArgumentException("negative dim " + coefficient);
        }
        symbols = java.util.Collections.unmodifiableSortedMap(new TreeMap<>(symbols));
        for (Map.Entry<String, Integer> e : symbols.entrySet()) {
            if (e.getValue() <= 0 || e.getKey().isEmpty()) {
                throw new IllegalArgumentException("bad symbol exponent " + e);
            }
        }
    }

    /** A static dim. */
    public static Dim of(long value) {
        return new Dim(value, new TreeMap<>());
    }

    /** A symbolic dim such as the batch {@code N}. */
    public static Dim sym(String name) {
        TreeMap<String, Integer> m = new TreeMap<>();
        m.put(name, 1);
        return new Dim(1, m);
    }

    /** A dim nothing is known about, as a symbol unique in this JVM ({@code ?17}). */
    public static Dim unknown() {
        return sym(UNKNOWN_PREFIX + UNKNOWN_COUNTER.incrementAndGet());
    }

    public boolean isStatic() { return symbols.isEmpty(); }

    /** Whether this dim and {@code other} may be equal: either is symbolic, or both are the same value. */
    public boolean mayEqual(Dim other) {
        return !isStatic() || !other.isStatic() || coefficient == other.coefficient;
    }

    /** The value of a static dim; throws if symbolic. */
    public long value() {
        if (!isStatic()) {
            throw new IllegalStateException("dim " + this + " is symbolic");
        }
        return coefficient;
    }

    /** True if this dim involves a symbol that stands for an unknown (not a named dynamic dim). */
    public boolean hasUnknown() {
        return symbols.keySet().stream().anyMatch(s -> s.startsWith(UNKNOWN_PREFIX));
    }

    public Dim times(Dim other) {
        TreeMap<String, Integer> m = new TreeMap<>(symbols);
        other.symbols.forEach((k, v) -> m.merge(k, v, Integer::sum));
        return new Dim(coefficient * other.coefficient, m);
    }

    public Dim times(long k) {
        return new Dim(coefficient * k, symbols);
    }

    /** {@code this / other} when the quotient is an exact monomial. */
    public Optional<Dim> dividedBy(Dim other) {
        if (other.coefficient == 0 || coefficient % other.coefficient != 0) {
            return Optional.empty();
        }
        TreeMap<String, Integer> m = new TreeMap<>(symbols);
        for (Map.Entry<String, Integer> e : other.symbols.entrySet()) {
            int have = m.getOrDefault(e.getKey(), 0);
            if (have < e.getValue()) {
                return Optional.empty();
            }
            if (have == e.getValue()) {
                m.remove(e.getKey());
            } else {
                m.put(e.getKey(), have - e.getValue());
            }
        }
        return Optional.of(new Dim(coefficient / other.coefficient, m));
    }

    /** {@code this + other} when the sum is a monomial (both static, or like terms such as {@code N + N}). */
    public Optional<Dim> plus(Dim other) {
        if (symbols.equals(other.symbols)) {
            return Optional.of(new Dim(coefficient + other.coefficient, symbols));
        }
        if (coefficient == 0) {
            return Optional.of(other);
        }
        if (other.coefficient == 0) {
            return Optional.of(this);
        }
        return Optional.empty();
    }

    /** Evaluates the dim with concrete values for its symbols. */
    public long evaluate(Map<String, Long> bindings) {
        long v = coefficient;
        for (Map.Entry<String, Integer> e : symbols.entrySet()) {
            Long b = bindings.get(e.getKey());
            if (b == null) {
                throw new IllegalArgumentException("no value for dim symbol " + e.getKey());
            }
            for (int i = 0; i < e.getValue(); i++) {
                v *= b;
            }
        }
        return v;
    }

    /** {@code 784}, {@code N}, {@code 320*N}, {@code N^2}. */
    @Override
    public String toString() {
        if (isStatic()) {
            return Long.toString(coefficient);
        }
        StringBuilder sb = new StringBuilder();
        if (coefficient != 1) {
            sb.append(coefficient);
        }
        for (Map.Entry<String, Integer> e : symbols.entrySet()) {
            if (!sb.isEmpty()) {
                sb.append('*');
            }
            sb.append(e.getKey());
            if (e.getValue() > 1) {
                sb.append('^').append(e.getValue());
            }
        }
        return sb.toString();
    }
}
