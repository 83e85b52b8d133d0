package dev.kiln.ir.ops;

import java.util.Map;
import java.util.regex.Pattern;

/**
 * Translates RE2 regular expressions (RegexFullMatch's syntax) into {@link java.util.regex.Pattern} syntax, to be
 * compiled with {@link #FLAGS}. The two mostly agree; where they do not:
 * <ul>
 *   <li>{@code $} outside multi-line mode matches only at the very end in RE2 (Java also before a final newline):
 *       it becomes {@code \z} until a {@code (?m)} flag group turns multi-line mode on;</li>
 *   <li>{@code \s} is {@code [\t\n\f\r ]} in RE2 (Java adds {@code \x0B});</li>
 *   <li>{@code .}, {@code ^} and {@code $} treat only {@code \n} as a line end ({@link Pattern#UNIX_LINES});
 *       {@code (?i)} folds Unicode case as RE2 does ({@link Pattern#UNICODE_CASE});</li>
 *   <li>inside brackets {@code [} and {@code &} are literals in RE2 (Java nests and intersects classes), and
 *       {@code [:alpha:]}-style POSIX classes become {@code \p{Alpha}};</li>
 *   <li>{@code (?P<name>...)} becomes {@code (?<name>...)}.</li>
 * </ul>
 * What RE2 rejects is rejected here too, rather than given Java's meaning: backreferences, lookaround, atomic
 * groups, possessive quantifiers; so is what Java cannot express: {@code \C} (any byte) and the {@code U}
 * (ungreedy) flag. Still different: Java's {@code \b} counts non-ASCII letters and digits as word characters,
 * RE2's only ASCII ones.
 */
public final class Re2Patterns {
    private Re2Patterns() {}

    /** The flags a translated pattern is compiled with. */
    public static final int FLAGS = Pattern.UNIX_LINES | Pattern.UNICODE_CASE;

    private static final Map<String, String> POSIX = Map.ofEntries(Map.entry("alnum", "\\p{Alnum}"),
            Map.entry("alpha", "\\p{Alpha}"), Map.entry("ascii", "\\p{ASCII}"), Map.entry("blank", "\\p{Blank}"),
            Map.entry("cntrl", "\\p{Cntrl}"), Map.entry("digit", "\\p{Digit}"), Map.entry("graph", "\\p{Graph}"),
            Map.entry("lower", "\\p{Lower}"), Map.entry("print", "\\p{Print}"), Map.entry("punct", "\\p{Punct}"),
            Map.entry("space", "\\p{Space}"), Map.entry("upper", "\\p{Upper}"), Map.entry("word", "\\w"),
            Map.entry("xdigit", "\\p{XDigit}"));

    /** The Java form of an RE2 pattern; {@link IllegalArgumentException} naming what RE2 would not accept. */
    public static String toJava(String re2) {
        StringBuilder out = new StringBuilder();
        boolean multiLine = false;
        int i = 0;
        int n = re2.length();
        while (i < n) {
            char c = re2.charAt(i);
            if (c == '\\') {
                i = escape(re2, i, out, false);
            } else if (c == '[') {
                i = bracket(re2, i, out);
            } else if (c == '(' && i + 1 < n && re2.charAt(i + 1) == '?') {
                int[] state = {i, multiLine ? 1 : 0};
                group(re2, state, out);
                i = state[0];
                multiLine = state[1] != 0;
            } else if (c == '$') {
                out.append(multiLine ? "$" : "\\z");
                i++;
            } else if ((c == '*' || c == '+' || c == '?' || c == '}') && i + 1 < n && re2.charAt(i + 1) == '+') {
                throw new IllegalArgumentException("possessive quantifier '" + c + "+' at " + i + " (not RE2 syntax)");
            } else {
                out.append(c);
                i++;
            }
        }
        return out.toString();
    }

    /** Copies the escape at {@code i}; returns the index after it. */
    private static int escape(String re, int i, StringBuilder out, boolean inClass) {
        if (i + 1 >= re.length()) {
            throw new IllegalArgumentException("trailing backslash");
        }
        char e = re.charAt(i + 1);
        if (e >= '1' && e <= '9') {
            throw new IllegalArgumentException("backreference \\" + e + " at " + i + " (RE2 has none)");
        }
        if (e == 'C') {
            throw new IllegalArgumentException("\\C (any byte) at " + i + " cannot be expressed over Java strings");
        }
        if (e == 's') {
            out.append(inClass ? "\\t\\n\\f\\r " : "[\\t\\n\\f\\r ]");
            return i + 2;
        }
        if (e == 'Q') {
            int end = re.indexOf("\\E", i + 2);
            int stop = end < 0 ? re.length() : end + 2;
            out.append(re, i, stop);
            return stop;
        }
        out.append('\\').append(e);
        return i + 2;
    }

    /** Copies the bracket expression at {@code i} with RE2's literal {@code [} and {@code &}; returns the index after it. */
    private static int bracket(String re, int i, StringBuilder out) {
        out.append('[');
        i++;
        if (i < re.length() && re.charAt(i) == '^') {
            out.append('^');
            i++;
        }
        boolean first = true;
        while (i < re.length()) {
            char c = re.charAt(i);
            if (c == ']' && !first) {
                out.append(']');
                return i + 1;
            }
            first = false;
            if (c == '[' && re.startsWith("[:", i)) {
                int end = re.indexOf(":]", i + 2);
                if (end < 0) {
                    throw new IllegalArgumentException("unterminated POSIX class at " + i);
                }
                String name = re.substring(i + 2, end);
                boolean negated = name.startsWith("^");
                String java = POSIX.get(negated ? name.substring(1) : name);
                if (java == null) {
                    throw new IllegalArgumentException("unknown POSIX class [:" + name + ":]");
                }
                out.append(negated ? (java.equals("\\w") ? "\\W" : java.replace("\\p", "\\P")) : java);
                i = end + 2;
            } else if (c == '\\') {
                i = escape(re, i, out, true);
            } else {
                if (c == '[' || c == '&' || c == ']') {
                    out.append('\\');
                }
                out.append(c);
                i++;
            }
        }
        throw new IllegalArgumentException("missing ] for the class opened in the pattern");
    }

    /** Copies the {@code (?...} group opener at {@code state[0]}; tracks whether multi-line mode is on. */
    private static void group(String re, int[] state, StringBuilder out) {
        int i = state[0] + 2;
        if (re.startsWith("P<", i)) {
            out.append("(?<");
            state[0] = i + 2;
            return;
        }
        if (i < re.length() && "=!>".indexOf(re.charAt(i)) >= 0 || re.startsWith("<=", i) || re.startsWith("<!", i)) {
            throw new IllegalArgumentException("lookaround or atomic group at " + state[0] + " (not RE2 syntax)");
        }
        if (re.startsWith("<", i)) {
            out.append("(?<");
            state[0] = i + 1;
            return;
        }
        int j = i;
        boolean negate = false;
        while (j < re.length() && re.charAt(j) != ')' && re.charAt(j) != ':') {
            char f = re.charAt(j);
            if (f == '-') {
                negate = true;
            } else if (f == 'm') {
                state[1] = negate ? 0 : 1;
            } else if (f == 'U') {
                throw new IllegalArgumentException("flag U (ungreedy) at " + state[0] + " has no Java equivalent");
            } else if (f != 'i' && f != 's') {
                throw new IllegalArgumentException("unknown flag '" + f + "' at " + j);
            }
            j++;
        }
        out.append(re, state[0], j);
        state[0] = j;
    }
}
