package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * TfIdfVectorizer (opset 9): counts, per row of X ([C] or [B, C] of strings or integers), the n-grams of a pool
 * whose length is in [min_gram_length, max_gram_length], where an n-gram may skip up to max_skip_count items
 * between its elements (the same skip throughout; unigrams count once), and weighs the counts (TF: the count;
 * IDF: the weight if the count is positive; TFIDF: weight times count; without weights, 1).
 */
public final class TfIdfVectorizerOp {
    private TfIdfVectorizerOp() {}

    private static final List<String> MODES = List.of("TF", "IDF", "TFIDF");

    static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("TfIdfVectorizer").since(9)
                .doc("Weighted counts of pooled n-grams (with skips) per row of X, as float32 [output size] or "
                        + "[B, output size], the output size being max(ngram_indexes) + 1.")
                .inputs("X").outputs("Y")
                .requiredAttr("max_gram_length", AttrType.INT, "the longest n-gram counted")
                .requiredAttr("min_gram_length", AttrType.INT, "the shortest n-gram counted")
                .requiredAttr("max_skip_count", AttrType.INT, "the most items skipped between an n-gram's items")
                .requiredAttr("mode", AttrType.STRING, "TF, IDF or TFIDF")
                .requiredAttr("ngram_counts", AttrType.INTS, "where the n-grams of length i+1 start in the pool")
                .requiredAttr("ngram_indexes", AttrType.INTS, "the output column of each pooled n-gram, in pool order")
                .optionalAttr("pool_int64s", AttrType.INTS, "the n-grams, for integer X")
                .optionalAttr("pool_strings", AttrType.STRINGS, "the n-grams, for string X")
                .optionalAttr("weights", AttrType.FLOATS, "a weight per output column, for IDF and TFIDF")
                .shape(TfIdfVectorizerOp::shape)
                .eval(ctx -> List.of(evaluate(ctx)))
                .build());
    }

    /**
     * The pool as a map from n-gram (a list of Long or String items) to its output column, for the lengths the node
     * counts; a repeated n-gram keeps its last column.
     */
    public static Map<List<Object>, Integer> pool(NodeContext ctx) {
        List<Object> items = new ArrayList<>();
        if (ctx.isSet("pool_strings")) {
            items.addAll(ctx.attrStrings("pool_strings"));
        } else {
            for (long v : ctx.attrInts("pool_int64s")) {
                items.add(v);
            }
        }
        long[] counts = ctx.attrInts("ngram_counts");
        long[] indexes = ctx.attrInts("ngram_indexes");
        long min = ctx.attrInt("min_gram_length");
        long max = ctx.attrInt("max_gram_length");
        Map<List<Object>, Integer> pool = new HashMap<>();
        int id = 0;
        for (int i = 0; i < counts.length; i++) {
            int size = i + 1;
            int start = Math.toIntExact(counts[i]);
            int end = i + 1 < counts.length ? Math.toIntExact(counts[i + 1]) : items.size();
            if (start > end || end > items.size()) {
                throw ctx.fail("ngram_counts " + Arrays.toString(counts) + " do not fit a pool of " + items.size());
            }
            for (int at = start; at + size <= end; at += size, id++) {
                if (size >= min && size <= max) {
                    if (id >= indexes.length) {
                        throw ctx.fail("ngram_indexes has " + indexes.length + " entries for more pooled n-grams");
                    }
                    pool.put(List.copyOf(items.subList(at, at + size)), Math.toIntExact(indexes[id]));
                }
            }
        }
        return pool;
    }

    /** The number of output columns, max(ngram_indexes) + 1. */
    public static int outputSize(NodeContext ctx) {
        return Math.toIntExact(Arrays.stream(ctx.attrInts("ngram_indexes")).max().orElse(-1) + 1);
    }

    private static List<TensorType> shape(ShapeContext ctx) {
        DType t = ctx.inputDtype(0);
        boolean strings = ctx.isSet("pool_strings");
        if (strings == ctx.isSet("pool_int64s")) {
            throw ctx.fail("exactly one of pool_strings and pool_int64s must be set");
        }
        if (strings ? t != DType.STRING : t != DType.INT32 && t != DType.INT64) {
            throw ctx.fail("X must be " + (strings ? "strings for pool_strings" : "int32 or int64 for pool_int64s")
                    + ", not " + t);
        }
        String mode = ctx.attrString("mode");
        if (!MODES.contains(mode)) {
            throw ctx.fail("mode must be TF, IDF or TFIDF, not '" + mode + "'");
        }
        long min = ctx.attrInt("min_gram_length");
        long max = ctx.attrInt("max_gram_length");
        if (min < 1 || max < min || ctx.attrInt("max_skip_count") < 0) {
            throw ctx.fail("need 1 <= min_gram_length <= max_gram_length and max_skip_count >= 0, not " + min + ", "
                    + max + ", " + ctx.attrInt("max_skip_count"));
        }
        int size = outputSize(ctx);
        if (ctx.isSet("weights") && ctx.attrFloats("weights").length < size) {
            throw ctx.fail("weights has " + ctx.attrFloats("weights").length + " entries for " + size + " columns");
        }
        pool(ctx);
        Shape x = ctx.inputShape(0);
        return switch (x.rank()) {
            case 1 -> List.of(new TensorType(DType.FLOAT32, Shape.of(Dim.of(size))));
            case 2 -> List.of(new TensorType(DType.FLOAT32, Shape.of(x.dim(0), Dim.of(size))));
            default -> throw ctx.fail("X must be [C] or [B, C] but is " + x);
        };
    }

    private static Tensor evaluate(EvalContext ctx) {
        Tensor x = ctx.input(0);
        Map<List<Object>, Integer> pool = pool(ctx);
        int size = outputSize(ctx);
        int rows = x.rank() == 1 ? 1 : x.dim(0);
        int c = x.rank() == 1 ? x.dim(0) : x.dim(1);
        int min = Math.toIntExact(ctx.attrInt("min_gram_length"));
        int max = Math.toIntExact(ctx.attrInt("max_gram_length"));
        int skips = Math.toIntExact(ctx.attrInt("max_skip_count"));
        double[] y = new double[rows * size];
        for (int row = 0; row < rows; row++) {
            List<Object> items = new ArrayList<>(c);
            for (int j = 0; j < c; j++) {
                int k = row * c + j;
                items.add(x.dtype() == DType.STRING ? x.strings()[k] : (Object) x.getLong(k));
            }
            for (int start = 0; start < c; start++) {
                for (int n = Math.max(min, 1); n <= max; n++) {
                    // A unigram has no gaps, so it counts once rather than once per skip distance.
                    int distances = n == 1 ? 1 : skips + 1;
                    for (int d = 1; d <= distances; d++) {
                        if (start + (n - 1) * d >= c) {
                            break;
                        }
                        List<Object> gram = new ArrayList<>(n);
                        for (int k = 0; k < n; k++) {
                            gram.add(items.get(start + k * d));
                        }
                        Integer column = pool.get(gram);
                        if (column != null) {
                            y[row * size + column]++;
                        }
                    }
                }
            }
        }
        String mode = ctx.attrString("mode");
        float[] w = ctx.isSet("weights") ? ctx.attrFloats("weights") : null;
        for (int i = 0; i < y.length; i++) {
            double weight = w == null ? 1 : w[i % size];
            y[i] = switch (mode) {
                case "TF" -> y[i];
                case "IDF" -> y[i] > 0 ? weight : 0;
                default -> weight * y[i];
            };
        }
        int[] shape = x.rank() == 1 ? new int[] {size} : new int[] {rows, size};
        return Tensor.fromDoubles(DType.FLOAT32, shape, y);
    }
}
