package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Kiln's ops whose constant operands are stored in a kernel's layout (domain {@code dev.kiln}), produced by the
 * weight-layout pass. Their reference semantics read that layout, so --verify checks the packing itself.
 */
public final class LayoutOps {
    public static final String PACKED_GEMM = "PackedGemm";
    public static final String PACKED_CONV = "PackedConv";

    private LayoutOps() {}

    /**
     * @param onnxOp finds an already registered default-domain op (PackedConv is Conv's declaration plus a layout)
     */
    public static void register(OpTable.Registrar r, java.util.function.Function<String, OpDef> onnxOp) {
        OpDef conv = onnxOp.apply("Conv");
        OpDef.Builder pc = OpDef.builder(PACKED_CONV).domain(OpTable.KILN_DOMAIN).since(conv.sinceVersion())
                .doc("Conv (bias, epilogue activation as dev.kiln.FusedConv) whose constant W is stored in the layout "
                        + "named by `layout`; `m` and `kernel_shape` give W's logical shape [m, C/group, kh, kw].")
                .inputs("X", "W", "B?").outputs("Y")
                .requiredAttr("m", AttrType.INT, "output channels")
                .requiredAttr("layout", AttrType.STRING, "how W is stored: " + ConvWeightLayout.ROW_MAJOR + ", "
                        + ConvWeightLayout.DIRECT5 + ", " + ConvWeightLayout.DIRECT4 + ", " + ConvWeightLayout.WINOGRAD2
                        + " or " + ConvWeightLayout.WINOGRAD4);
        for (dev.kiln.ir.AttrSpec spec : conv.attributes().values()) {
            if (spec.name().equals("kernel_shape")) {
                pc.requiredAttr(spec.name(), spec.type(), spec.doc());
            } else if (spec.defaultValue().isPresent()) {
                pc.attr(spec.name(), spec.type(), spec.defaultValue().get(), spec.doc());
            } else {
                pc.optionalAttr(spec.name(), spec.type(), spec.doc());
            }
        }
        pc.attrString("activation", "", "epilogue activation, as dev.kiln.FusedConv's")
                .optionalAttr("activation_alpha", AttrType.FLOAT, "LeakyRelu/Elu/HardSigmoid alpha, or Clip's min")
                .optionalAttr("activation_beta", AttrType.FLOAT, "HardSigmoid beta, or Clip's max")
                .attrInt("max_pool", 0, "1: the activation's output then goes through a 2x2, stride-2, unpadded, "
                        + "floor-mode MaxPool, fused into the kernel (Y is the pooled tensor)")
                .shape(ctx -> {
                    List<TensorType> y = conv.shapeRule().infer(ctx.as(conv, convAttributes(ctx.attributes()),
                            logicalInputs(ctx)));
                    return ctx.attrInt("max_pool") == 0 ? y : List.of(pooledType(ctx, y.get(0)));
                })
                .eval(ctx -> {
                    List<Tensor> in = new ArrayList<>();
                    in.add(ctx.input(0));
                    in.add(unpackConv(ctx));
                    in.add(ctx.hasInput(2) ? ctx.input(2) : null);
                    Tensor y = conv.evalRule().evaluate(new EvalContext(conv, ctx.nodeDescription(),
                            convAttributes(ctx.attributes()), in, 1, ctx.random())).get(0);
                    Tensor act = Activation.parse(ctx.attrString("activation")).apply(ctx, y,
                            opt(ctx, "activation_alpha"), opt(ctx, "activation_beta"));
                    if (ctx.attrInt("max_pool") == 0) {
                        return List.of(act);
                    }
                    OpDef pool = onnxOp.apply("MaxPool");
                    return List.of(pool.evalRule().evaluate(new EvalContext(pool, ctx.nodeDescription(),
                            MAX_POOL_2X2, List.of(act), 1, ctx.random())).get(0));
                });
        r.add(pc.build());

        r.add(OpDef.builder(PACKED_GEMM).domain(OpTable.KILN_DOMAIN)
                .doc("Y[..., n] = A[..., k] x B + bias, then the activation; B is a constant k x n matrix stored in the "
                        + "layout named by `layout` (kiln.panel16.v1), alpha already folded into it.")
                .inputs("A", "B", "bias?").outputs("Y")
                .requiredAttr("k", AttrType.INT, "rows of B (the reduced dim)")
                .requiredAttr("n", AttrType.INT, "columns of B (output features)")
                .attrString("layout", PanelLayout.NAME, "how B is stored")
                .attrString("activation", "", "epilogue activation, as dev.kiln.FusedGemm's")
                .optionalAttr("activation_alpha", AttrType.FLOAT, "LeakyRelu/Elu/HardSigmoid alpha, or Clip's min")
                .optionalAttr("activation_beta", AttrType.FLOAT, "HardSigmoid beta, or Clip's max")
                .shape(LayoutOps::packedGemmShape)
                .eval(ctx -> List.of(packedGemm(ctx)))
                .build());
    }

    private static List<TensorType> packedGemmShape(ShapeContext ctx) {
        if (!ctx.attrString("layout").equals(PanelLayout.NAME)) {
            throw ctx.unsupported("weight layout '" + ctx.attrString("layout") + "'");
        }
        long k = ctx.attrInt("k");
        long n = ctx.attrInt("n");
        Shape a = ctx.inputShape(0);
        if (a.rank() < 1 || !a.dim(a.rank() - 1).equals(Dim.of(k))) {
            throw ctx.fail("A's last dim must be k=" + k);
        }
        Shape b = ctx.inputShape(1);
        if (b.rank() != 1 || !b.dim(0).equals(Dim.of(PanelLayout.length(k, n)))) {
            throw ctx.fail("B must hold a packed " + k + "x" + n + " matrix (" + PanelLayout.length(k, n) + " floats)");
        }
        if (ctx.hasInput(2) && !ctx.inputShape(2).equals(Shape.of(n))) {
            throw ctx.fail("bias must be [" + n + "]");
        }
        List<Dim> out = new ArrayList<>(a.dims().subList(0, a.rank() - 1));
        out.add(Dim.of(n));
        return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)));
    }

    private static Tensor packedGemm(EvalContext ctx) {
        int k = (int) ctx.attrInt("k");
        int n = (int) ctx.attrInt("n");
        Tensor a = ctx.input(0);
        double[] x = a.doubles();
        double[] b = ctx.input(1).doubles();
        int rows = x.length / k;
        double[] y = new double[rows * n];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < n; j++) {
                double acc = ctx.hasInput(2) ? ctx.input(2).getDouble(j) : 0;
                for (int i = 0; i < k; i++) {
                    acc += x[r * k + i] * b[PanelLayout.index(k, i, j)];
                }
                y[r * n + j] = acc;
            }
        }
        int[] shape = a.shape();
        shape[shape.length - 1] = n;
        Tensor result = Tensor.wrapDoubles(a.dtype(), shape, y);
        Activation act = Activation.parse(ctx.attrString("activation"));
        return act.apply(ctx, result, opt(ctx, "activation_alpha"), opt(ctx, "activation_beta"));
    }

    private static dev.kiln.ir.Attributes convAttributes(dev.kiln.ir.Attributes a) {
        return a.without("m").without("layout").without("activation").without("activation_alpha")
                .without("activation_beta").without("max_pool");
    }

    /** The fused pool of {@code max_pool = 1}: MaxPool's attributes. */
    private static final dev.kiln.ir.Attributes MAX_POOL_2X2 = dev.kiln.ir.Attributes.builder()
            .set("kernel_shape", dev.kiln.ir.Attr.Ints.of(2, 2))
            .set("strides", dev.kiln.ir.Attr.Ints.of(2, 2)).build();

    /** The conv output's type after the fused 2x2 / stride-2 pool: spatial dims halved, rounded down. */
    private static TensorType pooledType(ShapeContext ctx, TensorType y) {
        if (y.rank() != 4 || !y.shape().dim(2).isStatic() || !y.shape().dim(3).isStatic()
                || y.shape().dim(2).value() < 2 || y.shape().dim(3).value() < 2) {
            throw ctx.fail("max_pool=1 needs a 2-D output of at least 2x2, not " + y);
        }
        return new TensorType(y.dtype(), Shape.of(y.shape().dim(0), y.shape().dim(1),
                Dim.of(y.shape().dim(2).value() / 2), Dim.of(y.shape().dim(3).value() / 2)));
    }

    /** X, W as the logical [m, C/group, kh, kw] tensor Conv's rule expects (after checking the packed length), B. */
    private static List<dev.kiln.ir.Value> logicalInputs(ShapeContext ctx) {
        long m = ctx.attrInt("m");
        long group = ctx.attrInt("group");
        long[] kernel = ctx.attrInts("kernel_shape");
        Dim c = ctx.inputShape(0).dim(1);
        if (!c.isStatic() || c.value() % group != 0) {
            throw ctx.fail("X's channel dim must be static and divisible by group=" + group);
        }
        long taps = 1;
        List<Dim> w = new ArrayList<>(List.of(Dim.of(m), Dim.of(c.value() / group)));
        for (long k : kernel) {
            taps *= k;
            w.add(Dim.of(k));
        }
        long expected = ConvWeightLayout.length(ctx.attrString("layout"), m, c.value() / group, taps, group);
        if (!ctx.inputShape(1).equals(Shape.of(expected))) {
            throw ctx.fail("W must hold " + expected + " packed floats in layout " + ctx.attrString("layout"));
        }
        List<dev.kiln.ir.Value> in = new ArrayList<>(ctx.inputs());
        in.set(1, new dev.kiln.ir.Value(ctx.input(1).name(), new TensorType(ctx.inputDtype(1), new Shape(w))));
        return in;
    }

    /** The logical W [m, C/group, kh, kw] read out of its packed layout. */
    private static Tensor unpackConv(EvalContext ctx) {
        int m = (int) ctx.attrInt("m");
        int group = (int) ctx.attrInt("group");
        long[] kernel = ctx.attrInts("kernel_shape");
        int cg = ctx.input(0).dim(1) / group;
        int kv = cg;
        int[] shape = new int[2 + kernel.length];
        shape[0] = m;
        shape[1] = cg;
        for (int i = 0; i < kernel.length; i++) {
            kv *= (int) kernel[i];
            shape[2 + i] = (int) kernel[i];
        }
        String layout = ctx.attrString("layout");
        double[] packed = ctx.input(1).doubles();
        double[] w = ConvWeightLayout.logical(layout, packed, m, kv, group);
        return Tensor.wrapDoubles(ctx.input(1).dtype(), shape, w);
    }

    private static Optional<Float> opt(EvalContext ctx, String name) {
        return ctx.isSet(name) ? Optional.of(ctx.attrFloat(name)) : Optional.empty();
    }
}
