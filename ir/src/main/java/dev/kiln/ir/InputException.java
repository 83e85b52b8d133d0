package dev.kiln.ir;

/** Run-time input that does not match the graph: missing input, wrong dtype, wrong length or shape. */
public class InputException extends KilnException {
    public InputException(String message) { super(message); }
}
