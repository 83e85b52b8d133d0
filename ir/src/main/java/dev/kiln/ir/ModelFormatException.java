package dev.kiln.ir;

/** A model file that cannot be read: missing, truncated, not protobuf, or structurally invalid. */
public class ModelFormatException extends KilnException {
    public ModelFormatException(String message) { super(message); }

    public ModelFormatException(String message, Throwable cause) { super(message, cause); }
}
