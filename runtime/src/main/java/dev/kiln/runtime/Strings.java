package dev.kiln.runtime;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * StringNormalizer and StringSplit for generated code, over {@code String[]} tensors. How many strings they produce
 * depends on the data; the code is compiled for the count the model declares and these check it.
 */
public final class Strings {
    private Strings() {}

    /** Case change of StringNormalizer. */
    public enum CaseChange { NONE, LOWER, UPPER }

    /** The stopwords as matched: lower-cased in {@code locale} unless case-sensitive. */
    public static Set<String> stopwords(boolean caseSensitive, Locale locale, String... words) {
        Set<String> s = new HashSet<>();
        for (String w : words) {
            s.add(caseSensitive ? w : w.toLowerCase(locale));
        }
        return s;
    }

    /**
     * Writes the {@code count} strings of {@code x} that are not stopwords, case-changed, to {@code y} (one empty
     * string when none is left); fails unless that is {@code compiledCount} strings.
     */
    public static void normalize(String node, String[] x, int xOffset, int count, Set<String> stopwords,
                                 boolean caseSensitive, CaseChange change, Locale locale, String[] y, int yOffset,
                                 int compiledCount) {
        int kept = 0;
        for (int i = 0; i < count; i++) {
            String s = x[xOffset + i];
            if (stopwords.contains(caseSensitive ? s : s.toLowerCase(locale))) {
                continue;
            }
            if (kept == compiledCount) {
                throw tooMany(node, compiledCount);
            }
            y[yOffset + kept++] = switch (change) {
                case LOWER -> s.toLowerCase(locale);
                case UPPER -> s.toUpperCase(locale);
                case NONE -> s;
            };
        }
        if (kept == 0) {
            y[yOffset + kept++] = "";
        }
        if (kept != compiledCount) {
            throw new IllegalArgumentException(node + ": " + kept + " strings are left, but the code was compiled for "
                    + compiledCount);
        }
    }

    private static IllegalArgumentException tooMany(String node, int compiledCount) {
        return new IllegalArgumentException(node + ": more than " + compiledCount + " strings are left, but the "
                + "code was compiled for " + compiledCount);
    }

    /**
     * Splits each of the {@code count} strings of {@code x} (at {@code delimiter}, or at whitespace runs when it is
     * null, at most {@code maxSplit} times, negative for no limit, as Python's {@code str.split}) into row
     * {@code i} of {@code y} [count, width], padded with empty strings, and the number of parts into {@code z}; fails
     * unless the most parts of any string is {@code width}.
     */
    public static void split(String node, String[] x, int xOffset, int count, String delimiter, long maxSplit,
                             String[] y, int yOffset, int width, long[] z, int zOffset) {
        int widest = 0;
        for (int i = 0; i < count; i++) {
            List<String> parts = split(x[xOffset + i], delimiter, maxSplit);
            if (parts.size() > width) {
                throw new IllegalArgumentException(node + ": '" + x[xOffset + i] + "' splits into " + parts.size()
                        + " parts, but the code was compiled for at most " + width);
            }
            widest = Math.max(widest, parts.size());
            int row = yOffset + i * width;
            for (int k = 0; k < width; k++) {
                y[row + k] = k < parts.size() ? parts.get(k) : "";
            }
            z[zOffset + i] = parts.size();
        }
        if (widest != width && count > 0) {
            throw new IllegalArgumentException(node + ": the strings split into at most " + widest + " parts, but the "
                    + "code was compiled for " + width);
        }
    }

    /** The parts of {@code s}, as {@link #split(String, String[], int, int, String, long, String[], int, int, long[], int)}. */
    static List<String> split(String s, String delimiter, long maxSplit) {
        List<String> parts = new ArrayList<>();
        long limit = maxSplit < 0 ? Long.MAX_VALUE : maxSplit;
        if (delimiter != null) {
            int from = 0;
            int at;
            while (parts.size() < limit && (at = s.indexOf(delimiter, from)) >= 0) {
                parts.add(s.substring(from, at));
                from = at + delimiter.length();
            }
            parts.add(s.substring(from));
            return parts;
        }
        int i = skipSpace(s, 0);
        while (i < s.length()) {
            if (parts.size() == limit) {
                parts.add(s.substring(i));
                break;
            }
            int end = i;
            while (end < s.length() && !isSpace(s.charAt(end))) {
                end++;
            }
            parts.add(s.substring(i, end));
            i = skipSpace(s, end);
        }
        return parts;
    }

    private static int skipSpace(String s, int i) {
        while (i < s.length() && isSpace(s.charAt(i))) {
            i++;
        }
        return i;
    }

    /** Python's whitespace: Java's whitespace plus the no-break spaces Java leaves out. */
    private static boolean isSpace(char c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c);
    }
}
