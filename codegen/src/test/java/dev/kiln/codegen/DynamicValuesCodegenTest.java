package dev.kiln.codegen;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.InputException;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Intermediates whose dims are known only at run time (a Pad whose pads are a graph input, with nothing declaring the
 * padded shape): generated code resolves their dims each run, holds them in buffers grown on demand and reused, and
 * matches the reference evaluator for different pads in the same instance, allocating nothing in the steady state.
 */
class DynamicValuesCodegenTest {
    private static final Class<?>[] RUN = {float[].class, long[].class, long[].class, long[].class, int.class,
            float[].class, long[].class, double[].class};

    /**
     * x f32[4,5] padded by run-time pads into p f32[?,?] (undeclared); q = Relu(p) * 2 + p; Shape(q) is an output; y and
     * z (q cast to float64) are the declared [3,3] windows Slice cuts from q and its cast at run-time starts and ends.
     */
    private static Graph model() {
        GraphBuilder b = new GraphBuilder("window");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("4,5"));
        Value pads = b.input("pads", DType.INT64, Shape.parse("4"));
        Value starts = b.input("starts", DType.INT64, Shape.parse("2"));
        Value ends = b.input("ends", DType.INT64, Shape.parse("2"));
        Value p = b.op("Pad").inputs(x, pads).attr("mode", "constant").name("grow").outputNames("p").output();
        Value r = b.op("Relu").inputs(p).outputNames("r").output();
        Value q = b.op("Add").inputs(b.op("Mul").inputs(r, b.initializer("two", Tensor.scalarFloat(2f)))
                .outputNames("twice").output(), p).outputNames("q").output();
        Value dims = b.op("Shape").inputs(q).outputNames("dims").output();
        Value wide = b.op("Cast").inputs(b.op("Identity").inputs(q).outputNames("same").output())
                .attr("to", (long) DType.FLOAT64.onnxCode()).outputNames("wide").output();
        b.declareShape("y", Shape.parse("3,3"));
        b.declareShape("z", Shape.parse("3,3"));
        Value y = b.op("Slice").inputs(q, starts, ends).name("cut").outputNames("y").output();
        Value z = b.op("Slice").inputs(wide, starts, ends).outputNames("z").output();
        Graph g = b.output(y).output(dims).output(z).build();
        assertTrue(p.shape().dims().stream().allMatch(dev.kiln.ir.Dim::hasUnknown), "p is undeclared: " + p.type());
        return g;
    }

    private static Object[] args(Tensor x, long[] pads, long[] starts, long[] ends) {
        return new Object[] {x.toFloatArray(), pads, starts, ends, 1, new float[9], new long[2], new double[9]};
    }

    /** Runs the class on these values and compares every output with the evaluator's. */
    private static void assertMatches(Graph g, Object model, Tensor x, long[] pads, long[] starts, long[] ends)
            throws Exception {
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        feeds.put("x", x);
        feeds.put("pads", Tensor.ofInt64s(pads));
        feeds.put("starts", Tensor.ofInt64s(starts));
        feeds.put("ends", Tensor.ofInt64s(ends));
        Map<String, Tensor> expected = ReferenceEvaluator.run(g, feeds);
        Object[] a = args(x, pads, starts, ends);
        model.getClass().getMethod("run", RUN).invoke(model, a);
        assertArrayEquals(expected.get("y").toFloatArray(), (float[]) a[5], 1e-6f, "y");
        assertArrayEquals(expected.get("dims").toLongArray(), (long[]) a[6], "dims");
        double[] z = (double[]) a[7];
        for (int i = 0; i < z.length; i++) {
            assertEquals(expected.get("z").getDouble(i), z[i], 1e-6, "z element " + i);
        }
    }

    private static Object buffer(Object model, String prefix) throws ReflectiveOperationException {
        for (Field f : model.getClass().getDeclaredFields()) {
            if (f.getName().startsWith(prefix) && f.getName().endsWith("Buffer")) {
                f.setAccessible(true);
                return f.get(model);
            }
        }
        throw new AssertionError("no buffer field for " + prefix);
    }

    @Test
    void padsReadAtRunTimeGrowTheBufferThenReuseIt() throws Exception {
        Graph g = model();
        Object model = GeneratedClassTest.compile(g, "Window").getMethod("load").invoke(null);
        Tensor x = GeneratedClassTest.random(3, 4, 5);
        // [4,5] padded to [6,7], then to [9,9] (the buffer grows), then [6,7] again (the larger buffer is kept).
        assertMatches(g, model, x, new long[] {1, 1, 1, 1}, new long[] {0, 2}, new long[] {3, 5});
        Object small = buffer(model, "p");
        assertEquals(42, ((float[]) small).length);
        assertMatches(g, model, x, new long[] {3, 0, 2, 4}, new long[] {-3, 1}, new long[] {100, 4});
        Object large = buffer(model, "p");
        assertNotSame(small, large);
        assertEquals(81, ((float[]) large).length);
        assertMatches(g, model, x, new long[] {1, 1, 1, 1}, new long[] {3, 4}, new long[] {6, 7});
        assertSame(large, buffer(model, "p"));
        // Negative pads crop: [4,5] -> [3,3], the whole window.
        assertMatches(g, model, x, new long[] {-1, 0, 0, -2}, new long[] {0, 0}, new long[] {3, 3});
        assertSame(large, buffer(model, "p"));
    }

    @Test
    void valuesTheSpecRejectsOrThatMissTheDeclaredOutputAreRefused() throws Exception {
        Object model = GeneratedClassTest.compile(model(), "WindowChecks").getMethod("load").invoke(null);
        Method run = model.getClass().getMethod("run", RUN);
        Tensor x = GeneratedClassTest.random(3, 4, 5);
        InvocationTargetException e = assertThrows(InvocationTargetException.class,
                () -> run.invoke(model, args(x, new long[] {0, 0, -5, 0}, new long[] {0, 0}, new long[] {3, 3})));
        assertEquals(IllegalArgumentException.class, e.getCause().getClass());
        assertTrue(e.getCause().getMessage().contains("node 'grow' (Pad): input 'pads' holds [0, 0, -5, 0], which crops"
                + " axis 0 of the input [4, 5] below zero"), e.getCause().getMessage());
        e = assertThrows(InvocationTargetException.class,
                () -> run.invoke(model, args(x, new long[] {1, 1, 1, 1}, new long[] {0, 0}, new long[] {4, 3})));
        assertTrue(e.getCause().getMessage().startsWith("node 'cut' (Slice): inputs 'starts', 'ends' hold starts [0, 0],"
                + " ends [4, 3], which give the output shape [4, 3] from the input [6, 7], but the code was compiled for"
                + " [3, 3]"), e.getCause().getMessage());
    }

    @Test
    void theSteadyStateAllocatesNothing() throws Exception {
        Tensor x = GeneratedClassTest.random(3, 4, 5);
        Object model = GeneratedClassTest.compile(model(), "WindowSteady").getMethod("load").invoke(null);
        Method run = model.getClass().getMethod("run", RUN);
        Object[] small = args(x, new long[] {2, 1, 0, 3}, new long[] {1, 1}, new long[] {4, 4});
        Object[] large = args(x, new long[] {4, 4, 4, 4}, new long[] {1, 1}, new long[] {4, 4});
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean)
                java.lang.management.ManagementFactory.getThreadMXBean();
        // Once the buffers fit the largest pads seen, runs of any pads up to those allocate nothing. The least of
        // several rounds: until the JIT has compiled the vector loops, they allocate.
        run.invoke(model, large);
        long least = Long.MAX_VALUE;
        for (int round = 0; round < 60 && least > 0; round++) {
            for (int i = 0; i < 2000; i++) {
                run.invoke(model, (i & 1) == 0 ? small : large);
            }
            long before = mx.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 100; i++) {
                run.invoke(model, (i & 1) == 0 ? small : large);
            }
            least = Math.min(least, (mx.getCurrentThreadAllocatedBytes() - before) / 100);
        }
        assertEquals(0, least, "bytes allocated per run");
    }

    @Test
    void reflectPadOnOneAxisThenConstantSliceBounds() {
        GraphBuilder b = new GraphBuilder("rows");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("3,4"));
        Value pads = b.input("pads", DType.INT64, Shape.parse("2"));
        Value axes = b.initializer("axes", Tensor.ofInt64s(1));
        Value p = b.op("Pad").inputs(x, pads, Value.ABSENT, axes).attr("mode", "reflect").outputNames("p").output();
        Value s = b.op("Sigmoid").inputs(p).outputNames("s").output();
        b.declareShape("y", Shape.parse("3,2"));
        Value y = b.op("Slice").inputs(s, b.initializer("starts", Tensor.ofInt64s(1)), b.initializer("ends",
                Tensor.ofInt64s(3)), b.initializer("sliceAxes", Tensor.ofInt64s(1))).outputNames("y").output();
        Graph g = b.output(y).build();
        // Pad with axes leaves every dim unknown to inference; y's declaration is checked against the rows at run time.
        assertEquals("f32[?,?]", p.type().toString().replaceAll("\\?\\d+", "?"));
        GeneratedExecutor generated = GeneratedExecutor.compile(g, 1);
        for (long[] pad : new long[][] {{2, 1}, {3, 3}, {0, -1}, {-1, 0}, {1, 0}}) {
            Map<String, Tensor> feeds = Map.of("x", GeneratedClassTest.random(pad[0], 3, 4), "pads", Tensor.ofInt64s(pad));
            Tensor expected = ReferenceEvaluator.run(g, feeds).get("y");
            Tensor actual = generated.run(feeds).get("y");
            assertArrayEquals(expected.toFloatArray(), actual.toFloatArray(), 1e-6f, java.util.Arrays.toString(pad));
        }
        InputException e = assertThrows(InputException.class, () -> generated.run(Map.of("x",
                GeneratedClassTest.random(1, 3, 4), "pads", Tensor.ofInt64s(0, -3))));
        assertTrue(e.getMessage().contains("which give the output shape [3, 0] from the input [3, 1], but the code was"
                + " compiled for [3, 2]"), e.getMessage());
    }

    @Test
    void otherOpsReadingSuchAValueAreRefusedNamingTheNode() {
        GraphBuilder b = new GraphBuilder("refused");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("4,5"));
        Value pads = b.input("pads", DType.INT64, Shape.parse("4"));
        Value p = b.op("Pad").inputs(x, pads).outputNames("p").output();
        Value t = b.op("Transpose").inputs(p).name("flip").outputNames("t").output();
        b.declareShape("y", Shape.parse("1,1"));
        Value y = b.op("ReduceSum").inputs(t, b.initializer("all", Tensor.ofInt64s(0, 1))).outputNames("y").output();
        UnsupportedOpException e = assertThrows(UnsupportedOpException.class,
                () -> CodeGenerator.generate(b.output(y).build(), new CodegenOptions("com.acme", "Refused", 1, "test")));
        assertTrue(e.getMessage().matches("node 'flip' \\(Transpose\\): input 'p' has shape \\[\\?\\d+,\\?\\d+\\], which"
                + " depends on values known only at run time .*; code generation of Transpose needs static dims apart"
                + " from the batch"), e.getMessage());

        GraphBuilder c = new GraphBuilder("undeclared");
        Value cx = c.input("x", DType.FLOAT32, Shape.parse("4,5"));
        Value cp = c.op("Pad").inputs(cx, c.input("pads", DType.INT64, Shape.parse("4"))).outputNames("p").output();
        e = assertThrows(UnsupportedOpException.class, () -> CodeGenerator.generate(
                c.output(c.op("Neg").inputs(cp).name("out").outputNames("y").output()).build(),
                new CodegenOptions("com.acme", "Undeclared", 1, "test")));
        assertTrue(e.getMessage().startsWith("node 'out' (Neg): output 'y' has shape"), e.getMessage());
        assertTrue(e.getMessage().contains("a graph output needs static dims apart from the batch"), e.getMessage());
    }
}
