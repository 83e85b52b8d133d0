package com.example.digits;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import org.junit.jupiter.api.Test;

/**
 * Calls the class kiln-maven-plugin generated from src/main/onnx/digits.onnx (Kiln's bundled example, an 8x8-digit
 * CNN) and compares its logits with those of Kiln's reference evaluator, computed once with
 * {@code ./kiln run examples/digits/model.onnx --input x.npy --output-dir out} on the two images below.
 */
class DigitsTest {
    /** float32 kernels against the double-accumulating reference evaluator; every logit is below 1 in magnitude. */
    static final float TOLERANCE = 1e-5f;

    /** examples/digits/sample_input.npy: a seven, [1, 1, 8, 8]. */
    static final float[] SEVEN = {
        0, 0, 0, 0, 0, 0, 0, 0,
        0, 1, 1, 1, 1, 1, 1, 0,
        0, 0.5f, 0, 0, 0, 1, 1, 0,
        0, 0, 0, 0, 0, 1, 0.5f, 0,
        0, 0, 0, 0, 1, 1, 0, 0,
        0, 0, 0, 0, 1, 0.5f, 0, 0,
        0, 0, 0, 1, 1, 0, 0, 0,
        0, 0, 0, 1, 0, 0, 0, 0,
    };

    static final float[] SEVEN_LOGITS = {
        -0.11629999f, -0.041888185f, 0.062887058f, 0.063759044f, -0.075055495f,
        -0.049806114f, 0.20241922f, 0.006019154f, 0.09227190f, 0.080764443f,
    };

    /** A one: a vertical stroke with a half-bright serif. */
    static final float[] ONE = {
        0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0.5f, 1, 0, 0, 0,
        0, 0, 0, 0, 1, 0, 0, 0,
        0, 0, 0, 0, 1, 0, 0, 0,
        0, 0, 0, 0, 1, 0, 0, 0,
        0, 0, 0, 0, 1, 0, 0, 0,
        0, 0, 0, 0, 1, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
    };

    static final float[] ONE_LOGITS = {
        -0.11788403f, -0.038428124f, 0.14928257f, 0.10370394f, -0.027034707f,
        -0.11334824f, 0.14296836f, -0.088677622f, 0.10275522f, 0.013837027f,
    };

    @Test
    void oneImageGivesTheReferenceLogits() {
        float[] logits = Digits.load().run(SEVEN, 1);
        assertArrayEquals(SEVEN_LOGITS, logits, TOLERANCE);
    }

    @Test
    void aBatchOfTwoIntoACallerBufferGivesEachImagesLogits() {
        float[] images = new float[2 * 64];
        System.arraycopy(ONE, 0, images, 0, 64);
        System.arraycopy(SEVEN, 0, images, 64, 64);
        float[] logits = new float[2 * 10];
        Digits.load().run(images, 2, logits);
        float[] expected = new float[20];
        System.arraycopy(ONE_LOGITS, 0, expected, 0, 10);
        System.arraycopy(SEVEN_LOGITS, 0, expected, 10, 10);
        assertArrayEquals(expected, logits, TOLERANCE);
    }

    @Test
    void theWeightsAreAResourceBesideTheClass() {
        assertNotNull(Digits.class.getResource("Digits.weights"));
    }
}
