package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.NodeContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.ArrayList;
import java.util.List;

/**
 * The classical-ML domain (ai.onnx.ml) apart from tree ensembles ({@link TreeEnsembleOps}): LabelEncoder, Binarizer,
 * ArrayFeatureExtractor, Imputer, Scaler, Normalizer, OneHotEncoder, LinearRegressor and LinearClassifier, as
 * scikit-learn exports use them. Their versions are those of the ai.onnx.ml opset, not the default domain's.
 */
public final class MlOps {
    private MlOps() {}

    public static final String DOMAIN = "ai.onnx.ml";

    private static final List<DType> NUMERIC = List.of(DType.FLOAT32, DType.FLOAT64, DType.INT64, DType.INT32);

    public static void register(OpTable.Registrar r) {
        LabelEncoderOp.register(r);
        r.add(OpDef.builder("Binarizer").domain(DOMAIN).since(1)
                .doc("1 where X > threshold, else 0, in X's type.")
                .inputs("X").outputs("Y")
                .attrFloat("threshold", 0f, "values greater than this become 1")
                .properties(OpProperty.ELEMENTWISE)
                .shape(ctx -> {
                    requireNumeric(ctx);
                    return List.of(ctx.inputType(0));
                })
                .eval(ctx -> {
                    double t = ctx.attrFloat("threshold");
                    Tensor x = ctx.input(0);
                    double[] y = new double[x.size()];
                    for (int i = 0; i < y.length; i++) {
                        y[i] = x.getDouble(i) > t ? 1 : 0;
                    }
                    return List.of(Tensor.fromDoubles(x.dtype(), x.shape(), y));
                })
                .build());

        r.add(OpDef.builder("ArrayFeatureExtractor").domain(DOMAIN).since(1)
                .doc("The elements of X at indices Y along X's last axis: X[..., Y] (1-D X gives [1, |Y|]).")
                .inputs("X", "Y").outputs("Z")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(MlOps::featureShape)
                .eval(MlOps::extractFeatures)
                .build());

        r.add(OpDef.builder("Imputer").domain(DOMAIN).since(1)
                .doc("Replaces the elements of X equal to the replaced value (NaN matches NaN) with the imputed value "
                        + "of their feature (the last axis), or the one imputed value for all.")
                .inputs("X").outputs("Y")
                .optionalAttr("imputed_value_floats", AttrType.FLOATS, "the values for float X")
                .optionalAttr("imputed_value_int64s", AttrType.INTS, "the values for integer X")
                .attrFloat("replaced_value_float", 0f, "the float value to replace")
                .attrInt("replaced_value_int64", 0, "the integer value to replace")
                .shape(ctx -> {
                    requireNumeric(ctx);
                    featureValues(ctx, ctx.inputDtype(0).isFloat() ? "imputed_value_floats" : "imputed_value_int64s",
                            ctx.inputShape(0));
                    return List.of(ctx.inputType(0));
                })
                .eval(MlOps::impute)
                .build());

        r.add(OpDef.builder("Scaler").domain(DOMAIN).since(1)
                .doc("(X - offset) * scale per feature (the last axis), or with one offset and scale for all, as "
                        + "float32.")
                .inputs("X").outputs("Y")
                .optionalAttr("offset", AttrType.FLOATS, "subtracted first (absent: 0)")
                .optionalAttr("scale", AttrType.FLOATS, "multiplied second (absent: 1)")
                .shape(ctx -> {
                    requireNumeric(ctx);
                    featureValues(ctx, "offset", ctx.inputShape(0));
                    featureValues(ctx, "scale", ctx.inputShape(0));
                    return List.of(new TensorType(DType.FLOAT32, ctx.inputShape(0)));
                })
                .eval(MlOps::scale)
                .build());

        r.add(OpDef.builder("Normalizer").domain(DOMAIN).since(1)
                .doc("Each row of X ([C] or [N, C]) divided by its max (MAX), sum (L1, of absolute values) or "
                        + "Euclidean norm (L2), as float32; a row whose divisor is 0 is left as it is.")
                .inputs("X").outputs("Y")
                .attrString("norm", "MAX", "MAX, L1 or L2")
                .shape(ctx -> {
                    requireNumeric(ctx);
                    requireRows(ctx);
                    if (!List.of("MAX", "L1", "L2").contains(ctx.attrString("norm"))) {
                        throw ctx.fail("norm must be MAX, L1 or L2, not '" + ctx.attrString("norm") + "'");
                    }
                    return List.of(new TensorType(DType.FLOAT32, ctx.inputShape(0)));
                })
                .eval(MlOps::normalize)
                .build());

        r.add(OpDef.builder("OneHotEncoder").domain(DOMAIN).since(1)
                .doc("Appends an axis of the category count: 1 at the index of each element's category among "
                        + "cats_int64s or cats_strings (numbers are truncated to integers), 0 elsewhere (all 0 for "
                        + "an unknown category, or an error when zeros = 0), as float32.")
                .inputs("X").outputs("Y")
                .optionalAttr("cats_int64s", AttrType.INTS, "the categories of numeric X")
                .optionalAttr("cats_strings", AttrType.STRINGS, "the categories of string X")
                .attrInt("zeros", 1, "1: an unknown category encodes as all zeros; 0: it is an error")
                .shape(ctx -> {
                    boolean strings = ctx.inputDtype(0) == DType.STRING;
                    if (!strings && !NUMERIC.contains(ctx.inputDtype(0))) {
                        throw ctx.fail("X must be a string, float, double, int64 or int32 tensor, not "
                                + ctx.inputDtype(0));
                    }
                    List<Dim> dims = new ArrayList<>(ctx.inputShape(0).dims());
                    dims.add(Dim.of(categories(ctx).size()));
                    return List.of(new TensorType(DType.FLOAT32, new Shape(dims)));
                })
                .eval(MlOps::oneHot)
                .build());

        r.add(OpDef.builder("LinearRegressor").domain(DOMAIN).since(1)
                .doc("X ([C] or [N, C]) times the targets' coefficient rows plus intercepts, then post_transform, as "
                        + "float32 [N, targets].")
                .inputs("X").outputs("Y")
                .optionalAttr("coefficients", AttrType.FLOATS, "targets rows of C weights")
                .optionalAttr("intercepts", AttrType.FLOATS, "one per target (absent: 0)")
                .attrString("post_transform", "NONE", "NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO or PROBIT")
                .attrInt("targets", 1, "the number of regression targets")
                .shape(ctx -> {
                    requireNumeric(ctx);
                    Dim n = requireRows(ctx);
                    linearShape(ctx, Math.toIntExact(ctx.attrInt("targets")));
                    return List.of(new TensorType(DType.FLOAT32, Shape.of(n, Dim.of(ctx.attrInt("targets")))));
                })
                .eval(ctx -> List.of(Tensor.fromDoubles(DType.FLOAT32, new int[] {rows(ctx.input(0)),
                        Math.toIntExact(ctx.attrInt("targets"))}, linearScores(ctx, ctx.input(0),
                        Math.toIntExact(ctx.attrInt("targets")), true))))
                .build());

        r.add(OpDef.builder("LinearClassifier").domain(DOMAIN).since(1)
                .doc("Per row of X ([C] or [N, C]), a score per class (coefficient rows times X plus intercepts, "
                        + "then post_transform) and the label of the highest score.")
                .inputs("X").outputs("Y", "Z?")
                .optionalAttr("classlabels_ints", AttrType.INTS, "integer class labels")
                .optionalAttr("classlabels_strings", AttrType.STRINGS, "string class labels")
                .requiredAttr("coefficients", AttrType.FLOATS, "a row of C weights per class")
                .optionalAttr("intercepts", AttrType.FLOATS, "one per class (absent: 0)")
                .attrInt("multi_class", 0, "0: one-vs-rest, 1: multinomial (the scores are the same)")
                .attrString("post_transform", "NONE", "NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO or PROBIT")
                .shape(MlOps::linearClassifierShape)
                .eval(MlOps::linearClassify)
                .build());

        TreeEnsembleOps.register(r);
    }

    private static void requireNumeric(ShapeContext ctx) {
        if (!NUMERIC.contains(ctx.inputDtype(0))) {
            throw ctx.fail("X must be a float, double, int64 or int32 tensor, not " + ctx.inputDtype(0));
        }
    }

    /** Checks X is [C] or [N, C]; returns N (1 for [C]). */
    static Dim requireRows(ShapeContext ctx) {
        Shape x = ctx.inputShape(0);
        if (x.rank() != 1 && x.rank() != 2) {
            throw ctx.fail("X must be [C] or [N, C] but is " + x);
        }
        return x.rank() == 1 ? Dim.of(1) : x.dim(0);
    }

    /** Rows of a [C] or [N, C] tensor. */
    static int rows(Tensor x) {
        return x.rank() == 1 ? 1 : x.dim(0);
    }

    /** Features (the last dim) of a [C] or [N, C] tensor. */
    static int features(Tensor x) {
        return x.rank() == 0 ? 1 : x.dim(x.rank() - 1);
    }

    /** Checks a per-feature attribute has 1 entry or one per feature of {@code x}'s last axis. */
    private static void featureValues(ShapeContext ctx, String attr, Shape x) {
        if (!ctx.isSet(attr)) {
            if (attr.startsWith("imputed")) {
                throw ctx.fail(attr + " must be set for " + ctx.inputDtype(0) + " X");
            }
            return;
        }
        int n = attr.endsWith("int64s") ? ctx.attrInts(attr).length : ctx.attrFloats(attr).length;
        Dim last = x.rank() == 0 ? Dim.of(1) : x.dim(x.rank() - 1);
        if (n != 1 && !last.mayEqual(Dim.of(n))) {
            throw ctx.fail(attr + " has " + n + " values, neither 1 nor one per feature of X " + x);
        }
    }

    /** The value of a per-feature attribute for feature {@code f} (one value broadcasts). */
    private static double featureValue(double[] values, int f) {
        return values.length == 1 ? values[0] : values[f];
    }

    private static double[] doubles(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }

    // ---- ArrayFeatureExtractor ----

    private static List<TensorType> featureShape(ShapeContext ctx) {
        DType t = ctx.inputDtype(0);
        if (!NUMERIC.contains(t) && t != DType.STRING) {
            throw ctx.fail("X must be a float, double, int64, int32 or string tensor, not " + t);
        }
        if (ctx.inputDtype(1) != DType.INT64) {
            throw ctx.fail("Y must be int64 indices, not " + ctx.inputDtype(1));
        }
        Shape x = ctx.inputShape(0);
        Dim count = ctx.inputShape(1).elementCount();
        List<Dim> dims = new ArrayList<>();
        if (x.rank() <= 1) {
            dims.add(Dim.of(1));
        } else {
            dims.addAll(x.dims().subList(0, x.rank() - 1));
        }
        dims.add(count);
        return List.of(new TensorType(t, new Shape(dims)));
    }

    private static List<Tensor> extractFeatures(EvalContext ctx) {
        Tensor x = ctx.input(0);
        long[] idx = ctx.input(1).toLongArray();
        int last = features(x);
        int outer = x.size() / Math.max(last, 1);
        int[] src = new int[outer * idx.length];
        for (long i : idx) {
            if (i < 0 || i >= last) {
                throw new dev.kiln.ir.InputException(ctx.nodeDescription() + ": index " + i
                        + " is outside X's last axis of " + last);
            }
        }
        for (int o = 0; o < outer; o++) {
            for (int k = 0; k < idx.length; k++) {
                src[o * idx.length + k] = o * last + (int) idx[k];
            }
        }
        int[] shape;
        if (x.rank() <= 1) {
            shape = new int[] {1, idx.length};
        } else {
            shape = x.shape();
            shape[shape.length - 1] = idx.length;
        }
        return List.of(ElementBuffer.gather(x, shape, src));
    }

    // ---- Imputer, Scaler, Normalizer ----

    private static List<Tensor> impute(EvalContext ctx) {
        Tensor x = ctx.input(0);
        int f = features(x);
        double[] y = new double[x.size()];
        if (x.dtype().isFloat()) {
            double[] values = doubles(ctx.attrFloats("imputed_value_floats"));
            double replaced = ctx.attrFloat("replaced_value_float");
            for (int i = 0; i < y.length; i++) {
                double v = x.getDouble(i);
                boolean hit = Double.isNaN(replaced) ? Double.isNaN(v) : v == replaced;
                y[i] = hit ? featureValue(values, i % f) : v;
            }
            return List.of(Tensor.fromDoubles(x.dtype(), x.shape(), y));
        }
        long[] values = ctx.attrInts("imputed_value_int64s");
        long replaced = ctx.attrInt("replaced_value_int64");
        long[] out = new long[x.size()];
        for (int i = 0; i < out.length; i++) {
            long v = x.getLong(i);
            out[i] = v == replaced ? x.dtype().wrap(values.length == 1 ? values[0] : values[i % f]) : v;
        }
        return List.of(Tensor.wrapLongs(x.dtype(), x.shape(), out));
    }

    private static List<Tensor> scale(EvalContext ctx) {
        Tensor x = ctx.input(0);
        int f = features(x);
        double[] offset = ctx.isSet("offset") ? doubles(ctx.attrFloats("offset")) : new double[] {0};
        double[] scale = ctx.isSet("scale") ? doubles(ctx.attrFloats("scale")) : new double[] {1};
        double[] y = new double[x.size()];
        for (int i = 0; i < y.length; i++) {
            y[i] = (x.getDouble(i) - featureValue(offset, i % f)) * featureValue(scale, i % f);
        }
        return List.of(Tensor.fromDoubles(DType.FLOAT32, x.shape(), y));
    }

    private static List<Tensor> normalize(EvalContext ctx) {
        Tensor x = ctx.input(0);
        int c = features(x);
        String norm = ctx.attrString("norm");
        double[] y = new double[x.size()];
        for (int row = 0; row < rows(x); row++) {
            double divisor = norm.equals("MAX") ? Double.NEGATIVE_INFINITY : 0;
            for (int j = 0; j < c; j++) {
                double v = x.getDouble(row * c + j);
                divisor = switch (norm) {
                    case "MAX" -> Math.max(divisor, v);
                    case "L1" -> divisor + Math.abs(v);
                    default -> divisor + v * v;
                };
            }
            if (norm.equals("L2")) {
                divisor = Math.sqrt(divisor);
            }
            for (int j = 0; j < c; j++) {
                double v = x.getDouble(row * c + j);
                y[row * c + j] = divisor == 0 ? v : v / divisor;
            }
        }
        return List.of(Tensor.fromDoubles(DType.FLOAT32, x.shape(), y));
    }

    // ---- OneHotEncoder ----

    /** The categories, as Long or String in attribute order. */
    public static List<Object> categories(NodeContext ctx) {
        boolean strings = ctx.isSet("cats_strings");
        if (strings == ctx.isSet("cats_int64s")) {
            throw ctx.fail("exactly one of cats_int64s and cats_strings must be set");
        }
        List<Object> cats = new ArrayList<>();
        if (strings) {
            cats.addAll(ctx.attrStrings("cats_strings"));
        } else {
            for (long v : ctx.attrInts("cats_int64s")) {
                cats.add(v);
            }
        }
        return cats;
    }

    private static List<Tensor> oneHot(EvalContext ctx) {
        Tensor x = ctx.input(0);
        List<Object> cats = categories(ctx);
        boolean strings = x.dtype() == DType.STRING;
        if (strings != ctx.isSet("cats_strings")) {
            throw ctx.fail((strings ? "string" : "numeric") + " X needs cats_" + (strings ? "strings" : "int64s"));
        }
        double[] y = new double[x.size() * cats.size()];
        for (int i = 0; i < x.size(); i++) {
            Object key = strings ? x.strings()[i] : (Object) (x.dtype().isFloat() ? (long) x.getDouble(i) : x.getLong(i));
            int at = cats.indexOf(key);
            if (at >= 0) {
                y[i * cats.size() + at] = 1;
            } else if (ctx.attrInt("zeros") == 0) {
                throw new dev.kiln.ir.InputException(ctx.nodeDescription() + ": category " + key
                        + " is not among the " + cats.size() + " known ones and zeros = 0");
            }
        }
        int[] shape = java.util.Arrays.copyOf(x.shape(), x.rank() + 1);
        shape[x.rank()] = cats.size();
        return List.of(Tensor.fromDoubles(DType.FLOAT32, shape, y));
    }

    // ---- LinearRegressor, LinearClassifier ----

    /** Checks coefficients form {@code outputs} rows over X's features and intercepts one per output. */
    private static void linearShape(ShapeContext ctx, int outputs) {
        Shape x = ctx.inputShape(0);
        int coefficients = ctx.isSet("coefficients") ? ctx.attrFloats("coefficients").length : 0;
        Dim c = x.dim(x.rank() - 1);
        if (outputs <= 0 || coefficients % outputs != 0 || !c.mayEqual(Dim.of(coefficients / outputs))) {
            throw ctx.fail(coefficients + " coefficients are not " + outputs + " rows of X's " + c + " features");
        }
        if (ctx.isSet("intercepts") && ctx.attrFloats("intercepts").length != outputs) {
            throw ctx.fail(ctx.attrFloats("intercepts").length + " intercepts for " + outputs + " outputs");
        }
    }

    /** [rows, outputs] scores X · coefficientsᵀ + intercepts, post-transformed when {@code transform}. */
    private static double[] linearScores(NodeContext ctx, Tensor x, int outputs, boolean transform) {
        float[] w = ctx.attrFloats("coefficients");
        float[] b = ctx.isSet("intercepts") ? ctx.attrFloats("intercepts") : new float[outputs];
        int c = features(x);
        int n = rows(x);
        double[] y = new double[n * outputs];
        for (int row = 0; row < n; row++) {
            for (int t = 0; t < outputs; t++) {
                double s = b[t];
                for (int j = 0; j < c; j++) {
                    s += x.getDouble(row * c + j) * w[t * c + j];
                }
                y[row * outputs + t] = s;
            }
            if (transform) {
                MlTransforms.apply(ctx.attrString("post_transform"), y, row * outputs, outputs);
            }
        }
        return y;
    }

    /** The class labels of a classifier, as a 1-D int64 or string tensor. */
    public static Tensor classLabels(NodeContext ctx, String ints, String strings) {
        if (ctx.isSet(ints) == ctx.isSet(strings)) {
            throw ctx.fail("exactly one of " + ints + " and " + strings + " must be set");
        }
        if (ctx.isSet(strings)) {
            List<String> s = ctx.attrStrings(strings);
            return Tensor.wrapStrings(new int[] {s.size()}, s.toArray(String[]::new));
        }
        long[] v = ctx.attrInts(ints);
        return Tensor.wrapLongs(DType.INT64, new int[] {v.length}, v);
    }

    private static List<TensorType> linearClassifierShape(ShapeContext ctx) {
        requireNumeric(ctx);
        Dim n = requireRows(ctx);
        Tensor labels = classLabels(ctx, "classlabels_ints", "classlabels_strings");
        int classes = labels.size();
        int c = ctx.attrFloats("coefficients").length;
        Shape x = ctx.inputShape(0);
        if (!x.dim(x.rank() - 1).mayEqual(Dim.of(c / Math.max(classes, 1))) || c % Math.max(classes, 1) != 0) {
            throw ctx.unsupported(c + " coefficients are not one row per class (" + classes + ") over X " + x
                    + "; a single score column for two classes is not supported");
        }
        linearShape(ctx, classes);
        return List.of(new TensorType(labels.dtype(), Shape.of(n)),
                new TensorType(DType.FLOAT32, Shape.of(n, Dim.of(classes))));
    }

    private static List<Tensor> linearClassify(EvalContext ctx) {
        Tensor x = ctx.input(0);
        Tensor labels = classLabels(ctx, "classlabels_ints", "classlabels_strings");
        int classes = labels.size();
        double[] scores = linearScores(ctx, x, classes, true);
        int n = rows(x);
        int[] best = new int[n];
        for (int row = 0; row < n; row++) {
            best[row] = argMax(scores, row * classes, classes);
        }
        return List.of(ElementBuffer.gather(labels, new int[] {n}, best),
                Tensor.fromDoubles(DType.FLOAT32, new int[] {n, classes}, scores));
    }

    /** The index of the first largest of {@code v[from, from + n)}, relative to {@code from}. */
    static int argMax(double[] v, int from, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (v[from + i] > v[from + best]) {
                best = i;
            }
        }
        return best;
    }
}
