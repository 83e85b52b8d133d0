package dev.kiln.ir.ops;

import static dev.kiln.ir.ops.OpHarness.assertTensor;
import static dev.kiln.ir.ops.OpHarness.f32;
import static dev.kiln.ir.ops.OpHarness.infer;
import static dev.kiln.ir.ops.OpHarness.run1;
import static dev.kiln.ir.ops.OpHarness.shape;
import static dev.kiln.ir.ops.OpHarness.type;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.ShapeException;
import dev.kiln.ir.Tensor;
import org.junit.jupiter.api.Test;

/** Gemm and MatMul on small operands whose products were worked out by hand. */
class LinearAlgebraOpsTest {
    private static final double EXACT = 0;

    // A' = [[1,2,3],[4,5,6]] stored transposed; B' = [[1,0],[0,1],[1,1]] stored transposed; A'B' = [[4,5],[10,11]].
    private static final Tensor A_T = f32(shape(3, 2), 1, 4, 2, 5, 3, 6);
    private static final Tensor B_T = f32(shape(2, 3), 1, 0, 1, 0, 1, 1);
    private static final Attributes BOTH_T = Attributes.builder().i("transA", 1).i("transB", 1)
            .f("alpha", 2).f("beta", 0.5f).build();

    @Test
    void gemmWithTransposesAlphaBetaAndColumnBias() {
        Tensor y = run1("Gemm", BOTH_T, A_T, B_T, f32(shape(2, 1), 10, 20));
        assertTensor(shape(2, 2), new double[] {13, 15, 30, 32}, y, EXACT);
    }

    @Test
    void gemmBroadcastsRowAndScalarBias() {
        assertTensor(shape(2, 2), new double[] {8.5, 11, 20.5, 23},
                run1("Gemm", BOTH_T, A_T, B_T, f32(shape(2), 1, 2)), EXACT);
        assertTensor(shape(2, 2), new double[] {9, 11, 21, 23},
                run1("Gemm", BOTH_T, A_T, B_T, f32(shape(), 2)), EXACT);
        assertTensor(shape(2, 2), new double[] {8, 10, 20, 22}, run1("Gemm", BOTH_T, A_T, B_T, null), EXACT);
    }

    @Test
    void gemmShapeAndErrors() {
        assertEquals("f32[N,10]", infer("Gemm", Attributes.builder().i("transB", 1).build(), 1,
                type("f32[N,784]"), type("f32[10,784]"), type("f32[10]")).get(0).toString());
        ShapeException e = assertThrows(ShapeException.class, () -> infer("Gemm", Attributes.EMPTY, 1,
                type("f32[N,784]"), type("f32[10,784]")));
        assertTrue(e.getMessage().contains("inner dims differ"), e.getMessage());
        ShapeException c = assertThrows(ShapeException.class, () -> infer("Gemm", Attributes.EMPTY, 1,
                type("f32[4,3]"), type("f32[3,5]"), type("f32[4]")));
        assertTrue(c.getMessage().contains("cannot broadcast to [4,5]"), c.getMessage());
    }

    @Test
    void matMulOfTwoVectorsIsAScalar() {
        Tensor y = run1("MatMul", Attributes.EMPTY, f32(shape(3), 1, 2, 3), f32(shape(3), 4, 5, 6));
        assertTensor(shape(), new double[] {32}, y, EXACT);
    }

    @Test
    void matMulPromotesAVectorAgainstABatch() {
        Tensor b = f32(shape(2, 2, 3), 1, 2, 3, 4, 5, 6, 0, 1, 0, 1, 0, 1);
        assertTensor(shape(2, 3), new double[] {9, 12, 15, 2, 1, 2},
                run1("MatMul", Attributes.EMPTY, f32(shape(2), 1, 2), b), EXACT);
        // a batch of matrices times a vector: [2,2,3] @ [3] = [2,2]
        assertTensor(shape(2, 2), new double[] {6, 15, 1, 2},
                run1("MatMul", Attributes.EMPTY, b, f32(shape(3), 1, 1, 1)), EXACT);
    }

    @Test
    void matMulBroadcastsBatchDims() {
        // A [2,1,2,2] = identity and 2*identity; B [3,2,1] = [[j],[1]]: out[i][j] = (i+1) * [[j],[1]].
        Tensor a = f32(shape(2, 1, 2, 2), 1, 0, 0, 1, 2, 0, 0, 2);
        Tensor b = f32(shape(3, 2, 1), 0, 1, 1, 1, 2, 1);
        assertTensor(shape(2, 3, 2, 1), new double[] {0, 1, 1, 1, 2, 1, 0, 2, 2, 2, 4, 2},
                run1("MatMul", Attributes.EMPTY, a, b), EXACT);
        assertEquals("f32[N,4,3]", infer("MatMul", Attributes.EMPTY, 1, type("f32[N,4,8]"), type("f32[8,3]"))
                .get(0).toString());
        assertEquals("f32[2,N,4,3]", infer("MatMul", Attributes.EMPTY, 1, type("f32[N,4,8]"), type("f32[2,1,8,3]"))
                .get(0).toString());
        assertEquals("f32[N]", infer("MatMul", Attributes.EMPTY, 1, type("f32[N,8]"), type("f32[8]")).get(0).toString());
    }

    @Test
    void integerMatMulIsExact() {
        long big = 1L << 40;
        Tensor a = Tensor.ofLongs(DType.INT64, shape(1, 2), big, 1);
        Tensor b = Tensor.ofLongs(DType.INT64, shape(2, 1), 3, 1);
        assertArrayEquals(new long[] {3 * big + 1}, run1("MatMul", Attributes.EMPTY, a, b).longs());
    }

    private static Attributes equation(String eq) {
        return Attributes.builder().s("equation", eq).build();
    }

    @Test
    void einsumMatrixProductExplicitAndImplicit() {
        Tensor a = f32(shape(2, 2), 1, 2, 3, 4);
        Tensor b = f32(shape(2, 2), 0, 1, 1, 0);
        assertTensor(shape(2, 2), new double[] {2, 1, 4, 3}, run1("Einsum", equation("ij,jk->ik"), a, b), EXACT);
        assertTensor(shape(2, 2), new double[] {2, 1, 4, 3}, run1("Einsum", equation("ij, jk"), a, b), EXACT);
        // implicit output sorts the free labels: "ba" keeps b,a -> output "ab", a transpose.
        assertTensor(shape(2, 2), new double[] {1, 3, 2, 4}, run1("Einsum", equation("ba"), a), EXACT);
    }

    @Test
    void einsumDiagonalTraceAndEllipsisBroadcast() {
        Tensor a = f32(shape(2, 2), 1, 2, 3, 4);
        assertTensor(shape(2), new double[] {1, 4}, run1("Einsum", equation("ii->i"), a), EXACT);
        assertTensor(shape(), new double[] {5}, run1("Einsum", equation("ii"), a), EXACT);
        // [2,1,2] ... broadcast against [3,2]'s missing batch: ...ij,jk->...ik
        Tensor batch = f32(shape(2, 1, 2), 1, 1, 2, 0);
        assertTensor(shape(2, 1, 2), new double[] {4, 6, 2, 4}, run1("Einsum", equation("...ij,jk->...ik"), batch, a),
                EXACT);
        assertEquals("f32[N,4,3]", infer("Einsum", equation("...ij,jk->...ik"), 1, type("f32[N,4,8]"),
                type("f32[8,3]")).get(0).toString());
        ShapeException e = assertThrows(ShapeException.class,
                () -> infer("Einsum", equation("ij,jk->ik"), 1, type("f32[4,8]"), type("f32[7,3]")));
        assertTrue(e.getMessage().contains("label 'j' is 8 in one operand and 7"), e.getMessage());
    }
}
