package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

/** Each activation's scalar form against its definition, and the vector form against the scalar one. */
class EpilogueTest {

    private static final VectorSpecies<Float> S = GemmKernel.SPECIES;

    static List<Epilogue> all() {
        return List.of(Epilogue.none(), Epilogue.relu(), Epilogue.leakyRelu(0.1f), Epilogue.sigmoid(),
                Epilogue.tanh(), Epilogue.hardSigmoid(0.2f, 0.5f), Epilogue.clip(-1f, 6f),
                Epilogue.clip(Float.NEGATIVE_INFINITY, 0.5f), Epilogue.elu(1.5f));
    }

    @Test
    void scalarFormsFollowTheOnnxDefinitions() {
        assertEquals(0f, Epilogue.relu().apply(-3f));
        assertEquals(2.5f, Epilogue.relu().apply(2.5f));
        assertEquals(-0.3f, Epilogue.leakyRelu(0.1f).apply(-3f), 1e-7f);
        assertEquals(0.5f, Epilogue.sigmoid().apply(0f));
        assertEquals(0.880797f, Epilogue.sigmoid().apply(2f), 1e-6f);
        assertEquals(-0.7615942f, Epilogue.tanh().apply(-1f), 1e-7f);
        assertEquals(0.9f, Epilogue.hardSigmoid(0.2f, 0.5f).apply(2f), 1e-7f);
        assertEquals(1f, Epilogue.hardSigmoid(0.2f, 0.5f).apply(10f));
        assertEquals(0f, Epilogue.hardSigmoid(0.2f, 0.5f).apply(-10f));
        assertEquals(6f, Epilogue.clip(0f, 6f).apply(7f));
        assertEquals(-1e30f, Epilogue.clip(Float.NEGATIVE_INFINITY, 0f).apply(-1e30f));
        assertEquals(1.5f * (float) Math.expm1(-2), Epilogue.elu(1.5f).apply(-2f), 1e-7f);
        assertEquals(2f, Epilogue.elu(1.5f).apply(2f));
    }

    @Test
    void vectorFormAgreesWithScalarForm() {
        float[] xs = new float[8 * S.length()];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (i - xs.length / 2) * 0.37f;
        }
        xs[0] = 0f;
        xs[1] = -0f;
        xs[2] = 90f;
        xs[3] = -90f;
        for (Epilogue ep : all()) {
            for (int i = 0; i < xs.length; i += S.length()) {
                FloatVector v = ep.apply(FloatVector.fromArray(S, xs, i));
                for (int l = 0; l < S.length(); l++) {
                    float want = ep.apply(xs[i + l]);
                    assertEquals(want, v.lane(l), 2e-7f * Math.max(1f, Math.abs(want)), ep + " at " + xs[i + l]);
                }
            }
        }
    }

    @Test
    void arrayFormGivesTheVectorFormsBitsAndStaysInItsRange() {
        int vl = S.length();
        float[] xs = new float[5 * vl + 2];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (i - xs.length / 2) * 0.73f;
        }
        xs[4] = Float.NaN;
        for (Epilogue ep : all()) {
            float[] got = xs.clone();
            ep.applyVectors(got, 1, 5);
            assertEquals(xs[0], got[0], ep + ": before the range");
            assertEquals(xs[xs.length - 1], got[xs.length - 1], ep + ": past the range");
            for (int i = 1; i < 1 + 5 * vl; i += vl) {
                FloatVector want = ep.apply(FloatVector.fromArray(S, xs, i));
                for (int l = 0; l < vl; l++) {
                    assertEquals(Float.floatToRawIntBits(want.lane(l)), Float.floatToRawIntBits(got[i + l]),
                            ep + " at " + xs[i + l]);
                }
            }
        }
    }

    /**
     * One model's GEMMs can end in different activations, all through {@link Epilogue#applyRows}: compiled together
     * there, calls of VectorMath's exp, tanh and expm1 with a vector ran past C2's inlining budget and boxed (512 B
     * a call of the four kinds below). Their row forms call nothing with a vector.
     */
    @Test
    void everyKindTogetherAllocatesNothing() {
        float[] a = new float[4 * 64];
        for (int i = 0; i < a.length; i++) {
            a[i] = (i % 17 - 8) * 0.25f;
        }
        float[] work = a.clone();
        int vectors = 32 / S.length();
        Epilogue[] kinds = all().toArray(Epilogue[]::new);
        Runnable call = () -> {
            for (Epilogue ep : kinds) {
                System.arraycopy(a, 0, work, 0, a.length);
                ep.applyRows(work, 0, 64, 4, vectors);
            }
        };
        assertEquals(0, Allocations.steadyBytesPerCall(call), "bytes per call of every kind");
    }

    @Test
    void kernelsRunTheRequestedVectorWidth() {
        int bits = Integer.getInteger("kiln.runtime.vectorBits", 0);
        if (bits != 0) {
            assertEquals(bits, S.vectorBitSize());
        }
        assertEquals(0, PackedMatrix.NR % S.length(), S + " must divide a panel");
    }

    @Test
    void rejectsNaNParameters() {
        assertThrows(IllegalArgumentException.class, () -> Epilogue.clip(Float.NaN, 1f));
        assertThrows(IllegalArgumentException.class, () -> Epilogue.leakyRelu(Float.NaN));
    }
}
