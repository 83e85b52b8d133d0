package dev.kiln.ir;

/** A graph that breaks an IR invariant: dangling or twice-defined value, cycle, type mismatch. */
public class GraphException extends KilnException {
    public GraphException(String message) { super(message); }
}
