package dev.kiln.ir;

import java.util.List;

/** An attribute value of a node, one record per ONNX attribute kind. Lists are immutable. */
public sealed interface Attr {
    /** The ONNX attribute kind of this value. */
    AttrType type();

    record Int(long value) implements Attr {
        public AttrType type() { return AttrType.INT; }

        @Override public String toString() { return Long.toString(value); }
    }

    record Float(float value) implements Attr {
        public AttrType type() { return AttrType.FLOAT; }

        @Override public String toString() { return java.lang.Float.toString(value); }
    }

    record Str(String value) implements Attr {
        public AttrType type() { return AttrType.STRING; }

        @Override public String toString() { return '"' + value.replace("\\", "\\\\").replace("\"", "\\\"") + '"'; }
    }

    record Ints(List<Long> values) implements Attr {
        public Ints { values = List.copyOf(values); }

        public static Ints of(long... v) { return new Ints(java.util.Arrays.stream(v).boxed().toList()); }

        public long[] toArray() { return values.stream().mapToLong(Long::longValue).toArray(); }

        public AttrType type() { return AttrType.INTS; }

        @Override public String toString() { return values.toString().replace(" ", ""); }
    }

    record Floats(List<java.lang.Float> values) implements Attr {
        public Floats { values = List.copyOf(values); }

        public static Floats of(float... v) {
            java.util.ArrayList<java.lang.Float> l = new java.util.ArrayList<>();
            for (float f : v) {
                l.add(f);
            }
            return new Floats(l);
        }

        public float[] toArray() {
            float[] out = new float[values.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = values.get(i);
            }
            return out;
        }

        public AttrType type() { return AttrType.FLOATS; }

        @Override public String toString() { return values.toString().replace(" ", ""); }
    }

    record Strs(List<String> values) implements Attr {
        public Strs { values = List.copyOf(values); }

        public AttrType type() { return AttrType.STRINGS; }

        @Override public String toString() {
            return values.stream().map(s -> new Str(s).toString()).toList().toString().replace(", ", ",");
        }
    }

    record TensorValue(Tensor value) implements Attr {
        public AttrType type() { return AttrType.TENSOR; }

        @Override public String toString() { return value.type().toString(); }
    }

    record GraphValue(Graph value) implements Attr {
        public AttrType type() { return AttrType.GRAPH; }

        @Override public String toString() { return GraphPrinter.printInline(value); }
    }

    /** A type (ONNX TYPE_PROTO), e.g. the type of the empty optional an {@code Optional} node makes. */
    record TypeValue(TensorType value) implements Attr {
        public AttrType type() { return AttrType.TYPE; }

        @Override public String toString() { return value.toString(); }
    }
}
