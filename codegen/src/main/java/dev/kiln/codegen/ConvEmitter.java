package dev.kiln.codegen;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.TypeName;
import dev.kiln.ir.Node;
import dev.kiln.ir.Value;
import dev.kiln.ir.ops.ConvGeometry;
import dev.kiln.ir.ops.LayoutOps;
import dev.kiln.runtime.Conv2d;
import dev.kiln.runtime.ConvShape;
import java.util.List;

/**
 * 2-D Conv and FusedConv as one call of the runtime's {@code Conv2d}: the geometry becomes a static
 * {@code ConvShape}, the weights are packed at generation time in the layout the kernel's algorithm for that
 * shape reads, and bias and activation run in the kernel's epilogue; a PackedConv with {@code max_pool = 1} calls
 * {@code Conv2d.convMaxPool}, which also pools.
 */
final class ConvEmitter implements KernelEmitter {
    static final ClassName CONV = ClassName.get("dev.kiln.runtime", "Conv2d");
    static final ClassName SHAPE = ClassName.get("dev.kiln.runtime", "ConvShape");

    private static final DirectConvEmitter DIRECT = new DirectConvEmitter();

    /** Plain Conv nodes the packed kernel does not take go to {@link DirectConvEmitter}, which handles other floats. */
    @Override
    public boolean typed(Node n) {
        return DIRECT.typed(n);
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Value x = n.input(0);
        Value w = n.input(1);
        if (DirectConvEmitter.handles(n, ctx)) {
            return DIRECT.emit(ctx);
        }
        if (!WindowGeometry.supportedRank(x)) {
            throw ctx.unsupported("Conv with " + (x.type().rank() - 2) + " spatial dims (1-D and 2-D only)");
        }
        boolean runtimeWeights = !ctx.isConstant(w);
        if (runtimeWeights && n.op().equals(LayoutOps.PACKED_CONV)) {
            throw ctx.unsupported(n.op() + " with weights computed at run time");
        }
        if (n.hasInput(2) && !ctx.isConstant(n.input(2)) && !wholeArray(ctx, n.input(2))) {
            throw ctx.unsupported(n.op() + " with a bias computed at run time");
        }
        List<ConvGeometry.Axis> axes = WindowGeometry.axes(ctx, WindowGeometry.convKernel(ctx));
        ConvGeometry.Axis ah = axes.get(0);
        ConvGeometry.Axis aw = axes.get(1);
        boolean prepacked = n.op().equals(LayoutOps.PACKED_CONV);
        int m = prepacked ? (int) ctx.intAttr("m") : ctx.staticDim(w, 0);
        ConvShape s = new ConvShape(ctx.staticDim(x, 1), ah.in(), aw.in(), m, ah.kernel(), aw.kernel(),
                ah.stride(), aw.stride(), ah.padBegin(), aw.padBegin(), ah.padEnd(), aw.padEnd(), ah.dilation(),
                aw.dilation(), (int) ctx.intAttr("group"));
        String shape = shapeField(ctx, s);
        String layout = Conv2d.layout(s);
        if (prepacked && !ctx.stringAttr("layout").equals(layout)) {
            throw ctx.unsupported("weights packed as " + ctx.stringAttr("layout") + " while this runtime's kernel for "
                    + s + " reads " + layout + " (recompile the model with this Kiln)");
        }
        CodeBlock.Builder code = CodeBlock.builder();
        String weights;
        if (runtimeWeights) {
            // A trainer's weights change every step: packed on each call into an array of this call site's own.
            weights = ctx.derivedField("convPacked:" + n.output(0).name(), ArrayTypeName.of(TypeName.FLOAT),
                    Identifiers.method(n) + "Packed", CodeBlock.of("new float[$L]", Conv2d.packedWeightLength(s)));
            TensorRef wr = ctx.in(1);
            code.addStatement("$T.packWeights($N, $L, $N, this.$N)", CONV, wr.array(), wr.offset(), shape, weights);
        } else {
            float[] data = prepacked ? ctx.constant(w).toFloatArray() : Conv2d.packWeights(ctx.constant(w).toFloatArray(), s);
            weights = ctx.weight(prepacked ? w.name() : w.name() + "@" + Conv2d.layout(s), data,
                    ArrayTypeName.of(TypeName.FLOAT), Identifiers.camel(w.name().replaceAll("_packed$", ""), "weight"), "$1L");
        }
        CodeBlock bias = n.hasInput(2) ? CodeBlock.of("$L", ctx.ref(n.input(2)).array()) : CodeBlock.of("null");
        boolean maxPool = prepacked && ctx.intAttr("max_pool") != 0;
        if (maxPool && !Conv2d.fusesMaxPool(s)) {
            throw ctx.unsupported("a max pool fused into conv " + s + ", which this runtime's kernel does not fuse"
                    + " (recompile the model with this Kiln)");
        }
        String scratch = ctx.threaded() ? ctx.scratchPerThread(Conv2d.scratchLength(s)) : ctx.scratch(Conv2d.scratchLength(s));
        String epilogue = Epilogues.field(ctx, !n.op().equals("Conv"));
        TensorRef in = ctx.in(0);
        TensorRef out = ctx.out(0);
        return code
                .addStatement("$T.$L($N, $L, $N, $L, this.$N, $L, $N, $L, this.$N, $N$L)", CONV,
                        maxPool ? "convMaxPool" : "conv", shape,
                        ctx.dim(x.shape().dim(0)), in.array(), in.offset(), weights, bias, out.array(), out.offset(),
                        scratch, epilogue,
                        ctx.threaded() ? ", this.workers" : "")
                .build();
    }

    /** The shared static {@code ConvShape} field for {@code s}. */
    static String shapeField(EmitContext ctx, ConvShape s) {
        return ctx.staticField("conv:" + s, SHAPE, Identifiers.method(ctx.node).toUpperCase(java.util.Locale.ROOT)
                .replaceAll("([a-z])([A-Z])", "$1_$2") + "_SHAPE", CodeBlock.of("new $T($L, $L, $L, $L, $L, $L, $L, $L, $L, "
                + "$L, $L, $L, $L, $L, $L)", SHAPE, s.c(), s.h(), s.w(), s.m(), s.kh(), s.kw(), s.strideH(), s.strideW(),
                s.padTop(), s.padLeft(), s.padBottom(), s.padRight(), s.dilationH(), s.dilationW(), s.group()));
    }

    /** The runtime shape of a 2-D convolution with the given resolved axes. */
    static ConvShape shape(int c, int m, int group, List<ConvGeometry.Axis> axes) {
        ConvGeometry.Axis ah = axes.get(0);
        ConvGeometry.Axis aw = axes.get(1);
        return new ConvShape(c, ah.in(), aw.in(), m, ah.kernel(), aw.kernel(), ah.stride(), aw.stride(), ah.padBegin(),
                aw.padBegin(), ah.padEnd(), aw.padEnd(), ah.dilation(), aw.dilation(), group);
    }

    /** True when {@code v} is a whole array of its own (a parameter field or a method argument), not arena space. */
    static boolean wholeArray(EmitContext ctx, Value v) {
        TensorRef r = ctx.ref(v);
        return r.isZero() && !r.array().equals("this.arena");
    }
}
