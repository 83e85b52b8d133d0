package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
import dev.kiln.ir.DType;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * LabelEncoder (ai.onnx.ml opset 4): maps each element of X through parallel keys and values, given as lists
 * (keys_strings, values_int64s, ...) or 1-D tensors (keys_tensor, values_tensor), to the default for missing keys.
 * The importer rewrites opset 1's classes_strings form into this one.
 */
public final class LabelEncoderOp {
    private LabelEncoderOp() {}

    private static final List<String> KINDS = List.of("floats", "int64s", "strings", "tensor");

    /** The mapping of a LabelEncoder node: keys and values (1-D, of one length) and the default (one element). */
    public record Mapping(Tensor keys, Tensor values, Tensor defaultValue) {
        /** The position of each key (as {@link #key}); of equal keys the last wins, as ONNX says. */
        public Map<Object, Integer> index() {
            Map<Object, Integer> m = new HashMap<>();
            for (int i = 0; i < keys.size(); i++) {
                m.put(key(keys, i), i);
            }
            return m;
        }

        /** Element {@code i} of {@code t} as a map key: String, Long, or Double (every NaN one key, -0.0 equal to 0.0). */
        public static Object key(Tensor t, int i) {
            return switch (t.dtype().kind()) {
                case STRING -> t.strings()[i];
                case INTEGER -> t.getLong(i);
                case FLOAT -> Double.isNaN(t.getDouble(i)) ? (Object) Double.NaN : (Object) (t.getDouble(i) + 0.0);
                case BOOL -> t.getBool(i);
            };
        }
    }

    static void register(OpTable.Registrar r) {
        OpDef.Builder b = OpDef.builder("LabelEncoder").domain(MlOps.DOMAIN).since(4)
                .doc("Maps each element of X to the value of the equal key (NaN keys match NaN), or to the default.")
                .inputs("X").outputs("Y")
                .properties(OpProperty.ELEMENTWISE)
                .attrFloat("default_float", -0.0f, "the default for values_floats")
                .attrInt("default_int64", -1, "the default for values_int64s")
                .attrString("default_string", "_Unused", "the default for values_strings")
                .optionalAttr("default_tensor", AttrType.TENSOR, "the default for values_tensor (one element; "
                        + "absent: \"_Unused\", -1 or -0.0 by the values' type)")
                .optionalAttr("keys_floats", AttrType.FLOATS, "float keys")
                .optionalAttr("keys_int64s", AttrType.INTS, "int64 keys")
                .optionalAttr("keys_strings", AttrType.STRINGS, "string keys")
                .optionalAttr("keys_tensor", AttrType.TENSOR, "keys as a 1-D tensor")
                .optionalAttr("values_floats", AttrType.FLOATS, "float values")
                .optionalAttr("values_int64s", AttrType.INTS, "int64 values")
                .optionalAttr("values_strings", AttrType.STRINGS, "string values")
                .optionalAttr("values_tensor", AttrType.TENSOR, "values as a 1-D tensor");
        r.add(b.shape(LabelEncoderOp::shape).eval(LabelEncoderOp::encode).build());
    }

    /** The node's mapping; fails naming the node when keys or values are not exactly one of the forms or differ in length. */
    public static Mapping mapping(NodeContext ctx) {
        Tensor keys = list(ctx, "keys");
        Tensor values = list(ctx, "values");
        if (keys.size() != values.size()) {
            throw ctx.fail(keys.size() + " keys but " + values.size() + " values");
        }
        Tensor dflt;
        if (ctx.isSet("values_tensor")) {
            dflt = ctx.isSet("default_tensor") ? ctx.attrTensor("default_tensor") : switch (values.dtype().kind()) {
                case STRING -> Tensor.wrapStrings(new int[] {1}, new String[] {"_Unused"});
                case FLOAT -> Tensor.fromDoubles(values.dtype(), new int[] {1}, new double[] {-0.0});
                default -> Tensor.wrapLongs(values.dtype(), new int[] {1}, new long[] {-1});
            };
            if (dflt.size() != 1 || dflt.dtype() != values.dtype()) {
                throw ctx.fail("default_tensor must be one " + values.dtype() + " element, not " + dflt.type());
            }
        } else {
            dflt = switch (values.dtype()) {
                case STRING -> Tensor.wrapStrings(new int[] {1}, new String[] {ctx.attrString("default_string")});
                case FLOAT32 -> Tensor.fromDoubles(DType.FLOAT32, new int[] {1},
                        new double[] {ctx.attrFloat("default_float")});
                default -> Tensor.wrapLongs(DType.INT64, new int[] {1}, new long[] {ctx.attrInt("default_int64")});
            };
        }
        return new Mapping(keys, values, dflt);
    }

    /** keys_* or values_*: exactly one of the four forms, as a 1-D tensor. */
    private static Tensor list(NodeContext ctx, String prefix) {
        List<String> set = KINDS.stream().filter(k -> ctx.isSet(prefix + "_" + k)).toList();
        if (set.size() != 1) {
            throw ctx.fail("exactly one of " + prefix + "_floats, _int64s, _strings and _tensor must be set, not "
                    + set);
        }
        String name = prefix + "_" + set.get(0);
        return switch (set.get(0)) {
            case "floats" -> {
                float[] f = ctx.attrFloats(name);
                double[] d = new double[f.length];
                for (int i = 0; i < f.length; i++) {
                    d[i] = f[i];
                }
                yield Tensor.fromDoubles(DType.FLOAT32, new int[] {f.length}, d);
            }
            case "int64s" -> {
                long[] v = ctx.attrInts(name);
                yield Tensor.wrapLongs(DType.INT64, new int[] {v.length}, v);
            }
            case "strings" -> Tensor.wrapStrings(new int[] {ctx.attrStrings(name).size()},
                    ctx.attrStrings(name).toArray(String[]::new));
            default -> {
                Tensor t = ctx.attrTensor(name);
                if (t.rank() != 1) {
                    throw ctx.fail(name + " must be 1-D, not " + t.type());
                }
                yield t;
            }
        };
    }

    private static List<TensorType> shape(ShapeContext ctx) {
        Mapping m = mapping(ctx);
        if (ctx.inputDtype(0) != m.keys().dtype()) {
            throw ctx.fail("X is " + ctx.inputDtype(0) + " but the keys are " + m.keys().dtype());
        }
        return List.of(new TensorType(m.values().dtype(), ctx.inputShape(0)));
    }

    private static List<Tensor> encode(EvalContext ctx) {
        Mapping m = mapping(ctx);
        Map<Object, Integer> index = m.index();
        Tensor x = ctx.input(0);
        ElementBuffer y = ElementBuffer.zeros(m.values().dtype(), x.size());
        for (int i = 0; i < x.size(); i++) {
            Integer at = index.get(Mapping.key(x, i));
            if (at == null) {
                y.copy(i, m.defaultValue(), 0);
            } else {
                y.copy(i, m.values(), at);
            }
        }
        return List.of(y.toTensor(x.shape()));
    }
}
