package dev.kiln.ir;

/**
 * Base of Kiln's errors: every failure a user can cause (bad model, bad input, unsupported op) is one of
 * these, with a message that names the file, node, op and shapes involved.
 */
public class KilnException extends RuntimeException {
    public KilnException(String message) { super(message); }

    public KilnException(String message, Throwable cause) { super(message, cause); }
}
