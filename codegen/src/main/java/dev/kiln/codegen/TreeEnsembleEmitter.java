package dev.kiln.codegen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Node;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.ops.MlOps;
import dev.kiln.ir.ops.TreeEnsembleModel;
import dev.kiln.ir.ops.TreeEnsembleOps;
import java.util.List;

/**
 * TreeEnsemble, TreeEnsembleRegressor and TreeEnsembleClassifier: the op table reads any of them into one packed
 * {@link TreeEnsembleModel}; its arrays go to the weights resource and the runtime's {@code TreeEnsemble} walks them
 * per row. Trees are walked from arrays rather than emitted as nested code: exported forests have hundreds of trees
 * of thousands of nodes, which as code would exceed the JVM's method and class size limits and its JIT budgets,
 * while a packed walk is one small loop whatever the model.
 */
final class TreeEnsembleEmitter implements KernelEmitter {
    private static final ClassName ENSEMBLE = ClassName.get("dev.kiln.runtime", "TreeEnsemble");
    private static final ClassName SCORES = ClassName.get("dev.kiln.runtime", "MlScores");

    /** Any numeric input; the classifier's labels are int64 or strings. */
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
        Node n = ctx.node;
        if (n.output(0).dtype() == dev.kiln.ir.DType.FLOAT16) {
            throw ctx.unsupported("a float16 " + n.op());
        }
        ShapeContext attrs = ctx.attributes();
        TreeEnsembleModel m = TreeEnsembleOps.model(attrs);
        String key = "trees:" + n.output(0).name();
        String hint = Identifiers.method(n);
        CodeBlock nodes = CodeBlock.of("new $T.Nodes($N, $N, $N, $N, $N, $N, $N, $N)", ENSEMBLE,
                ctx.weightArray(key + ".feature", m.feature(), hint + "Features"),
                ctx.weightArray(key + ".mode", m.mode(), hint + "Modes"),
                ctx.weightArray(key + ".split", m.split(), hint + "Splits"),
                ctx.weightArray(key + ".missing", m.missingTracksTrue(), hint + "MissingTracksTrue"),
                ctx.weightArray(key + ".true", m.trueChild(), hint + "TrueChildren"),
                ctx.weightArray(key + ".false", m.falseChild(), hint + "FalseChildren"),
                ctx.weightArray(key + ".setStart", m.setStart(), hint + "SetStarts"),
                ctx.weightArray(key + ".setValues", m.setValues(), hint + "SetValues"));
        CodeBlock votes = CodeBlock.of("new $T.Votes($N, $N, $N, $N, /* targets */ $L, /* $L */ $L, "
                        + "/* unvoted MIN/MAX targets are 0 */ $L, $N)", ENSEMBLE,
                ctx.weightArray(key + ".leafStart", m.leafStart(), hint + "LeafStarts"),
                ctx.weightArray(key + ".leafTarget", m.leafTarget(), hint + "LeafTargets"),
                ctx.weightArray(key + ".leafWeight", m.leafWeight(), hint + "LeafWeights"),
                ctx.weightArray(key + ".roots", m.roots(), hint + "Roots"),
                m.targets(), List.of("AVERAGE", "SUM", "MIN", "MAX").get(m.aggregate()), m.aggregate(),
                m.emptyIsZero(),
                ctx.weightArray(key + ".base", m.base(), hint + "BaseValues"));
        String ensemble = "this." + ctx.derivedField(key, ENSEMBLE, hint + "Trees",
                CodeBlock.of("new $T(\n$>$L,\n$L$<)", ENSEMBLE, nodes, votes));
        int features = ctx.staticDim(n.input(0), 1);
        TensorRef x = ctx.in(0);
        TensorRef y = ctx.out(0);
        String transform = TreeEnsembleOps.postTransform(attrs);
        if (!n.op().equals("TreeEnsembleClassifier")) {
            return CodeBlock.builder()
                    .addStatement("$N.regress($N, $L, $L, $L, $T.Transform.$L, $N, $L)", ensemble, x.array(), x.offset(),
                            ctx.dim(n.input(0).shape().dim(0)), features, SCORES, transform, y.array(), y.offset())
                    .build();
        }
        Tensor labels = MlOps.classLabels(attrs, "classlabels_int64s", "classlabels_strings");
        String labelField = ctx.weightArray(key + ".labels", ElementType.of(labels.dtype()).toArray(labels),
                hint + "Labels");
        boolean binary = TreeEnsembleOps.binaryOneClass(attrs);
        int votedClass = binary ? (int) attrs.attrInts("class_ids")[0] : 0;
        CodeBlock z = CodeBlock.of("null, 0");
        if (n.hasOutput(1)) {
            TensorRef zr = ctx.out(1);
            z = CodeBlock.of("$N, $L", zr.array(), zr.offset());
        }
        return CodeBlock.builder()
                .addStatement("$N.classify($N, $L, $L, $L, $T.Transform.$L, $L, $L, $L, $N, $N, $L, $L)", ensemble,
                        x.array(), x.offset(), ctx.dim(n.input(0).shape().dim(0)), features, SCORES, transform, binary,
                        votedClass, TreeEnsembleOps.weightsNonNegative(attrs), labelField, y.array(), y.offset(), z)
                .build();
    }
}
