package dev.kiln.ir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class GraphBuilderTest {
    @Test
    void buildsTypesPrintsAndEvaluates() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,3"));
        Value bias = b.initializer("bias", Tensor.ofFloats(new int[] {3}, 1f, -2f, 0.5f));
        Value s = b.op("Add").inputs(x, bias).outputNames("s").output();
        Value y = b.op("Relu").name("act").inputs(s).outputNames("y").output();
        b.output(y);
        Graph g = b.build();
        assertEquals("f32[N,3]", y.type().toString());
        assertEquals("""
                graph g(%x: f32[N,3]) -> (%y: f32[N,3])
                  init %bias: f32[3] = [1.0,-2.0,0.5]
                  %s: f32[N,3] = Add(%x, %bias)
                  %y: f32[N,3] = Relu(%s)  # act
                  return %y
                """, GraphPrinter.print(g));
        Map<String, Tensor> out = ReferenceEvaluator.run(g,
                Map.of("x", Tensor.ofFloats(new int[] {2, 3}, 0f, 1f, 2f, -3f, 4f, -1f)));
        assertArrayEquals(new float[] {1f, 0f, 2.5f, 0f, 2f, 0f}, out.get("y").toFloatArray());
    }

    @Test
    void declaredShapeFillsOnlyDimsInferenceLeavesUnknown() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,6"));
        Value target = b.input("target", DType.INT64, Shape.parse("2"));
        b.declareShape("y", new Shape(java.util.List.of(Dim.of(7), Dim.of(3))));
        b.declareShape("z", new Shape(java.util.List.of(Dim.of(9))));
        Value y = b.op("Reshape").inputs(x, target).outputNames("y").output();
        Value z = b.op("Relu").inputs(x).outputNames("z").output();
        assertTrue(x.shape().dims().get(0).equals(Dim.sym("N")));
        assertEquals(2, y.shape().rank());
        assertEquals(Dim.of(7), y.shape().dims().get(0), "an unknown dim takes the declared static one");
        assertEquals(Dim.of(3), y.shape().dims().get(1));
        assertEquals("f32[N,6]", z.type().toString(), "a declaration of another rank is ignored");
        b.output(y).output(z);
        b.build();
    }

    @Test
    void aDeclaredShapeFixesTheSameUnknownDimsInValuesBuiltBefore() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("3,2,2"));
        Value axes = b.input("axes", DType.INT64, Shape.parse("1"));
        b.declareShape("y", Shape.parse("3,2,1"));
        Value sum = b.op("ReduceSum").inputs(x, axes).outputNames("sum").output();
        Value root = b.op("Sqrt").inputs(sum).outputNames("root").output();
        Value y = b.op("Neg").inputs(root).outputNames("y").output();
        assertTrue(sum.shape().dims().get(0).hasUnknown(), "built before the declaration applied");
        Graph g = b.output(y).build();
        for (Node n : g.nodes()) {
            assertEquals("[3,2,1]", n.output(0).shape().toString(), n.describe());
        }
        assertEquals("[3,2,1]", g.outputs().get(0).shape().toString());
        assertTrue(g.nodes().get(1).input(0) == g.nodes().get(0).output(0), "consumers read the new values");
    }

    @Test
    void rejectsIncompatibleBroadcastNamingNodeAndShapes() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,3"));
        Value w = b.initializer("w", Tensor.ofFloats(new int[] {4}, 1f, 2f, 3f, 4f));
        ShapeException e = assertThrows(ShapeException.class, () -> b.op("Add").name("add1").inputs(x, w).output());
        assertTrue(e.getMessage().contains("node 'add1' (Add)"), e.getMessage());
        assertTrue(e.getMessage().contains("f32[N,3]") && e.getMessage().contains("f32[4]"), e.getMessage());
    }

    @Test
    void unknownOpIsUnsupported() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.of(2));
        UnsupportedOpException e = assertThrows(UnsupportedOpException.class,
                () -> b.op("Frobnicate").name("f").inputs(x).output());
        assertTrue(e.getMessage().contains("Frobnicate") && e.getMessage().contains("'f'"), e.getMessage());
    }

    @Test
    void evaluatorChecksInputShapes() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,3"));
        b.output(b.op("Relu").inputs(x).output());
        Graph g = b.build();
        InputException e = assertThrows(InputException.class,
                () -> ReferenceEvaluator.run(g, Map.of("x", Tensor.ofFloats(new int[] {1, 4}, 1, 2, 3, 4))));
        assertTrue(e.getMessage().contains("f32[N,3]") && e.getMessage().contains("f32[1,4]"), e.getMessage());
    }

    @Test
    void dimAlgebraKeepsBatchSymbolic() {
        Dim n = Dim.sym("N");
        Dim total = n.times(Dim.of(320));
        assertEquals("320*N", total.toString());
        assertEquals(n, total.dividedBy(Dim.of(320)).orElseThrow());
        assertTrue(total.dividedBy(Dim.of(7)).isEmpty());
        assertEquals(Dim.of(5), Dim.of(2).plus(Dim.of(3)).orElseThrow());
        assertTrue(n.plus(Dim.of(3)).isEmpty());
    }
}
