package dev.kiln.ir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class DimBindingTest {
    /** x: [N, S, 4] through a Reshape to [N, S*4] and a Relu. */
    private static Graph sequenceModel() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,S,4"));
        Value flat = b.op("Flatten").inputs(x).attr("axis", 1).outputNames("flat").output();
        Value y = b.op("Relu").inputs(flat).outputNames("y").output();
        b.output(y);
        return b.build();
    }

    @Test
    void fixesTheSymbolInEveryValueAndKeepsTheOthers() {
        Graph g = sequenceModel();
        assertEquals("f32[N,4*S]", g.outputs().get(0).type().toString());
        Graph bound = DimBinding.bind(g, Map.of("S", 7L));
        assertEquals("f32[N,7,4]", bound.inputs().get(0).type().toString());
        assertEquals("f32[N,28]", bound.nodes().get(0).outputs().get(0).type().toString());
        assertEquals("f32[N,28]", bound.outputs().get(0).type().toString());
        assertSame(bound.nodes().get(1).inputs().get(0), bound.nodes().get(0).outputs().get(0),
                "uses see the rebound value");
        assertEquals(Optional.of("N"), DimBinding.batchSymbol(bound));
        Map<String, Tensor> out = ReferenceEvaluator.run(bound,
                Map.of("x", Tensor.zeros(DType.FLOAT32, new int[] {2, 7, 4})));
        assertEquals(2 * 28, out.get("y").size());
    }

    @Test
    void noSizesIsTheSameGraph() {
        Graph g = sequenceModel();
        assertSame(g, DimBinding.bind(g, Map.of()));
    }

    @Test
    void refusesASymbolTheInputsLackOrASizeBelowOne() {
        Graph g = sequenceModel();
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> DimBinding.bind(g, Map.of("T", 3L)));
        assertEquals("the model's inputs have no symbolic dim 'T' (they have N, S)", unknown.getMessage());
        assertThrows(IllegalArgumentException.class, () -> DimBinding.bind(g, Map.of("S", 0L)));
    }

    @Test
    void sizesFromFeedsLeaveTheBatchSymbolic() {
        Graph g = sequenceModel();
        Map<String, Tensor> feeds = Map.of("x", Tensor.zeros(DType.FLOAT32, new int[] {3, 5, 4}));
        assertEquals(Map.of("S", 5L), DimBinding.fromFeeds(g, feeds, true));
        assertEquals(Map.of("N", 3L, "S", 5L), DimBinding.fromFeeds(g, feeds, false));
    }

    @Test
    void aSymbolTwoInputsSizeDifferentlyIsLeftToTheRunToReport() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,S"));
        Value z = b.input("z", DType.FLOAT32, Shape.parse("N,S"));
        b.output(b.op("Add").inputs(x, z).outputNames("y").output());
        Graph g = b.build();
        Map<String, Tensor> feeds = Map.of("x", Tensor.zeros(DType.FLOAT32, new int[] {1, 5}),
                "z", Tensor.zeros(DType.FLOAT32, new int[] {1, 6}));
        assertEquals(Map.of(), DimBinding.fromFeeds(g, feeds, true));
    }
}
