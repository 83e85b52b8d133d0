package dev.kiln.ir;

/** A node whose op (or whose use of an op: attribute value, dtype, mode) Kiln does not implement. */
public class UnsupportedOpException extends KilnException {
    public UnsupportedOpException(String message) { super(message); }
}
