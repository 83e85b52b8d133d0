package dev.kiln.onnx;

import com.google.protobuf.ByteString;
import dev.kiln.ir.Attr;
import dev.kiln.ir.Attributes;
import dev.kiln.onnx.proto.Onnx.AttributeProto;
import dev.kiln.onnx.proto.Onnx.AttributeProto.AttributeType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/** Converts between ONNX {@code AttributeProto}s and Kiln's {@link Attr} values. */
final class AttributeProtos {
    private AttributeProtos() {}

    /**
     * The attributes of one node.
     *
     * @param where how messages name the node, already prefixed with the model file
     */
    static Attributes toAttributes(List<AttributeProto> protos, Path baseDir, String source, String where) {
        Attributes.Builder b = Attributes.builder();
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (AttributeProto a : protos) {
            if (!seen.add(a.getName())) {
                throw new dev.kiln.ir.ModelFormatException(where + ": attribute '" + a.getName() + "' is set twice");
            }
            b.set(a.getName(), toAttr(a, baseDir, source, where));
        }
        return b.build();
    }

    static Attr toAttr(AttributeProto a, Path baseDir, String source, String where) {
        String what = where + ": attribute '" + a.getName() + "'";
        if (a.hasRefAttrName()) {
            throw new UnsupportedModelException(what + " refers to a function attribute ('" + a.getRefAttrName()
                    + "'); ONNX functions are not supported");
        }
        AttributeType type = a.hasType() ? a.getType() : guessType(a);
        return switch (type) {
            case FLOAT -> new Attr.Float(a.getF());
            case INT -> new Attr.Int(a.getI());
            case STRING -> new Attr.Str(a.getS().toStringUtf8());
            case FLOATS -> new Attr.Floats(a.getFloatsList());
            case INTS -> new Attr.Ints(a.getIntsList());
            case STRINGS -> new Attr.Strs(a.getStringsList().stream().map(ByteString::toStringUtf8).toList());
            case TENSOR -> new Attr.TensorValue(TensorProtos.toTensor(a.getT(), baseDir, what));
            case GRAPH, GRAPHS -> throw new UnsupportedModelException(what + " is a subgraph; Kiln imports "
                    + "subgraphs only as the bodies of If, Loop and Scan");
            case TYPE_PROTO -> new Attr.TypeValue(TypeProtos.toType(a.getTp(), what));
            case TENSORS, SPARSE_TENSOR, SPARSE_TENSORS, TYPE_PROTOS -> throw new UnsupportedModelException(
                    what + " has kind " + type + ", which Kiln does not support");
            case UNDEFINED -> throw new dev.kiln.ir.ModelFormatException(what + " has no value");
        };
    }

    /** Models from before IR version 2 carry no type field; the set field tells the kind. */
    private static AttributeType guessType(AttributeProto a) {
        if (a.hasF()) {
            return AttributeType.FLOAT;
        }
        if (a.hasI()) {
            return AttributeType.INT;
        }
        if (a.hasS()) {
            return AttributeType.STRING;
        }
        if (a.hasT()) {
            return AttributeType.TENSOR;
        }
        if (a.hasG()) {
            return AttributeType.GRAPH;
        }
        if (a.getFloatsCount() > 0) {
            return AttributeType.FLOATS;
        }
        if (a.getIntsCount() > 0) {
            return AttributeType.INTS;
        }
        if (a.getStringsCount() > 0) {
            return AttributeType.STRINGS;
        }
        return AttributeType.UNDEFINED;
    }

    /** The AttributeProto for one Kiln attribute; {@code graphs} converts subgraph attributes. */
    static AttributeProto toProto(String name, Attr value, Function<dev.kiln.ir.Graph, dev.kiln.onnx.proto.Onnx.GraphProto> graphs) {
        AttributeProto.Builder b = AttributeProto.newBuilder().setName(name);
        switch (value) {
            case Attr.Float f -> b.setType(AttributeType.FLOAT).setF(f.value());
            case Attr.Int i -> b.setType(AttributeType.INT).setI(i.value());
            case Attr.Str s -> b.setType(AttributeType.STRING).setS(ByteString.copyFromUtf8(s.value()));
            case Attr.Floats fs -> b.setType(AttributeType.FLOATS).addAllFloats(fs.values());
            case Attr.Ints is -> b.setType(AttributeType.INTS).addAllInts(is.values());
            case Attr.Strs ss -> {
                List<ByteString> bytes = new ArrayList<>();
                for (String s : ss.values()) {
                    bytes.add(ByteString.copyFromUtf8(s));
                }
                b.setType(AttributeType.STRINGS).addAllStrings(bytes);
            }
            case Attr.TensorValue t -> b.setType(AttributeType.TENSOR).setT(TensorProtos.toProto("", t.value()));
            case Attr.GraphValue g -> b.setType(AttributeType.GRAPH).setG(graphs.apply(g.value()));
            case Attr.TypeValue t -> b.setType(AttributeType.TYPE_PROTO).setTp(TypeProtos.toProto(t.value()));
        }
        return b.build();
    }
}
