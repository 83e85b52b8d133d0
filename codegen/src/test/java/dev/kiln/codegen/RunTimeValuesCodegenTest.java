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

    /**
     * Runs g through generated code and the evaluator; integers, bools and infinities exactly, NaN as NaN, floats
     * within 1e-5 relative.
     */
    static void assertMatches(Graph g, Map<String, Tensor> feeds) {
        Map<String, Tensor> expected = ReferenceEvaluator.run(g, feeds);
        Map<String, Tensor> actual = GeneratedExecutor.compile(g, 1).run(feeds);
        assertEquals(expected.keySet(), actual.keySet());
        expected.forEach((name, e) -> {
            Tensor a = actual.get(name);
            assertEquals(e.type(), a.type(), name);
            for (int i = 0; i < e.size(); i++) {
                double want = e.getDouble(i);
                if (Double.isNaN(want)) {
                    assertTrue(Double.isNaN(a.getDouble(i)), name + " element " + i + " is NaN");
                    continue;
                }
                double tol = e.dtype().isFloat() && Double.isFinite(want) ? 1e-5 * Math.max(1, Math.abs(want)) : 0;
                assertEquals(want, a.getDouble(i), tol, name + " element " + i);
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

    /**
     * No axes with noop_with_empty_axes=1 reduce nothing, yet each element still goes through the op's per-element
     * function (x² for ReduceSumSquare, log x for ReduceLogSum, |x| for ReduceL1 and ReduceL2, log(exp x) for
     * ReduceLogSumExp), as ONNX's reference implementation computes: axes absent, constant and empty, or a graph input
     * of length 0.
     */
    @Test
    void emptyAxesWithNoopStillApplyEachReductionPerElement() {
        Tensor floats = Tensor.ofFloats(new int[] {2, 3}, -3f, -0.5f, 0f, 0.25f, 2f, 7.5f);
        Tensor ints = Tensor.ofLongs(DType.INT64, new int[] {2, 3}, -3, -1, 0, 1, 2, 7);
        for (String op : ReduceEmitter.OPS) {
            for (DType t : List.of(DType.FLOAT32, DType.INT64)) {
                boolean logForm = op.equals("ReduceLogSum") || op.equals("ReduceLogSumExp");
                if (t == DType.INT64 && logForm) {
                    continue;
                }
                for (String axesForm : List.of("absent", "constant", "input")) {
                    GraphBuilder b = new GraphBuilder("noop");
                    Value x = b.input("x", t, shape(2, 3));
                    Value axes = switch (axesForm) {
                        case "absent" -> Value.ABSENT;
                        case "constant" -> b.initializer("axes", Tensor.ofInt64s());
                        default -> b.input("axes", DType.INT64, shape(0));
                    };
                    Value y = b.op(op).inputs(x, axes).attr("noop_with_empty_axes", 1L).name("r").outputNames("y")
                            .output();
                    Graph g = b.output(y).build();
                    Map<String, Tensor> feeds = axesForm.equals("input")
                            ? Map.of("x", t == DType.INT64 ? ints : floats, "axes", Tensor.ofInt64s())
                            : Map.of("x", t == DType.INT64 ? ints : floats);
                    assertMatches(g, feeds);
                }
            }
        }
        GraphBuilder b = new GraphBuilder("squares");
        Value x = b.input("x", DType.FLOAT32, shape(2, 3));
        b.output(b.op("ReduceSumSquare").inputs(x, b.initializer("axes", Tensor.ofInt64s()))
                .attr("noop_with_empty_axes", 1L).outputNames("y").output());
        float[] squares = GeneratedExecutor.compile(b.build(), 1).run(Map.of("x", floats)).get("y").toFloatArray();
        org.junit.jupiter.api.Assertions.assertArrayEquals(new float[] {9f, 0.25f, 0f, 0.0625f, 4f, 56.25f}, squares);
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

    @Test
    void resizeWithRunTimeScalesSizesAndRoiMatchesTheEvaluator() {
        Tensor x = GeneratedClassTest.random(4, 1, 2, 4, 5);
        for (String mode : List.of("nearest", "linear", "cubic")) {
            GraphBuilder b = new GraphBuilder("resize");
            Value in = b.input("x", DType.FLOAT32, shape(1, 2, 4, 5));
            Value scales = b.input("scales", DType.FLOAT32, shape(4));
            b.declareShape("y", shape(1, 2, 7, 3));
            Value y = b.op("Resize").inputs(in, Value.ABSENT, scales).attr("mode", mode)
                    .attr("antialias", mode.equals("nearest") ? 0L : 1L).outputNames("y").output();
            assertMatches(b.output(y).build(), Map.of("x", x, "scales", Tensor.ofFloats(new int[] {4}, 1, 1, 1.8f, 0.7f)));

            GraphBuilder c = new GraphBuilder("crop");
            Value cin = c.input("x", DType.FLOAT32, shape(1, 2, 4, 5));
            Value roi = c.input("roi", DType.FLOAT32, shape(4));
            Value sizes = c.input("sizes", DType.INT64, shape(2));
            c.declareShape("y", shape(1, 2, 3, 6));
            Value cy = c.op("Resize").inputs(cin, roi, Value.ABSENT, sizes).attr("mode", mode)
                    .attr("coordinate_transformation_mode", "tf_crop_and_resize").attr("axes", new long[] {2, -1})
                    .attr("extrapolation_value", 9f).outputNames("y").output();
            assertMatches(c.output(cy).build(), Map.of("x", x, "roi", Tensor.ofFloats(new int[] {4}, 0.2f, 0.1f, 1.3f, 0.9f),
                    "sizes", Tensor.ofInt64s(3, 6)));
        }
    }

    @Test
    void resizeScalesGivingAnotherShapeFailNamingNodeValuesAndShapes() throws Exception {
        GraphBuilder b = new GraphBuilder("resize");
        Value in = b.input("x", DType.FLOAT32, shape(1, 1, 4, 4));
        Value scales = b.input("scales", DType.FLOAT32, shape(4));
        b.declareShape("y", shape(1, 1, 8, 8));
        Value y = b.op("Resize").inputs(in, Value.ABSENT, scales).name("up").outputNames("y").output();
        Graph g = b.output(y).build();
        IllegalArgumentException e = runFails(g, "BadScales", new Class<?>[] {float[].class, float[].class, int.class},
                new float[16], new float[] {1, 1, 3, 2}, 1);
        assertEquals("node 'up' (Resize): input 'scales' = [1.0, 1.0, 3.0, 2.0] gives output shape [1, 1, 12, 8], but"
                + " the code was compiled for [1, 1, 8, 8]", e.getMessage());
    }

    @Test
    void topKCompressNonZeroAndMaxUnpoolMatchTheEvaluator() {
        GraphBuilder b = new GraphBuilder("select");
        Value x = b.input("x", DType.FLOAT32, shape(3, 5));
        Value k = b.input("k", DType.INT64, shape(1));
        b.declareShape("values", shape(3, 2));
        b.declareShape("indices", shape(3, 2));
        List<Value> top = b.op("TopK").inputs(x, k).attr("axis", 1L).attr("largest", 0L)
                .outputNames("values", "indices").build();
        Value ints = b.input("ints", DType.INT32, shape(4, 2));
        Value axisK = b.initializer("two", Tensor.ofInt64s(2));
        List<Value> topInts = b.op("TopK").inputs(ints, axisK).attr("axis", 0L).outputNames("intValues", "intIndices")
                .build();
        Value condition = b.input("condition", DType.BOOL, shape(4));
        b.declareShape("kept", shape(3, 2));
        Value kept = b.op("Compress").inputs(x, condition).attr("axis", -1L).outputNames("kept").output();
        b.declareShape("flat", shape(2));
        Value flat = b.op("Compress").inputs(ints, condition).outputNames("flat").output();
        b.declareShape("where", shape(2, 6));
        Value where = b.op("NonZero").inputs(ints).outputNames("where").output();
        Graph g = b.output(top.get(0)).output(top.get(1)).output(topInts.get(0)).output(topInts.get(1)).output(kept)
                .output(flat).output(where).build();
        float[] xv = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9};
        Map<String, Tensor> feeds = Map.of("x", Tensor.ofFloats(new int[] {3, 5}, xv), "k", Tensor.ofInt64s(2),
                "ints", Tensor.ofLongs(DType.INT32, new int[] {4, 2}, 0, 7, 7, 0, -2, 4, 7, 9),
                "condition", Tensor.wrapBools(new int[] {4}, new boolean[] {true, false, false, true}));
        assertMatches(g, feeds);

        GraphBuilder u = new GraphBuilder("unpool");
        Value pooled = u.input("x", DType.FLOAT32, shape(1, 1, 2, 2));
        Value at = u.input("i", DType.INT64, shape(1, 1, 2, 2));
        Value outShape = u.input("outShape", DType.INT64, shape(4));
        u.declareShape("y", shape(1, 1, 5, 5));
        Value y = u.op("MaxUnpool").inputs(pooled, at, outShape).attr("kernel_shape", new long[] {2, 2})
                .attr("strides", new long[] {2, 2}).outputNames("y").output();
        Value plain = u.op("MaxUnpool").inputs(pooled, at).attr("kernel_shape", new long[] {2, 2})
                .attr("strides", new long[] {2, 2}).outputNames("plain").output();
        assertMatches(u.output(y).output(plain).build(), Map.of("x", Tensor.ofFloats(new int[] {1, 1, 2, 2}, 1, 2, 3, 4),
                "i", Tensor.ofLongs(DType.INT64, new int[] {1, 1, 2, 2}, 5, 7, 13, 15), "outShape", Tensor.ofInt64s(1, 1, 5, 5)));
    }

    @Test
    void countsAndShapesGivingAnotherShapeFail() throws Exception {
        GraphBuilder b = new GraphBuilder("topk");
        Value x = b.input("x", DType.FLOAT32, shape(3, 5));
        Value k = b.input("k", DType.INT64, shape(1));
        b.declareShape("values", shape(3, 2));
        b.declareShape("indices", shape(3, 2));
        List<Value> top = b.op("TopK").inputs(x, k).name("t").outputNames("values", "indices").build();
        Graph g = b.output(top.get(0)).output(top.get(1)).build();
        IllegalArgumentException e = runFails(g, "BadK", new Class<?>[] {float[].class, long[].class, int.class},
                new float[15], new long[] {4}, 1);
        assertEquals("node 't' (TopK): input 'k' = [4] gives output shape [3, 4], but the code was compiled for [3, 2]",
                e.getMessage());

        GraphBuilder c = new GraphBuilder("compress");
        Value cx = c.input("x", DType.FLOAT32, shape(3, 5));
        Value condition = c.input("condition", DType.BOOL, shape(3));
        c.declareShape("y", shape(2, 5));
        Value y = c.op("Compress").inputs(cx, condition).attr("axis", 0L).name("c").outputNames("y").output();
        e = runFails(c.output(y).build(), "BadCondition", new Class<?>[] {float[].class, boolean[].class, int.class},
                new float[15], new boolean[] {true, true, true}, 1);
        assertEquals("node 'c' (Compress): input 'condition' = [true, true, true] (3 true) gives output shape [3, 5], but"
                + " the code was compiled for [2, 5]", e.getMessage());
    }

    /** Bytes allocated per call of {@code run} with these arguments, the least of several rounds after warm-up. */
    static long allocatedPerRun(Graph g, String cls, Class<?>[] types, Object... args) throws Exception {
        Class<?> c = GeneratedClassTest.compile(g, cls);
        Object model = c.getMethod("load").invoke(null);
        java.lang.reflect.Method run = c.getMethod("run", types);
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean)
                java.lang.management.ManagementFactory.getThreadMXBean();
        long least = Long.MAX_VALUE;
        for (int round = 0; round < 20 && least > 0; round++) {
            for (int i = 0; i < 2000; i++) {
                run.invoke(model, args);
            }
            long before = mx.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 100; i++) {
                run.invoke(model, args);
            }
            least = Math.min(least, (mx.getCurrentThreadAllocatedBytes() - before) / 100);
        }
        return least;
    }

    @Test
    void runTimeAxesAndScalesAllocateNothingPerRun() throws Exception {
        Graph reduce = reduce("ReduceMean", 0, shape(3));
        assertEquals(0, allocatedPerRun(reduce, "ReduceSteady",
                new Class<?>[] {float[].class, long[].class, int.class, float[].class},
                new float[24], new long[] {0, 2}, 1, new float[3]));
        GraphBuilder b = new GraphBuilder("resize");
        Value in = b.input("x", DType.FLOAT32, shape(1, 1, 4, 4));
        Value scales = b.input("scales", DType.FLOAT32, shape(4));
        b.declareShape("y", shape(1, 1, 3, 3));
        Value y = b.op("Resize").inputs(in, Value.ABSENT, scales).attr("mode", "cubic").attr("antialias", 1L)
                .outputNames("y").output();
        assertEquals(0, allocatedPerRun(b.output(y).build(), "ResizeSteady",
                new Class<?>[] {float[].class, float[].class, int.class, float[].class},
                new float[16], new float[] {1, 1, 0.8f, 0.8f}, 1, new float[9]));
    }
}
