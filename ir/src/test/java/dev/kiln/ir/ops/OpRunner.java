package dev.kiln.ir.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs one op on concrete tensors twice: as a graph fed at run time through the reference evaluator, and as
 * a graph of initializers that type inference folds. Both must agree with each other and with the inferred
 * output types, so every test also checks the shape rule against the semantics.
 */
final class OpRunner {
    private OpRunner() {}

    /** Outputs of {@code op} on {@code inputs} ({@code null} for an omitted optional input). */
    static List<Tensor> run(String op, Attributes attrs, int outputs, Tensor... inputs) {
        List<Tensor> fed = runFed(op, attrs, outputs, inputs);
        GraphBuilder b = new GraphBuilder("folded");
        List<Value> in = new ArrayList<>();
        for (int i = 0; i < inputs.length; i++) {
            in.add(inputs[i] == null ? Value.ABSENT : b.initializer("in" + i, inputs[i]));
        }
        List<Value> outs = b.op(op).inputs(in).attrs(attrs).outputCount(outputs).build();
        // Type inference never folds training-aware ops (a training-mode Dropout would freeze its mask).
        boolean folds = !dev.kiln.ir.OpTable.get().find("", op).orElseThrow().has(dev.kiln.ir.OpProperty.TRAINING_AWARE);
        for (int i = 0; i < outputs && folds; i++) {
            Tensor folded = b.constantValue(outs.get(i)).orElseThrow();
            assertEquals(fed.get(i), folded, "folded and evaluated output " + i + " differ");
        }
        return fed;
    }

    static Tensor run(String op, Attributes attrs, Tensor... inputs) {
        return run(op, attrs, 1, inputs).get(0);
    }

    private static List<Tensor> runFed(String op, Attributes attrs, int outputs, Tensor... inputs) {
        GraphBuilder b = new GraphBuilder("fed");
        List<Value> in = new ArrayList<>();
        Map<String, Tensor> feeds = new HashMap<>();
        for (int i = 0; i < inputs.length; i++) {
            if (inputs[i] == null) {
                in.add(Value.ABSENT);
            } else {
                in.add(b.input("in" + i, inputs[i].dtype(), Shape.of(inputs[i].shape())));
                feeds.put("in" + i, inputs[i]);
            }
        }
        List<Value> outs = b.op(op).inputs(in).attrs(attrs).outputCount(outputs).build();
        outs.forEach(b::output);
        Graph g = b.build();
        Map<String, Tensor> result = ReferenceEvaluator.run(g, feeds);
        List<Tensor> out = new ArrayList<>();
        for (Value v : outs) {
            Tensor t = result.get(v.name());
            v.shape().staticDims().ifPresent(s -> assertEquals(Shape.of(s), Shape.of(t.shape()),
                    "inferred shape of " + v.name() + " differs from the evaluated one"));
            out.add(t);
        }
        return out;
    }

    static Tensor floats(int[] shape, float... v) { return Tensor.ofFloats(shape, v); }

    static Tensor longs(long... v) { return Tensor.ofInt64s(v); }

    static Tensor scalar(long v) { return Tensor.scalarLong(DType.INT64, v); }

    static int[] shape(int... d) { return d; }

    /** 0, 1, 2, ... as f32 of the given shape. */
    static Tensor iota(int... shape) {
        float[] v = new float[Tensor.sizeOf(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = i;
        }
        return Tensor.ofFloats(shape, v);
    }

    static Attributes.Builder attrs() { return Attributes.builder(); }

    static Attributes none() { return Attributes.EMPTY; }
}
