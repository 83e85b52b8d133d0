package dev.kiln.passes;

/** Optimization levels, as in {@code -O0..-O3}; {@link Pipeline} says which passes each runs. */
public enum OptLevel {
    O0, O1, O2, O3;

    /** Parses {@code O2}, {@code -O2} or {@code 2}. */
    public static OptLevel parse(String s) {
        String t = s.startsWith("-") ? s.substring(1) : s;
        t = t.startsWith("O") || t.startsWith("o") ? t.substring(1) : t;
        return switch (t) {
            case "0" -> O0;
            case "1" -> O1;
            case "2" -> O2;
            case "3" -> O3;
            default -> throw new IllegalArgumentException("unknown optimization level '" + s + "' (use -O0..-O3)");
        };
    }
}
