package dev.kiln.passes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;
import java.util.List;
import org.junit.jupiter.api.Test;

class BlockedLayoutTest {
    /**
     * A ResNet-like stage on 7x7 images, blocked whatever the cost model says (it is a close call): 1x1
     * convolutions, a Sigmoid on 60 channels (f(0) != 0, partial last block: the padding is re-zeroed), an Add of a
     * per-channel constant (re-laid out), a residual Add of two blocked values, Relu and GlobalAveragePool all stay
     * blocked; one conversion in, one out.
     */
    static Graph resnetStage() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,128,7,7"));
        Value c1 = b.op("Conv").name("conv1").inputs(x, b.initializer("w1", FusionTest.random(1, 60, 128, 1, 1)),
                b.initializer("b1", FusionTest.random(2, 60))).outputNames("c1").output();
        Value s1 = b.op("Sigmoid").inputs(c1).outputNames("s1").output();
        Value a1 = b.op("Add").inputs(s1, b.initializer("k", FusionTest.random(3, 60, 1, 1))).outputNames("a1").output();
        Value c2 = b.op("Conv").name("conv2").inputs(a1, b.initializer("w2", FusionTest.random(4, 128, 60, 1, 1)))
                .outputNames("c2").output();
        Value r = b.op("Add").inputs(c2, x).outputNames("r").output();
        Value y = b.op("Relu").inputs(r).outputNames("y").output();
        Value p = b.op("GlobalAveragePool").inputs(y).outputNames("p").output();
        Value f = b.op("Flatten").inputs(p).outputNames("f").output();
        b.output(f);
        return b.build();
    }

    @Test
    void blockedChainConvertsOnlyAtItsEnds() {
        Graph g = resnetStage();
        List<BlockedLayout.ChainCost> costs = new BlockedLayout(8).costs(g);
        assertEquals(1, costs.size(), costs.toString());
        assertEquals(List.of("conv1", "conv2"), costs.get(0).convs());
        Graph after = PassTesting.check(BlockedLayout.forced(8), g, """
                graph g(%x: f32[N,128,7,7]) -> (%f: f32[N,128])
                  init %w1: f32[60,128,1,1]
                  init %b1: f32[60]
                  init %k: f32[60,1,1]
                  init %w2: f32[128,60,1,1]
                  init %w1_nchwc: f32[8192]
                  init %k_nchwc: f32[1,8,1,1,8]
                  init %w2_nchwc: f32[8192]
                  %x_nchwc: f32[N,16,7,7,8] = dev.kiln.ToBlocked(%x) {block=8}
                  %c1_nchwc: f32[N,8,7,7,8] = dev.kiln.BlockedConv(%x_nchwc, %w1_nchwc, %b1) {dilations=[1,1], kernel_shape=[1,1], m=60, pads=[0,0,0,0], strides=[1,1]}  # conv1
                  %s1_nchwc_raw: f32[N,8,7,7,8] = Sigmoid(%c1_nchwc)
                  %s1_nchwc: f32[N,8,7,7,8] = dev.kiln.BlockedZeroPadding(%s1_nchwc_raw) {channels=60}
                  %a1_nchwc: f32[N,8,7,7,8] = Add(%s1_nchwc, %k_nchwc)
                  %c2_nchwc: f32[N,16,7,7,8] = dev.kiln.BlockedConv(%a1_nchwc, %w2_nchwc) {dilations=[1,1], kernel_shape=[1,1], m=128, pads=[0,0,0,0], strides=[1,1]}  # conv2
                  %r_nchwc: f32[N,16,7,7,8] = Add(%c2_nchwc, %x_nchwc)
                  %y_nchwc: f32[N,16,7,7,8] = Relu(%r_nchwc)
                  %p_nchwc: f32[N,16,1,1,8] = dev.kiln.BlockedGlobalAveragePool(%y_nchwc)
                  %p: f32[N,128,1,1] = dev.kiln.FromBlocked(%p_nchwc) {channels=128}
                  %f: f32[N,128] = Flatten(%p)
                  return %f
                """);
        assertSame(after, BlockedLayout.forced(8).apply(after), "a second run changes nothing");
    }

    /**
     * A stride-2 3x3 layer (NCHWc 423 µs against im2col's 577 measured, docs/KERNELS.md) feeding a 1x1 one: the cost
     * model blocks the chain, conversions included.
     */
    @Test
    void blocksAChainWhereItIsEstimatedFaster() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,64,28,28"));
        Value c1 = b.op("Conv").name("conv1").inputs(x, b.initializer("w1", FusionTest.random(1, 128, 64, 3, 3)))
                .attr("strides", new long[] {2, 2}).attr("pads", new long[] {1, 1, 1, 1}).outputNames("c1").output();
        Value r = b.op("Relu").inputs(c1).outputNames("r").output();
        Value c2 = b.op("Conv").name("conv2").inputs(r, b.initializer("w2", FusionTest.random(2, 128, 128, 1, 1)))
                .outputNames("c2").output();
        b.output(c2);
        Graph g = b.build();
        List<BlockedLayout.ChainCost> costs = new BlockedLayout(8).costs(g);
        assertEquals(1, costs.size(), costs.toString());
        assertTrue(costs.get(0).blocked(), costs.toString());
        Graph after = new BlockedLayout(8).apply(g);
        assertEquals(List.of("ToBlocked", "BlockedConv", "Relu", "BlockedConv", "FromBlocked"),
                after.nodes().stream().map(n -> n.op()).toList(), after.toString());
        PassTesting.assertEquivalent(g, after);
    }

    /** cifar_cnn-like 3x3 layers: Winograd F(2x2,3x3) in NCHW is estimated faster, so the graph is unchanged. */
    @Test
    void leavesAChainNchwWhereTheNchwKernelsAreEstimatedFaster() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,32,15,15"));
        Value c2 = b.op("Conv").name("conv2").inputs(x, b.initializer("w2", FusionTest.random(2, 64, 32, 3, 3)))
                .outputNames("c2").output();
        Value r2 = b.op("Relu").inputs(c2).outputNames("r2").output();
        Value c3 = b.op("Conv").name("conv3").inputs(r2, b.initializer("w3", FusionTest.random(4, 64, 64, 3, 3)))
                .outputNames("c3").output();
        b.output(c3);
        Graph g = b.build();
        List<BlockedLayout.ChainCost> costs = new BlockedLayout(8).costs(g);
        assertEquals(1, costs.size());
        assertFalse(costs.get(0).blocked(), costs.toString());
        assertSame(g, new BlockedLayout(8).apply(g));
    }

    /** FromBlocked then ToBlocked of the same block is the blocked value itself (its padding channels are zero). */
    @Test
    void cancelsInversePairs() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,6,4,4"));
        Value xb = b.op("ToBlocked").domain("dev.kiln").inputs(x).attr("block", 4L).outputNames("xb").output();
        Value r = b.op("Relu").inputs(xb).outputNames("r").output();
        Value back = b.op("FromBlocked").domain("dev.kiln").inputs(r).attr("channels", 6L).outputNames("back").output();
        Value again = b.op("ToBlocked").domain("dev.kiln").inputs(back).attr("block", 4L).outputNames("again").output();
        Value y = b.op("FromBlocked").domain("dev.kiln").inputs(again).attr("channels", 6L).outputNames("y").output();
        b.output(y);
        Graph g = b.build();
        Graph after = new DeadCodeElimination().apply(PassTesting.check(new BlockedLayout(4), g, """
                graph g(%x: f32[N,6,4,4]) -> (%y: f32[N,6,4,4])
                  %xb: f32[N,2,4,4,4] = dev.kiln.ToBlocked(%x) {block=4}
                  %r: f32[N,2,4,4,4] = Relu(%xb)
                  %back: f32[N,6,4,4] = dev.kiln.FromBlocked(%r) {channels=6}
                  %y: f32[N,6,4,4] = dev.kiln.FromBlocked(%r) {channels=6}
                  return %y
                """));
        PassTesting.assertEquivalent(g, after);
    }
}
