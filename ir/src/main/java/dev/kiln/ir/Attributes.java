package dev.kiln.ir;

import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The attributes set on a node, by name, in name order (so printing and hashing are deterministic).
 * Defaults are not stored here: they live in the op's {@link OpDef} and are applied by {@link NodeContext}.
 */
public final class Attributes {
    public static final Attributes EMPTY = new Attributes(new TreeMap<>());

    private final SortedMap<String, Attr> map;

    private Attributes(SortedMap<String, Attr> map) {
        this.map = Collections.unmodifiableSortedMap(map);
    }

    public static Attributes of(Map<String, Attr> values) {
        return new Attributes(new TreeMap<>(values));
    }

    public static Builder builder() { return new Builder(); }

    public Optional<Attr> get(String name) { return Optional.ofNullable(map.get(name)); }

    public boolean has(String name) { return map.containsKey(name); }

    public SortedMap<String, Attr> asMap() { return map; }

    public boolean isEmpty() { return map.isEmpty(); }

    /** A copy with {@code name} set to {@code value}. */
    public Attributes with(String name, Attr value) {
        TreeMap<String, Attr> m = new TreeMap<>(map);
        m.put(name, value);
        return new Attributes(m);
    }

    /** A copy without {@code name}. */
    public Attributes without(String name) {
        TreeMap<String, Attr> m = new TreeMap<>(map);
        m.remove(name);
        return new Attributes(m);
    }

    @Override
    public boolean equals(Object o) { return o instanceof Attributes a && map.equals(a.map); }

    @Override
    public int hashCode() { return map.hashCode(); }

    /** {@code {alpha=0.01, axes=[0,1]}}, or empty text when there are none. */
    @Override
    public String toString() {
        if (map.isEmpty()) {
            return "";
        }
        StringBuilder sb = new StringBuilder("{");
        map.forEach((k, v) -> {
            if (sb.length() > 1) {
                sb.append(", ");
            }
            sb.append(k).append('=').append(v);
        });
        return sb.append('}').toString();
    }

    /** Collects attributes fluently. */
    public static final class Builder {
        private final TreeMap<String, Attr> map = new TreeMap<>();

        public Builder set(String name, Attr value) {
            map.put(name, value);
            return this;
        }

        public Builder i(String name, long v) { return set(name, new Attr.Int(v)); }

        public Builder f(String name, float v) { return set(name, new Attr.Float(v)); }

        public Builder s(String name, String v) { return set(name, new Attr.Str(v)); }

        public Builder ints(String name, long... v) { return set(name, Attr.Ints.of(v)); }

        public Builder floats(String name, float... v) { return set(name, Attr.Floats.of(v)); }

        public Builder tensor(String name, Tensor v) { return set(name, new Attr.TensorValue(v)); }

        public Attributes build() { return new Attributes(map); }
    }
}
