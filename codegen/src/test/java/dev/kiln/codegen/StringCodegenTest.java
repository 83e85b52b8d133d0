package dev.kiln.codegen;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.Value;
import dev.kiln.passes.OptLevel;
import dev.kiln.passes.PassManager;
import dev.kiln.passes.PassOptions;
import dev.kiln.runtime.WeightsFile;
import java.lang.reflect.InvocationTargetException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * String tensors in generated code ({@code String[]} inputs, outputs, scratch and weights) through the ops that move,
 * select or compare them, each output compared element by element with the reference evaluator.
 */
class StringCodegenTest {
    private static final String[] VOCAB = {"cat", "dog", "", "héllo", "日本", "a b", "cat "};

    /** words[N,3], query[3], ids[2] -> Equal, Where, Gather (constant and run-time indices), Concat, Transpose... */
    private static Graph model() {
        GraphBuilder b = new GraphBuilder("strings");
        Value words = b.input("words", DType.STRING, Shape.parse("N,3"));
        Value query = b.input("query", DType.STRING, Shape.parse("3"));
        Value ids = b.input("ids", DType.INT64, Shape.parse("2"));
        Value vocab = b.initializer("vocab", Tensor.wrapStrings(new int[] {VOCAB.length}, VOCAB.clone()));
        Value same = b.op("Equal").inputs(words, query).outputNames("same").output();
        Value masked = b.op("Where").inputs(same, words,
                b.initializer("unknown", Tensor.wrapStrings(new int[0], new String[] {"<unk>"})))
                .outputNames("masked").output();
        Value picked = b.op("Gather").inputs(vocab, ids).outputNames("picked").output();
        Value firstTwo = b.op("Gather").inputs(vocab, b.initializer("firstTwo", Tensor.ofInt64s(3, -1)))
                .outputNames("fixed").output();
        Value joined = b.op("Concat").inputs(picked, firstTwo, query).attr("axis", 0L).outputNames("joined").output();
        Value transposed = b.op("Transpose").inputs(masked).outputNames("transposed").output();
        Value tail = b.op("Slice").inputs(transposed, b.initializer("starts", Tensor.ofInt64s(1)),
                b.initializer("ends", Tensor.ofInt64s(3)), b.initializer("axes", Tensor.ofInt64s(0)))
                .outputNames("tail").output();
        Value flat = b.op("Flatten").inputs(tail).attr("axis", 0L).outputNames("flat").output();
        Value tiled = b.op("Tile").inputs(joined, b.initializer("twice", Tensor.ofInt64s(2))).outputNames("tiled")
                .output();
        Value hit = b.op("Equal").inputs(tiled, b.initializer("dog", Tensor.wrapStrings(new int[0], new String[] {"dog"})))
                .outputNames("hit").output();
        b.output(same).output(masked).output(joined).output(flat).output(hit);
        return b.build();
    }

    private static Map<String, Tensor> feeds() {
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        feeds.put("words", Tensor.wrapStrings(new int[] {2, 3}, new String[] {"cat", "x", "日本", "dog", "", "日本"}));
        feeds.put("query", Tensor.wrapStrings(new int[] {3}, new String[] {"dog", "", "日本"}));
        feeds.put("ids", Tensor.ofInt64s(4, -7));
        return feeds;
    }

    private static void assertMatches(Graph g, Map<String, Tensor> feeds) {
        Map<String, Tensor> expected = ReferenceEvaluator.run(g, feeds);
        Map<String, Tensor> actual = GeneratedExecutor.compile(g, 1).run(feeds);
        assertEquals(expected.keySet(), actual.keySet());
        expected.forEach((name, e) -> {
            Tensor a = actual.get(name);
            assertEquals(e.type(), a.type(), name);
            switch (e.dtype()) {
                case STRING -> assertArrayEquals(e.strings(), a.strings(), name);
                case BOOL -> assertArrayEquals(e.bools(), a.bools(), name);
                default -> assertArrayEquals(e.longs(), a.longs(), name);
            }
        });
    }

    @Test
    void stringOpsMatchTheEvaluatorBeforeAndAfterOptimization() {
        Graph g = model();
        assertMatches(g, feeds());
        assertMatches(PassManager.forLevel(OptLevel.O3, PassOptions.quiet()).run(g), feeds());
        // The evaluator's answer, spelled out for the ops whose meaning is easy to get subtly wrong.
        Map<String, Tensor> y = GeneratedExecutor.compile(g, 1).run(feeds());
        assertArrayEquals(new boolean[] {false, false, true, true, true, true}, y.get("same").bools());
        assertArrayEquals(new String[] {"<unk>", "<unk>", "日本", "dog", "", "日本"}, y.get("masked").strings());
        assertArrayEquals(new String[] {"日本", "cat", "héllo", "cat ", "dog", "", "日本"}, y.get("joined").strings());
        assertArrayEquals(new String[] {"<unk>", "", "日本", "日本"}, y.get("flat").strings());
    }

    @Test
    void everyOtherDataMovementEmitterCopiesStrings() {
        GraphBuilder b = new GraphBuilder("moves");
        Value x = b.input("x", DType.STRING, Shape.parse("2,4"));
        Value keep = b.input("keep", DType.BOOL, Shape.parse("4"));
        Value rows = b.initializer("rows", Tensor.ofLongs(DType.INT64, new int[] {2, 2}, 3, 0, 1, 1));
        b.output(b.op("GatherElements").inputs(x, rows).attr("axis", 1L).outputNames("elements").output());
        b.output(b.op("GatherND").inputs(x, b.initializer("ndIndices", Tensor.ofLongs(DType.INT64, new int[] {2, 2}, 1, 3, 0, 0)))
                .outputNames("nd").output());
        b.output(b.op("ScatterND").inputs(x, b.initializer("at", Tensor.ofLongs(DType.INT64, new int[] {1, 2}, 0, 2)),
                b.initializer("put", Tensor.wrapStrings(new int[] {1}, new String[] {"new"}))).outputNames("scattered")
                .output());
        b.output(b.op("ScatterElements").inputs(x, b.initializer("col", Tensor.ofLongs(DType.INT64, new int[] {2, 1}, 1, 0)),
                b.initializer("two", Tensor.wrapStrings(new int[] {2, 1}, new String[] {"p", "q"}))).attr("axis", 1L)
                .outputNames("scatteredElements").output());
        Value four = b.op("Reshape").inputs(x, b.initializer("shape4", Tensor.ofInt64s(1, 8, 1, 1))).outputNames("four")
                .output();
        b.output(b.op("DepthToSpace").inputs(four).attr("blocksize", 2L).outputNames("space").output());
        b.output(b.op("ReverseSequence").inputs(x, b.initializer("lens", Tensor.ofInt64s(3, 1)))
                .attr("batch_axis", 0L).attr("time_axis", 1L).outputNames("reversed").output());
        b.declareShape("kept", Shape.parse("2,2"));
        b.output(b.op("Compress").inputs(x, keep).attr("axis", 1L).outputNames("kept").output());
        Value halves = b.op("Split").inputs(x, b.initializer("sizes", Tensor.ofInt64s(1, 3))).attr("axis", 1L)
                .outputNames("left", "right").build().get(1);
        b.output(b.op("Expand").inputs(b.op("Unsqueeze").inputs(halves, b.initializer("zero", Tensor.ofInt64s(0)))
                .outputNames("lifted").output(), b.initializer("wide", Tensor.ofInt64s(2, 1, 1))).outputNames("expanded")
                .output());
        b.output(b.op("Shape").inputs(x).outputNames("dims").output());
        Value pads = b.initializer("pads", Tensor.ofInt64s(0, 1, 1, -1));
        b.output(b.op("Pad").inputs(x, pads).outputNames("padded").output());
        b.output(b.op("Pad").inputs(x, pads, b.initializer("fill", Tensor.wrapStrings(new int[0], new String[] {"_"})))
                .outputNames("filled").output());
        b.output(b.op("Pad").inputs(x, pads).attr("mode", "reflect").outputNames("reflected").output());
        Map<String, Tensor> feeds = Map.of(
                "x", Tensor.wrapStrings(new int[] {2, 4}, new String[] {"a", "b", "c", "d", "e", "f", "g", "h"}),
                "keep", Tensor.wrapBools(new int[] {4}, new boolean[] {true, false, false, true}));
        Graph g = b.build();
        assertMatches(g, feeds);
        assertMatches(PassManager.forLevel(OptLevel.O3, PassOptions.quiet()).run(g), feeds);
    }

    @Test
    void theRunApiTakesAndReturnsStringArraysAndTheVocabularyTravelsInTheWeights() throws Exception {
        GeneratedModel m = CodeGenerator.generate(model(), new CodegenOptions("com.acme", "Words", 1, "test"));
        assertTrue(m.mainSource().contains("string ({@code String[]})"), "the Javadoc names the element type");
        assertFalse(m.mainSource().contains("héllo"), "the vocabulary is not an array initializer");
        Map<String, Object> weights = WeightsFile.readAll(m.weights(), "Words.weights");
        assertArrayEquals(VOCAB, (String[]) weights.get("vocab"));

        Class<?> cls = InProcessCompiler.load(m);
        Object net = cls.getMethod("load").invoke(null);
        var run = cls.getMethod("run", String[].class, String[].class, long[].class, int.class);
        Class<?> outputs = run.getReturnType();
        assertEquals(List.of(boolean[].class, String[].class, String[].class, String[].class, boolean[].class),
                java.util.Arrays.stream(outputs.getRecordComponents()).map(c -> c.getType()).toList());
        Object out = run.invoke(net, new String[] {"dog", "b", "c"}, new String[] {"dog", "", "c"}, new long[] {1, 0}, 1);
        assertArrayEquals(new String[] {"dog", "<unk>", "c"}, (String[]) outputs.getMethod("masked").invoke(out));

        InvocationTargetException nul = assertThrows(InvocationTargetException.class,
                () -> run.invoke(net, new String[] {"a", null, "c"}, new String[] {"", "", ""}, new long[] {0, 0}, 1));
        assertTrue(nul.getCause() instanceof IllegalArgumentException
                && nul.getCause().getMessage().startsWith("words[1] is null"), String.valueOf(nul.getCause()));
    }

    @Test
    void castFromStringParsesNumbersAsTheEvaluatorDoes() {
        String[] texts = {"3.14", "1000", "-1e-5", "1E8", "+INF", "inf", "-Inf", "NaN", " 2.5 ", "-0", "100.5", "-7.9",
                "300", "65504.5", "1e400"};
        for (DType to : List.of(DType.FLOAT32, DType.FLOAT64, DType.FLOAT16, DType.INT64, DType.INT32, DType.UINT8,
                DType.BOOL)) {
            GraphBuilder b = new GraphBuilder("parse");
            Value x = b.input("x", DType.STRING, Shape.parse("N"));
            Value y = b.op("Cast").inputs(x).attr("to", (long) to.onnxCode()).outputNames("y").output();
            b.output(y);
            Value like = b.initializer("like", Tensor.zeros(to, new int[] {1}));
            b.output(b.op("CastLike").inputs(x, like).outputNames("z").output());
            Graph g = b.build();
            Map<String, Tensor> feeds = Map.of("x", Tensor.wrapStrings(new int[] {texts.length}, texts.clone()));
            Map<String, Tensor> expected = ReferenceEvaluator.run(g, feeds);
            Map<String, Tensor> actual = GeneratedExecutor.compile(g, 1).run(feeds);
            for (String name : List.of("y", "z")) {
                Tensor e = expected.get(name);
                Tensor a = actual.get(name);
                assertEquals(e.type(), a.type(), to + " " + name);
                for (int i = 0; i < texts.length; i++) {
                    // Exact: both parse to the same double and convert it the same way.
                    assertEquals(e.getDouble(i), a.getDouble(i), 0, to + " " + name + " of \"" + texts[i] + "\"");
                }
            }
        }
        GraphBuilder b = new GraphBuilder("parse");
        Value x = b.input("x", DType.STRING, Shape.parse("2"));
        b.output(b.op("Cast").inputs(x).attr("to", (long) DType.INT64.onnxCode()).outputNames("y").output());
        Map<String, Tensor> y = GeneratedExecutor.compile(b.build(), 1)
                .run(Map.of("x", Tensor.wrapStrings(new int[] {2}, new String[] {"100.5", "-1E3"})));
        assertArrayEquals(new long[] {100, -1000}, y.get("y").longs(), "the spec's example: \"100.5\" gives 100");
    }

    @Test
    void castToStringIsRefusedNamingTheNode() {
        GraphBuilder b = new GraphBuilder("text");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("2"));
        b.output(b.op("Cast").name("to_text").inputs(x).attr("to", (long) DType.STRING.onnxCode()).outputNames("text")
                .output());
        UnsupportedOpException e = assertThrows(UnsupportedOpException.class, () -> CodeGenerator.generate(b.build(),
                new CodegenOptions("com.acme", "Text", 1, "test")));
        assertTrue(e.getMessage().contains("node 'to_text' (Cast): code generation does not handle string tensors in "
                + "Cast ('text' is str[2])"), e.getMessage());
    }
}
