package dev.kiln.ir.ops;

import dev.kiln.ir.AttrSpec;
import dev.kiln.ir.AttrType;
import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.EvalContext;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * Kiln's ops on activations in the blocked layout NCHWc, [N, ceil(C/c), H, W, c] with the channels past C zero
 * (domain {@code dev.kiln}): the conversions ToBlocked / FromBlocked, the convolution and pools that read and
 * write that layout, and BlockedZeroPadding, which re-zeroes the padding channels after an elementwise op with
 * f(0) != 0. Each blocked op means "its NCHW twin on the zero-padded channels, re-blocked", which is how the
 * reference evaluator computes it; elementwise ops themselves run unchanged on blocked tensors (their constant
 * operands re-laid out by the blocked-layout pass).
 */
public final class BlockedLayoutOps {
    public static final String TO_BLOCKED = "ToBlocked";
    public static final String FROM_BLOCKED = "FromBlocked";
    public static final String BLOCKED_CONV = "BlockedConv";
    public static final String BLOCKED_MAX_POOL = "BlockedMaxPool";
    public static final String BLOCKED_AVERAGE_POOL = "BlockedAveragePool";
    public static final String BLOCKED_GLOBAL_AVERAGE_POOL = "BlockedGlobalAveragePool";
    public static final String BLOCKED_ZERO_PADDING = "BlockedZeroPadding";
    /** Weight layout of BlockedConv; the runtime's {@code NchwcConv.LAYOUT}. */
    public static final String CONV_LAYOUT = "kiln.conv.nchwc.v1";

    private BlockedLayoutOps() {}

    public static void register(OpTable.Registrar r, Function<String, OpDef> onnxOp) {
        r.add(OpDef.builder(TO_BLOCKED).domain(OpTable.KILN_DOMAIN).since(1)
                .doc("X [N,C,H,W] to NCHWc [N,ceil(C/block),H,W,block], the channels past C zero.")
                .inputs("X").outputs("Y")
                .requiredAttr("block", AttrType.INT, "channels per block (the kernels' vector width)")
                .shape(ctx -> {
                    Shape x = requireNchw(ctx, 0);
                    long b = ctx.attrInt("block");
                    if (b < 1) {
                        throw ctx.fail("block must be positive");
                    }
                    return List.of(new TensorType(DType.FLOAT32, blocked(x, b)));
                })
                .eval(ctx -> List.of(toBlocked(ctx.input(0), (int) ctx.attrInt("block"))))
                .build());

        r.add(OpDef.builder(FROM_BLOCKED).domain(OpTable.KILN_DOMAIN).since(1)
                .doc("NCHWc X [N,Cb,H,W,block] back to [N,channels,H,W], dropping the padding channels.")
                .inputs("X").outputs("Y")
                .requiredAttr("channels", AttrType.INT, "channels C of the NCHW result")
                .shape(ctx -> {
                    Shape x = requireBlocked(ctx, 0);
                    long c = ctx.attrInt("channels");
                    long b = x.dim(4).value();
                    if (c < 1 || x.dim(1).value() != Math.ceilDiv(c, b)) {
                        throw ctx.fail(x.dim(1) + " blocks of " + b + " cannot hold exactly channels=" + c);
                    }
                    return List.of(new TensorType(DType.FLOAT32, Shape.of(x.dim(0), Dim.of(c), x.dim(2), x.dim(3))));
                })
                .eval(ctx -> List.of(fromBlocked(ctx.input(0), (int) ctx.attrInt("channels"))))
                .build());

        OpDef conv = onnxOp.apply("Conv");
        OpDef.Builder bc = OpDef.builder(BLOCKED_CONV).domain(OpTable.KILN_DOMAIN).since(conv.sinceVersion())
                .doc("Conv (group 1, bias, epilogue activation) from NCHWc X to NCHWc Y; W is constant, stored in "
                        + "layout " + CONV_LAYOUT + " for X's block; `m` output channels, the padding ones zero.")
                .inputs("X", "W", "B?").outputs("Y")
                .requiredAttr("m", AttrType.INT, "output channels")
                .attrString("layout", CONV_LAYOUT, "how W is stored");
        for (AttrSpec spec : conv.attributes().values()) {
            if (spec.name().equals("group") || spec.name().equals("auto_pad")) {
                continue;
            } else if (spec.name().equals("kernel_shape")) {
                bc.requiredAttr(spec.name(), spec.type(), spec.doc());
            } else if (spec.defaultValue().isPresent()) {
                bc.attr(spec.name(), spec.type(), spec.defaultValue().get(), spec.doc());
            } else {
                bc.optionalAttr(spec.name(), spec.type(), spec.doc());
            }
        }
        bc.attrString("activation", "", "epilogue activation, as dev.kiln.FusedConv's")
                .optionalAttr("activation_alpha", AttrType.FLOAT, "LeakyRelu/Elu/HardSigmoid alpha, or Clip's min")
                .optionalAttr("activation_beta", AttrType.FLOAT, "HardSigmoid beta, or Clip's max")
                .shape(ctx -> blockedConvShape(ctx, conv))
                .eval(ctx -> List.of(blockedConv(ctx, conv)));
        r.add(bc.build());

        r.add(blockedPool(BLOCKED_MAX_POOL, onnxOp.apply("MaxPool"), "storage_order",
                "MaxPool of NCHWc X (the padding channels stay zero), with MaxPool's window attributes."));
        r.add(blockedPool(BLOCKED_AVERAGE_POOL, onnxOp.apply("AveragePool"), "",
                "AveragePool of NCHWc X (the padding channels stay zero), with AveragePool's attributes."));
        r.add(blockedPool(BLOCKED_GLOBAL_AVERAGE_POOL, onnxOp.apply("GlobalAveragePool"), "",
                "GlobalAveragePool of NCHWc X [N,Cb,H,W,b] to [N,Cb,1,1,b]."));

        r.add(OpDef.builder(BLOCKED_ZERO_PADDING).domain(OpTable.KILN_DOMAIN).since(1)
                .doc("NCHWc X with its channels past `channels` set to zero (the layout's invariant, restored after "
                        + "an elementwise op with f(0) != 0).")
                .inputs("X").outputs("Y")
                .requiredAttr("channels", AttrType.INT, "channels C of the blocked tensor")
                .shape(ctx -> {
                    Shape x = requireBlocked(ctx, 0);
                    long c = ctx.attrInt("channels");
                    if (c < 1 || x.dim(1).value() != Math.ceilDiv(c, x.dim(4).value())) {
                        throw ctx.fail(x.dim(1) + " blocks of " + x.dim(4) + " cannot hold exactly channels=" + c);
                    }
                    return List.of(new TensorType(DType.FLOAT32, x));
                })
                .eval(ctx -> List.of(toBlocked(fromBlocked(ctx.input(0), (int) ctx.attrInt("channels")),
                        ctx.input(0).dim(4))))
                .build());
    }

    /** The blocked twin of a pool: the pool's attributes but {@code skip}, meaning "pool the unblocked tensor". */
    private static OpDef blockedPool(String name, OpDef pool, String skip, String doc) {
        OpDef.Builder bp = OpDef.builder(name).domain(OpTable.KILN_DOMAIN).since(pool.sinceVersion())
                .doc(doc).inputs("X").outputs("Y");
        for (AttrSpec spec : pool.attributes().values()) {
            if (spec.name().equals(skip)) {
                continue;
            } else if (spec.defaultValue().isPresent()) {
                bp.attr(spec.name(), spec.type(), spec.defaultValue().get(), spec.doc());
            } else {
                bp.optionalAttr(spec.name(), spec.type(), spec.doc());
            }
        }
        bp.shape(ctx -> {
            Shape x = requireBlocked(ctx, 0);
            long b = x.dim(4).value();
            Shape y = pool.shapeRule().infer(ctx.as(pool, ctx.attributes(),
                    List.of(new Value(ctx.input(0).name(), new TensorType(DType.FLOAT32, unblocked(x)))))).get(0).shape();
            return List.of(new TensorType(DType.FLOAT32, blocked(y, b)));
        }).eval(ctx -> {
            Tensor x = ctx.input(0);
            Tensor y = pool.evalRule().evaluate(new EvalContext(pool, ctx.nodeDescription(), ctx.attributes(),
                    List.of(unblock(x)), 1, ctx.random())).get(0);
            return List.of(reblock(y, x.dim(4)));
        });
        return bp.build();
    }

    /** Shape [N, ceil(C/b), H, W, b] of a blocked NCHW shape. */
    public static Shape blocked(Shape nchw, long b) {
        long c = nchw.dim(1).value();
        return Shape.of(nchw.dim(0), Dim.of(Math.ceilDiv(c, b)), nchw.dim(2), nchw.dim(3), Dim.of(b));
    }

    private static Shape unblocked(Shape x) {
        return Shape.of(x.dim(0), Dim.of(x.dim(1).value() * x.dim(4).value()), x.dim(2), x.dim(3));
    }

    private static Shape requireNchw(ShapeContext ctx, int i) {
        Shape x = ctx.inputShape(i);
        if (ctx.inputDtype(i) != DType.FLOAT32 || x.rank() != 4 || !x.dim(1).isStatic()) {
            throw ctx.fail("input must be float32 [N,C,H,W] with a static C");
        }
        return x;
    }

    private static Shape requireBlocked(ShapeContext ctx, int i) {
        Shape x = ctx.inputShape(i);
        if (ctx.inputDtype(i) != DType.FLOAT32 || x.rank() != 5 || !x.dim(1).isStatic() || !x.dim(4).isStatic()) {
            throw ctx.fail("input must be float32 NCHWc [N,Cb,H,W,block] with static Cb and block");
        }
        return x;
    }

    private static List<TensorType> blockedConvShape(ShapeContext ctx, OpDef conv) {
        Shape x = requireBlocked(ctx, 0);
        long b = x.dim(4).value();
        long cp = x.dim(1).value() * b;
        long m = ctx.attrInt("m");
        long mp = Math.ceilDiv(m, b) * b;
        long[] kernel = ctx.attrInts("kernel_shape");
        if (kernel.length != 2) {
            throw ctx.fail("kernel_shape must have 2 dims");
        }
        if (!ctx.attrString("layout").equals(CONV_LAYOUT)) {
            throw ctx.unsupported("weight layout '" + ctx.attrString("layout") + "'");
        }
        long packed = mp * cp * kernel[0] * kernel[1];
        if (!ctx.inputShape(1).equals(Shape.of(packed))) {
            throw ctx.fail("W must hold " + packed + " floats in layout " + CONV_LAYOUT + " for block " + b);
        }
        if (ctx.hasInput(2) && !ctx.inputShape(2).equals(Shape.of(m))) {
            throw ctx.fail("bias must be [" + m + "]");
        }
        List<Value> in = new ArrayList<>();
        in.add(new Value(ctx.input(0).name(), new TensorType(DType.FLOAT32, unblocked(x))));
        in.add(new Value(ctx.input(1).name(), new TensorType(DType.FLOAT32,
                Shape.of(mp, cp, kernel[0], kernel[1]))));
        Shape y = conv.shapeRule().infer(ctx.as(conv, convAttributes(ctx.attributes()), in)).get(0).shape();
        return List.of(new TensorType(DType.FLOAT32, blocked(y, b)));
    }

    /** Conv over all Cb*b input channels with the padded weights and bias, then the padding outputs zeroed. */
    private static Tensor blockedConv(EvalContext ctx, OpDef conv) {
        Tensor x = ctx.input(0);
        int b = x.dim(4);
        int cp = x.dim(1) * b;
        int m = (int) ctx.attrInt("m");
        int mp = Math.ceilDiv(m, b) * b;
        int kh = (int) ctx.attrInts("kernel_shape")[0];
        int kw = (int) ctx.attrInts("kernel_shape")[1];
        double[] packed = ctx.input(1).doubles();
        double[] w = new double[mp * cp * kh * kw];
        for (int o = 0; o < mp; o++) {
            for (int c = 0; c < cp; c++) {
                for (int ky = 0; ky < kh; ky++) {
                    for (int kx = 0; kx < kw; kx++) {
                        w[((o * cp + c) * kh + ky) * kw + kx] = packed[convIndex(cp, kh, kw, b, o, c, ky, kx)];
                    }
                }
            }
        }
        double[] bias = new double[mp];
        if (ctx.hasInput(2)) {
            for (int o = 0; o < m; o++) {
                bias[o] = ctx.input(2).getDouble(o);
            }
        }
        List<Tensor> in = List.of(unblock(x), Tensor.wrapDoubles(DType.FLOAT32, new int[] {mp, cp, kh, kw}, w),
                Tensor.wrapDoubles(DType.FLOAT32, new int[] {mp}, bias));
        Tensor y = conv.evalRule().evaluate(new EvalContext(conv, ctx.nodeDescription(),
                convAttributes(ctx.attributes()), in, 1, ctx.random())).get(0);
        y = Activation.parse(ctx.attrString("activation")).apply(ctx, y, opt(ctx, "activation_alpha"),
                opt(ctx, "activation_beta"));
        double[] v = y.doubles().clone();
        int plane = y.dim(2) * y.dim(3);
        for (int n = 0; n < y.dim(0); n++) {
            java.util.Arrays.fill(v, (n * mp + m) * plane, (n + 1) * mp * plane, 0.0);
        }
        return reblock(Tensor.wrapDoubles(DType.FLOAT32, y.shape(), v), b);
    }

    /**
     * Index of W[o][ci][ky][kx] in {@value #CONV_LAYOUT}: per output block, per input block, per tap, per input
     * channel of the block, the block's output channels (docs/KERNELS.md; the runtime's {@code NchwcConv.index}).
     */
    public static int convIndex(int c, int kh, int kw, int block, int o, int ci, int ky, int kx) {
        int cb = Math.ceilDiv(c, block);
        return ((((o / block) * cb + ci / block) * kh * kw + ky * kw + kx) * block + ci % block) * block + o % block;
    }

    private static Attributes convAttributes(Attributes a) {
        return a.without("m").without("layout").without("activation").without("activation_alpha")
                .without("activation_beta");
    }

    /** NCHW to NCHWc with zero padding channels. */
    public static Tensor toBlocked(Tensor x, int b) {
        return reblock(x, b);
    }

    /** NCHWc to NCHW keeping the first {@code channels} channels. */
    public static Tensor fromBlocked(Tensor x, int channels) {
        Tensor all = unblock(x);
        int plane = all.dim(2) * all.dim(3);
        int cp = all.dim(1);
        double[] v = all.doubles();
        double[] out = new double[all.dim(0) * channels * plane];
        for (int n = 0; n < all.dim(0); n++) {
            System.arraycopy(v, n * cp * plane, out, n * channels * plane, channels * plane);
        }
        return Tensor.wrapDoubles(x.dtype(), new int[] {all.dim(0), channels, all.dim(2), all.dim(3)}, out);
    }

    /** [N, C, H, W] to [N, ceil(C/b), H, W, b], channels past C zero. */
    private static Tensor reblock(Tensor x, int b) {
        int n = x.dim(0);
        int c = x.dim(1);
        int plane = x.dim(2) * x.dim(3);
        int cb = Math.ceilDiv(c, b);
        double[] v = x.doubles();
        double[] out = new double[n * cb * b * plane];
        for (int i = 0; i < n; i++) {
            for (int ch = 0; ch < c; ch++) {
                for (int p = 0; p < plane; p++) {
                    out[((i * cb + ch / b) * plane + p) * b + ch % b] = v[(i * c + ch) * plane + p];
                }
            }
        }
        return Tensor.wrapDoubles(x.dtype(), new int[] {n, cb, x.dim(2), x.dim(3), b}, out);
    }

    /** [N, Cb, H, W, b] to [N, Cb*b, H, W], padding channels included. */
    private static Tensor unblock(Tensor x) {
        int n = x.dim(0);
        int cb = x.dim(1);
        int b = x.dim(4);
        int plane = x.dim(2) * x.dim(3);
        double[] v = x.doubles();
        double[] out = new double[v.length];
        for (int i = 0; i < n; i++) {
            for (int ch = 0; ch < cb * b; ch++) {
                for (int p = 0; p < plane; p++) {
                    out[(i * cb * b + ch) * plane + p] = v[((i * cb + ch / b) * plane + p) * b + ch % b];
                }
            }
        }
        return Tensor.wrapDoubles(x.dtype(), new int[] {n, cb * b, x.dim(2), x.dim(3)}, out);
    }

    private static Optional<Float> opt(EvalContext ctx, String name) {
        return ctx.isSet(name) ? Optional.of(ctx.attrFloat(name)) : Optional.empty();
    }
}
