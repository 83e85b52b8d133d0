package dev.kiln.onnx;

import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.ModelFormatException;
import dev.kiln.ir.Shape;
import dev.kiln.ir.TensorType;
import dev.kiln.onnx.proto.Onnx.TensorShapeProto;
import dev.kiln.onnx.proto.Onnx.TypeProto;
import java.util.ArrayList;
import java.util.List;

/**
 * Converts between ONNX {@code TypeProto} and Kiln's {@link TensorType}: tensors, sequences of tensors, and optionals
 * of either. A tensor must declare its rank; the tensors of a sequence or optional may leave it unknown, as ONNX's
 * own test models do ({@code seq(tensor(int64))} with no shape).
 */
final class TypeProtos {
    private TypeProtos() {}

    /**
     * The type a TypeProto declares.
     *
     * @param what how messages name the value (e.g. {@code model.onnx: graph input 'x'})
     */
    static TensorType toType(TypeProto t, String what) {
        return switch (t.getValueCase()) {
            case TENSOR_TYPE -> {
                TypeProto.Tensor tt = t.getTensorType();
                dtype(tt, what); // an unsupported element type is the first thing to report
                if (!tt.hasShape()) {
                    throw new UnsupportedModelException(what + " has no shape (unknown rank); Kiln needs the rank of "
                            + "every tensor (only a sequence's or optional's tensors may leave it unknown)");
                }
                yield tensor(tt, what);
            }
            case SEQUENCE_TYPE -> sequence(t.getSequenceType().getElemType(), what);
            case OPTIONAL_TYPE -> {
                TypeProto content = t.getOptionalType().getElemType();
                yield switch (content.getValueCase()) {
                    case TENSOR_TYPE -> content.getTensorType().hasShape()
                            ? TensorType.optionalOf(tensor(content.getTensorType(), what))
                            : new TensorType(dtype(content.getTensorType(), what), Shape.SCALAR,
                                    TensorType.Kind.OPTIONAL_TENSOR, false);
                    case SEQUENCE_TYPE -> TensorType.optionalOf(sequence(content.getSequenceType().getElemType(), what));
                    default -> throw new UnsupportedModelException(what + " is an optional of " + describe(content)
                            + "; Kiln supports optionals of tensors and of sequences of tensors");
                };
            }
            case MAP_TYPE, SPARSE_TENSOR_TYPE, OPAQUE_TYPE -> throw new UnsupportedModelException(what + " is "
                    + describe(t) + "; Kiln supports tensors, sequences of tensors and optionals");
            case VALUE_NOT_SET -> throw new ModelFormatException(what + " has an empty type");
        };
    }

    private static TensorType sequence(TypeProto element, String what) {
        if (!element.hasTensorType()) {
            throw new UnsupportedModelException(what + " is a sequence of " + describe(element)
                    + "; Kiln supports sequences of tensors");
        }
        TypeProto.Tensor tt = element.getTensorType();
        return tt.hasShape() ? TensorType.sequenceOf(tensor(tt, what))
                : TensorType.unrankedSequence(dtype(tt, what));
    }

    private static DType dtype(TypeProto.Tensor tt, String what) {
        return TensorProtos.dtype(tt.getElemType(), what);
    }

    private static TensorType tensor(TypeProto.Tensor tt, String what) {
        List<Dim> dims = new ArrayList<>();
        for (TensorShapeProto.Dimension d : tt.getShape().getDimList()) {
            dims.add(switch (d.getValueCase()) {
                case DIM_VALUE -> d.getDimValue() >= 0 ? Dim.of(d.getDimValue()) : Dim.unknown();
                case DIM_PARAM -> d.getDimParam().isBlank() ? Dim.unknown() : OnnxImporter.symbolicDim(d.getDimParam());
                case VALUE_NOT_SET -> Dim.unknown();
            });
        }
        return new TensorType(dtype(tt, what), new Shape(dims));
    }

    private static String describe(TypeProto t) {
        return switch (t.getValueCase()) {
            case TENSOR_TYPE -> "a tensor";
            case SEQUENCE_TYPE -> "a sequence";
            case MAP_TYPE -> "a map";
            case OPTIONAL_TYPE -> "an optional";
            case SPARSE_TENSOR_TYPE -> "a sparse tensor";
            case OPAQUE_TYPE -> "an opaque value";
            case VALUE_NOT_SET -> "an empty type";
        };
    }

    /** The TypeProto of a Kiln type; a dim nothing is known about is written as neither value nor param, as ONNX does. */
    static TypeProto toProto(TensorType t) {
        TypeProto.Tensor.Builder tensor = TypeProto.Tensor.newBuilder().setElemType(t.dtype().onnxCode());
        if (t.ranked()) {
            TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
            for (Dim d : t.shape().dims()) {
                TensorShapeProto.Dimension.Builder dim = TensorShapeProto.Dimension.newBuilder();
                if (d.isStatic()) {
                    dim.setDimValue(d.value());
                } else if (!d.hasUnknown()) {
                    dim.setDimParam(d.toString());
                }
                shape.addDim(dim);
            }
            tensor.setShape(shape);
        }
        TypeProto tensorType = TypeProto.newBuilder().setTensorType(tensor).build();
        TypeProto sequenceType = TypeProto.newBuilder()
                .setSequenceType(TypeProto.Sequence.newBuilder().setElemType(tensorType)).build();
        return switch (t.kind()) {
            case TENSOR -> tensorType;
            case SEQUENCE -> sequenceType;
            case OPTIONAL_TENSOR -> TypeProto.newBuilder()
                    .setOptionalType(TypeProto.Optional.newBuilder().setElemType(tensorType)).build();
            case OPTIONAL_SEQUENCE -> TypeProto.newBuilder()
                    .setOptionalType(TypeProto.Optional.newBuilder().setElemType(sequenceType)).build();
        };
    }
}
