package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.ParameterizedTypeName;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.ops.Re2Patterns;
import dev.kiln.ir.ops.StringOps;
import dev.kiln.ir.ops.TfIdfVectorizerOp;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * StringNormalizer and StringSplit (through the runtime's {@code Strings}: how many strings come out depends on the
 * data, so the code is compiled for the count the model declares and checks it), RegexFullMatch (a loop over a
 * {@code static final Pattern} compiled from the RE2 pattern's Java translation) and TfIdfVectorizer (an
 * {@code NgramCounts} built at load time from the pool, columns and weights in the weights resource). StringConcat
 * is a typed elementwise form ({@link TypedForms}).
 */
final class StringEmitter implements KernelEmitter {
    private static final ClassName STRINGS = ClassName.get("dev.kiln.runtime", "Strings");
    private static final ClassName NGRAMS = ClassName.get("dev.kiln.runtime", "NgramCounts");

    @Override
    public boolean typed(Node n) {
        return true;
    }

    @Override
    public boolean strings(Node n) {
        return true;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        return switch (ctx.node.op()) {
            case "StringNormalizer" -> normalize(ctx);
            case "StringSplit" -> split(ctx);
            case "RegexFullMatch" -> fullMatch(ctx);
            default -> tfIdf(ctx);
        };
    }

    private static CodeBlock normalize(EmitContext ctx) {
        Node n = ctx.node;
        ShapeContext attrs = ctx.attributes();
        boolean caseSensitive = attrs.attrInt("is_case_sensitive") != 0;
        Locale locale = StringOps.locale(attrs.attrString("locale"));
        String localeField = ctx.staticField("locale:" + locale.toLanguageTag(), ClassName.get(Locale.class),
                "LOCALE_" + locale.toLanguageTag().toUpperCase(Locale.ROOT).replace('-', '_'),
                CodeBlock.of("$T.forLanguageTag($S)", Locale.class, locale.toLanguageTag()));
        CodeBlock.Builder words = CodeBlock.builder();
        if (attrs.isSet("stopwords")) {
            for (String w : attrs.attrStrings("stopwords")) {
                words.add(", $S", w);
            }
        }
        String stops = ctx.staticField("stopwords:" + n.output(0).name(),
                ParameterizedTypeName.get(ClassName.get(Set.class), ClassName.get(String.class)),
                constant(n, "STOPWORDS"), CodeBlock.of("$T.stopwords($L, $N$L)", STRINGS, caseSensitive,
                        localeField, words.build()));
        Dim out = n.output(0).shape().elementCount();
        int compiled = Math.toIntExact(requireStatic(ctx, out, "count of strings left"));
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        return CodeBlock.builder()
                .addStatement("$T.normalize($S, $N, $L, $L, $N, $L, $T.CaseChange.$L, $N, $N, $L, $L)", STRINGS,
                        n.describe(), x.array(), x.offset(), ctx.count(n.input(0)), stops, caseSensitive, STRINGS,
                        attrs.attrString("case_change_action"), localeField, y.array(), y.offset(), compiled)
                .build();
    }

    private static CodeBlock split(EmitContext ctx) {
        Node n = ctx.node;
        ShapeContext attrs = ctx.attributes();
        String delimiter = attrs.isSet("delimiter") && !attrs.attrString("delimiter").isEmpty()
                ? attrs.attrString("delimiter") : null;
        long maxSplit = attrs.isSet("maxsplit") ? attrs.attrInt("maxsplit") : -1;
        int rank = n.output(0).shape().rank();
        int width = Math.toIntExact(requireStatic(ctx, n.output(0).shape().dim(rank - 1), "most substrings"));
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        CodeBlock.Builder b = CodeBlock.builder();
        String z;
        CodeBlock zOffset;
        if (n.hasOutput(1)) {
            TensorRef zr = ctx.out(1);
            z = zr.array();
            zOffset = zr.offset();
        } else {
            z = ctx.locals.newName("counts");
            zOffset = CodeBlock.of("0");
            b.addStatement("long[] $N = new long[$L]", z, ctx.count(n.input(0)));
        }
        b.addStatement("$T.split($S, $N, $L, $L, $L, $LL, $N, $L, $L, $N, $L)", STRINGS, n.describe(), x.array(),
                x.offset(), ctx.count(n.input(0)), delimiter == null ? CodeBlock.of("null")
                        : CodeBlock.of("$S", delimiter), maxSplit, y.array(), y.offset(), width, z, zOffset);
        return b.build();
    }

    private static CodeBlock fullMatch(EmitContext ctx) {
        Node n = ctx.node;
        String re2 = ctx.stringAttr("pattern");
        String java = Re2Patterns.toJava(re2);
        String pattern = ctx.staticField("pattern:" + java, ClassName.get(Pattern.class),
                constant(n, "PATTERN"), CodeBlock.of("$T.compile($S, $T.UNIX_LINES | $T.UNICODE_CASE)",
                        Pattern.class, java, Pattern.class, Pattern.class));
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        String i = ctx.locals.newName("i");
        return CodeBlock.builder()
                .add("// RE2 /$L/ as Java /$L/\n", oneLine(re2), oneLine(java))
                .beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, ctx.count(n.input(0)), i)
                .addStatement("$L = $N.matcher($L).matches()", y.at(CodeBlock.of("$N", i)), pattern,
                        x.at(CodeBlock.of("$N", i)))
                .endControlFlow()
                .build();
    }

    private static CodeBlock tfIdf(EmitContext ctx) {
        Node n = ctx.node;
        ShapeContext attrs = ctx.attributes();
        String key = "tfidf:" + n.output(0).name();
        String hint = Identifiers.method(n);
        Object pool = attrs.isSet("pool_strings") ? attrs.attrStrings("pool_strings").toArray(String[]::new)
                : attrs.attrInts("pool_int64s");
        String poolField = ctx.weightArray(key + ".pool", pool, hint + "Pool");
        String starts = ctx.weightArray(key + ".counts", attrs.attrInts("ngram_counts"), hint + "NgramStarts");
        String columns = ctx.weightArray(key + ".indexes", attrs.attrInts("ngram_indexes"), hint + "NgramColumns");
        CodeBlock weights = attrs.isSet("weights")
                ? CodeBlock.of("$N", ctx.weightArray(key + ".weights", attrs.attrFloats("weights"), hint + "Weights"))
                : CodeBlock.of("null");
        int size = TfIdfVectorizerOp.outputSize(attrs);
        String counts = "this." + ctx.derivedField(key, NGRAMS, hint + "Ngrams",
                CodeBlock.of("new $T($N, $N, $N, $L, $L, $L, $L, $T.Mode.$L, $L)", NGRAMS, poolField, starts, columns,
                        attrs.attrInt("min_gram_length"), attrs.attrInt("max_gram_length"),
                        attrs.attrInt("max_skip_count"), size, NGRAMS, attrs.attrString("mode"), weights));
        var x = n.input(0).shape();
        Dim rows = x.rank() == 1 ? Dim.of(1) : x.dim(0);
        int c = ctx.staticDim(n.input(0), x.rank() - 1);
        TensorRef xr = ctx.in(0);
        TensorRef y = ctx.out(0);
        return CodeBlock.builder()
                .addStatement("$N.count($N, $L, $L, $L, $N, $L)", counts, xr.array(), xr.offset(), ctx.dim(rows), c,
                        y.array(), y.offset())
                .build();
    }

    /** A static final field's name for node {@code n}, e.g. {@code STRING_NORMALIZER_STOPWORDS}. */
    private static String constant(Node n, String what) {
        return Identifiers.method(n).replaceAll("([a-z0-9])([A-Z])", "$1_$2").toUpperCase(Locale.ROOT) + "_" + what;
    }

    private static long requireStatic(EmitContext ctx, Dim d, String what) {
        if (!d.isStatic()) {
            throw ctx.unsupported(ctx.node.qualifiedOp() + " whose " + what + " (" + d + ") is not static: the model "
                    + "must declare the output shape, which depends on the data");
        }
        return d.value();
    }

    /**
     * {@code s} verbatim on one comment line: line breaks escaped, and a backslash run before {@code u} made even so
     * javac does not read a Unicode escape in the comment.
     */
    private static String oneLine(String s) {
        StringBuilder b = new StringBuilder();
        int run = 0;
        for (char c : s.toCharArray()) {
            if (c == 'u' && run % 2 == 1) {
                b.append('\\');
            }
            run = c == '\\' ? run + 1 : 0;
            b.append(c == '\n' ? "\\n" : c == '\r' ? "\\r" : String.valueOf(c));
        }
        return b.toString();
    }
}
