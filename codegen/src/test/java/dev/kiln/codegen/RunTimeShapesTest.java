package dev.kiln.codegen;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Models whose shapes depend on values given as graph inputs (a Reshape target, Expand's shape, Split sizes...),
 * compiled for the shapes the model declares: with values consistent with them, generated code matches the
 * reference evaluator; with other values it fails with a message naming the node, the input, the values and both
 * shapes, rather than computing garbage.
 */
class RunTimeShapesTest {
    private static Tensor ints(long... v) {
        return Tensor.ofInt64s(v);
    }

    private static Map<String, Tensor> feeds(Object... nameTensor) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (int i = 0; i < nameTensor.length; i += 2) {
            m.put((String) nameTensor[i], (Tensor) nameTensor[i + 1]);
        }
        return m;
    }

    /** Generated code and the evaluator agree exactly (data movement only) on every output. */
    private static void assertMatches(GeneratedExecutor generated, Graph g, Map<String, Tensor> feeds) {
        Map<String, Tensor> expected = ReferenceEvaluator.run(g, feeds);
        Map<String, Tensor> actual = generated.run(feeds);
        assertEquals(expected.keySet(), actual.keySet());
        expected.forEach((name, e) -> {
            Tensor a = actual.get(name);
            assertEquals(e.type(), a.type(), name);
            for (int i = 0; i < e.size(); i++) {
                assertEquals(e.getDouble(i), a.getDouble(i), 1e-6 * Math.max(1, Math.abs(e.getDouble(i))),
                        name + " element " + i);
            }
        });
    }

    /** The run fails with an IllegalArgumentException (an InputException through the executor) naming each fragment. */
    private static void assertRefused(GeneratedExecutor generated, Map<String, Tensor> feeds, String... fragments) {
        InputException e = assertThrows(InputException.class, () -> generated.run(feeds));
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "message lacks '" + f + "': " + e.getMessage());
        }
    }

    @Test
    void reshapeInsideTheGraphChecksItsTargetThoughItSharesStorage() {
        GraphBuilder b = new GraphBuilder("reshape");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("2,3,4"));
        Value target = b.input("target", DType.INT64, Shape.parse("2"));
        b.declareShape("flat", Shape.parse("6,4"));
        Value flat = b.op("Reshape").inputs(x, target).name("toRows").outputNames("flat").output();
        b.output(b.op("Relu").inputs(flat).outputNames("y").output());
        Graph g = b.build();
        assertEquals("f32[6,4]", flat.type().toString());
        GeneratedExecutor generated = GeneratedExecutor.compile(g, 1);
        Tensor data = GeneratedClassTest.random(1, 2, 3, 4);
        assertMatches(generated, g, feeds("x", data, "target", ints(6, 4)));
        assertMatches(generated, g, feeds("x", data, "target", ints(-1, 4)));
        assertMatches(generated, g, feeds("x", data, "target", ints(6, -1)));
        assertRefused(generated, feeds("x", data, "target", ints(4, 6)), "node 'toRows' (Reshape)", "input 'target'",
                "[4, 6]", "output shape [4, 6]", "compiled for [6, 4]");
        assertRefused(generated, feeds("x", data, "target", ints(-1, -1)), "toRows", "more than one -1",
                "compiled for [6, 4]");
    }

    @Test
    void aTargetComputedAtRunTimeIsCheckedWhereTheArenaHoldsIt() {
        GraphBuilder b = new GraphBuilder("computed");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("2,3,4"));
        Value rows = b.input("rows", DType.INT64, Shape.parse("1"));
        Value target = b.op("Concat").inputs(rows, b.initializer("minusOne", ints(-1))).attr("axis", 0L)
                .outputNames("target").output();
        b.declareShape("flat", Shape.parse("3,8"));
        Value flat = b.op("Reshape").inputs(x, target).outputNames("flat").output();
        b.output(b.op("Neg").inputs(flat).outputNames("y").output());
        Graph g = b.build();
        GeneratedExecutor generated = GeneratedExecutor.compile(g, 1);
        Tensor data = GeneratedClassTest.random(5, 2, 3, 4);
        assertMatches(generated, g, feeds("x", data, "rows", ints(3)));
        assertRefused(generated, feeds("x", data, "rows", ints(4)), "Reshape node producing 'flat'", "input 'target'",
                "[4, -1]", "output shape [4, 6]", "compiled for [3, 8]");
    }

    @Test
    void expandTileSplitSqueezeAndUnsqueezeCheckTheirValues() {
        GraphBuilder b = new GraphBuilder("movement");
        Value x = b.input("x", DType.INT64, Shape.parse("3,1"));
        Value shape = b.input("shape", DType.INT64, Shape.parse("3"));
        Value repeats = b.input("repeats", DType.INT64, Shape.parse("3"));
        Value split = b.input("split", DType.INT64, Shape.parse("2"));
        Value axes = b.input("axes", DType.INT64, Shape.parse("1"));
        b.declareShape("wide", Shape.parse("2,3,4"));
        b.declareShape("tiled", Shape.parse("2,6,8"));
        b.declareShape("left", Shape.parse("2,6,3"));
        b.declareShape("right", Shape.parse("2,6,5"));
        b.declareShape("lifted", Shape.parse("2,1,6,5"));
        b.declareShape("dropped", Shape.parse("2,6,5"));
        Value wide = b.op("Expand").inputs(x, shape).outputNames("wide").output();
        Value tiled = b.op("Tile").inputs(wide, repeats).outputNames("tiled").output();
        var parts = b.op("Split").inputs(tiled, split).attr("axis", 2L).outputNames("left", "right").build();
        Value lifted = b.op("Unsqueeze").inputs(parts.get(1), axes).outputNames("lifted").output();
        Value dropped = b.op("Squeeze").inputs(lifted, axes).outputNames("dropped").output();
        b.output(parts.get(0)).output(dropped);
        Graph g = b.build();
        GeneratedExecutor generated = GeneratedExecutor.compile(g, 1);
        Tensor data = ints(7, -2, 5).reshape(new int[] {3, 1});
        Map<String, Tensor> good = feeds("x", data, "shape", ints(2, 1, 4), "repeats", ints(1, 2, 2),
                "split", ints(3, 5), "axes", ints(-3));
        assertMatches(generated, g, good);
        Map<String, Tensor> bad = new LinkedHashMap<>(good);
        bad.put("shape", ints(2, 1, 5));
        assertRefused(generated, bad, "Expand node producing 'wide'", "input 'shape'", "[2, 1, 5]", "[2, 3, 5]",
                "compiled for [2, 3, 4]");
        bad = new LinkedHashMap<>(good);
        bad.put("repeats", ints(2, 1, 2));
        assertRefused(generated, bad, "Tile", "input 'repeats'", "[2, 1, 2]", "output shape [4, 3, 8]",
                "compiled for [2, 6, 8]");
        bad = new LinkedHashMap<>(good);
        bad.put("split", ints(5, 3));
        assertRefused(generated, bad, "Split node producing 'left'", "input 'split'", "[5, 3]", "compiled for [3, 5]");
        bad = new LinkedHashMap<>(good);
        bad.put("axes", ints(0));
        assertRefused(generated, bad, "Unsqueeze node producing 'lifted'", "input 'axes'", "[0]",
                "output shape [1, 2, 6, 5]", "compiled for [2, 1, 6, 5]");
    }

    @Test
    void sliceReadsInt32BoundsAtRunTimeAlongsideTheBatch() {
        GraphBuilder b = new GraphBuilder("slice");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,10"));
        Value starts = b.input("starts", DType.INT32, Shape.parse("1"));
        Value ends = b.input("ends", DType.INT32, Shape.parse("1"));
        Value steps = b.input("steps", DType.INT32, Shape.parse("1"));
        b.declareShape("y", Shape.parse("1,4"));
        Value axes = b.initializer("axes", Tensor.ofLongs(DType.INT32, new int[] {1}, -1));
        Value y = b.op("Slice").inputs(x, starts, ends, axes, steps).outputNames("y").output();
        b.output(y);
        Graph g = b.build();
        assertEquals("f32[N,4]", y.type().toString(), "the batch stays symbolic, the declared dim fills the other");
        GeneratedExecutor generated = GeneratedExecutor.compile(g, 1);
        Tensor data = GeneratedClassTest.random(2, 3, 10);
        Tensor one = Tensor.ofLongs(DType.INT32, new int[] {1}, 1);
        assertMatches(generated, g, feeds("x", data, "starts", Tensor.ofLongs(DType.INT32, new int[] {1}, 2),
                "ends", Tensor.ofLongs(DType.INT32, new int[] {1}, 6), "steps", one));
        // Backwards from the end, clamped: 9, 7, 5, 3.
        assertMatches(generated, g, feeds("x", data, "starts", Tensor.ofLongs(DType.INT32, new int[] {1}, 1000),
                "ends", Tensor.ofLongs(DType.INT32, new int[] {1}, 2),
                "steps", Tensor.ofLongs(DType.INT32, new int[] {1}, -2)));
        assertRefused(generated, feeds("x", data, "starts", Tensor.ofLongs(DType.INT32, new int[] {1}, 2),
                        "ends", Tensor.ofLongs(DType.INT32, new int[] {1}, 5), "steps", one),
                "Slice node producing 'y'", "'starts', 'ends', 'axes', 'steps'",
                "starts [2], ends [5], axes [-1], steps [1]",
                "output shape [3, 3]", "compiled for [3, 4] at batch 3");
    }

    @Test
    void padReadsPadsAndAxesAtRunTimeInEveryMode() {
        for (String mode : new String[] {"constant", "reflect", "edge", "wrap"}) {
            GraphBuilder b = new GraphBuilder("pad");
            Value x = b.input("x", DType.FLOAT32, Shape.parse("3,4"));
            Value pads = b.input("pads", DType.INT64, Shape.parse("2"));
            Value axes = b.input("axes", DType.INT64, Shape.parse("1"));
            b.declareShape("y", Shape.parse("3,5"));
            Value fill = b.initializer("fill", Tensor.scalarFloat(2.5f));
            b.output(b.op("Pad").inputs(x, pads, fill, axes).attr("mode", mode).outputNames("y").output());
            Graph g = b.build();
            GeneratedExecutor generated = GeneratedExecutor.compile(g, 1);
            Tensor data = GeneratedClassTest.random(4, 3, 4);
            assertMatches(generated, g, feeds("x", data, "pads", ints(2, -1), "axes", ints(-1)));
            assertMatches(generated, g, feeds("x", data, "pads", ints(0, 1), "axes", ints(1)));
            assertRefused(generated, feeds("x", data, "pads", ints(1, 1), "axes", ints(1)), "Pad node producing 'y'",
                    "input 'pads'", "[1, 1]", "output shape [3, 6]", "compiled for [3, 5]");
            assertRefused(generated, feeds("x", data, "pads", ints(1, 0), "axes", ints(0)), "output shape [4, 4]");
            // The same pads as a constant: wrap repeats the part the negative pad keeps, as the reference does.
            GraphBuilder c = new GraphBuilder("padConstant");
            Value cx = c.input("x", DType.FLOAT32, Shape.parse("3,4"));
            c.output(c.op("Pad").inputs(cx, c.initializer("pads", ints(0, 2, 0, -1))).attr("mode", mode)
                    .outputNames("y").output());
            Graph constant = c.build();
            assertMatches(GeneratedExecutor.compile(constant, 1), constant, feeds("x", data));
        }
    }

    @Test
    void constantOfShapeRangeAndOneHotCheckTheValuesThatSizeThem() {
        GraphBuilder b = new GraphBuilder("generators");
        Value shape = b.input("shape", DType.INT64, Shape.parse("2"));
        Value start = b.input("start", DType.INT64, Shape.parse(""));
        Value limit = b.input("limit", DType.INT64, Shape.parse(""));
        Value from = b.input("from", DType.FLOAT32, Shape.parse(""));
        Value indices = b.input("indices", DType.INT32, Shape.parse("N,3"));
        Value depth = b.input("depth", DType.FLOAT32, Shape.parse("1"));
        b.declareShape("filled", Shape.parse("2,3"));
        b.declareShape("counted", Shape.parse("4"));
        b.declareShape("stepped", Shape.parse("3"));
        b.declareShape("hot", Shape.parse("2,5,3"));
        Tensor seven = Tensor.ofLongs(DType.INT32, new int[] {1}, 7);
        b.output(b.op("ConstantOfShape").inputs(shape).attr("value", new dev.kiln.ir.Attr.TensorValue(seven))
                .outputNames("filled").output());
        b.output(b.op("Range").inputs(start, limit, b.initializer("minusThree", Tensor.scalarLong(DType.INT64, -3)))
                .outputNames("counted").output());
        b.output(b.op("Range").inputs(from, b.initializer("upTo", Tensor.scalarFloat(2f)),
                b.initializer("by", Tensor.scalarFloat(0.75f))).outputNames("stepped").output());
        // All bounds constant (no pass folded them here): literals, no check.
        b.output(b.op("Range").inputs(b.initializer("zero", Tensor.scalarFloat(0)), b.initializer("one",
                Tensor.scalarFloat(1)), b.initializer("quarter", Tensor.scalarFloat(0.25f))).outputNames("constant")
                .output());
        b.output(b.op("OneHot").inputs(indices, depth, b.initializer("offOn", Tensor.ofFloats(new int[] {2}, -1, 3)))
                .attr("axis", 1L).outputNames("hot").output());
        Graph g = b.build();
        GeneratedExecutor generated = GeneratedExecutor.compile(g, 1);
        Tensor idx = Tensor.ofLongs(DType.INT32, new int[] {2, 3}, 0, 4, -1, 5, -6, 2);
        Map<String, Tensor> good = feeds("shape", ints(2, 3), "start", Tensor.scalarLong(DType.INT64, 10),
                "limit", Tensor.scalarLong(DType.INT64, -1), "from", Tensor.scalarFloat(0f), "indices", idx,
                "depth", Tensor.ofFloats(new int[] {1}, 5.9f));
        assertMatches(generated, g, good);
        Map<String, Tensor> bad = new LinkedHashMap<>(good);
        bad.put("shape", ints(3, 2));
        assertRefused(generated, bad, "ConstantOfShape node producing 'filled'", "input 'shape'", "[3, 2]",
                "compiled for [2, 3]");
        bad = new LinkedHashMap<>(good);
        bad.put("limit", Tensor.scalarLong(DType.INT64, 2));
        assertRefused(generated, bad, "Range node producing 'counted'", "'start', 'limit', 'minusThree'",
                "start 10, limit 2, delta -3", "output shape [3]", "compiled for [4]");
        bad = new LinkedHashMap<>(good);
        bad.put("from", Tensor.scalarFloat(-1f));
        assertRefused(generated, bad, "Range node producing 'stepped'", "output shape [4]", "compiled for [3]");
        bad = new LinkedHashMap<>(good);
        bad.put("depth", Tensor.ofFloats(new int[] {1}, 4f));
        assertRefused(generated, bad, "OneHot node producing 'hot'", "input 'depth'", "depth 4", "compiled for 5");
    }

    @Test
    void aModelWithoutDeclaredShapesIsStillRefusedAtGenerationTime() {
        GraphBuilder b = new GraphBuilder("undeclared");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("2,3,4"));
        Value target = b.input("target", DType.INT64, Shape.parse("2"));
        b.output(b.op("Reshape").inputs(x, target).outputNames("y").output());
        UnsupportedOpException e = assertThrows(UnsupportedOpException.class,
                () -> GeneratedExecutor.compile(b.build(), 1));
        assertTrue(e.getMessage().contains("depends on values known only at run time"), e.getMessage());
    }
}
