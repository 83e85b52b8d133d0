package dev.kiln.runtime;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The one float vector species of every kernel and every generated class in a JVM (docs/KERNELS.md: a second
 * species makes C2 box vectors).
 *
 * <p>By default the machine's preferred width capped at 256 bits. The cap is measured, not cautious: on the AMD
 * EPYC (Zen 4) machines that report AVX-512, a 512-bit FMA runs as two 256-bit halves, so 16 lanes buy no FLOPs
 * (the FMA-peak loop ran at 118 GFLOP/s at either width, the 64x784x512 GEMM 2.5 % faster at 512), while every
 * kernel whose rows are short against 16 lanes lost to masked or scalar tails: mnist_cnn at batch 1 took 26.9 µs
 * at 512 bits and 12.9 µs at 256 (docs/BENCHMARKS.md, session 10). On cores with two full 512-bit FMA units
 * (Intel server parts) {@code -Dkiln.runtime.vectorBits=512} doubles the peak; tests use 128 and 512 to run the
 * other widths' code paths here (emulated, slowly, where the hardware lacks them).
 */
public final class VectorWidth {
    /** System property that overrides the width: 128, 256 or 512 bits. */
    public static final String PROPERTY = "kiln.runtime.vectorBits";
    /** Widest vector the default picks: wider ones gain nothing on the machines Kiln is tuned on (above). */
    static final int DEFAULT_MAX_BITS = 256;

    /** The species every kernel and generated class uses. */
    public static final VectorSpecies<Float> FLOAT = species(Integer.getInteger(PROPERTY, 0));

    /** System property that overrides {@link #WIDE_REGISTERS} ({@code true} or {@code false}), for tests. */
    public static final String WIDE_REGISTERS_PROPERTY = "kiln.runtime.wideRegisters";

    /**
     * Whether C2 has 32 vector registers rather than AVX2's 16: AVX-512 (its EVEX encoding) gives them to 256-bit
     * vectors too, so register blocks may be twice as large. Read from the hardware's preferred width, which
     * {@code -XX:MaxVectorSize} below 64 hides: such a JVM keeps the 16-register blocks. Either block computes the
     * same bits; forcing the wide ones on a 16-register machine only makes C2 spill.
     */
    public static final boolean WIDE_REGISTERS = System.getProperty(WIDE_REGISTERS_PROPERTY) != null
            ? Boolean.getBoolean(WIDE_REGISTERS_PROPERTY)
            : FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512;

    private VectorWidth() {}

    static VectorSpecies<Float> species(int bits) {
        return switch (bits) {
            case 0 -> FloatVector.SPECIES_PREFERRED.vectorBitSize() <= DEFAULT_MAX_BITS
                    ? FloatVector.SPECIES_PREFERRED : FloatVector.SPECIES_256;
            case 128 -> FloatVector.SPECIES_128;
            case 256 -> FloatVector.SPECIES_256;
            case 512 -> FloatVector.SPECIES_512;
            default -> throw new IllegalArgumentException(PROPERTY + " must be 128, 256 or 512: " + bits);
        };
    }
}
