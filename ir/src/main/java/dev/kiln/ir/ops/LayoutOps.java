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

    private LayoutOps() {}

    public static void register(OpTable.Registrar r) {
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

    private static Optional<Float> opt(EvalContext ctx, String name) {
        return ctx.isSet(name) ? Optional.of(ctx.attrFloat(name)) : Optional.empty();
    }
}
