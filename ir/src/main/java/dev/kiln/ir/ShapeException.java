package dev.kiln.ir;

/** Inputs of a node whose types or shapes violate its op's rules (named with node, op and shapes). */
public class ShapeException extends KilnException {
    public ShapeException(String message) { super(message); }
}
