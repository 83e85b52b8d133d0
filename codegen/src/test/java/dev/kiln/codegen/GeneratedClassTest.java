package dev.kiln.codegen;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.passes.OptLevel;
import dev.kiln.passes.PassManager;
import dev.kiln.passes.PassOptions;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Generated classes compiled in process and run against the reference evaluator. */
class GeneratedClassTest {
    /** float32 kernels against the double-accumulating evaluator: relative to the magnitudes involved. */
    static final double TOLERANCE = 1e-5;

    static Tensor random(long seed, int... shape) {
        Random r = new Random(seed);
        float[] v = new float[Tensor.sizeOf(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextFloat() * 2 - 1;
        }
        return Tensor.ofFloats(shape, v);
    }

    static Graph optimized(Graph g) {
        return PassManager.forLevel(OptLevel.O3, PassOptions.quiet()).run(g);
    }

    /** Runs the generated single-input single-output class and the evaluator on the same batch. */
    static void assertMatches(Graph g, Class<?> cls, int batch, long seed) throws Exception {
        Value in = g.inputs().get(0);
        int[] shape = in.shape().evaluate(Map.of("N", (long) batch));
        Tensor x = random(seed, shape);
        float[] expected = ReferenceEvaluator.run(g, Map.of(in.name(), x)).values().iterator().next().toFloatArray();
        Object model = cls.getMethod("load").invoke(null);
        Method run = cls.getMethod("run", float[].class, int.class);
        float[] actual = (float[]) run.invoke(model, x.toFloatArray(), batch);
        assertEquals(expected.length, actual.length);
        double scale = 1;
        for (float e : expected) {
            scale = Math.max(scale, Math.abs(e));
        }
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], TOLERANCE * scale, "element " + i + " at batch " + batch);
        }
    }

    static Class<?> compile(Graph g, String cls) {
        return InProcessCompiler.load(CodeGenerator.generate(g, new CodegenOptions("com.acme", cls, 1, "test")));
    }

    @Test
    void elementwiseChainsWithBroadcastingMatchTheEvaluator() throws Exception {
        GraphBuilder b = new GraphBuilder("chain");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,3,4,5"));
        Value half = b.initializer("half", Tensor.scalarFloat(0.5f));
        Value bias = b.initializer("bias", random(1, 3, 1, 1));
        Value t = b.op("Mul").inputs(x, half).outputNames("t").output();
        Value u = b.op("Add").inputs(t, bias).outputNames("u").output();
        Value v = b.op("Tanh").inputs(u).outputNames("v").output();
        Value w = b.op("Sigmoid").inputs(v).outputNames("w").output();
        Value y = b.op("LeakyRelu").inputs(b.op("Sub").inputs(w, x).outputNames("d").output()).attr("alpha", 0.1f)
                .outputNames("y").output();
        b.output(y);
        Graph g = optimized(b.build());
        Class<?> cls = compile(g, "Chain");
        for (int batch : new int[] {1, 2, 7}) {
            assertMatches(g, cls, batch, batch);
        }
    }

    @Test
    void mlpThroughThePackedGemmMatchesTheEvaluator() throws Exception {
        GraphBuilder b = new GraphBuilder("mlp");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,37"));
        Value h = b.op("Gemm").inputs(x, b.initializer("w1", random(2, 21, 37)), b.initializer("b1", random(3, 21)))
                .attr("transB", 1L).outputNames("h").output();
        Value r = b.op("Relu").inputs(h).outputNames("r").output();
        Value m = b.op("MatMul").inputs(r, b.initializer("w2", random(4, 21, 10))).outputNames("m").output();
        Value z = b.op("Add").inputs(m, b.initializer("b2", random(5, 10))).outputNames("z").output();
        b.output(b.op("Sigmoid").inputs(z).outputNames("y").output());
        Graph g = optimized(b.build());
        Class<?> cls = compile(g, "Mlp");
        for (int batch : new int[] {1, 3, 64}) {
            assertMatches(g, cls, batch, 10 + batch);
        }
    }

    @Test
    void convNetWithPaddingStridesGroupsPoolsAndSoftmaxMatchesTheEvaluator() throws Exception {
        GraphBuilder b = new GraphBuilder("cnn");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,4,11,9"));
        Value c1 = b.op("Conv").name("/conv1/Conv").inputs(x, b.initializer("w1", random(20, 6, 2, 3, 3)),
                        b.initializer("b1", random(21, 6)))
                .attr("pads", new long[] {1, 0, 2, 1}).attr("strides", new long[] {2, 1}).attr("group", 2L)
                .outputNames("c1").output();
        Value r1 = b.op("Relu").inputs(c1).outputNames("r1").output();
        Value p1 = b.op("MaxPool").inputs(r1).attr("kernel_shape", new long[] {2, 2}).attr("ceil_mode", 1L)
                .attr("strides", new long[] {2, 2}).outputNames("p1").output();
        Value c2 = b.op("Conv").inputs(p1, b.initializer("w2", random(22, 5, 6, 2, 2)))
                .attr("dilations", new long[] {1, 2}).attr("auto_pad", "SAME_UPPER").outputNames("c2").output();
        Value a2 = b.op("AveragePool").inputs(c2).attr("kernel_shape", new long[] {2, 2}).attr("pads", new long[] {1, 1, 0, 0})
                .attr("count_include_pad", 1L).outputNames("a2").output();
        Value g = b.op("GlobalAveragePool").inputs(a2).outputNames("g").output();
        Value f = b.op("Flatten").inputs(g).outputNames("f").output();
        b.output(b.op("LogSoftmax").inputs(f).attr("axis", 1L).outputNames("y").output());
        Graph graph = optimized(b.build());
        Class<?> cls = compile(graph, "Cnn");
        for (int batch : new int[] {1, 3}) {
            assertMatches(graph, cls, batch, 30 + batch);
        }
    }

    @Test
    void transposesAndConstantGathersMatchTheEvaluator() throws Exception {
        GraphBuilder b = new GraphBuilder("moves");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,3,4,5"));
        Value t1 = b.op("Transpose").inputs(x).attr("perm", new long[] {1, 0, 3, 2}).outputNames("t1").output();
        Value t2 = b.op("Transpose").inputs(t1).attr("perm", new long[] {2, 1, 0, 3}).outputNames("t2").output();
        Value g = b.op("Gather").inputs(t2, b.initializer("idx", Tensor.ofInt64s(-1, 0, 2))).attr("axis", 2L)
                .outputNames("g").output();
        b.output(b.op("Neg").inputs(g).outputNames("y").output());
        Graph graph = optimized(b.build());
        Class<?> cls = compile(graph, "Moves");
        for (int batch : new int[] {1, 2}) {
            assertMatches(graph, cls, batch, 40 + batch);
        }
    }

    @Test
    void severalInputsAndOutputsAreNamedParametersAndARecord() throws Exception {
        GraphBuilder b = new GraphBuilder("two");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,4"));
        Value bias = b.input("bias", DType.FLOAT32, Shape.parse("N,4"));
        Value sum = b.op("Add").inputs(x, bias).outputNames("sum").output();
        b.output(b.op("Relu").inputs(sum).outputNames("positive").output());
        b.output(b.op("Neg").inputs(sum).outputNames("negated").output());
        Class<?> cls = compile(optimized(b.build()), "Two");
        Object model = cls.getMethod("load").invoke(null);
        Object outputs = cls.getMethod("run", float[].class, float[].class, int.class)
                .invoke(model, new float[] {1, -2, 3, -4}, new float[] {0.5f, 0.5f, 0.5f, 0.5f}, 1);
        assertTrue(outputs.getClass().isRecord(), outputs.getClass().toString());
        assertArrayEquals(new float[] {1.5f, 0, 3.5f, 0}, (float[]) outputs.getClass().getMethod("positive").invoke(outputs));
        assertArrayEquals(new float[] {-1.5f, 1.5f, -3.5f, 3.5f},
                (float[]) outputs.getClass().getMethod("negated").invoke(outputs));
        float[] p = new float[4];
        float[] q = new float[4];
        cls.getMethod("run", float[].class, float[].class, int.class, float[].class, float[].class)
                .invoke(model, new float[] {1, -2, 3, -4}, new float[4], 1, p, q);
        assertArrayEquals(new float[] {1, 0, 3, 0}, p);
        assertArrayEquals(new float[] {-1, 2, -3, 4}, q);
    }

    @Test
    void slicesPadsConcatsExpandsSplitsAndReductionsOverTheBatchMatchTheEvaluator() throws Exception {
        GraphBuilder b = new GraphBuilder("movesAndReductions");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,3,4,5"));
        // Negative steps, a negative axis and clamped ends: [N,3,4,5] -> [N,3,4,2].
        Value s = b.op("Slice").inputs(x, b.initializer("starts", Tensor.ofInt64s(3, -1)),
                b.initializer("ends", Tensor.ofInt64s(0, -100)), b.initializer("axes", Tensor.ofInt64s(-1, 2)),
                b.initializer("steps", Tensor.ofInt64s(-2, -1))).outputNames("s").output();
        Value p = b.op("Pad").inputs(s, b.initializer("pads", Tensor.ofInt64s(0, 1, 0, 1, 0, 1, 2, 0)))
                .attr("mode", "reflect").outputNames("p").output();
        Value m = b.op("ReduceMean").inputs(p, b.initializer("last", Tensor.ofInt64s(-1))).outputNames("m").output();
        Value e = b.op("Expand").inputs(m, b.initializer("shape", Tensor.ofInt64s(1, 1, 1, 4))).outputNames("e").output();
        Value c = b.op("Concat").inputs(p, e).attr("axis", -1L).outputNames("c").output();
        List<Value> parts = b.op("Split").inputs(c, b.initializer("split", Tensor.ofInt64s(2, 4))).attr("axis", 2L)
                .outputNames("lo", "hi").build();
        Value edge = b.op("Pad").inputs(parts.get(1), b.initializer("pads2", Tensor.ofInt64s(0, 0, 2, -1, 0, -1, 0, 1)))
                .attr("mode", "edge").outputNames("edge").output();
        // The batch is a reduced axis and keepdims=0 drops it: [N,4,6,7] -> [4,6].
        b.output(b.op("ReduceLogSumExp").inputs(edge, b.initializer("axes2", Tensor.ofInt64s(0, -1)))
                .attr("keepdims", 0L).outputNames("y").output());
        Graph graph = optimized(b.build());
        Class<?> cls = compile(graph, "MovesAndReductions");
        for (int batch : new int[] {1, 3}) {
            assertMatches(graph, cls, batch, 50 + batch);
        }
    }

    @Test
    void floatSumsOverLongContiguousRunsFoldEachRunInOneCallAndMatchTheEvaluator() throws Exception {
        // [N,3,40]: the reduced last axis (or the merged last two) is a contiguous run folded by RowSums; the batch
        // axis, when reduced too, is a loop around it.
        String[][] cases = {{"ReduceSum", "0,2", "0"}, {"ReduceMean", "2", "1"}, {"ReduceSumSquare", "1,2", "1"},
            {"ReduceL1", "2", "0"}, {"ReduceL2", "0,2", "0"}, {"ReduceLogSum", "2", "1"}};
        for (String[] c : cases) {
            GraphBuilder b = new GraphBuilder("rowSums");
            Value x = b.input("x", DType.FLOAT32, Shape.parse("N,3,40"));
            Value in = c[0].equals("ReduceLogSum") ? b.op("Abs").inputs(x).outputNames("abs").output() : x;
            long[] axes = java.util.Arrays.stream(c[1].split(",")).mapToLong(Long::parseLong).toArray();
            b.output(b.op(c[0]).inputs(in, b.initializer("axes", Tensor.ofInt64s(axes)))
                    .attr("keepdims", Long.parseLong(c[2])).outputNames("y").output());
            Graph graph = optimized(b.build());
            var model = CodeGenerator.generate(graph, new CodegenOptions("com.acme", "RowSums" + c[0], 1, "test"));
            String source = model.sources().get(0).toString();
            assertTrue(source.contains("RowSums."), c[0] + " did not fold its run in one call:\n" + source);
            Class<?> cls = InProcessCompiler.load(model);
            for (int batch : new int[] {1, 3}) {
                assertMatches(graph, cls, batch, 80 + batch);
            }
        }
    }

    @Test
    void layerNormSoftmaxOverAMiddleAxisAndActivationMatMulMatchTheEvaluator() throws Exception {
        GraphBuilder b = new GraphBuilder("attention");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,4,6"));
        Value ln = b.op("LayerNormalization").inputs(x, b.initializer("scale", random(60, 6)), b.initializer("bias", random(61, 6)))
                .outputNames("ln").output();
        Value sm = b.op("Softmax").inputs(ln).attr("axis", 1L).outputNames("sm").output();
        Value t = b.op("Transpose").inputs(ln).attr("perm", new long[] {0, 2, 1}).outputNames("t").output();
        // Both operands computed at run time, batched: [N,4,6] x [N,6,4].
        Value mm = b.op("MatMul").inputs(sm, t).outputNames("mm").output();
        Value pr = b.op("PRelu").inputs(mm, b.initializer("slope", random(62, 4))).outputNames("pr").output();
        b.output(b.op("Clip").inputs(pr, b.initializer("min", Tensor.scalarFloat(-0.05f))).outputNames("y").output());
        Graph graph = optimized(b.build());
        Class<?> cls = compile(graph, "Attention");
        for (int batch : new int[] {1, 2}) {
            assertMatches(graph, cls, batch, 60 + batch);
        }
    }

    @Test
    void convTransposeNormalizationsAndDepthToSpaceMatchTheEvaluator() throws Exception {
        GraphBuilder b = new GraphBuilder("decoder");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,4,3,3"));
        Value ct = b.op("ConvTranspose").inputs(x, b.initializer("w", random(70, 4, 2, 3, 3)), b.initializer("cb", random(71, 4)))
                .attr("strides", new long[] {2, 2}).attr("pads", new long[] {1, 0, 0, 1}).attr("group", 2L)
                .outputNames("ct").output();
        Value bn = b.op("BatchNormalization").inputs(ct, b.initializer("g", random(72, 4)), b.initializer("beta", random(73, 4)),
                b.initializer("mean", random(74, 4)), b.initializer("var", Tensor.ofFloats(new int[] {4}, 0.5f, 1f, 2f, 0.25f)))
                .outputNames("bn").output();
        Value d = b.op("DepthToSpace").inputs(bn).attr("blocksize", 2L).attr("mode", "CRD").outputNames("d").output();
        Value in = b.op("InstanceNormalization").inputs(d, b.initializer("is", random(75, 1)), b.initializer("ib", random(76, 1)))
                .outputNames("in").output();
        b.output(b.op("SpaceToDepth").inputs(in).attr("blocksize", 2L).outputNames("y").output());
        Graph graph = optimized(b.build());
        Class<?> cls = compile(graph, "Decoder");
        for (int batch : new int[] {1, 2}) {
            assertMatches(graph, cls, batch, 70 + batch);
        }
    }

    @Test
    void wrongInputLengthAndBatchAreRefusedNamingTheShape() throws Exception {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("image", DType.FLOAT32, Shape.parse("N,2,3"));
        b.output(b.op("Relu").inputs(x).outputNames("y").output());
        Class<?> cls = compile(optimized(b.build()), "Net");
        Object model = cls.getMethod("load").invoke(null);
        Method run = cls.getMethod("run", float[].class, int.class);
        InvocationTargetException e = assertThrows(InvocationTargetException.class,
                () -> run.invoke(model, new float[7], 1));
        assertTrue(e.getCause() instanceof IllegalArgumentException
                && e.getCause().getMessage().contains("image must hold float32 [batch,2,3] = 6 floats, got 7"),
                e.getCause().getMessage());
        e = assertThrows(InvocationTargetException.class, () -> run.invoke(model, new float[6], 0));
        assertTrue(e.getCause().getMessage().contains("batch must be at least 1"), e.getCause().getMessage());
        assertArrayEquals(new float[] {0, 1, 0, 2, 0, 3},
                (float[]) run.invoke(model, new float[] {-1, 1, -2, 2, -3, 3}, 1));
    }

    @Test
    void missingTruncatedCorruptedOrForeignWeightsAreRefusedNamingTheFile(@org.junit.jupiter.api.io.TempDir
                                                                          java.nio.file.Path dir) throws Exception {
        GeneratedModel model = CodeGenerator.generate(GoldenSourceTest.tinyNet(), new CodegenOptions("w", "Net", 1, "t"));
        Class<?> cls = InProcessCompiler.load(model);
        Method load = cls.getMethod("load", java.nio.file.Path.class);
        java.nio.file.Path missing = dir.resolve("missing.weights");
        assertLoadFails(load, missing, missing + ": weights file not found");
        byte[] good = model.weights();
        java.nio.file.Path truncated = dir.resolve("truncated.weights");
        java.nio.file.Files.write(truncated, java.util.Arrays.copyOf(good, good.length - 100));
        assertLoadFails(load, truncated, truncated + ": checksum mismatch");
        byte[] flipped = good.clone();
        flipped[good.length / 2] ^= 0x40;
        java.nio.file.Path corrupted = dir.resolve("corrupted.weights");
        java.nio.file.Files.write(corrupted, flipped);
        assertLoadFails(load, corrupted, corrupted + ": checksum mismatch");
        java.nio.file.Path foreign = dir.resolve("foreign.weights");
        dev.kiln.runtime.WeightsFile.write(foreign, Map.of("other.weight", new float[3]));
        assertLoadFails(load, foreign, "no weights named");
        java.nio.file.Path ok = dir.resolve("ok.weights");
        java.nio.file.Files.write(ok, good);
        load.invoke(null, ok);
    }

    private static void assertLoadFails(Method load, java.nio.file.Path file, String expected) {
        InvocationTargetException e = assertThrows(InvocationTargetException.class, () -> load.invoke(null, file));
        assertTrue(e.getCause() instanceof dev.kiln.runtime.WeightsException && e.getCause().getMessage().contains(expected),
                e.getCause().toString());
    }

    @Test
    void generationIsDeterministic() {
        // Two independently built (equal) graphs: identity hash codes differ, output must not.
        for (int round = 0; round < 3; round++) {
            GeneratedModel first = CodeGenerator.generate(GoldenSourceTest.tinyNet(), new CodegenOptions("p", "A", 1, "t"));
            GeneratedModel second = CodeGenerator.generate(GoldenSourceTest.tinyNet(), new CodegenOptions("p", "A", 1, "t"));
            assertEquals(first.mainSource(), second.mainSource());
            assertArrayEquals(first.weights(), second.weights());
        }
    }

    /**
     * A sequence classifier's LSTM (its Y's last step, batch first, into a Gemm) at -O3: the gather becomes a view
     * of Y_h, so the generated call writes no Y; 1 and 2 threads give the evaluator's numbers and each other's bits.
     */
    @Test
    void aClassifierReadingTheLastStepOfAnLstmWritesNoY() throws Exception {
        int seq = 8;
        int input = 3;
        int hidden = 32;
        GraphBuilder b = new GraphBuilder("classifier");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N," + seq + "," + input));
        Value steps = b.op("Transpose").inputs(x).attr("perm", new long[] {1, 0, 2}).outputNames("steps").output();
        List<Value> outs = b.op("LSTM").inputs(steps, b.initializer("w", random(11, 1, 4 * hidden, input)),
                b.initializer("r", random(12, 1, 4 * hidden, hidden)), b.initializer("b", random(13, 1, 8 * hidden)))
                .attr("hidden_size", (long) hidden).outputNames("y", "y_h", "y_c").build();
        Value squeezed = b.op("Squeeze").inputs(outs.get(0), b.initializer("dir", Tensor.ofInt64s(1)))
                .outputNames("ys").output();
        Value batchFirst = b.op("Transpose").inputs(squeezed).attr("perm", new long[] {1, 0, 2}).outputNames("yt")
                .output();
        Value last = b.op("Gather").inputs(batchFirst, b.initializer("last", Tensor.scalarLong(DType.INT64, -1)))
                .attr("axis", 1L).outputNames("last_step").output();
        b.output(b.op("Gemm").inputs(last, b.initializer("fc", random(14, 4, hidden)))
                .attr("transB", 1L).outputNames("logits").output());
        Graph g = b.build();
        Graph o3 = optimized(g);
        float[][] results = new float[2][];
        for (int threads = 1; threads <= 2; threads++) {
            var model = CodeGenerator.generate(o3, new CodegenOptions("com.acme", "Classifier" + threads, threads, "t"));
            String source = model.sources().get(0).toString();
            assertTrue(source.contains("Recurrent.lstm(") && !source.contains("Gather"), source);
            // The arguments after h0 and c0 (null, 0 each): Y is null, Y_h is written.
            assertTrue(source.matches("(?s).*Recurrent\\.lstm\\([^;]*null, 0, null, 0, null, 0, this\\.arena, .*"), source);
            Class<?> cls = InProcessCompiler.load(model);
            assertMatches(g, cls, 3, 7);
            // 64 rows split over 2 threads (above Recurrent's ~1 MFLOP bar): the split must not change a bit.
            Tensor in = random(8, 64, seq, input);
            Object net = cls.getMethod("load").invoke(null);
            results[threads - 1] = (float[]) cls.getMethod("run", float[].class, int.class).invoke(net,
                    in.toFloatArray(), 64);
            if (net instanceof AutoCloseable c) {
                c.close();
            }
        }
        assertArrayEquals(results[0], results[1]);
    }

    /**
     * Bidirectional LSTM and GRU on constant weights run the packed kernel once per direction (the reverse one on
     * W[1], R[1], B[1], writing the second [batch, H] block of each step of Y, of Y_h and Y_c): Y, Y_h and Y_c all
     * reach the output, with initial states when the batch is static; 1 and 2 threads.
     */
    @Test
    void bidirectionalRecurrencesRunThePackedKernelPerDirection() throws Exception {
        int seq = 5;
        int input = 3;
        int hidden = 8;
        for (String op : List.of("LSTM", "GRU")) {
            for (boolean initial : new boolean[] {false, true}) {
                int gates = (op.equals("LSTM") ? 4 : 3) * hidden;
                GraphBuilder b = new GraphBuilder("bidi");
                String batch = initial ? "3" : "N";
                Value x = b.input("x", DType.FLOAT32, Shape.parse(seq + "," + batch + "," + input));
                List<Value> ins = new java.util.ArrayList<>(List.of(x, b.initializer("w", random(21, 2, gates, input)),
                        b.initializer("r", random(22, 2, gates, hidden)), b.initializer("b", random(23, 2, 2 * gates))));
                if (initial) {
                    ins.add(Value.ABSENT);
                    ins.add(b.initializer("h0", random(24, 2, 3, hidden)));
                    if (op.equals("LSTM")) {
                        ins.add(b.initializer("c0", random(25, 2, 3, hidden)));
                    }
                }
                var node = b.op(op).inputs(ins);
                node.attr("hidden_size", (long) hidden).attr("direction", "bidirectional");
                if (op.equals("GRU")) {
                    node.attr("linear_before_reset", 1L);
                }
                List<Value> outs = node.outputNames(op.equals("LSTM") ? new String[] {"y", "y_h", "y_c"}
                        : new String[] {"y", "y_h"}).build();
                List<Value> flat = new java.util.ArrayList<>();
                for (Value o : outs) {
                    long[] perm = o.type().rank() == 4 ? new long[] {2, 0, 1, 3} : new long[] {1, 0, 2};
                    Value t = b.op("Transpose").inputs(o).attr("perm", perm).output();
                    flat.add(b.op("Flatten").inputs(t).output());
                }
                b.output(b.op("Concat").inputs(flat.toArray(Value[]::new)).attr("axis", 1L).outputNames("all").output());
                Graph g = b.build();
                Graph o3 = optimized(g);
                for (int threads = 1; threads <= 2; threads++) {
                    var model = CodeGenerator.generate(o3, new CodegenOptions("com.acme", "Bidi" + threads, threads, "t"));
                    String source = model.sources().get(0).toString();
                    String call = "Recurrent." + op.toLowerCase(java.util.Locale.ROOT) + "(";
                    assertEquals(2, source.split(java.util.regex.Pattern.quote(call), -1).length - 1, source);
                    Class<?> cls = InProcessCompiler.load(model);
                    assertMatches(g, cls, 3, 9);
                    if (!initial) {
                        assertMatches(g, cls, 4, 10);
                    }
                }
            }
        }
    }
}
