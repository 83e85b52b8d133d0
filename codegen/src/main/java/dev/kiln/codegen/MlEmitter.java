package dev.kiln.codegen;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.TypeName;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.ops.LabelEncoderOp;
import dev.kiln.ir.ops.MlOps;

/**
 * The ai.onnx.ml ops other than tree ensembles ({@link TreeEnsembleEmitter}) as plain loops: Binarizer, Imputer,
 * Scaler and Normalizer elementwise or per row; LabelEncoder and OneHotEncoder through a {@code LabelIndex} (a hash
 * map from key to position built at load time); ArrayFeatureExtractor as a gather along the last axis;
 * LinearRegressor and LinearClassifier as a row times coefficient rows, then the runtime's {@code MlScores}
 * transform. Attribute arrays (keys, values, coefficients) live in the weights resource. Arithmetic is in double,
 * as in the reference evaluator, rounded once to the float32 output.
 */
final class MlEmitter implements KernelEmitter {
    private static final ClassName LABEL_INDEX = ClassName.get("dev.kiln.runtime", "LabelIndex");
    private static final ClassName SCORES = ClassName.get("dev.kiln.runtime", "MlScores");

    @Override
    public boolean typed(Node n) {
        return true;
    }

    /** LabelEncoder, ArrayFeatureExtractor, OneHotEncoder and LinearClassifier's labels take or give strings. */
    @Override
    public boolean strings(Node n) {
        return true;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        return switch (ctx.node.op()) {
            case "Binarizer" -> binarize(ctx);
            case "LabelEncoder" -> encode(ctx);
            case "ArrayFeatureExtractor" -> extract(ctx);
            case "Imputer" -> impute(ctx);
            case "Scaler" -> scale(ctx);
            case "Normalizer" -> normalize(ctx);
            case "OneHotEncoder" -> oneHot(ctx);
            default -> linear(ctx);
        };
    }

    private static String loop(EmitContext ctx, CodeBlock.Builder b, CodeBlock count) {
        String i = ctx.locals.newName("i");
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, count, i);
        return i;
    }

    private static CodeBlock binarize(EmitContext ctx) {
        Node n = ctx.node;
        CodeBlock.Builder b = CodeBlock.builder();
        String i = loop(ctx, b, ctx.count(n.input(0)));
        CodeBlock at = CodeBlock.of("$N", i);
        b.addStatement("$L = $L > $L ? 1 : 0", ctx.out(0).at(at), ctx.in(0).at(at),
                ElementType.doubleLiteral(ctx.floatAttr("threshold")));
        return b.endControlFlow().build();
    }

    private static CodeBlock encode(EmitContext ctx) {
        Node n = ctx.node;
        LabelEncoderOp.Mapping m = LabelEncoderOp.mapping(ctx.attributes());
        String key = "labels:" + n.output(0).name();
        String hint = Identifiers.method(n);
        ElementType keyType = ElementType.of(m.keys().dtype());
        ElementType valueType = ElementType.of(m.values().dtype());
        String keys = ctx.weightArray(key + ".keys", keyType.toArray(m.keys()), hint + "Keys");
        String values = ctx.weightArray(key + ".values", valueType.toArray(m.values()), hint + "Values");
        String index = "this." + ctx.derivedField(key, LABEL_INDEX, hint + "Index",
                CodeBlock.of("new $T($N)", LABEL_INDEX, keys));
        CodeBlock.Builder b = CodeBlock.builder();
        String i = loop(ctx, b, ctx.count(n.input(0)));
        CodeBlock at = CodeBlock.of("$N", i);
        String k = ctx.locals.newName("k");
        b.addStatement("int $N = $N.find($L)", k, index, ctx.in(0).at(at));
        b.addStatement("$L = $N < 0 ? $L : $N[$N]", ctx.out(0).at(at), k,
                valueType.elementLiteral(m.defaultValue(), 0), values, k);
        return b.endControlFlow().build();
    }

    private static CodeBlock extract(EmitContext ctx) {
        Node n = ctx.node;
        Shape x = n.input(0).shape();
        int last = x.rank() == 0 ? 1 : ctx.staticDim(n.input(0), x.rank() - 1);
        Dim outer = x.rank() <= 1 ? Dim.of(1) : new Shape(x.dims().subList(0, x.rank() - 1)).elementCount();
        TensorRef y = ctx.in(1);
        CodeBlock count = ctx.count(n.input(1));
        CodeBlock.Builder b = CodeBlock.builder();
        String k = loop(ctx, b, count);
        CodeBlock index = y.at(CodeBlock.of("$N", k));
        b.beginControlFlow("if ($L < 0 || $L >= $L)", index, index, last)
                .addStatement("throw new $T($S + $L + $S)", IllegalArgumentException.class, n.describe() + ": index ",
                        index, " is outside X's last axis of " + last)
                .endControlFlow()
                .endControlFlow();
        String o = loop(ctx, b, ctx.dim(outer));
        String j = ctx.locals.newName("j");
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, count, j);
        b.addStatement("$L = $L", ctx.out(0).at(CodeBlock.of("$N * $L + $N", o, count, j)),
                ctx.in(0).at(CodeBlock.of("$N * $L + (int) $L", o, last, y.at(CodeBlock.of("$N", j)))));
        return b.endControlFlow().endControlFlow().build();
    }

    /** A per-feature attribute as a field (one value or one per feature). */
    private static String featureValues(EmitContext ctx, String attr, double[] values) {
        return ctx.weightArray("ml:" + ctx.node.output(0).name() + "." + attr, values,
                Identifiers.method(ctx.node) + Identifiers.camel(attr, ""));
    }

    private static double[] doubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    /** {@code values[i % features]}, or {@code values[0]} for a single value. */
    private static CodeBlock perFeature(String values, int length, String i, int features) {
        return length == 1 ? CodeBlock.of("$N[0]", values) : CodeBlock.of("$N[$N % $L]", values, i, features);
    }

    private static int features(EmitContext ctx) {
        Shape x = ctx.node.input(0).shape();
        return x.rank() == 0 ? 1 : ctx.staticDim(ctx.node.input(0), x.rank() - 1);
    }

    private static CodeBlock impute(EmitContext ctx) {
        Node n = ctx.node;
        ShapeContext attrs = ctx.attributes();
        boolean floats = n.input(0).dtype().isFloat();
        int f = features(ctx);
        CodeBlock.Builder b = CodeBlock.builder();
        String i = loop(ctx, b, ctx.count(n.input(0)));
        CodeBlock x = ctx.in(0).at(CodeBlock.of("$N", i));
        CodeBlock y = ctx.out(0).at(CodeBlock.of("$N", i));
        ElementType t = ElementType.of(n.input(0).dtype());
        if (floats) {
            double[] values = doubles(attrs.attrFloats("imputed_value_floats"));
            String field = featureValues(ctx, "imputed_value_floats", values);
            double replaced = attrs.attrFloat("replaced_value_float");
            CodeBlock hit = Double.isNaN(replaced) ? CodeBlock.of("$T.isNaN($L)", Double.class, x)
                    : CodeBlock.of("$L == $L", x, ElementType.doubleLiteral(replaced));
            b.addStatement("$L = $L ? ($T) $L : $L", y, hit, t.element(), perFeature(field, values.length, i, f), x);
        } else {
            long[] values = attrs.attrInts("imputed_value_int64s");
            String field = ctx.weightArray("ml:" + n.output(0).name() + ".imputed", values,
                    Identifiers.method(n) + "ImputedValues");
            b.addStatement("$L = $L == $LL ? $L : $L", y, x, attrs.attrInt("replaced_value_int64"),
                    t.narrow(perFeature(field, values.length, i, f)), x);
        }
        return b.endControlFlow().build();
    }

    private static CodeBlock scale(EmitContext ctx) {
        Node n = ctx.node;
        ShapeContext attrs = ctx.attributes();
        int f = features(ctx);
        double[] offset = attrs.isSet("offset") ? doubles(attrs.attrFloats("offset")) : new double[] {0};
        double[] scale = attrs.isSet("scale") ? doubles(attrs.attrFloats("scale")) : new double[] {1};
        String offsets = featureValues(ctx, "offset", offset);
        String scales = featureValues(ctx, "scale", scale);
        CodeBlock.Builder b = CodeBlock.builder();
        String i = loop(ctx, b, ctx.count(n.input(0)));
        b.addStatement("$L = (float) (($L - $L) * $L)", ctx.out(0).at(CodeBlock.of("$N", i)),
                ctx.in(0).at(CodeBlock.of("$N", i)), perFeature(offsets, offset.length, i, f),
                perFeature(scales, scale.length, i, f));
        return b.endControlFlow().build();
    }

    private static CodeBlock normalize(EmitContext ctx) {
        Node n = ctx.node;
        String norm = ctx.stringAttr("norm");
        int c = features(ctx);
        Shape x = n.input(0).shape();
        Dim rows = x.rank() == 1 ? Dim.of(1) : x.dim(0);
        CodeBlock.Builder b = CodeBlock.builder();
        String r = loop(ctx, b, ctx.dim(rows));
        String d = ctx.locals.newName("divisor");
        String j = ctx.locals.newName("j");
        CodeBlock xj = ctx.in(0).at(CodeBlock.of("$N * $L + $N", r, c, j));
        b.addStatement("double $N = $L", d, norm.equals("MAX") ? "Double.NEGATIVE_INFINITY" : "0");
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, c, j);
        switch (norm) {
            case "MAX" -> b.addStatement("$N = $T.max($N, $L)", d, Math.class, d, xj);
            case "L1" -> b.addStatement("$N += $T.abs((double) $L)", d, Math.class, xj);
            default -> b.addStatement("$N += (double) $L * $L", d, xj, xj);
        }
        b.endControlFlow();
        if (norm.equals("L2")) {
            b.addStatement("$N = $T.sqrt($N)", d, Math.class, d);
        }
        b.add("// A row whose divisor is 0 stays as it is.\n");
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, c, j);
        b.addStatement("$L = (float) ($N == 0 ? $L : $L / $N)", ctx.out(0).at(CodeBlock.of("$N * $L + $N", r, c, j)),
                d, xj, xj, d);
        return b.endControlFlow().endControlFlow().build();
    }

    private static CodeBlock oneHot(EmitContext ctx) {
        Node n = ctx.node;
        ShapeContext attrs = ctx.attributes();
        int cats = MlOps.categories(attrs).size();
        boolean strings = attrs.isSet("cats_strings");
        if (strings != (n.input(0).dtype() == DType.STRING)) {
            throw ctx.unsupported("OneHotEncoder with " + n.input(0).dtype() + " X and cats_"
                    + (strings ? "strings" : "int64s"));
        }
        Object keys = strings ? attrs.attrStrings("cats_strings").toArray(String[]::new) : attrs.attrInts("cats_int64s");
        String hint = Identifiers.method(n);
        String field = ctx.weightArray("onehot:" + n.output(0).name(), keys, hint + "Categories");
        String index = "this." + ctx.derivedField("onehot:" + n.output(0).name(), LABEL_INDEX, hint + "Index",
                CodeBlock.of("new $T($N)", LABEL_INDEX, field));
        TensorRef y = ctx.out(0);
        CodeBlock.Builder b = CodeBlock.builder();
        b.addStatement("$T.fill($N, $L, $L, 0f)", java.util.Arrays.class, y.array(), y.offset(),
                y.plus(ctx.count(n.output(0))));
        String i = loop(ctx, b, ctx.count(n.input(0)));
        CodeBlock x = ctx.in(0).at(CodeBlock.of("$N", i));
        String k = ctx.locals.newName("k");
        b.addStatement("int $N = $N.find($L)", k, index,
                n.input(0).dtype().isFloat() ? CodeBlock.of("(long) $L", x) : x);
        b.beginControlFlow("if ($N >= 0)", k)
                .addStatement("$L = 1f", y.at(CodeBlock.of("$N * $L + $N", i, cats, k)));
        if (attrs.attrInt("zeros") == 0) {
            b.nextControlFlow("else")
                    .addStatement("throw new $T($S + $L + $S)", IllegalArgumentException.class,
                            n.describe() + ": category ", x, " is not among the known ones and zeros = 0");
        }
        return b.endControlFlow().endControlFlow().build();
    }

    private static CodeBlock linear(EmitContext ctx) {
        Node n = ctx.node;
        ShapeContext attrs = ctx.attributes();
        boolean classifier = n.op().equals("LinearClassifier");
        Tensor labels = classifier ? MlOps.classLabels(attrs, "classlabels_ints", "classlabels_strings") : null;
        int outputs = classifier ? labels.size() : Math.toIntExact(attrs.attrInt("targets"));
        int c = features(ctx);
        Shape x = n.input(0).shape();
        Dim rows = x.rank() == 1 ? Dim.of(1) : x.dim(0);
        String hint = Identifiers.method(n);
        String key = "linear:" + n.output(0).name();
        String w = ctx.weightArray(key + ".coefficients", doubles(attrs.attrFloats("coefficients")),
                hint + "Coefficients");
        String bias = ctx.weightArray(key + ".intercepts", attrs.isSet("intercepts")
                ? doubles(attrs.attrFloats("intercepts")) : new double[outputs], hint + "Intercepts");
        String scores = "this." + ctx.derivedField(key + ".scores", ArrayTypeName.of(TypeName.DOUBLE),
                hint + "Scores", CodeBlock.of("new double[$L]", outputs));
        CodeBlock.Builder b = CodeBlock.builder();
        String r = loop(ctx, b, ctx.dim(rows));
        String t = ctx.locals.newName("t");
        String s = ctx.locals.newName("s");
        String j = ctx.locals.newName("j");
        b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", t, t, outputs, t)
                .addStatement("double $N = $N[$N]", s, bias, t)
                .beginControlFlow("for (int $N = 0; $N < $L; $N++)", j, j, c, j)
                .addStatement("$N += $L * $N[$N * $L + $N]", s, ctx.in(0).at(CodeBlock.of("$N * $L + $N", r, c, j)), w,
                        t, c, j)
                .endControlFlow()
                .addStatement("$N[$N] = $N", scores, t, s)
                .endControlFlow();
        TensorRef out;
        if (classifier) {
            String labelField = ctx.weightArray(key + ".labels", ElementType.of(labels.dtype()).toArray(labels),
                    hint + "Labels");
            TensorRef y = ctx.out(0);
            b.addStatement("$L = $N[$T.argMax($N, 0, $L)]", y.at(CodeBlock.of("$N", r)), labelField, SCORES, scores,
                    outputs);
            out = n.hasOutput(1) ? ctx.out(1) : null;
        } else {
            out = ctx.out(0);
        }
        if (out != null) {
            b.addStatement("$T.apply($T.Transform.$L, $N, 0, $L)", SCORES, SCORES, ctx.stringAttr("post_transform"),
                    scores, outputs);
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", t, t, outputs, t)
                    .addStatement("$L = (float) $N[$N]", out.at(CodeBlock.of("$N * $L + $N", r, outputs, t)), scores, t)
                    .endControlFlow();
        }
        return b.endControlFlow().build();
    }
}
