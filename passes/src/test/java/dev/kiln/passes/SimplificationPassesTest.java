package dev.kiln.passes;

import static org.junit.jupiter.api.Assertions.assertSame;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import org.junit.jupiter.api.Test;

class SimplificationPassesTest {
    @Test
    void removesNoOpsAndMergesTransposesKeepingOutputNames() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,3,4"));
        Value i = b.op("Identity").inputs(x).outputNames("i").output();
        Value d = b.op("Dropout").inputs(i).outputNames("d").output();
        Value t1 = b.op("Transpose").inputs(d).attr("perm", new long[] {0, 2, 1}).outputNames("t1").output();
        Value t2 = b.op("Transpose").inputs(t1).attr("perm", new long[] {2, 1, 0}).outputNames("t2").output();
        Value c = b.op("Cast").inputs(t2).attr("to", (long) DType.FLOAT32.onnxCode()).outputNames("y").output();
        b.output(c);
        Graph g = b.build();
        PassTesting.check(new Simplification(), g, """
                graph g(%x: f32[N,3,4]) -> (%y: f32[3,4,N])
                  %t1: f32[N,4,3] = Transpose(%x) {perm=[0,2,1]}
                  %y: f32[3,4,N] = Transpose(%x) {perm=[1,2,0]}
                  return %y
                """);
    }

    @Test
    void castLikeBecomesACastSoItsTypeOperandIsNoLongerRead() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("3,2"));
        Value like = b.input("like", DType.FLOAT64, Shape.parse("3,2,2"));
        b.output(b.op("CastLike").inputs(x, like).outputNames("y").output());
        PassTesting.check(new Simplification(), b.build(), """
                graph g(%x: f32[3,2], %like: f64[3,2,2]) -> (%y: f64[3,2])
                  %y: f64[3,2] = Cast(%x) {to=11}
                  return %y
                """);
    }

    @Test
    void foldsConstantsAndStaticShapesButKeepsTheBatchSymbolic() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,2,3"));
        Value w = b.initializer("w", Tensor.ofFloats(new int[] {3}, 1, 2, 3));
        Value w2 = b.op("Mul").inputs(w, w).outputNames("w2").output();
        Value shape = b.op("Shape").inputs(x).outputNames("shape").output();
        Value zero = b.initializer("zero", Tensor.ofInt64s(0));
        Value one = b.initializer("one", Tensor.ofInt64s(1));
        Value n = b.op("Gather").inputs(shape, zero).outputNames("n").output();
        Value c = b.op("Gather").inputs(shape, one).outputNames("c").output();
        Value minus1 = b.initializer("minus1", Tensor.ofInt64s(-1));
        Value target = b.op("Concat").inputs(n, minus1).attr("axis", 0L).outputNames("target").output();
        Value flat = b.op("Reshape").inputs(x, target).outputNames("flat").output();
        Value y = b.op("Mul").inputs(flat, b.op("Cast").inputs(c).attr("to", 1L).outputNames("cf").output())
                .outputNames("y0").output();
        Value z = b.op("Add").inputs(b.op("Reshape").inputs(y, b.initializer("s", Tensor.ofInt64s(-1, 2, 3)))
                .outputNames("y1").output(), w2).outputNames("z").output();
        b.output(z);
        Graph g = b.build();
        Graph folded = new ConstantFolding().apply(g);
        Graph clean = new DeadCodeElimination().apply(folded);
        dev.kiln.ir.GraphVerifier.verify(clean);
        // Shape(x)[1] = 2 is static and folds; Shape(x)[0] = N stays a computation on the symbolic batch.
        org.junit.jupiter.api.Assertions.assertEquals("""
                graph g(%x: f32[N,2,3]) -> (%z: f32[N,2,3])
                  init %zero: i64[1] = [0]
                  init %minus1: i64[1] = [-1]
                  init %s: i64[3] = [-1,2,3]
                  init %w2: f32[3] = [1.0,4.0,9.0]
                  init %cf: f32[1] = [2.0]
                  %shape: i64[3] = Shape(%x)
                  %n: i64[1] = Gather(%shape, %zero)
                  %target: i64[2] = Concat(%n, %minus1) {axis=0}
                  %flat: f32[N,6] = Reshape(%x, %target)
                  %y0: f32[N,6] = Mul(%flat, %cf)
                  %y1: f32[N,2,3] = Reshape(%y0, %s)
                  %z: f32[N,2,3] = Add(%y1, %w2)
                  return %z
                """, dev.kiln.ir.GraphPrinter.print(clean));
        PassTesting.assertEquivalent(g, clean);
    }

    @Test
    void aShapeTheModelOnlyDeclaresIsNoProofThatANodeDoesNothing() {
        // Expand(x, shape) declared [1,3,1]: only the run-time values can say the result is x's shape, so it stays
        // (generated code checks them); the same Expand with a constant shape is a no-op and goes.
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("1,3,1"));
        Value shape = b.input("shape", DType.INT64, Shape.parse("2"));
        b.declareShape("y", Shape.parse("1,3,1"));
        b.output(b.op("Expand").inputs(x, shape).outputNames("y").output());
        Graph declared = b.build();
        assertSame(declared, new Simplification().apply(declared));

        GraphBuilder c = new GraphBuilder("g");
        Value cx = c.input("x", DType.FLOAT32, Shape.parse("1,3,1"));
        c.output(c.op("Expand").inputs(cx, c.initializer("shape", Tensor.ofInt64s(3, 1))).outputNames("y").output());
        PassTesting.check(new Simplification(), c.build(), """
                graph g(%x: f32[1,3,1]) -> (%y: f32[1,3,1])
                  init %shape: i64[2] = [3,1]
                  %y: f32[1,3,1] = Identity(%x)
                  return %y
                """);
    }

    @Test
    void cseMergesEqualNodesAndEqualConstants() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,2"));
        Value k1 = b.initializer("k1", Tensor.ofFloats(new int[] {2}, 1, 2));
        Value k2 = b.initializer("k2", Tensor.ofFloats(new int[] {2}, 1, 2));
        Value a = b.op("Add").inputs(x, k1).outputNames("a").output();
        Value c = b.op("Add").inputs(x, k2).outputNames("c").output();
        Value r1 = b.op("Relu").inputs(a).outputNames("r1").output();
        Value r2 = b.op("Relu").inputs(c).outputNames("r2").output();
        b.output(b.op("Mul").inputs(r1, r2).outputNames("y").output());
        Graph g = b.build();
        PassTesting.check(new CommonSubexpressionElimination(), g, """
                graph g(%x: f32[N,2]) -> (%y: f32[N,2])
                  init %k1: f32[2] = [1.0,2.0]
                  %a: f32[N,2] = Add(%x, %k1)
                  %r1: f32[N,2] = Relu(%a)
                  %y: f32[N,2] = Mul(%r1, %r1)
                  return %y
                """);
    }

    @Test
    void passesReturnTheSameGraphWhenNothingChanges() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,2"));
        b.output(b.op("Relu").inputs(x).outputNames("y").output());
        Graph g = b.build();
        for (Pass p : Pipeline.forLevel(OptLevel.O3)) {
            assertSame(g, p.apply(g), p.name());
        }
    }

    @Test
    void zeroInitialStatesOfRecurrentOpsBecomeAbsent() {
        GraphBuilder b = new GraphBuilder("rnn");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("3,N,2"));
        Value w = b.initializer("w", Tensor.ofFloats(new int[] {1, 4, 2}, 0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f, 0.7f, -0.8f));
        Value r = b.initializer("r", Tensor.ofFloats(new int[] {1, 4, 1}, 0.5f, -0.5f, 0.25f, 0.75f));
        Value shape = b.op("Shape").inputs(x).outputNames("shape").output();
        Value n = b.op("Gather").inputs(shape, b.initializer("one", Tensor.ofInt64s(1))).outputNames("n").output();
        Value dims = b.op("Concat").inputs(b.initializer("lead", Tensor.ofInt64s(1)), n,
                b.initializer("hidden", Tensor.ofInt64s(1))).attr("axis", 0L).outputNames("dims").output();
        Value h0 = b.op("ConstantOfShape").inputs(dims).outputNames("h0").output();
        java.util.List<Value> outs = b.op("LSTM").inputs(x, w, r, Value.ABSENT, Value.ABSENT, h0, h0)
                .attr("hidden_size", 1L).outputNames("y", "y_h", "").build();
        b.output(outs.get(1));
        Graph g = b.build();
        Graph simplified = new DeadCodeElimination().apply(new Simplification().apply(g));
        org.junit.jupiter.api.Assertions.assertEquals("""
                graph rnn(%x: f32[3,N,2]) -> (%y_h: f32[1,N,1])
                  init %w: f32[1,4,2] = [0.1,-0.2,0.3,0.4,-0.5,0.6,0.7,-0.8]
                  init %r: f32[1,4,1] = [0.5,-0.5,0.25,0.75]
                  %y: f32[3,1,N,1], %y_h: f32[1,N,1], _ = LSTM(%x, %w, %r) {hidden_size=1}
                  return %y_h
                """, dev.kiln.ir.GraphPrinter.print(simplified));
        PassTesting.assertEquivalent(g, simplified);
    }

    /** X [3, N, 2] into an LSTM of hidden size 2 in {@code direction}, Y read as a classifier reads its last step. */
    private static Graph lastStepGraph(String direction, long index, long[] perm) {
        GraphBuilder b = new GraphBuilder("seq");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("3,N,2"));
        float[] wd = new float[16];
        float[] rd = new float[16];
        for (int i = 0; i < 16; i++) {
            wd[i] = (i % 5 - 2) * 0.3f;
            rd[i] = (i % 3 - 1) * 0.4f;
        }
        Value w = b.initializer("w", Tensor.ofFloats(new int[] {1, 8, 2}, wd));
        Value r = b.initializer("r", Tensor.ofFloats(new int[] {1, 8, 2}, rd));
        java.util.List<Value> outs = b.op("LSTM").inputs(x, w, r).attr("hidden_size", 2L)
                .attr("direction", direction).outputNames("y", "y_h", "y_c").build();
        Value squeezed = b.op("Squeeze").inputs(outs.get(0), b.initializer("dir", Tensor.ofInt64s(1)))
                .outputNames("steps").output();
        Value batchFirst = b.op("Transpose").inputs(squeezed).attr("perm", perm).outputNames("t").output();
        int timeAxis = java.util.Arrays.asList(perm[0], perm[1], perm[2]).indexOf(0L);
        b.output(b.op("Gather").inputs(batchFirst, b.initializer("last", Tensor.scalarLong(DType.INT64, index)))
                .attr("axis", (long) timeAxis).outputNames("out").output());
        return b.build();
    }

    @Test
    void theLastStepOfARecurrentOpsYIsReadFromYh() {
        Graph g = lastStepGraph("forward", -1, new long[] {1, 0, 2});
        Graph simplified = new DeadCodeElimination().apply(new Simplification().apply(g));
        // Y is no longer read (codegen then skips writing it); the gather is a view of Y_h.
        org.junit.jupiter.api.Assertions.assertEquals("""
                  %y: f32[3,1,N,2], %y_h: f32[1,N,2], %y_c: f32[1,N,2] = LSTM(%x, %w, %r) {direction="forward", hidden_size=2}
                  %out: f32[N,2] = Squeeze(%y_h, %out_axes)
                  return %out
                """, dev.kiln.ir.GraphPrinter.print(simplified).lines().skip(4)
                .collect(java.util.stream.Collectors.joining("\n", "", "\n")));
        PassTesting.assertEquivalent(g, simplified);
        // Going in reverse, Y_h is step 0; with the static sequence length the last index may also be spelled 2.
        for (Graph other : java.util.List.of(lastStepGraph("reverse", 0, new long[] {1, 0, 2}),
                lastStepGraph("forward", 2, new long[] {0, 1, 2}))) {
            Graph s = new DeadCodeElimination().apply(new Simplification().apply(other));
            org.junit.jupiter.api.Assertions.assertFalse(s.nodes().stream().anyMatch(n -> n.op().equals("Gather")),
                    dev.kiln.ir.GraphPrinter.print(s));
            PassTesting.assertEquivalent(other, s);
        }
    }

    @Test
    void otherStepsOrAxisOrdersOfYStayGathers() {
        for (Graph g : java.util.List.of(lastStepGraph("forward", 1, new long[] {1, 0, 2}),
                lastStepGraph("reverse", -1, new long[] {1, 0, 2}),
                lastStepGraph("forward", -1, new long[] {2, 0, 1}))) {
            Graph s = new Simplification().apply(g);
            org.junit.jupiter.api.Assertions.assertTrue(s.nodes().stream().anyMatch(n -> n.op().equals("Gather")),
                    dev.kiln.ir.GraphPrinter.print(s));
        }
    }
}
