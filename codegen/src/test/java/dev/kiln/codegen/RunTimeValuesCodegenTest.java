package dev.kiln.codegen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.lang.reflect.InvocationTargetException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Generated code for nodes whose axes, scales, sizes or counts are graph inputs, sized by the model's declared
 * shapes: values that give the compiled shape match the reference evaluator, others fail with an
 * IllegalArgumentException naming the node, the input, its values and both shapes.
 */
class RunTimeValuesCodegenTest {
    static Shape shape(long... dims) {
        return new Shape(Arrays.stream(dims).mapToObj(Dim::of).toList());
    }

    /** Runs g through generated code and the evaluator; integers and bools exactly, floats within 1e-5 relative. */
    static void assertMatches(Graph g, Map<String, Tensor> feeds) {
        Map<String, Tensor> expected = ReferenceEvaluator.run(g, feeds);
        Map<String, Tensor> actual = GeneratedExecutor.compile(g, 1).run(feeds);
        assertEquals(expected.keySet(), actual.keySet());
        expected.forEach((name, e) -> {
            Tensor a = actual.get(name);
            assertEquals(e.type(), a.type(), name);
            for (int i = 0; i < e.size(); i++) {
                double tol = e.dtype().isFloat() ? 1e-5 * Math.max(1, Math.abs(e.getDouble(i))) : 0;
                assertEquals(e.getDouble(i), a.getDouble(i), tol, name + " element " + i);
            }
        });
    }

    /** The IllegalArgumentException the generated class throws for these arguments of {@code run}. */
    static IllegalArgumentException runFails(Graph g, String cls, Class<?>[] types, Object... args) throws Exception {
        Class<?> c = GeneratedClassTest.compile(g, cls);
        Object model = c.getMethod("load").invoke(null);
        InvocationTargetException e = assertThrows(InvocationTargetException.class,
                () -> c.getMethod("run", types).invoke(model, args));
        return assertInstanceOf(IllegalArgumentException.class, e.getCause());
    }

    private static Graph reduce(String op, long keepdims, Shape declared) {
        GraphBuilder b = new GraphBuilder("reduce");
        Value x = b.input("x", DType.FLOAT32, shape(2, 3, 4));
        Value axes = b.input("axes", DType.INT64, shape(2));
        b.declareShape("y", declared);
        Value y = b.op(op).inputs(x, axes).attr("keepdims", keepdims).name("r").outputNames("y").output();
        return b.output(y).build();
    }

    @Test
    void reduceOverRunTimeAxesMatchesTheEvaluator() {
        Tensor x = GeneratedClassTest.random(3, 2, 3, 4);
        for (String op : List.of("ReduceSum", "ReduceMean", "ReduceMax", "ReduceL2", "ReduceLogSumExp", "ReduceProd")) {
            assertMatches(reduce(op, 1, shape(1, 3, 1)), Map.of("x", x, "axes", Tensor.ofInt64s(-1, 0)));
            assertMatches(reduce(op, 0, shape(3)), Map.of("x", x, "axes", Tensor.ofInt64s(2, 0)));
            assertMatches(reduce(op, 0, shape(2)), Map.of("x", x, "axes", Tensor.ofInt64s(1, 2)));
        }
    }

    @Test
    void reduceOfBoolsAndEmptyAxesFollowTheSpec() {
        GraphBuilder b = new GraphBuilder("bools");
        Value m = b.input("m", DType.BOOL, shape(3, 2));
        Value axes = b.input("axes", DType.INT64, shape(1));
        b.declareShape("any", shape(3, 1));
        b.declareShape("all", shape(1, 2));
        Value any = b.op("ReduceMax").inputs(m, axes).outputNames("any").output();
        Value axes2 = b.input("axes2", DType.INT64, shape(1));
        Value all = b.op("ReduceMin").inputs(m, axes2).outputNames("all").output();
        Graph g = b.output(any).output(all).build();
        Tensor mask = Tensor.wrapBools(new int[] {3, 2}, new boolean[] {true, false, false, false, true, true});
        assertMatches(g, Map.of("m", mask, "axes", Tensor.ofInt64s(1), "axes2", Tensor.ofInt64s(-2)));

        GraphBuilder e = new GraphBuilder("empty");
        Value x = e.input("x", DType.FLOAT32, shape(2, 0, 4));
        Value ax = e.input("axes", DType.INT64, shape(1));
        e.declareShape("y", shape(2, 1, 4));
        Value y = e.op("ReduceProd").inputs(x, ax).outputNames("y").output();
        assertMatches(e.output(y).build(), Map.of("x", Tensor.ofFloats(new int[] {2, 0, 4}), "axes", Tensor.ofInt64s(1)));
    }

    @Test
    void reduceAxesGivingAnotherShapeFailNamingNodeValuesAndShapes() throws Exception {
        Graph g = reduce("ReduceSum", 1, shape(1, 3, 1));
        IllegalArgumentException e = runFails(g, "BadAxes", new Class<?>[] {float[].class, long[].class, int.class},
                new float[24], new long[] {0, 1}, 1);
        assertEquals("node 'r' (ReduceSum): input 'axes' = [0, 1] gives output shape [1, 1, 4], but the code was "
                + "compiled for [1, 3, 1]", e.getMessage());
        e = runFails(g, "OutOfRange", new Class<?>[] {float[].class, long[].class, int.class}, new float[24],
                new long[] {0, 3}, 1);
        assertTrue(e.getMessage().startsWith("node 'r' (ReduceSum): input 'axes' = [0, 3] has axis 3"), e.getMessage());
    }
}
