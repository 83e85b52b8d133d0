package dev.kiln.passes;

import static org.junit.jupiter.api.Assertions.assertSame;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;
import org.junit.jupiter.api.Test;

class BlockedLayoutTest {
    /** A chain: the 3-channel conv stays NCHW, the two wide im2col convs and the pool between them run blocked. */
    @Test
    void blocksTheWideConvolutionsOfAChainAndConvertsOnlyAtItsEnds() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,3,8,8"));
        Value c1 = b.op("Conv").name("conv1").inputs(x, b.initializer("w1", FusionTest.random(1, 32, 3, 3, 3)))
                .attr("pads", new long[] {1, 1, 1, 1}).outputNames("c1").output();
        Value r1 = b.op("Relu").inputs(c1).outputNames("r1").output();
        Value c2 = b.op("Conv").name("conv2").inputs(r1, b.initializer("w2", FusionTest.random(2, 32, 32, 3, 3)),
                        b.initializer("b2", FusionTest.random(3, 32)))
                .outputNames("c2").output();
        Value r2 = b.op("Relu").inputs(c2).outputNames("r2").output();
        Value p2 = b.op("MaxPool").inputs(r2).attr("kernel_shape", new long[] {2, 2}).attr("strides", new long[] {2, 2})
                .outputNames("p2").output();
        Value c3 = b.op("Conv").name("conv3").inputs(p2, b.initializer("w3", FusionTest.random(4, 30, 32, 3, 3)))
                .attr("pads", new long[] {1, 1, 1, 1}).outputNames("c3").output();
        Value shape = b.op("Constant").attr("value", new dev.kiln.ir.Attr.TensorValue(dev.kiln.ir.Tensor.ofInt64s(-1, 270)))
                .outputNames("shape").output();
        Value f = b.op("Reshape").inputs(c3, shape).outputNames("f").output();
        b.output(f);
        b.output(r2);
        Graph g = b.build();
        Graph after = PassTesting.check(new BlockedLayout(8), g, """
                graph g(%x: f32[N,3,8,8]) -> (%f: f32[N,270], %r2: f32[N,32,6,6])
                  init %w1: f32[32,3,3,3]
                  init %w2: f32[32,32,3,3]
                  init %b2: f32[32]
                  init %w3: f32[30,32,3,3]
                  init %w2_nchwc: f32[9216]
                  init %w3_nchwc: f32[9216]
                  %c1: f32[N,32,8,8] = Conv(%x, %w1) {pads=[1,1,1,1]}  # conv1
                  %r1: f32[N,32,8,8] = Relu(%c1)
                  %r1_nchwc: f32[N,4,8,8,8] = dev.kiln.ToBlocked(%r1) {block=8}
                  %c2_nchwc: f32[N,4,6,6,8] = dev.kiln.BlockedConv(%r1_nchwc, %w2_nchwc, %b2) {dilations=[1,1], kernel_shape=[3,3], m=32, pads=[0,0,0,0], strides=[1,1]}  # conv2
                  %r2_nchwc: f32[N,4,6,6,8] = Relu(%c2_nchwc)
                  %p2_nchwc: f32[N,4,3,3,8] = dev.kiln.BlockedMaxPool(%r2_nchwc) {kernel_shape=[2,2], strides=[2,2]}
                  %c3_nchwc: f32[N,4,3,3,8] = dev.kiln.BlockedConv(%p2_nchwc, %w3_nchwc) {dilations=[1,1], kernel_shape=[3,3], m=30, pads=[1,1,1,1], strides=[1,1]}  # conv3
                  %shape: i64[2] = Constant() {value=i64[2]}
                  %c3: f32[N,30,3,3] = dev.kiln.FromBlocked(%c3_nchwc) {channels=30}
                  %f: f32[N,270] = Reshape(%c3, %shape)
                  %r2: f32[N,32,6,6] = dev.kiln.FromBlocked(%r2_nchwc) {channels=32}
                  return %f, %r2
                """);
        assertSame(after, new BlockedLayout(8).apply(after), "a second run changes nothing");
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
