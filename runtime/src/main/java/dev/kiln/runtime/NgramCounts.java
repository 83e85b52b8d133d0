package dev.kiln.runtime;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * TfIdfVectorizer for generated code: the pooled n-grams (lengths min..max) mapped to their output columns, and the
 * counting of a row's n-grams, skips included, weighted by the mode. Built once when the model loads.
 */
public final class NgramCounts {
    /** How counts become outputs. */
    public enum Mode { TF, IDF, TFIDF }

    private final Map<List<Object>, Integer> columns = new HashMap<>();
    private final int minLength;
    private final int maxLength;
    private final int maxSkip;
    private final int columnCount;
    private final Mode mode;
    private final float[] weights;

    /**
     * @param pool the n-grams' items ({@code String[]}, or {@code long[]} for integers), n-grams of length i + 1
     *     starting at {@code starts[i]}
     * @param columnOf the output column of each pooled n-gram, in pool order
     * @param weights per output column for IDF and TFIDF, or null (then 1)
     */
    public NgramCounts(Object pool, long[] starts, long[] columnOf, int minLength, int maxLength, int maxSkip,
                       int columnCount, Mode mode, float[] weights) {
        List<Object> items = new ArrayList<>();
        if (pool instanceof String[] s) {
            items.addAll(List.of(s));
        } else {
            for (long v : (long[]) pool) {
                items.add(v);
            }
        }
        int id = 0;
        for (int i = 0; i < starts.length; i++) {
            int size = i + 1;
            int end = i + 1 < starts.length ? (int) starts[i + 1] : items.size();
            for (int at = (int) starts[i]; at + size <= end; at += size, id++) {
                if (size >= minLength && size <= maxLength) {
                    columns.put(List.copyOf(items.subList(at, at + size)), (int) columnOf[id]);
                }
            }
        }
        this.minLength = minLength;
        this.maxLength = maxLength;
        this.maxSkip = maxSkip;
        this.columnCount = columnCount;
        this.mode = mode;
        this.weights = weights;
    }

    /**
     * Writes the weighted counts of each of {@code rows} rows of {@code c} items of {@code x} ({@code String[]},
     * {@code long[]} or {@code int[]}) to {@code y} [rows, columns].
     */
    public void count(Object x, int xOffset, int rows, int c, float[] y, int yOffset) {
        List<Object> items = new ArrayList<>(c);
        double[] counts = new double[columnCount];
        for (int row = 0; row < rows; row++) {
            items.clear();
            for (int j = 0; j < c; j++) {
                int k = xOffset + row * c + j;
                items.add(switch (x) {
                    case String[] s -> s[k];
                    case long[] l -> l[k];
                    case int[] n -> (long) n[k];
                    default -> throw new IllegalArgumentException("TfIdfVectorizer input " + x);
                });
            }
            java.util.Arrays.fill(counts, 0);
            countRow(items, counts);
            for (int col = 0; col < columnCount; col++) {
                double w = weights == null ? 1 : weights[col];
                double f = counts[col];
                y[yOffset + row * columnCount + col] = (float) switch (mode) {
                    case TF -> f;
                    case IDF -> f > 0 ? w : 0;
                    case TFIDF -> w * f;
                };
            }
        }
    }

    private void countRow(List<Object> items, double[] counts) {
        int c = items.size();
        List<Object> gram = new ArrayList<>(maxLength);
        for (int start = 0; start < c; start++) {
            for (int n = Math.max(minLength, 1); n <= maxLength; n++) {
                // A unigram has no gaps, so it counts once rather than once per skip distance.
                int distances = n == 1 ? 1 : maxSkip + 1;
                for (int d = 1; d <= distances && start + (n - 1) * d < c; d++) {
                    gram.clear();
                    for (int k = 0; k < n; k++) {
                        gram.add(items.get(start + k * d));
                    }
                    Integer column = columns.get(gram);
                    if (column != null) {
                        counts[column]++;
                    }
                }
            }
        }
    }
}
