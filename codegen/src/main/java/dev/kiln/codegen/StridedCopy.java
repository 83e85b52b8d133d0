package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A loop nest copying between two strided views with the same extents: the data movement ops (Concat, Split,
 * Slice, Expand, Tile, Pad's interior, DepthToSpace, SpaceToDepth) are each a few of these. Adjacent axes that
 * are contiguous in both views merge into one loop, and the innermost run becomes one {@code System.arraycopy}
 * when it is contiguous on both sides, or an {@code Arrays.fill} when the source repeats one element.
 */
final class StridedCopy {
    /**
     * One loop: {@code extent} iterations; the source advances {@code srcStep * srcStride} elements per iteration
     * ({@code srcStep} negative for reversed slices, 0 for broadcast axes), the destination {@code dstStride}.
     */
    record Axis(Dim extent, Dim srcStride, long srcStep, Dim dstStride) {}

    private StridedCopy() {}

    /** The row-major strides of a shape. */
    static List<Dim> strides(Shape s) {
        List<Dim> out = new ArrayList<>();
        Dim stride = Dim.of(1);
        for (int d = s.rank() - 1; d >= 0; d--) {
            out.add(0, stride);
            stride = stride.times(s.dim(d));
        }
        return out;
    }

    /** Writes the loops copying {@code src[srcBase + ...]} to {@code dst[dstBase + ...]} over {@code axes}. */
    static void emit(EmitContext ctx, CodeBlock.Builder b, List<Axis> axes, TensorRef src, CodeBlock srcBase,
                     TensorRef dst, CodeBlock dstBase) {
        List<Axis> merged = merge(axes);
        if (merged.stream().anyMatch(a -> a.extent().isStatic() && a.extent().value() == 0)) {
            return;
        }
        Axis last = merged.isEmpty() ? null : merged.get(merged.size() - 1);
        boolean contiguous = last != null && isOne(last.dstStride()) && last.srcStep() == 1 && isOne(last.srcStride());
        boolean repeated = last != null && isOne(last.dstStride()) && (last.srcStep() == 0 || isZero(last.srcStride()));
        int loops = contiguous || repeated ? merged.size() - 1 : merged.size();
        List<String> idx = new ArrayList<>();
        for (int d = 0; d < loops; d++) {
            String i = ctx.locals.newName("i" + d);
            idx.add(i);
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", i, i, ctx.dim(merged.get(d).extent()), i);
        }
        CodeBlock s = index(ctx, src.plus(srcBase), merged, idx, true);
        CodeBlock t = index(ctx, dst.plus(dstBase), merged, idx, false);
        if (contiguous) {
            b.addStatement("$T.arraycopy($N, $L, $N, $L, $L)", System.class, src.array(), s, dst.array(), t,
                    ctx.dim(last.extent()));
        } else if (repeated) {
            String from = ctx.locals.newName("from");
            b.addStatement("int $N = $L", from, t);
            b.addStatement("$T.fill($N, $N, $N + $L, $N[$L])", Arrays.class, dst.array(), from, from,
                    ctx.dim(last.extent()), src.array(), s);
        } else {
            b.addStatement("$N[$L] = $N[$L]", dst.array(), t, src.array(), s);
        }
        for (int d = 0; d < loops; d++) {
            b.endControlFlow();
        }
    }

    /** Drops single-iteration axes and merges an axis into the next when both views are contiguous across them. */
    private static List<Axis> merge(List<Axis> axes) {
        List<Axis> out = new ArrayList<>();
        for (Axis a : axes) {
            if (a.extent().isStatic() && a.extent().value() == 1) {
                continue;
            }
            out.add(a);
        }
        for (int d = out.size() - 2; d >= 0; d--) {
            Axis outer = out.get(d);
            Axis inner = out.get(d + 1);
            boolean srcJoins = outer.srcStep() == inner.srcStep()
                    && (outer.srcStep() == 0 || outer.srcStride().equals(inner.srcStride().times(inner.extent())));
            if (srcJoins && outer.dstStride().equals(inner.dstStride().times(inner.extent()))) {
                out.set(d, new Axis(outer.extent().times(inner.extent()), inner.srcStride(), inner.srcStep(),
                        inner.dstStride()));
                out.remove(d + 1);
            }
        }
        return out;
    }

    /** {@code base + i0 * stride0 + ...} over the loop indices (the innermost run's start when it is a bulk copy). */
    private static CodeBlock index(EmitContext ctx, CodeBlock base, List<Axis> axes, List<String> idx, boolean src) {
        CodeBlock.Builder c = CodeBlock.builder();
        boolean empty = base.toString().equals("0");
        if (!empty) {
            c.add("$L", base);
        }
        for (int d = 0; d < idx.size(); d++) {
            Axis a = axes.get(d);
            long step = src ? a.srcStep() : 1;
            Dim stride = src ? a.srcStride() : a.dstStride();
            if (step == 0 || isZero(stride)) {
                continue;
            }
            if (empty) {
                c.add(step < 0 ? "-" : "");
            } else {
                c.add(step < 0 ? " - " : " + ");
            }
            empty = false;
            long k = Math.abs(step);
            if (stride.isStatic()) {
                long m = k * stride.value();
                c.add(m == 1 ? CodeBlock.of("$N", idx.get(d)) : CodeBlock.of("$N * $L", idx.get(d), m));
            } else if (k == 1) {
                c.add("$N * $L", idx.get(d), ctx.dim(stride));
            } else {
                c.add("$N * $L * $L", idx.get(d), ctx.dim(stride), k);
            }
        }
        return empty ? CodeBlock.of("0") : c.build();
    }

    static boolean isOne(Dim d) {
        return d.isStatic() && d.value() == 1;
    }

    static boolean isZero(Dim d) {
        return d.isStatic() && d.value() == 0;
    }

    /** {@code sum(counts[d] * strides[d])} as code (an element offset), with {@code 0} for an empty sum. */
    static CodeBlock offset(EmitContext ctx, long[] counts, List<Dim> strides) {
        long constant = 0;
        List<CodeBlock> terms = new ArrayList<>();
        for (int d = 0; d < counts.length; d++) {
            if (counts[d] == 0) {
                continue;
            }
            Dim s = strides.get(d);
            if (s.isStatic()) {
                constant += counts[d] * s.value();
            } else {
                terms.add(ctx.dim(s.times(counts[d])));
            }
        }
        if (constant != 0 || terms.isEmpty()) {
            terms.add(CodeBlock.of("$L", constant));
        }
        return CodeBlock.join(terms, " + ");
    }
}
