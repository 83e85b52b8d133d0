package dev.kiln.ir.ops;

import dev.kiln.ir.Attr;
import dev.kiln.ir.AttrSpec;
import dev.kiln.ir.AttrType;
import dev.kiln.ir.Attributes;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpProperty;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.TypeInference;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Kiln's own ops (domain {@code dev.kiln}) that the fusion passes produce. Each is declared in terms of the
 * ONNX ops it fuses: attributes, shape rules and reference semantics are those ops' own, composed, so a
 * fused graph computes exactly what the unfused one did.
 */
public final class FusedOps {
    public static final String FUSED_CONV = "FusedConv";
    public static final String FUSED_GEMM = "FusedGemm";
    public static final String FUSED_ELEMENTWISE = "FusedElementwise";

    private FusedOps() {}

    /**
     * @param onnxOp finds an already registered default-domain op by name
     */
    public static void register(OpTable.Registrar r, Function<String, OpDef> onnxOp) {
        r.add(withEpilogue(FUSED_CONV, onnxOp.apply("Conv"),
                "Conv with its bias and a pointwise activation applied in the kernel's epilogue."));
        r.add(withEpilogue(FUSED_GEMM, onnxOp.apply("Gemm"),
                "Gemm with its bias and a pointwise activation applied in the kernel's epilogue."));
        r.add(OpDef.builder(FUSED_ELEMENTWISE).domain(OpTable.KILN_DOMAIN)
                .doc("A chain of elementwise ops (with broadcasting) as one node; `body` holds the chain, whose "
                        + "inputs are this node's inputs in order and whose single output is this node's output.")
                .inputs("inputs...").outputs("Y")
                .requiredAttr("body", AttrType.GRAPH, "the fused chain as a graph")
                .properties(OpProperty.ELEMENTWISE)
                .shape(FusedOps::inferBody)
                .eval(ctx -> {
                    Graph body = ctx.attrGraph("body");
                    Map<String, Tensor> feeds = new LinkedHashMap<>();
                    for (int i = 0; i < body.inputs().size(); i++) {
                        feeds.put(body.inputs().get(i).name(), ctx.input(i));
                    }
                    return List.copyOf(ReferenceEvaluator.run(body, feeds).values());
                })
                .build());
    }

    /** The base op's declaration plus {@code activation}, {@code activation_alpha}, {@code activation_beta}. */
    private static OpDef withEpilogue(String name, OpDef base, String doc) {
        OpDef.Builder b = OpDef.builder(name).domain(OpTable.KILN_DOMAIN).since(base.sinceVersion()).doc(doc);
        b.inputs(arityNames(base.inputNames(), base.minInputs(), base.maxInputs()));
        b.outputs(arityNames(base.outputNames(), base.minOutputs(), base.maxOutputs()));
        for (AttrSpec spec : base.attributes().values()) {
            if (spec.required()) {
                b.requiredAttr(spec.name(), spec.type(), spec.doc());
            } else if (spec.defaultValue().isPresent()) {
                b.attr(spec.name(), spec.type(), spec.defaultValue().get(), spec.doc());
            } else {
                b.optionalAttr(spec.name(), spec.type(), spec.doc());
            }
        }
        b.attrString("activation", "", "the epilogue activation (an ONNX op name: Relu, LeakyRelu, Sigmoid, "
                + "Tanh, HardSigmoid, Clip, Elu), empty for none");
        b.optionalAttr("activation_alpha", AttrType.FLOAT, "LeakyRelu/Elu/HardSigmoid alpha, or Clip's min");
        b.optionalAttr("activation_beta", AttrType.FLOAT, "HardSigmoid beta, or Clip's max");
        b.properties(base.properties().toArray(OpProperty[]::new));
        b.shape(ctx -> base.shapeRule().infer(ctx.as(base, baseAttributes(ctx.attributes()))));
        b.eval(ctx -> {
            List<Tensor> out = new ArrayList<>(base.evalRule().evaluate(ctx.as(base, baseAttributes(ctx.attributes()))));
            Activation act = Activation.parse(ctx.attrString("activation"));
            out.set(0, act.apply(ctx, out.get(0), optFloat(ctx, "activation_alpha"), optFloat(ctx, "activation_beta")));
            return out;
        });
        return b.build();
    }

    private static Optional<Float> optFloat(EvalContext ctx, String name) {
        return ctx.isSet(name) ? Optional.of(ctx.attrFloat(name)) : Optional.empty();
    }

    private static Attributes baseAttributes(Attributes a) {
        return a.without("activation").without("activation_alpha").without("activation_beta");
    }

    private static String[] arityNames(List<String> names, int min, int max) {
        String[] out = new String[names.size()];
        for (int i = 0; i < out.length; i++) {
            boolean last = i == out.length - 1;
            String n = names.get(i) + (i >= min ? "?" : "");
            out[i] = last && max == Integer.MAX_VALUE ? n + "..." : n;
        }
        return out;
    }

    /** Types the body graph's nodes for this node's actual inputs and returns the body output's type. */
    private static List<TensorType> inferBody(ShapeContext ctx) {
        Graph body = ctx.attrGraph("body");
        if (body.inputs().size() != ctx.inputCount() || body.outputs().size() != 1) {
            throw ctx.fail("body takes " + body.inputs().size() + " inputs and has " + body.outputs().size()
                    + " outputs; the node has " + ctx.inputCount() + " inputs and must have 1 output");
        }
        TypeInference inference = new TypeInference();
        Map<Value, Value> actual = new IdentityHashMap<>();
        for (int i = 0; i < body.inputs().size(); i++) {
            Value in = ctx.input(i);
            actual.put(body.inputs().get(i), in);
            ctx.constants().constant(in).ifPresent(t -> inference.addConstant(in, t));
        }
        body.initializers().forEach((v, t) -> {
            actual.put(v, v);
            inference.addConstant(v, t);
        });
        for (Node n : body.nodes()) {
            OpDef def = OpTable.get().require(n.domain(), n.op(), n.describe());
            List<Value> in = n.inputs().stream().map(v -> v.isAbsent() ? v : actual.get(v)).toList();
            TypeInference.Result res = inference.infer(def, ctx.nodeDescription() + " body " + n.describe(),
                    n.attributes(), in, n.outputs().size());
            List<Value> outs = new ArrayList<>();
            for (int i = 0; i < n.outputs().size(); i++) {
                Value o = n.outputs().get(i);
                Value typed = o.isAbsent() ? o : new Value(o.name(), res.types().get(i));
                outs.add(typed);
                actual.put(o, typed);
            }
            inference.bind(outs, res);
        }
        return List.of(actual.get(body.outputs().get(0)).type());
    }

    /** The attribute holding a fused chain, for passes building one. */
    public static Attr body(Graph g) {
        return new Attr.GraphValue(g);
    }
}
