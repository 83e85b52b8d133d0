package dev.kiln.runtime.train;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector species of the training kernels: the machine's preferred one, unless the system property
 * {@code kiln.runtime.vectorBits} (128, 256 or 512, as for the inference kernels) asks for another so tests can
 * run other machines' code paths here.
 */
final class Lanes {

    /** Kept in a static final: C2 intrinsifies vector code only when the species is a constant. */
    static final VectorSpecies<Float> SPECIES = species(Integer.getInteger("kiln.runtime.vectorBits", 0));
    static final int VL = SPECIES.length();

    private Lanes() { }

    private static VectorSpecies<Float> species(int bits) {
        return switch (bits) {
            case 0 -> FloatVector.SPECIES_PREFERRED;
            case 128 -> FloatVector.SPECIES_128;
            case 256 -> FloatVector.SPECIES_256;
            case 512 -> FloatVector.SPECIES_512;
            default -> throw new IllegalArgumentException("kiln.runtime.vectorBits must be 128, 256 or 512: " + bits);
        };
    }
}
