package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * ONNX's string ops: StringNormalizer (stopword removal and case change), StringSplit (into a padded tensor of
 * substrings and their counts), StringConcat (elementwise, broadcasting) and RegexFullMatch (RE2 patterns, run
 * with {@link java.util.regex} after {@link Re2Patterns} translates them). TfIdfVectorizer is in
 * {@link TfIdfVectorizerOp}.
 */
public final class StringOps {
    private StringOps() {}

    private static final List<String> CASE_ACTIONS = List.of("NONE", "LOWER", "UPPER");

    public static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("StringNormalizer").since(10)
                .doc("Removes the elements of X [C] or [1, C] equal to a stopword (case-insensitively unless "
                        + "is_case_sensitive), then lower- or upper-cases the rest; if none is left, Y is one empty "
                        + "string ([1] or [1, 1]). How many are left depends on the data.")
                .inputs("X").outputs("Y")
                .attrString("case_change_action", "NONE", "NONE, LOWER or UPPER")
                .attrInt("is_case_sensitive", 0, "1: stopwords match exactly; 0: ignoring case")
                .attrString("locale", "", "the locale of case changes and case-insensitive matching, e.g. "
                        + "en_US or de-DE (a Java Locale language tag); empty: en_US")
                .optionalAttr("stopwords", AttrType.STRINGS, "the elements to remove")
                .shape(StringOps::normalizerShape)
                .eval(StringOps::normalize)
                .build());

        r.add(OpDef.builder("StringSplit").since(20)
                .doc("Splits each string of X at delimiter (absent or empty: at runs of whitespace, ignoring "
                        + "leading and trailing whitespace, as Python's str.split()), at most maxsplit times; Y holds "
                        + "the substrings padded with empty strings to the largest count, Z the counts.")
                .inputs("X").outputs("Y", "Z")
                .optionalAttr("delimiter", AttrType.STRING, "the separator; absent or empty: whitespace runs")
                .optionalAttr("maxsplit", AttrType.INT, "the most splits per string; absent: unlimited")
                .shape(StringOps::splitShape)
                .eval(StringOps::split)
                .build());

        r.add(OpDef.builder("StringConcat").since(20)
                .doc("X + Y elementwise on strings, with numpy broadcasting.")
                .inputs("X", "Y").outputs("Z")
                .properties(OpProperty.ELEMENTWISE)
                .shape(ctx -> Pointwise.predicateBroadcast(ctx, t -> t == DType.STRING, "a string tensor").stream()
                        .map(t -> new TensorType(DType.STRING, t.shape())).toList())
                .eval(StringOps::concat)
                .build());

        r.add(OpDef.builder("RegexFullMatch").since(20)
                .doc("True where the whole string of X matches pattern (RE2 syntax; see Re2Patterns for how it maps "
                        + "to java.util.regex and what is rejected).")
                .inputs("X").outputs("Y")
                .requiredAttr("pattern", AttrType.STRING, "an RE2 regular expression")
                .properties(OpProperty.ELEMENTWISE)
                .shape(ctx -> {
                    Pointwise.require(ctx, 0, t -> t == DType.STRING, "a string tensor");
                    compile(ctx.attrString("pattern"), ctx);
                    return List.of(new TensorType(DType.BOOL, ctx.inputShape(0)));
                })
                .eval(ctx -> {
                    Pattern p = compile(ctx.attrString("pattern"), ctx);
                    String[] x = ctx.input(0).strings();
                    boolean[] y = new boolean[x.length];
                    for (int i = 0; i < x.length; i++) {
                        y[i] = p.matcher(x[i]).matches();
                    }
                    return List.of(Tensor.wrapBools(ctx.input(0).shape(), y));
                })
                .build());

        TfIdfVectorizerOp.register(r);
    }

    // ---- StringNormalizer ----

    /** The Java locale of an ONNX locale attribute ({@code en_US}, {@code de-DE}; empty means en_US). */
    public static Locale locale(String onnxLocale) {
        return onnxLocale.isEmpty() ? Locale.US : Locale.forLanguageTag(onnxLocale.replace('_', '-'));
    }

    private static List<TensorType> normalizerShape(ShapeContext ctx) {
        Pointwise.require(ctx, 0, t -> t == DType.STRING, "a string tensor");
        if (!CASE_ACTIONS.contains(ctx.attrString("case_change_action"))) {
            throw ctx.fail("case_change_action must be NONE, LOWER or UPPER, not '"
                    + ctx.attrString("case_change_action") + "'");
        }
        Shape x = ctx.inputShape(0);
        if (x.rank() == 2 && !x.dim(0).mayEqual(Dim.of(1)) || x.rank() < 1 || x.rank() > 2) {
            throw ctx.fail("X must be [C] or [1, C] but is " + x);
        }
        if (!ctx.isSet("stopwords") || ctx.attrStrings("stopwords").isEmpty()) {
            return List.of(ctx.inputType(0));
        }
        Shape y = x.rank() == 1 ? Shape.of(Dim.unknown()) : Shape.of(Dim.of(1), Dim.unknown());
        return List.of(new TensorType(DType.STRING, y));
    }

    private static List<Tensor> normalize(EvalContext ctx) {
        Tensor x = ctx.input(0);
        Locale locale = locale(ctx.attrString("locale"));
        boolean caseSensitive = ctx.attrInt("is_case_sensitive") != 0;
        Set<String> stops = new HashSet<>();
        if (ctx.isSet("stopwords")) {
            for (String s : ctx.attrStrings("stopwords")) {
                stops.add(caseSensitive ? s : s.toLowerCase(locale));
            }
        }
        String action = ctx.attrString("case_change_action");
        List<String> kept = new ArrayList<>();
        for (String s : x.strings()) {
            if (!stops.contains(caseSensitive ? s : s.toLowerCase(locale))) {
                kept.add(switch (action) {
                    case "LOWER" -> s.toLowerCase(locale);
                    case "UPPER" -> s.toUpperCase(locale);
                    default -> s;
                });
            }
        }
        if (kept.isEmpty()) {
            kept.add("");
        }
        int[] shape = x.rank() == 1 ? new int[] {kept.size()} : new int[] {1, kept.size()};
        return List.of(Tensor.wrapStrings(shape, kept.toArray(String[]::new)));
    }

    // ---- StringSplit ----

    private static List<TensorType> splitShape(ShapeContext ctx) {
        Pointwise.require(ctx, 0, t -> t == DType.STRING, "a string tensor");
        if (ctx.isSet("maxsplit") && ctx.attrInt("maxsplit") < 0) {
            throw ctx.fail("maxsplit must not be negative, but is " + ctx.attrInt("maxsplit"));
        }
        Shape x = ctx.inputShape(0);
        List<Dim> y = new ArrayList<>(x.dims());
        // The widest split depends on the data, except that no strings split into no parts.
        boolean empty = x.elementCount().isStatic() && x.elementCount().value() == 0;
        y.add(empty ? Dim.of(0) : Dim.unknown());
        return List.of(new TensorType(DType.STRING, new Shape(y)), new TensorType(DType.INT64, x));
    }

    /**
     * The substrings of {@code s}: split at {@code delimiter}, or at whitespace runs when it is null or empty (then
     * leading whitespace is dropped, and so is trailing whitespace unless maxsplit stopped the splitting first), at
     * most {@code maxSplit} times (negative: no limit), as Python's {@code str.split}.
     */
    public static List<String> split(String s, String delimiter, long maxSplit) {
        List<String> parts = new ArrayList<>();
        long limit = maxSplit < 0 ? Long.MAX_VALUE : maxSplit;
        if (delimiter != null && !delimiter.isEmpty()) {
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

    private static List<Tensor> split(EvalContext ctx) {
        Tensor x = ctx.input(0);
        String delimiter = ctx.isSet("delimiter") ? ctx.attrString("delimiter") : null;
        long maxSplit = ctx.isSet("maxsplit") ? ctx.attrInt("maxsplit") : -1;
        String[] xs = x.strings();
        List<List<String>> parts = new ArrayList<>();
        int widest = 0;
        for (String s : xs) {
            List<String> p = split(s, delimiter, maxSplit);
            parts.add(p);
            widest = Math.max(widest, p.size());
        }
        String[] y = new String[xs.length * widest];
        long[] z = new long[xs.length];
        java.util.Arrays.fill(y, "");
        for (int i = 0; i < xs.length; i++) {
            List<String> p = parts.get(i);
            z[i] = p.size();
            for (int k = 0; k < p.size(); k++) {
                y[i * widest + k] = p.get(k);
            }
        }
        int[] shape = java.util.Arrays.copyOf(x.shape(), x.rank() + 1);
        shape[x.rank()] = widest;
        return List.of(Tensor.wrapStrings(shape, y), Tensor.wrapLongs(DType.INT64, x.shape(), z));
    }

    // ---- StringConcat, RegexFullMatch ----

    private static List<Tensor> concat(EvalContext ctx) {
        Tensor a = ctx.input(0);
        Tensor b = ctx.input(1);
        int[] shape = Broadcasting.shape(a.shape(), b.shape());
        int[] ia = Broadcasting.indexMap(shape, a.shape());
        int[] ib = Broadcasting.indexMap(shape, b.shape());
        String[] out = new String[ia.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.strings()[ia[i]] + b.strings()[ib[i]];
        }
        return List.of(Tensor.wrapStrings(shape, out));
    }

    private static Pattern compile(String pattern, dev.kiln.ir.NodeContext ctx) {
        try {
            return Pattern.compile(Re2Patterns.toJava(pattern), Re2Patterns.FLAGS);
        } catch (IllegalArgumentException e) {
            throw ctx.unsupported("pattern /" + pattern + "/: " + e.getMessage());
        }
    }
}
