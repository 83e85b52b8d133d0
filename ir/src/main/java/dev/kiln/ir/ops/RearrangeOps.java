package dev.kiln.ir.ops;

import dev.kiln.ir.AttrType;
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
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Ops that rearrange or mask elements in place of a shape: Pad, DepthToSpace, SpaceToDepth, Trilu,
 * ReverseSequence.
 */
final class RearrangeOps {
    private RearrangeOps() {}

    static void register(OpTable.Registrar r) {
        r.add(OpDef.builder("Pad").since(21)
                .doc("Pads (or with negative pads crops) each axis; constant, reflect, edge or wrap mode.")
                .inputs("data", "pads", "constant_value?", "axes?").outputs("output")
                .nonDifferentiable("constant_value")
                .attrString("mode", "constant", "constant, reflect, edge or wrap")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(RearrangeOps::padType)
                .eval(RearrangeOps::padEval)
                .grad(MovementGrads::pad)
                .build());

        r.add(OpDef.builder("DepthToSpace").since(13)
                .doc("Moves blocks of channels into blocksize x blocksize spatial blocks ([N,C,H,W] -> "
                        + "[N,C/b^2,H*b,W*b]), in DCR or CRD channel order.")
                .inputs("input").outputs("output")
                .requiredAttr("blocksize", AttrType.INT, "side of the spatial block")
                .attrString("mode", "DCR", "DCR (depth-column-row) or CRD (column-row-depth)")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(ctx -> {
                    Shape in = nchw(ctx);
                    long b = blocksize(ctx);
                    blockMode(ctx);
                    Dim c = in.dim(1).dividedBy(Dim.of(b * b)).orElseThrow(
                            () -> ctx.fail("channels " + in.dim(1) + " are not divisible by blocksize^2 = " + b * b));
                    return List.of(new TensorType(ctx.inputDtype(0),
                            Shape.of(in.dim(0), c, in.dim(2).times(b), in.dim(3).times(b))));
                })
                .eval(ctx -> List.of(depthToSpace(ctx, ctx.input(0), (int) blocksize(ctx), blockMode(ctx))))
                .build());

        r.add(OpDef.builder("SpaceToDepth").since(13)
                .doc("Moves blocksize x blocksize spatial blocks into channels ([N,C,H,W] -> [N,C*b^2,H/b,W/b]).")
                .inputs("input").outputs("output")
                .requiredAttr("blocksize", AttrType.INT, "side of the spatial block")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(ctx -> {
                    Shape in = nchw(ctx);
                    long b = blocksize(ctx);
                    Dim[] hw = new Dim[2];
                    for (int i = 0; i < 2; i++) {
                        Dim d = in.dim(2 + i);
                        hw[i] = d.dividedBy(Dim.of(b)).orElseGet(() -> {
                            if (d.isStatic()) {
                                throw ctx.fail("spatial dim " + d + " is not divisible by blocksize " + b);
                            }
                            return Dim.unknown();
                        });
                    }
                    return List.of(new TensorType(ctx.inputDtype(0),
                            Shape.of(in.dim(0), in.dim(1).times(b * b), hw[0], hw[1])));
                })
                .eval(ctx -> List.of(spaceToDepth(ctx, ctx.input(0), (int) blocksize(ctx))))
                .build());

        r.add(OpDef.builder("Trilu").since(14)
                .doc("Keeps the upper (j - i >= k) or lower (j - i <= k) triangle of the last two dims, zeroes the rest.")
                .inputs("input", "k?").outputs("output")
                .attrInt("upper", 1, "1 keeps the upper triangle, 0 the lower")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(ctx -> {
                    if (ctx.inputShape(0).rank() < 2) {
                        throw ctx.fail("Trilu needs rank >= 2");
                    }
                    return Pointwise.sameAsInput(ctx);
                })
                .eval(RearrangeOps::trilu)
                .build());

        r.add(OpDef.builder("ReverseSequence").since(10)
                .doc("Reverses the first sequence_lens[b] elements along time_axis of each batch entry b.")
                .inputs("input", "sequence_lens").outputs("Y")
                .attrInt("batch_axis", 1, "the batch axis, 0 or 1")
                .attrInt("time_axis", 0, "the time axis, 0 or 1")
                .properties(OpProperty.DATA_MOVEMENT)
                .shape(ctx -> {
                    if (ctx.inputShape(0).rank() < 2) {
                        throw ctx.fail("ReverseSequence needs rank >= 2");
                    }
                    sequenceAxes(ctx);
                    return Pointwise.sameAsInput(ctx);
                })
                .eval(RearrangeOps::reverseSequence)
                .build());
    }

    private static String padMode(NodeContext ctx) {
        String mode = ctx.attrString("mode");
        if (!List.of("constant", "reflect", "edge", "wrap").contains(mode)) {
            throw ctx.fail("unknown pad mode '" + mode + "'");
        }
        return mode;
    }

    /** Begin and end pads per axis of a tensor of {@code rank}, from the pads and optional axes inputs. */
    private static long[][] fullPads(NodeContext ctx, long[] pads, Optional<long[]> axesIn, int rank) {
        int[] axes;
        if (axesIn.isPresent()) {
            axes = Indexing.axes(ctx, axesIn.get(), rank);
        } else {
            axes = new int[rank];
            for (int i = 0; i < rank; i++) {
                axes[i] = i;
            }
        }
        if (pads.length != 2 * axes.length) {
            throw ctx.fail("pads has " + pads.length + " entries but " + axes.length + " axes need " + 2 * axes.length);
        }
        long[][] out = new long[2][rank];
        for (int i = 0; i < axes.length; i++) {
            out[0][axes[i]] = pads[i];
            out[1][axes[i]] = pads[i + axes.length];
        }
        return out;
    }

    private static List<TensorType> padType(ShapeContext ctx) {
        Shape in = ctx.inputShape(0);
        padMode(ctx);
        Optional<long[]> pads = ShapeValues.longs(ctx, 1);
        Optional<long[]> axes = ShapeValues.longs(ctx, 3);
        if (pads.isEmpty() || ctx.hasInput(3) && axes.isEmpty()) {
            return List.of(new TensorType(ctx.inputDtype(0), new Shape(ShapeValues.unknowns(in.rank()))));
        }
        long[][] p = fullPads(ctx, pads.get(), axes, in.rank());
        List<Dim> out = new ArrayList<>();
        for (int a = 0; a < in.rank(); a++) {
            long delta = p[0][a] + p[1][a];
            Dim d = in.dim(a);
            if (d.isStatic()) {
                if (d.value() + delta < 0) {
                    throw ctx.fail("pads " + Arrays.toString(pads.get()) + " crop axis " + a + " below zero");
                }
                out.add(Dim.of(d.value() + delta));
            } else {
                out.add(delta == 0 ? d : delta > 0 ? d.plus(Dim.of(delta)).orElseGet(Dim::unknown) : Dim.unknown());
            }
        }
        return List.of(new TensorType(ctx.inputDtype(0), new Shape(out)));
    }

    private static List<Tensor> padEval(EvalContext ctx) {
        Tensor x = ctx.input(0);
        String mode = padMode(ctx);
        int[] shape = x.shape();
        long[][] p = fullPads(ctx, Indexing.longs(ctx, 1),
                ctx.hasInput(3) ? Optional.of(Indexing.longs(ctx, 3)) : Optional.empty(), shape.length);
        // Negative pads crop first; the remaining (non-negative) pads then extend the cropped region.
        int[] lo = new int[shape.length];
        int[] len = new int[shape.length];
        int[] before = new int[shape.length];
        int[] out = new int[shape.length];
        for (int a = 0; a < shape.length; a++) {
            lo[a] = (int) Math.max(0, -p[0][a]);
            len[a] = (int) (shape[a] - lo[a] - Math.max(0, -p[1][a]));
            if (len[a] < 0) {
                throw ctx.fail("pads crop axis " + a + " below zero");
            }
            before[a] = (int) Math.max(0, p[0][a]);
            out[a] = Math.toIntExact(len[a] + before[a] + Math.max(0, p[1][a]));
            if (out[a] > 0 && len[a] == 0 && !mode.equals("constant")) {
                throw ctx.fail(mode + " padding of an empty axis " + a);
            }
        }
        Tensor fill = ctx.hasInput(2) ? ctx.input(2) : null;
        if (fill != null && (fill.size() != 1 || fill.dtype() != x.dtype())) {
            throw ctx.fail("constant_value must be one element of the data's type");
        }
        int[] inStrides = Indexing.strides(shape);
        int[] idx = new int[shape.length];
        int n = Tensor.sizeOf(out);
        ElementBuffer buf = ElementBuffer.zeros(x.dtype(), n);
        for (int f = 0; f < n; f++) {
            Indexing.unravel(f, out, idx);
            int src = 0;
            boolean outside = false;
            for (int a = 0; a < shape.length; a++) {
                int i = idx[a] - before[a];
                if (i < 0 || i >= len[a]) {
                    switch (mode) {
                        case "constant" -> outside = true;
                        case "edge" -> i = i < 0 ? 0 : len[a] - 1;
                        case "wrap" -> i = Math.floorMod(i, len[a]);
                        default -> i = reflect(i, len[a]);
                    }
                }
                src += (lo[a] + i) * inStrides[a];
            }
            if (outside) {
                if (fill != null) {
                    buf.copy(f, fill, 0);
                }
            } else {
                buf.copy(f, x, src);
            }
        }
        return List.of(buf.toTensor(out));
    }

    /** Index i mirrored into [0, n) about the first and last elements (numpy's 'reflect'), repeatedly. */
    private static int reflect(int i, int n) {
        if (n == 1) {
            return 0;
        }
        int period = 2 * (n - 1);
        int m = Math.floorMod(i, period);
        return m < n ? m : period - m;
    }

    private static Shape nchw(ShapeContext ctx) {
        Shape in = ctx.inputShape(0);
        if (in.rank() != 4) {
            throw ctx.fail("input must be 4-D [N,C,H,W]");
        }
        return in;
    }

    private static long blocksize(NodeContext ctx) {
        long b = ctx.attrInt("blocksize");
        if (b <= 0) {
            throw ctx.fail("blocksize must be positive, not " + b);
        }
        return b;
    }

    private static boolean blockMode(NodeContext ctx) {
        String mode = ctx.attrString("mode");
        if (!mode.equals("DCR") && !mode.equals("CRD")) {
            throw ctx.fail("mode must be DCR or CRD, not '" + mode + "'");
        }
        return mode.equals("DCR");
    }

    private static Tensor depthToSpace(NodeContext ctx, Tensor x, int b, boolean dcr) {
        int n = x.dim(0);
        int c = x.dim(1);
        int h = x.dim(2);
        int w = x.dim(3);
        if (c % (b * b) != 0) {
            throw ctx.fail("channels " + c + " are not divisible by blocksize^2 = " + b * b);
        }
        int oc = c / (b * b);
        int[] out = {n, oc, h * b, w * b};
        int[] src = new int[x.size()];
        int f = 0;
        for (int ni = 0; ni < n; ni++) {
            for (int ci = 0; ci < oc; ci++) {
                for (int y = 0; y < h * b; y++) {
                    for (int z = 0; z < w * b; z++) {
                        int bi = y % b;
                        int bj = z % b;
                        // DCR takes channel (bi*b + bj)*oc + ci; CRD takes ci*b*b + bi*b + bj.
                        int channel = dcr ? (bi * b + bj) * oc + ci : ci * b * b + bi * b + bj;
                        src[f++] = ((ni * c + channel) * h + y / b) * w + z / b;
                    }
                }
            }
        }
        return ElementBuffer.gather(x, out, src);
    }

    private static Tensor spaceToDepth(NodeContext ctx, Tensor x, int b) {
        int n = x.dim(0);
        int c = x.dim(1);
        int h = x.dim(2);
        int w = x.dim(3);
        if (h % b != 0 || w % b != 0) {
            throw ctx.fail("spatial dims " + h + "x" + w + " are not divisible by blocksize " + b);
        }
        int oh = h / b;
        int ow = w / b;
        int[] out = {n, c * b * b, oh, ow};
        int[] src = new int[x.size()];
        int f = 0;
        for (int ni = 0; ni < n; ni++) {
            for (int oc = 0; oc < c * b * b; oc++) {
                // Output channel (bi*b + bj)*c + ci holds offset (bi, bj) of every block of channel ci.
                int ci = oc % c;
                int bi = oc / c / b;
                int bj = oc / c % b;
                for (int y = 0; y < oh; y++) {
                    for (int z = 0; z < ow; z++) {
                        src[f++] = ((ni * c + ci) * h + y * b + bi) * w + z * b + bj;
                    }
                }
            }
        }
        return ElementBuffer.gather(x, out, src);
    }

    private static List<Tensor> trilu(EvalContext ctx) {
        Tensor x = ctx.input(0);
        long k = ctx.hasInput(1) ? ctx.input(1).getLong(0) : 0;
        boolean upper = ctx.attrInt("upper") != 0;
        int rows = x.dim(x.rank() - 2);
        int cols = x.dim(x.rank() - 1);
        ElementBuffer buf = ElementBuffer.zeros(x.dtype(), x.size());
        for (int f = 0; f < x.size(); f++) {
            long i = f / cols % rows;
            long j = f % cols;
            if (upper ? j - i >= k : j - i <= k) {
                buf.copy(f, x, f);
            }
        }
        return List.of(buf.toTensor(x.shape()));
    }

    private static int[] sequenceAxes(NodeContext ctx) {
        long b = ctx.attrInt("batch_axis");
        long t = ctx.attrInt("time_axis");
        if (b < 0 || b > 1 || t < 0 || t > 1 || b == t) {
            throw ctx.fail("batch_axis and time_axis must be 0 and 1 in some order");
        }
        return new int[] {(int) b, (int) t};
    }

    private static List<Tensor> reverseSequence(EvalContext ctx) {
        Tensor x = ctx.input(0);
        int[] axes = sequenceAxes(ctx);
        int batchAxis = axes[0];
        int timeAxis = axes[1];
        int[] shape = x.shape();
        long[] lens = Indexing.longs(ctx, 1);
        if (lens.length != shape[batchAxis]) {
            throw ctx.fail("sequence_lens has " + lens.length + " entries for a batch of " + shape[batchAxis]);
        }
        int[] strides = Indexing.strides(shape);
        int[] idx = new int[shape.length];
        int[] src = new int[x.size()];
        for (int f = 0; f < src.length; f++) {
            Indexing.unravel(f, shape, idx);
            long len = lens[idx[batchAxis]];
            if (len < 0 || len > shape[timeAxis]) {
                throw ctx.fail("sequence length " + len + " is outside [0, " + shape[timeAxis] + "]");
            }
            int t = idx[timeAxis];
            if (t < len) {
                idx[timeAxis] = (int) (len - 1 - t);
            }
            src[f] = Indexing.ravel(idx, strides);
        }
        return List.of(ElementBuffer.gather(x, x.shape(), src));
    }
}
