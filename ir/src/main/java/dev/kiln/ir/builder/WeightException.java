package dev.kiln.ir.builder;

import dev.kiln.ir.KilnException;

/** A weight given to {@link ModelBuilder} that is missing, unused, or of the wrong type for its layer. */
public class WeightException extends KilnException {
    public WeightException(String message) { super(message); }
}
