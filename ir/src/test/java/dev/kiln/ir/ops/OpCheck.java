package dev.kiln.ir.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs one op on concrete tensors through a one-node graph whose inputs are graph inputs (so the shape rule
 * sees types only), checks the evaluated output against the inferred type (dtype and shape), and checks that
 * folding the same node over constant inputs gives the same tensor.
 */
final class OpCheck {
    private OpCheck() {}

    /** Output 0 of {@code op} on {@code inputs}; a null input is an omitted optional one. */
    static Tensor run(String op, Attributes attrs, Tensor... inputs) {
        return run(op, attrs, 0, inputs);
    }

    /** As {@link #run(String, Attributes, Tensor...)} with every input but the first given as a constant. */
    static Tensor runConst(String op, Attributes attrs, Tensor... inputs) {
        return run(op, attrs, 1, inputs);
    }

    private static Tensor run(String op, Attributes attrs, int graphInputs, Tensor... inputs) {
        GraphBuilder b = new GraphBuilder("t");
        List<Value> in = new ArrayList<>();
        Map<String, Tensor> feeds = new HashMap<>();
        for (int i = 0; i < inputs.length; i++) {
            if (inputs[i] == null) {
                in.add(Value.ABSENT);
                continue;
            }
            String name = "x" + i;
            if (graphInputs > 0 && i >= graphInputs) {
                in.add(b.initializer(name, inputs[i]));
                continue;
            }
            in.add(b.input(name, inputs[i].dtype(), inputs[i].type().shape()));
            feeds.put(name, inputs[i]);
        }
        Value y = b.op(op).inputs(in).attrs(attrs).outputNames("y").output();
        b.output(y);
        Graph g = b.build();
        Tensor out = ReferenceEvaluator.run(g, feeds).get("y");
        assertEquals(y.type(), out.type(), "inferred type vs evaluated tensor");
        GraphBuilder folded = new GraphBuilder("folded");
        List<Value> constants = new ArrayList<>();
        for (int i = 0; i < inputs.length; i++) {
            constants.add(inputs[i] == null ? Value.ABSENT : folded.initializer("c" + i, inputs[i]));
        }
        Value f = folded.op(op).inputs(constants).attrs(attrs).output();
        assertEquals(out, folded.constantValue(f).orElseThrow(), "folded and evaluated outputs differ");
        return out;
    }

    static Tensor run(String op, Tensor... inputs) {
        return run(op, Attributes.EMPTY, inputs);
    }

    static Tensor f32(int[] shape, float... v) {
        return Tensor.ofFloats(shape, v);
    }

    static Tensor f32(float... v) {
        return Tensor.ofFloats(new int[] {v.length}, v);
    }

    static Tensor i64(long... v) {
        return Tensor.ofInt64s(v);
    }

    static Tensor ints(dev.kiln.ir.DType t, long... v) {
        return Tensor.ofLongs(t, new int[] {v.length}, v);
    }

    static Tensor bools(boolean... v) {
        return Tensor.wrapBools(new int[] {v.length}, v.clone());
    }

    static int[] shape(int... dims) {
        return dims;
    }
}
