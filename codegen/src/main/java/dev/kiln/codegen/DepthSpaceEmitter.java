package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import java.util.List;

/**
 * DepthToSpace (DCR and CRD) and SpaceToDepth: each is a reshape to 6-D, a transpose and a reshape back, so one
 * strided copy over the output in order reading the input through the transposed 6-D view's strides.
 */
final class DepthSpaceEmitter implements KernelEmitter {
    /** Moves elements without arithmetic, so any element type. */
    @Override
    public boolean typed(Node n) {
        return true;
    }

    /** Copies references, so strings too. */
    @Override
    public boolean strings(Node n) {
        return true;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        Shape in = n.input(0).shape();
        if (in.rank() != 4) {
            throw ctx.unsupported(n.op() + " of rank " + in.rank());
        }
        long bs = ctx.intAttr("blocksize");
        Dim b = Dim.of(bs);
        Dim batch = in.dim(0);
        long c = ctx.staticDim(n.input(0), 1);
        long h = ctx.staticDim(n.input(0), 2);
        long w = ctx.staticDim(n.input(0), 3);
        long chw = c * h * w;
        List<StridedCopy.Axis> axes;
        if (n.op().equals("DepthToSpace")) {
            long oc = c / (bs * bs);
            // Output [N, C', H, b, W, b] in order; DCR reads input [N, b, b, C', H, W], CRD reads [N, C', b, b, H, W].
            boolean dcr = ctx.stringAttr("mode").equals("DCR");
            long rowBlock = dcr ? bs * oc * h * w : bs * h * w;
            long colBlock = dcr ? oc * h * w : h * w;
            long channel = dcr ? h * w : bs * bs * h * w;
            axes = axes(new Dim[] {batch, Dim.of(oc), Dim.of(h), b, Dim.of(w), b},
                    new long[] {chw, channel, w, rowBlock, 1, colBlock});
        } else {
            long oh = h / bs;
            long ow = w / bs;
            // Output [N, b, b, C, H', W'] in order, reading input [N, C, H', b, W', b].
            axes = axes(new Dim[] {batch, b, b, Dim.of(c), Dim.of(oh), Dim.of(ow)},
                    new long[] {chw, w, 1, h * w, bs * w, bs});
        }
        CodeBlock.Builder code = CodeBlock.builder();
        StridedCopy.emit(ctx, code, axes, ctx.in(0), CodeBlock.of("0"), ctx.out(0), CodeBlock.of("0"));
        return code.build();
    }

    private static List<StridedCopy.Axis> axes(Dim[] extents, long[] srcStrides) {
        List<Dim> dst = StridedCopy.strides(Shape.of(extents));
        java.util.ArrayList<StridedCopy.Axis> out = new java.util.ArrayList<>();
        for (int d = 0; d < extents.length; d++) {
            out.add(new StridedCopy.Axis(extents[d], Dim.of(srcStrides[d]), 1, dst.get(d)));
        }
        return out;
    }
}
