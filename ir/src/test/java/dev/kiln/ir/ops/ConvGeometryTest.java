package dev.kiln.ir.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.Dim;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.ShapeContext;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Window geometry per axis: output sizes and the pads auto_pad and output_shape resolve to. */
class ConvGeometryTest {
    private static ShapeContext context(String op, Attributes attrs) {
        return new ShapeContext(OpTable.get().find("", op).orElseThrow(), "node 'n' (" + op + ")", attrs, List.of(), 1,
                new ShapeContext.ConstantLookup() {
                    @Override
                    public Optional<dev.kiln.ir.Tensor> constant(dev.kiln.ir.Value v) { return Optional.empty(); }

                    @Override
                    public Optional<List<Dim>> dims(dev.kiln.ir.Value v) { return Optional.empty(); }
                });
    }

    private static ConvGeometry.Axis forward(String op, Attributes attrs, long kernel, long in) {
        ShapeContext ctx = context(op, attrs);
        return ConvGeometry.read(ctx, 1, new long[] {kernel}).forward(ctx, 0, in);
    }

    @Test
    void samePadsSplitTheOddCellByMode() {
        // in 5, kernel 4, stride 2: out 3, total pad (3-1)*2+4-5 = 3.
        ConvGeometry.Axis upper = forward("Conv", Attributes.builder().s("auto_pad", "SAME_UPPER").ints("strides", 2).build(), 4, 5);
        assertEquals(new ConvGeometry.Axis(5, 4, 2, 1, 1, 2, 3), upper);
        ConvGeometry.Axis lower = forward("Conv", Attributes.builder().s("auto_pad", "SAME_LOWER").ints("strides", 2).build(), 4, 5);
        assertEquals(new ConvGeometry.Axis(5, 4, 2, 1, 2, 1, 3), lower);
        // A stride wider than the kernel would need a negative total pad: it is clamped to zero.
        ConvGeometry.Axis wide = forward("Conv", Attributes.builder().s("auto_pad", "SAME_UPPER").ints("strides", 3).build(), 1, 6);
        assertEquals(new ConvGeometry.Axis(6, 1, 3, 1, 0, 0, 2), wide);
    }

    @Test
    void dilationWidensTheKernel() {
        ConvGeometry.Axis a = forward("MaxPool", Attributes.builder().ints("kernel_shape", 3).ints("dilations", 2).build(), 3, 7);
        assertEquals(5, a.effectiveKernel());
        assertEquals(3, a.out());
    }

    @Test
    void ceilModeRoundsUpButNeverStartsAWindowInTheEndPadding() {
        Attributes ceil = Attributes.builder().ints("kernel_shape", 1).ints("strides", 3).i("ceil_mode", 1).build();
        // VALID-like span 4 over stride 3: ceil gives 3 windows, the third would start at 6 >= 5.
        assertEquals(2, forward("MaxPool", ceil, 1, 5).out());
        Attributes floor = Attributes.builder().ints("kernel_shape", 2).ints("strides", 2).build();
        assertEquals(2, forward("AveragePool", floor, 2, 5).out());
        Attributes up = Attributes.builder().ints("kernel_shape", 2).ints("strides", 2).i("ceil_mode", 1).build();
        assertEquals(3, forward("AveragePool", up, 2, 5).out());
    }

    @Test
    void transposedOutputShapeDerivesPads() {
        ShapeContext ctx = context("ConvTranspose", Attributes.builder().ints("strides", 2).ints("output_shape", 6).build());
        ConvGeometry g = ConvGeometry.read(ctx, 1, new long[] {3});
        // full output 2*(3-1)+3 = 7, so one cell is cropped, at the begin when auto_pad is NOTSET.
        assertEquals(new ConvGeometry.Axis(3, 3, 2, 1, 1, 0, 6), g.transposed(ctx, 0, 3));
        ShapeContext same = context("ConvTranspose", Attributes.builder().ints("strides", 2).s("auto_pad", "SAME_UPPER").build());
        ConvGeometry sg = ConvGeometry.read(same, 1, new long[] {3});
        assertEquals(new ConvGeometry.Axis(3, 3, 2, 1, 0, 1, 6), sg.transposed(same, 0, 3));
        assertEquals(Dim.sym("N").times(2), sg.outDim(same, 0, Dim.sym("N"), true));
    }

    @Test
    void symbolicSizesStayExactOnlyWhenTheWindowMapsOneToOne() {
        ShapeContext pad1 = context("Conv", Attributes.builder().ints("pads", 1, 1).build());
        assertEquals(Dim.sym("H"), ConvGeometry.read(pad1, 1, new long[] {3}).outDim(pad1, 0, Dim.sym("H"), false));
        ShapeContext noPad = context("Conv", Attributes.EMPTY);
        assertTrue(ConvGeometry.read(noPad, 1, new long[] {3}).outDim(noPad, 0, Dim.sym("H"), false).hasUnknown());
    }
}
