package dev.kiln.onnx;

import com.google.protobuf.ByteString;
import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Tensor;
import dev.kiln.onnx.proto.Onnx.AttributeProto;
import dev.kiln.onnx.proto.Onnx.AttributeProto.AttributeType;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.OperatorSetIdProto;
import dev.kiln.onnx.proto.Onnx.TensorShapeProto;
import dev.kiln.onnx.proto.Onnx.TypeProto;
import dev.kiln.onnx.proto.Onnx.ValueInfoProto;
import java.nio.file.Path;
import java.util.List;

/** Builds small ONNX models in tests with the generated protobuf classes, as an old exporter would write them. */
final class TestModels {
    private TestModels() {}

    static Model model(int opset) {
        return new Model(opset);
    }

    /** A model under construction: one graph, default-domain opset {@code opset}. */
    static final class Model {
        final ModelProto.Builder model = ModelProto.newBuilder().setIrVersion(7);
        final GraphProto.Builder graph = GraphProto.newBuilder().setName("test");

        Model(int opset) {
            model.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset));
        }

        /** A tensor graph input; dims are Longs (static), Strings (dim_param) or null (unknown). */
        Model input(String name, DType dtype, Object... dims) {
            graph.addInput(valueInfo(name, dtype, dims));
            return this;
        }

        Model input(ValueInfoProto vi) {
            graph.addInput(vi);
            return this;
        }

        Model output(String name) {
            graph.addOutput(ValueInfoProto.newBuilder().setName(name));
            return this;
        }

        Model init(String name, Tensor t) {
            graph.addInitializer(TensorProtos.toProto(name, t));
            return this;
        }

        Model node(String op, List<String> inputs, List<String> outputs, AttributeProto... attrs) {
            return node(NodeProto.newBuilder().setOpType(op).addAllInput(inputs).addAllOutput(outputs)
                    .addAllAttribute(List.of(attrs)).build());
        }

        Model node(NodeProto n) {
            graph.addNode(n);
            return this;
        }

        byte[] bytes() {
            return model.setGraph(graph).build().toByteArray();
        }

        Graph load() {
            return OnnxImporter.load(bytes(), "test.onnx", Path.of("."));
        }
    }

    static ValueInfoProto valueInfo(String name, DType dtype, Object... dims) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (Object d : dims) {
            TensorShapeProto.Dimension.Builder dim = TensorShapeProto.Dimension.newBuilder();
            if (d instanceof Number n) {
                dim.setDimValue(n.longValue());
            } else if (d instanceof String s) {
                dim.setDimParam(s);
            }
            shape.addDim(dim);
        }
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(dtype.onnxCode()).setShape(shape))).build();
    }

    static AttributeProto i(String name, long v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeType.INT).setI(v).build();
    }

    static AttributeProto f(String name, float v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeType.FLOAT).setF(v).build();
    }

    static AttributeProto s(String name, String v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeType.STRING)
                .setS(ByteString.copyFromUtf8(v)).build();
    }

    static AttributeProto ints(String name, long... v) {
        AttributeProto.Builder b = AttributeProto.newBuilder().setName(name).setType(AttributeType.INTS);
        for (long x : v) {
            b.addInts(x);
        }
        return b.build();
    }

    static AttributeProto floats(String name, float... v) {
        AttributeProto.Builder b = AttributeProto.newBuilder().setName(name).setType(AttributeType.FLOATS);
        for (float x : v) {
            b.addFloats(x);
        }
        return b.build();
    }

    static AttributeProto tensor(String name, Tensor t) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeType.TENSOR)
                .setT(TensorProtos.toProto("", t)).build();
    }

    /** A float32 tensor 0, 1, 2, ... of the given shape, shifted by {@code offset}. */
    static Tensor iota(float offset, int... shape) {
        float[] v = new float[Tensor.sizeOf(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = i + offset;
        }
        return Tensor.ofFloats(shape, v);
    }
}
