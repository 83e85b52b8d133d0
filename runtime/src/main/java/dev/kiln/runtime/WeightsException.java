package dev.kiln.runtime;

/** A weights resource that is missing, truncated, corrupted, or does not fit the generated class. */
public class WeightsException extends RuntimeException {
    public WeightsException(String message) { super(message); }
}
