package dev.kiln.ir.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Runs one op through the builder (type inference) and the reference evaluator, for op unit tests. */
final class OpHarness {
    private OpHarness() {}

    /** Evaluates {@code op} on graph inputs bound to {@code inputs} ({@code null} = omitted optional input). */
    static List<Tensor> run(String op, Attributes attrs, int outputs, Tensor... inputs) {
        GraphBuilder b = new GraphBuilder("test");
        List<Value> in = new ArrayList<>();
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        for (int i = 0; i < inputs.length; i++) {
            if (inputs[i] == null) {
                in.add(Value.ABSENT);
                continue;
            }
            in.add(b.input("in" + i, inputs[i].dtype(), inputs[i].type().shape()));
            feeds.put("in" + i, inputs[i]);
        }
        List<Value> out = b.op(op).inputs(in).attrs(attrs).outputCount(outputs).build();
        out.forEach(b::output);
        Graph g = b.build();
        Map<String, Tensor> result = ReferenceEvaluator.run(g, feeds);
        List<Tensor> list = new ArrayList<>(result.values());
        for (int i = 0; i < out.size(); i++) {
            TensorType inferred = out.get(i).type();
            TensorType actual = list.get(i).type();
            assertEquals(inferred.dtype(), actual.dtype(), "dtype of output " + i);
            assertEquals(inferred.rank(), actual.rank(), "rank of output " + i);
            for (int d = 0; d < inferred.rank(); d++) {
                if (inferred.shape().dim(d).isStatic()) {
                    assertEquals(inferred.shape().dim(d), actual.shape().dim(d),
                            "inferred " + inferred + " vs evaluated " + actual);
                }
            }
        }
        return list;
    }

    static Tensor run1(String op, Attributes attrs, Tensor... inputs) {
        return run(op, attrs, 1, inputs).get(0);
    }

    /** The inferred output types of {@code op} on graph inputs of the given types. */
    static List<TensorType> infer(String op, Attributes attrs, int outputs, TensorType... inputs) {
        GraphBuilder b = new GraphBuilder("test");
        List<Value> in = new ArrayList<>();
        for (int i = 0; i < inputs.length; i++) {
            in.add(b.input("in" + i, inputs[i].dtype(), inputs[i].shape()));
        }
        return b.op(op).name("n").inputs(in).attrs(attrs).outputCount(outputs).build().stream()
                .map(Value::type).toList();
    }

    static TensorType type(String text) {
        int bracket = text.indexOf('[');
        String dt = text.substring(0, bracket);
        DType dtype = Arrays.stream(DType.values()).filter(d -> d.shortName().equals(dt)).findFirst().orElseThrow();
        return new TensorType(dtype, Shape.parse(text.substring(bracket)));
    }

    static Tensor f32(int[] shape, double... values) {
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) values[i];
        }
        return Tensor.ofFloats(shape, f);
    }

    static Tensor iota(int... shape) {
        double[] v = new double[Tensor.sizeOf(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = i;
        }
        return f32(shape, v);
    }

    static int[] shape(int... dims) {
        return dims;
    }

    static void assertTensor(int[] shape, double[] expected, Tensor actual, double tolerance) {
        assertArrayEquals(shape, actual.shape(), "shape");
        assertArrayEquals(expected, actual.toDoubleArray(), tolerance, () -> Arrays.toString(actual.toDoubleArray()));
    }
}
