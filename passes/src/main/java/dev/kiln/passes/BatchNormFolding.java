package dev.kiln.passes;

import dev.kiln.ir.Attr;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.List;
import java.util.Optional;

/**
 * Folding of inference-mode BatchNormalization into the Conv or Gemm that feeds it: with
 * {@code s = scale / sqrt(var + eps)}, {@code BN(y) = s*y + (bias - mean*s)} is affine per channel, so it
 * scales the producer's weights per output channel and rewrites its bias. Weights are computed in double
 * and rounded once.
 */
final class BatchNormFolding {
    private BatchNormFolding() {}

    /** The per-channel factor and shift, when the BatchNormalization is in inference mode with constant statistics. */
    private record Affine(double[] scale, double[] shift) {}

    private static Optional<Affine> affine(Node bn, FusionContext ctx) {
        if (OpTable.get().intAttr(bn, "training_mode") != 0 || bn.hasOutput(1) || bn.hasOutput(2)) {
            return Optional.empty();
        }
        Optional<Tensor> gamma = ctx.constant(bn.input(1));
        Optional<Tensor> beta = ctx.constant(bn.input(2));
        Optional<Tensor> mean = ctx.constant(bn.input(3));
        Optional<Tensor> var = ctx.constant(bn.input(4));
        if (gamma.isEmpty() || beta.isEmpty() || mean.isEmpty() || var.isEmpty()) {
            return Optional.empty();
        }
        double eps = OpTable.get().floatAttr(bn, "epsilon");
        int c = gamma.get().size();
        double[] s = new double[c];
        double[] t = new double[c];
        for (int i = 0; i < c; i++) {
            s[i] = gamma.get().getDouble(i) / Math.sqrt(var.get().getDouble(i) + eps);
            t[i] = beta.get().getDouble(i) - mean.get().getDouble(i) * s[i];
        }
        return Optional.of(new Affine(s, t));
    }

    static boolean intoConv(Node bn, FusionContext ctx) {
        Optional<Node> conv = ctx.soleProducer(bn.input(0), "Conv").filter(p -> p.domain().isEmpty());
        if (conv.isEmpty()) {
            return false;
        }
        Node c = conv.get();
        Optional<Tensor> w = ctx.constant(c.input(1));
        Optional<Tensor> b = c.hasInput(2) ? ctx.constant(c.input(2)) : Optional.empty();
        Optional<Affine> a = affine(bn, ctx);
        if (w.isEmpty() || (c.hasInput(2) && b.isEmpty()) || a.isEmpty() || !w.get().dtype().isFloat()) {
            return false;
        }
        int m = w.get().dim(0);
        int per = w.get().size() / m;
        double[] wd = w.get().toDoubleArray();
        double[] bd = new double[m];
        for (int o = 0; o < m; o++) {
            double s = a.get().scale()[o];
            for (int k = 0; k < per; k++) {
                wd[o * per + k] *= s;
            }
            bd[o] = (b.isPresent() ? b.get().getDouble(o) : 0) * s + a.get().shift()[o];
        }
        Value nw = ctx.addConstant(Fusion.name(c, "weight_bn"), Tensor.wrapDoubles(w.get().dtype(), w.get().shape(), wd));
        Value nb = ctx.addConstant(Fusion.name(c, "bias_bn"), Tensor.wrapDoubles(w.get().dtype(), new int[] {m}, bd));
        return Fusion.fuse(ctx, c, bn, "", "Conv", List.of(c.input(0), nw, nb), c.attributes());
    }

    static boolean intoGemm(Node bn, FusionContext ctx) {
        Optional<Node> gemm = ctx.soleProducer(bn.input(0), "Gemm").filter(p -> p.domain().isEmpty());
        if (gemm.isEmpty() || bn.input(0).type().rank() != 2) {
            return false;
        }
        Node g = gemm.get();
        Optional<Tensor> w = ctx.constant(g.input(1));
        Optional<Affine> a = affine(bn, ctx);
        Optional<Tensor> c = g.hasInput(2) ? ctx.constant(g.input(2)) : Optional.empty();
        if (w.isEmpty() || a.isEmpty() || (g.hasInput(2) && c.isEmpty()) || !w.get().dtype().isFloat()) {
            return false;
        }
        int n = a.get().scale().length;
        Optional<double[]> cols = c.isPresent() ? perColumn(c.get(), n) : Optional.of(new double[n]);
        if (cols.isEmpty()) {
            return false;
        }
        boolean transB = OpTable.get().intAttr(g, "transB") != 0;
        double beta = OpTable.get().floatAttr(g, "beta");
        double[] wd = w.get().toDoubleArray();
        int rows = w.get().dim(0);
        int colsW = w.get().dim(1);
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < colsW; j++) {
                int out = transB ? i : j; // the output column this weight feeds
                wd[i * colsW + j] *= a.get().scale()[out];
            }
        }
        double[] bias = new double[n];
        for (int j = 0; j < n; j++) {
            bias[j] = beta * cols.get()[j] * a.get().scale()[j] + a.get().shift()[j];
        }
        Value nw = ctx.addConstant(Fusion.name(g, "weight_bn"), Tensor.wrapDoubles(w.get().dtype(), w.get().shape(), wd));
        Value nb = ctx.addConstant(Fusion.name(g, "bias_bn"), Tensor.wrapDoubles(w.get().dtype(), new int[] {n}, bias));
        return Fusion.fuse(ctx, g, bn, "", "Gemm", List.of(g.input(0), nw, nb),
                g.attributes().with("beta", new Attr.Float(1f)));
    }

    /** A Gemm C that varies only along the output columns (shape [], [1], [n] or [1, n]), as n values. */
    private static Optional<double[]> perColumn(Tensor c, int n) {
        int[] s = c.shape();
        boolean ok = s.length == 0 || (s.length == 1 && (s[0] == 1 || s[0] == n)) || (s.length == 2 && s[0] == 1
                && (s[1] == 1 || s[1] == n));
        if (!ok) {
            return Optional.empty();
        }
        double[] out = new double[n];
        for (int j = 0; j < n; j++) {
            out[j] = c.getDouble(c.size() == 1 ? 0 : j);
        }
        return Optional.of(out);
    }
}
