package dev.kiln.ir;

/** Properties of ops that passes ask for instead of keeping lists of op names. */
public enum OpProperty {
    /** Each output element depends only on the input elements at the same (broadcast) index. */
    ELEMENTWISE,
    /** Inputs may be swapped without changing the result. */
    COMMUTATIVE,
    /** f(0) = 0 elementwise (so zero padding commutes with the op). */
    ZERO_PRESERVING,
    /** A pointwise nonlinearity that fused kernels can run in their epilogue. */
    ACTIVATION,
    /** Moves or reinterprets data without arithmetic (Reshape, Transpose, Gather, Concat...). */
    DATA_MOVEMENT,
    /**
     * Output 0 holds input 0's elements in the same row-major order (Reshape, Flatten, Squeeze, Unsqueeze,
     * Identity): memory planning makes it a zero-copy view of its input.
     */
    VIEW,
    /** Reduces over axes. */
    REDUCTION,
    /** Its result is not a function of its inputs alone (random ops): never folded or deduplicated. */
    NONDETERMINISTIC,
    /** Behaves differently in training (Dropout, BatchNormalization with training_mode). */
    TRAINING_AWARE,
    /**
     * Reads or writes sequence or optional values (the Sequence* and Optional* ops, and Identity, which passes any
     * value through). Every other op takes and gives tensors only, which type inference checks, so their rules never
     * see a container.
     */
    CONTAINERS
}
