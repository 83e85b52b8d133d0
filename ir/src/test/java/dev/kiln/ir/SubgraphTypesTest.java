package dev.kiln.ir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * How control flow joins the types a value takes on different paths (an If's branches, a Loop's iterations): tensors
 * by their common dims; sequences and optionals keep their kind, and an optional joined with its content is the
 * optional (ONNX's test_loop16_seq_none carries an optional sequence that the body returns as a plain sequence).
 */
class SubgraphTypesTest {
    private static final TensorType F3 = TensorType.of(DType.FLOAT32, 3);
    private static final TensorType F4 = TensorType.of(DType.FLOAT32, 4);

    @Test
    void tensorsKeepCommonDimsAndNeedOneRank() {
        TensorType joined = Subgraphs.join(F3, F4).orElseThrow();
        assertTrue(joined.isTensor() && joined.rank() == 1 && joined.shape().dim(0).hasUnknown(), joined.toString());
        assertEquals(Optional.empty(), Subgraphs.join(F3, TensorType.of(DType.FLOAT32, 3, 1)));
        assertEquals(Optional.empty(), Subgraphs.join(F3, TensorType.of(DType.INT64, 3)));
    }

    @Test
    void sequencesStaySequencesAndForgetARankThatDiffers() {
        TensorType scalars = TensorType.sequenceOf(TensorType.of(DType.FLOAT32));
        TensorType rows = TensorType.sequenceOf(F3);
        Optional<TensorType> joined = Subgraphs.join(scalars, rows);
        assertEquals(Optional.of(TensorType.unrankedSequence(DType.FLOAT32)), joined);
        assertTrue(Subgraphs.covers(joined.get(), rows));
        assertTrue(Subgraphs.covers(joined.get(), scalars));
        assertFalse(Subgraphs.covers(rows, scalars));
        TensorType anyLength = Subgraphs.join(rows, TensorType.sequenceOf(F4)).orElseThrow();
        assertTrue(anyLength.isSequence() && anyLength.rank() == 1 && anyLength.shape().dim(0).hasUnknown(),
                anyLength.toString());
        assertEquals(Optional.empty(), Subgraphs.join(rows, F3), "a sequence and a tensor do not meet");
    }

    @Test
    void anOptionalJoinedWithItsContentIsTheOptional() {
        TensorType optionalRows = TensorType.optionalOf(TensorType.sequenceOf(F3));
        TensorType rows = TensorType.sequenceOf(F3);
        assertEquals(Optional.of(optionalRows), Subgraphs.join(optionalRows, rows));
        assertEquals(Optional.of(optionalRows), Subgraphs.join(rows, optionalRows));
        assertTrue(Subgraphs.covers(optionalRows, rows));
        assertFalse(Subgraphs.covers(rows, optionalRows), "a sequence cannot hold an absent optional");
        assertEquals(Optional.of(TensorType.optionalOf(F3)), Subgraphs.join(TensorType.optionalOf(F3), F3));
        assertEquals(Optional.empty(), Subgraphs.join(TensorType.optionalOf(F3), rows));
    }
}
