package dev.kiln.passes;

import static org.junit.jupiter.api.Assertions.assertSame;

import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Batch-major LSTM and GRU become sequence-major nodes between Transposes, computing the same outputs. */
class SequenceMajorRecurrenceTest {
    private static Tensor random(long seed, int... shape) {
        Random r = new Random(seed);
        float[] v = new float[java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (0.5 * r.nextGaussian());
        }
        return Tensor.ofFloats(shape, v);
    }

    @Test
    void aBatchMajorGruAndLstmBecomeSequenceMajorBetweenTransposes() {
        GraphBuilder b = new GraphBuilder("bm");
        Value x = b.input("x", DType.FLOAT32, Shape.of(Dim.sym("N"), Dim.of(3), Dim.of(2)));
        Value h0 = b.input("h0", DType.FLOAT32, Shape.of(Dim.sym("N"), Dim.of(2), Dim.of(4)));
        List<Value> gru = b.op("GRU").inputs(x, b.initializer("gW", random(1, 2, 12, 2)),
                b.initializer("gR", random(2, 2, 12, 4)), b.initializer("gB", random(3, 2, 24)), Value.ABSENT, h0)
                .attr("hidden_size", 4L).attr("direction", "bidirectional").attr("layout", 1L)
                .outputNames("gy", "gh").build();
        b.output(gru.get(0));
        b.output(gru.get(1));
        // X and one state for both initial states are transposed once; Y is not read, so the sequence-major node
        // leaves it out; Y_h is read, Y_c is absent.
        Value h1 = b.input("h1", DType.FLOAT32, Shape.of(Dim.sym("N"), Dim.of(1), Dim.of(4)));
        List<Value> lstm = b.op("LSTM").inputs(x, b.initializer("lW", random(4, 1, 16, 2)),
                b.initializer("lR", random(5, 1, 16, 4)), Value.ABSENT, Value.ABSENT, h1, h1).attr("hidden_size", 4L)
                .attr("layout", 1L).outputNames("ly", "lh").build();
        b.output(b.op("Relu").inputs(lstm.get(1)).outputNames("relu").output());
        PassTesting.check(new SequenceMajorRecurrence(), b.build(), """
                graph bm(%x: f32[N,3,2], %h0: f32[N,2,4], %h1: f32[N,1,4]) -> (%gy: f32[N,3,2,4], %gh: f32[N,2,4], %relu: f32[N,1,4])
                  init %gW: f32[2,12,2]
                  init %gR: f32[2,12,4]
                  init %gB: f32[2,24]
                  init %lW: f32[1,16,2]
                  init %lR: f32[1,16,4]
                  %x_seq_major: f32[3,N,2] = Transpose(%x) {perm=[1,0,2]}
                  %h0_seq_major: f32[2,N,4] = Transpose(%h0) {perm=[1,0,2]}
                  %gy_seq_major: f32[3,2,N,4], %gh_seq_major: f32[2,N,4] = GRU(%x_seq_major, %gW, %gR, %gB, _, %h0_seq_major) {direction="bidirectional", hidden_size=4}
                  %gy: f32[N,3,2,4] = Transpose(%gy_seq_major) {perm=[2,0,1,3]}
                  %gh: f32[N,2,4] = Transpose(%gh_seq_major) {perm=[1,0,2]}
                  %h1_seq_major: f32[1,N,4] = Transpose(%h1) {perm=[1,0,2]}
                  _, %lh_seq_major: f32[1,N,4] = LSTM(%x_seq_major, %lW, %lR, _, _, %h1_seq_major, %h1_seq_major) {hidden_size=4}
                  %lh: f32[N,1,4] = Transpose(%lh_seq_major) {perm=[1,0,2]}
                  %relu: f32[N,1,4] = Relu(%lh)
                  return %gy, %gh, %relu
                """);
    }

    @Test
    void sequenceMajorNodesStay() {
        GraphBuilder b = new GraphBuilder("sm");
        Value x = b.input("x", DType.FLOAT32, Shape.of(Dim.of(3), Dim.sym("N"), Dim.of(2)));
        b.output(b.op("LSTM").inputs(x, b.initializer("W", random(1, 1, 16, 2)),
                b.initializer("R", random(2, 1, 16, 4))).attr("hidden_size", 4L).attr("layout", 0L).outputNames("y").build().get(0));
        Graph g = b.build();
        assertSame(g, new SequenceMajorRecurrence().apply(g));
    }
}
