package dev.kiln.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.codegen.GeneratedExecutor;
import dev.kiln.ir.DType;
import dev.kiln.ir.DimBinding;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.passes.OptLevel;
import dev.kiln.passes.PassManager;
import dev.kiln.passes.PassOptions;
import dev.kiln.passes.ShapeInference;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Blocks of real network architectures beyond ../shared's models, built as exporters write them, compiled at -O3 on
 * one and two threads and checked against the reference evaluator on the unoptimized graph: a transformer encoder
 * layer over a symbolic sequence length (fixed at compile time), a ResNet basic block and a MobileNetV2 inverted
 * residual, each with a classifier head, a U-Net level, a time-major recurrent tagger, a 1-D CNN, Inception branches
 * with squeeze-and-excitation, and causal attention feeding a batch-first LSTM.
 *
 * <p>Tolerance: the evaluator and the kernels round float32 sums in different orders (FMA chains, Winograd
 * transforms, folded BatchNorm): 2e-4 of the output's largest magnitude, plus 1e-5.
 */
class ArchitecturesTest {
    private static final Random RANDOM = new Random(20261125);

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void transformerEncoderLayerWithASymbolicSequence(int threads) {
        Graph g = transformerLayer();
        Tensor x = random(new int[] {3, 6, 32}, 1f);
        Map<String, Tensor> feeds = Map.of("x", x);
        Graph fixed = new ShapeInference().apply(DimBinding.bind(g, Map.of("S", 6L)));
        check(g, fixed, feeds, threads);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void bertEmbeddingsAndMaskedAttention(int threads) {
        Graph g = maskedEncoder();
        long[] ids = new long[3 * 7];
        double[] mask = new double[3 * 7];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = (i * 17 + 5) % 50;
            mask[i] = i % 7 < 7 - i / 7 * 2 ? 1 : 0; // rows padded by 0, 2 and 4 tokens
        }
        Map<String, Tensor> feeds = Map.of("input_ids", Tensor.ofLongs(DType.INT64, new int[] {3, 7}, ids),
                "attention_mask", Tensor.fromDoubles(DType.FLOAT32, new int[] {3, 7}, mask));
        Graph fixed = new ShapeInference().apply(DimBinding.bind(g, Map.of("S", 7L)));
        check(g, fixed, feeds, threads);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void resNetBasicBlock(int threads) {
        Graph g = resNetBlock();
        check(g, g, Map.of("x", random(new int[] {4, 16, 12, 12}, 1f)), threads);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void mobileNetV2InvertedResidual(int threads) {
        Graph g = invertedResidual();
        check(g, g, Map.of("x", random(new int[] {3, 16, 14, 14}, 1f)), threads);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void uNetLevel(int threads) {
        Graph g = uNetLevel();
        check(g, g, Map.of("x", random(new int[] {2, 3, 16, 16}, 1f)), threads);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void bidirectionalLstmThenGruTagger(int threads) {
        Graph g = recurrentTagger();
        check(g, g, Map.of("x", random(new int[] {5, 3, 12}, 1f)), threads);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void audioCnn1d(int threads) {
        Graph g = audioCnn();
        check(g, g, Map.of("x", random(new int[] {3, 4, 40}, 1f)), threads);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void inceptionBranchesWithSqueezeAndExcitation(int threads) {
        Graph g = inceptionSe();
        check(g, g, Map.of("x", random(new int[] {2, 8, 10, 10}, 1f)), threads);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void causalSelfAttentionWithTriluMaskAndBatchFirstLstm(int threads) {
        Graph g = causalDecoder();
        check(g, g, Map.of("x", random(new int[] {3, 6, 16}, 1f)), threads);
    }

    /** Generated code of {@code compiled} at -O3 against the reference evaluator on {@code reference}. */
    private static void check(Graph reference, Graph compiled, Map<String, Tensor> feeds, int threads) {
        Map<String, Tensor> expected = ReferenceEvaluator.run(reference, feeds);
        Graph optimized = PassManager.forLevel(OptLevel.O3, PassOptions.quiet()).run(compiled);
        Map<String, Tensor> actual = GeneratedExecutor.compile(optimized, threads).run(feeds);
        for (Map.Entry<String, Tensor> e : expected.entrySet()) {
            Tensor want = e.getValue();
            Tensor got = actual.get(e.getKey());
            assertArrayEquals(want.shape(), got.shape(), e.getKey());
            double scale = 0;
            for (int i = 0; i < want.size(); i++) {
                scale = Math.max(scale, Math.abs(want.getDouble(i)));
            }
            assertTrue(scale > 1e-3, "a degenerate output proves nothing: " + e.getKey());
            for (int i = 0; i < want.size(); i++) {
                assertEquals(want.getDouble(i), got.getDouble(i), 2e-4 * scale + 1e-5, e.getKey() + "[" + i + "]");
            }
        }
    }

    /** BERT's post-LN encoder layer (D 32, 4 heads, FF 64, erf GELU) over x: [N, S, 32], then a 5-way head. */
    private static Graph transformerLayer() {
        int d = 32;
        int heads = 4;
        int ff = 64;
        GraphBuilder b = new GraphBuilder("encoder");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,S," + d));
        Value q = heads(b, linear(b, "q", x, d, d), heads, d / heads);
        Value k = heads(b, linear(b, "k", x, d, d), heads, d / heads);
        Value v = heads(b, linear(b, "v", x, d, d), heads, d / heads);
        Value kt = b.op("Transpose").inputs(k).attr("perm", new long[] {0, 1, 3, 2}).outputNames("kt").output();
        Value scores = b.op("MatMul").inputs(q, kt).outputNames("scores").output();
        Value scaled = b.op("Div").inputs(scores, b.initializer("sqrt_dh", Tensor.scalarFloat((float) Math.sqrt(8))))
                .outputNames("scaled").output();
        Value probs = b.op("Softmax").inputs(scaled).attr("axis", -1L).outputNames("probs").output();
        Value context = b.op("MatMul").inputs(probs, v).outputNames("context").output();
        Value merged = b.op("Transpose").inputs(context).attr("perm", new long[] {0, 2, 1, 3}).outputNames("merged")
                .output();
        Value joined = b.op("Reshape").inputs(merged, b.initializer("join", Tensor.ofInt64s(0, 0, d)))
                .outputNames("joined").output();
        Value attention = linear(b, "o", joined, d, d);
        Value ln1 = layerNorm(b, "ln1", b.op("Add").inputs(x, attention).outputNames("res1").output(), d);
        Value up = linear(b, "ff1", ln1, d, ff);
        Value erf = b.op("Erf").inputs(b.op("Div").inputs(up, b.initializer("sqrt2", Tensor.scalarFloat(
                (float) Math.sqrt(2)))).outputNames("up_scaled").output()).outputNames("erf").output();
        Value gate = b.op("Add").inputs(erf, b.initializer("one", Tensor.scalarFloat(1))).outputNames("gate").output();
        Value gelu = b.op("Mul").inputs(b.op("Mul").inputs(up, gate).outputNames("gelu_x").output(),
                b.initializer("half", Tensor.scalarFloat(0.5f))).outputNames("gelu").output();
        Value down = linear(b, "ff2", gelu, ff, d);
        Value ln2 = layerNorm(b, "ln2", b.op("Add").inputs(ln1, down).outputNames("res2").output(), d);
        Value pooled = b.op("ReduceMean").inputs(ln2, b.initializer("seq_axis", Tensor.ofInt64s(1)))
                .attr("keepdims", 0L).outputNames("pooled").output();
        b.output(linear(b, "head", pooled, d, 5));
        return b.build();
    }

    /**
     * BERT's input side as exported: token embeddings gathered by int64 ids [N, S], position embeddings gathered by
     * Range(0, Shape(ids)[1]), LayerNorm, one attention layer whose scores get (1 - mask) * -10000 broadcast from
     * the float mask [N, S], and a 3-way head on the first token.
     */
    private static Graph maskedEncoder() {
        int d = 32;
        GraphBuilder b = new GraphBuilder("bert");
        Value ids = b.input("input_ids", DType.INT64, Shape.parse("N,S"));
        Value mask = b.input("attention_mask", DType.FLOAT32, Shape.parse("N,S"));
        Value tokens = b.op("Gather").inputs(b.initializer("word_embeddings", random(new int[] {50, d}, 1f)), ids)
                .outputNames("tokens").output();
        Value shape = b.op("Shape").inputs(ids).outputNames("ids_shape").output();
        Value length = b.op("Gather").inputs(shape, b.initializer("seq_index", Tensor.scalarLong(DType.INT64, 1)))
                .outputNames("length").output();
        Value positions = b.op("Range").inputs(b.initializer("zero", Tensor.scalarLong(DType.INT64, 0)), length,
                b.initializer("step", Tensor.scalarLong(DType.INT64, 1))).outputNames("positions").output();
        Value placed = b.op("Gather").inputs(b.initializer("position_embeddings", random(new int[] {16, d}, 1f)),
                positions).outputNames("placed").output();
        Value h = layerNorm(b, "emb_ln", b.op("Add").inputs(tokens, placed).outputNames("embedded").output(), d);
        Value keep = b.op("Sub").inputs(b.initializer("one_f", Tensor.scalarFloat(1)), mask).outputNames("masked")
                .output();
        Value bias = b.op("Mul").inputs(keep, b.initializer("minus", Tensor.scalarFloat(-10000)))
                .outputNames("mask_bias").output();
        Value bias4 = b.op("Unsqueeze").inputs(bias, b.initializer("mask_axes", Tensor.ofInt64s(1, 2)))
                .outputNames("mask_bias4").output();
        Value q = heads(b, linear(b, "q", h, d, d), 4, 8);
        Value k = heads(b, linear(b, "k", h, d, d), 4, 8);
        Value v = heads(b, linear(b, "v", h, d, d), 4, 8);
        Value kt = b.op("Transpose").inputs(k).attr("perm", new long[] {0, 1, 3, 2}).outputNames("kt").output();
        Value scores = b.op("Div").inputs(b.op("MatMul").inputs(q, kt).outputNames("qk").output(),
                b.initializer("sqrt_dh", Tensor.scalarFloat((float) Math.sqrt(8)))).outputNames("scores").output();
        Value probs = b.op("Softmax").inputs(b.op("Add").inputs(scores, bias4).outputNames("masked_scores").output())
                .attr("axis", -1L).outputNames("probs").output();
        Value context = b.op("Transpose").inputs(b.op("MatMul").inputs(probs, v).outputNames("context").output())
                .attr("perm", new long[] {0, 2, 1, 3}).outputNames("merged").output();
        Value joined = b.op("Reshape").inputs(context, b.initializer("join", Tensor.ofInt64s(0, 0, d)))
                .outputNames("joined").output();
        Value out = layerNorm(b, "ln", b.op("Add").inputs(h, linear(b, "o", joined, d, d)).outputNames("res").output(),
                d);
        Value first = b.op("Gather").inputs(out, b.initializer("cls", Tensor.scalarLong(DType.INT64, 0)))
                .attr("axis", 1L).outputNames("cls_state").output();
        b.output(linear(b, "classifier", first, d, 3));
        return b.build();
    }

    /** {@code x W + b} with x's last dim {@code in}. */
    private static Value linear(GraphBuilder b, String name, Value x, int in, int out) {
        Value w = b.initializer(name + ".weight", random(new int[] {in, out}, (float) (1 / Math.sqrt(in))));
        Value bias = b.initializer(name + ".bias", random(new int[] {out}, 0.1f));
        Value product = b.op("MatMul").inputs(x, w).outputNames(name + "_mm").output();
        return b.op("Add").inputs(product, bias).outputNames(name).output();
    }

    /** [N, S, heads*dh] -> [N, heads, S, dh], as exporters write it (Reshape with 0s, then Transpose). */
    private static Value heads(GraphBuilder b, Value x, int heads, int dh) {
        Value split = b.op("Reshape").inputs(x, b.initializer(x.name() + "_heads", Tensor.ofInt64s(0, 0, heads, dh)))
                .outputNames(x.name() + "_split").output();
        return b.op("Transpose").inputs(split).attr("perm", new long[] {0, 2, 1, 3}).outputNames(x.name() + "_t")
                .output();
    }

    private static Value layerNorm(GraphBuilder b, String name, Value x, int d) {
        return b.op("LayerNormalization").inputs(x, b.initializer(name + ".weight", random(new int[] {d}, 0.2f, 1f)),
                b.initializer(name + ".bias", random(new int[] {d}, 0.1f))).attr("axis", -1L)
                .attr("epsilon", 1e-5f).outputNames(name).output();
    }

    /** conv-BN-Relu, conv-BN, + x, Relu, then global average pool and a 10-way Gemm: x [N, 16, H, W]. */
    private static Graph resNetBlock() {
        GraphBuilder b = new GraphBuilder("resnet_block");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,16,12,12"));
        Value c1 = batchNorm(b, "bn1", conv(b, "conv1", x, 16, 16, 3, 1, 1, 1), 16);
        Value r1 = b.op("Relu").inputs(c1).outputNames("relu1").output();
        Value c2 = batchNorm(b, "bn2", conv(b, "conv2", r1, 16, 16, 3, 1, 1, 1), 16);
        Value sum = b.op("Add").inputs(c2, x).outputNames("residual").output();
        Value r2 = b.op("Relu").inputs(sum).outputNames("relu2").output();
        return head(b, r2, 16, 10);
    }

    /** 1x1 expand (x6) - BN - Relu6, 3x3 depthwise stride 2 - BN - Relu6, 1x1 project - BN, then a head. */
    private static Graph invertedResidual() {
        GraphBuilder b = new GraphBuilder("mobilenet_block");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,16,14,14"));
        Value e = relu6(b, "relu6_e", batchNorm(b, "bn_e", conv(b, "expand", x, 16, 96, 1, 1, 0, 1), 96));
        Value dw = relu6(b, "relu6_d", batchNorm(b, "bn_d", conv(b, "depthwise", e, 96, 96, 3, 2, 1, 96), 96));
        Value p = batchNorm(b, "bn_p", conv(b, "project", dw, 96, 24, 1, 1, 0, 1), 24);
        return head(b, p, 24, 7);
    }

    /**
     * One level of a U-Net: conv-Relu, MaxPool, conv-Relu at half size, back up by a stride-2 ConvTranspose and by a
     * nearest Resize (summed), Concat with the skip, a 1x1 conv and a Sigmoid mask: x [N, 3, 16, 16].
     */
    private static Graph uNetLevel() {
        GraphBuilder b = new GraphBuilder("unet_level");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,3,16,16"));
        Value skip = b.op("Relu").inputs(conv(b, "enc", x, 3, 8, 3, 1, 1, 1)).outputNames("enc_relu").output();
        Value down = b.op("MaxPool").inputs(skip).attr("kernel_shape", new long[] {2, 2})
                .attr("strides", new long[] {2, 2}).outputNames("down").output();
        Value mid = b.op("Relu").inputs(conv(b, "mid", down, 8, 16, 3, 1, 1, 1)).outputNames("mid_relu").output();
        Value upW = b.initializer("up.weight", random(new int[] {16, 8, 2, 2}, 0.25f));
        Value up = b.op("ConvTranspose").inputs(mid, upW, b.initializer("up.bias", random(new int[] {8}, 0.1f)))
                .attr("kernel_shape", new long[] {2, 2}).attr("strides", new long[] {2, 2}).outputNames("up").output();
        Value resized = b.op("Resize").inputs(conv(b, "squeeze", mid, 16, 8, 1, 1, 0, 1), Value.ABSENT,
                b.initializer("scales", Tensor.ofFloats(new int[] {4}, 1f, 1f, 2f, 2f))).attr("mode", "nearest")
                .outputNames("resized").output();
        Value upSum = b.op("Add").inputs(up, resized).outputNames("up_sum").output();
        Value cat = b.op("Concat").inputs(upSum, skip).attr("axis", 1L).outputNames("cat").output();
        Value logits = conv(b, "out", cat, 16, 1, 1, 1, 0, 1);
        b.output(b.op("Sigmoid").inputs(logits).outputNames("mask").output());
        return b.build();
    }

    /**
     * A sequence tagger as PyTorch exports it (time-major): a bidirectional LSTM (hidden 10) over x [T, N, 12], its two
     * directions joined per step, a GRU (hidden 8, linear_before_reset) over them and a per-step 4-way projection.
     */
    private static Graph recurrentTagger() {
        GraphBuilder b = new GraphBuilder("tagger");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("5,N,12"));
        Value lstmY = b.op("LSTM").inputs(x, b.initializer("lstm.W", random(new int[] {2, 40, 12}, 0.3f)),
                b.initializer("lstm.R", random(new int[] {2, 40, 10}, 0.3f)),
                b.initializer("lstm.B", random(new int[] {2, 80}, 0.1f))).attr("hidden_size", 10L)
                .attr("direction", "bidirectional").outputNames("lstm_y").output();
        // [T, 2, N, 10] -> [T, N, 2, 10] -> [T, N, 20]
        Value perStep = b.op("Transpose").inputs(lstmY).attr("perm", new long[] {0, 2, 1, 3}).outputNames("per_step")
                .output();
        Value joined = b.op("Reshape").inputs(perStep, b.initializer("join", Tensor.ofInt64s(0, 0, 20)))
                .outputNames("joined").output();
        Value gruY = b.op("GRU").inputs(joined, b.initializer("gru.W", random(new int[] {1, 24, 20}, 0.3f)),
                b.initializer("gru.R", random(new int[] {1, 24, 8}, 0.3f)),
                b.initializer("gru.B", random(new int[] {1, 48}, 0.1f))).attr("hidden_size", 8L)
                .attr("linear_before_reset", 1L).outputNames("gru_y").output();
        Value states = b.op("Squeeze").inputs(gruY, b.initializer("dir_axis", Tensor.ofInt64s(1)))
                .outputNames("states").output();
        b.output(linear(b, "tags", states, 8, 4));
        return b.build();
    }

    /** A 1-D CNN over [N, 4, 40]: conv k5 - BN - Relu, MaxPool 2, dilated conv k3 (asymmetric pads), GAP, dense. */
    private static Graph audioCnn() {
        GraphBuilder b = new GraphBuilder("audio_cnn");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,4,40"));
        Value c1 = b.op("Conv").inputs(x, b.initializer("c1.weight", random(new int[] {12, 4, 5}, 0.3f)),
                b.initializer("c1.bias", random(new int[] {12}, 0.1f))).attr("kernel_shape", new long[] {5})
                .attr("pads", new long[] {2, 2}).outputNames("c1").output();
        Value r1 = b.op("Relu").inputs(batchNorm(b, "bn1", c1, 12)).outputNames("r1").output();
        Value p1 = b.op("MaxPool").inputs(r1).attr("kernel_shape", new long[] {2}).attr("strides", new long[] {2})
                .outputNames("p1").output();
        Value c2 = b.op("Conv").inputs(p1, b.initializer("c2.weight", random(new int[] {16, 12, 3}, 0.2f)))
                .attr("kernel_shape", new long[] {3}).attr("dilations", new long[] {2}).attr("pads", new long[] {1, 3})
                .outputNames("c2").output();
        Value r2 = b.op("Relu").inputs(c2).outputNames("r2").output();
        return head(b, r2, 16, 6);
    }

    /**
     * Inception-style branches (1x1; 3x3; 3x3 average pool then 1x1) concatenated, then a squeeze-and-excitation
     * gate (GAP, 1x1 convs, Relu, Sigmoid, Mul broadcast over [N, C, 1, 1]) and a head: x [N, 8, 10, 10].
     */
    private static Graph inceptionSe() {
        GraphBuilder b = new GraphBuilder("inception_se");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,8,10,10"));
        Value b1 = b.op("Relu").inputs(conv(b, "b1", x, 8, 6, 1, 1, 0, 1)).outputNames("b1r").output();
        Value b2 = b.op("Relu").inputs(conv(b, "b2", x, 8, 6, 3, 1, 1, 1)).outputNames("b2r").output();
        Value pooled = b.op("AveragePool").inputs(x).attr("kernel_shape", new long[] {3, 3})
                .attr("pads", new long[] {1, 1, 1, 1}).attr("count_include_pad", 0L).outputNames("avg").output();
        Value b3 = b.op("Relu").inputs(conv(b, "b3", pooled, 8, 4, 1, 1, 0, 1)).outputNames("b3r").output();
        Value cat = b.op("Concat").inputs(b1, b2, b3).attr("axis", 1L).outputNames("cat").output();
        Value squeezed = b.op("GlobalAveragePool").inputs(cat).outputNames("se_gap").output();
        Value fc1 = b.op("Relu").inputs(conv(b, "se1", squeezed, 16, 4, 1, 1, 0, 1)).outputNames("se1r").output();
        Value gate = b.op("Sigmoid").inputs(conv(b, "se2", fc1, 4, 16, 1, 1, 0, 1)).outputNames("se_gate").output();
        Value scaled = b.op("Mul").inputs(cat, gate).outputNames("se_out").output();
        return head(b, scaled, 16, 5);
    }

    /**
     * A decoder step as exported: single-head causal self-attention whose mask is Trilu of ones, applied with Where
     * (-inf above the diagonal), then a batch-first LSTM (layout 1) over the result and a head on its last state.
     * x [N, 6, 16].
     */
    private static Graph causalDecoder() {
        GraphBuilder b = new GraphBuilder("decoder");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,6,16"));
        Value q = linear(b, "q", x, 16, 16);
        Value k = linear(b, "k", x, 16, 16);
        Value v = linear(b, "v", x, 16, 16);
        Value kt = b.op("Transpose").inputs(k).attr("perm", new long[] {0, 2, 1}).outputNames("kt").output();
        Value scores = b.op("Div").inputs(b.op("MatMul").inputs(q, kt).outputNames("qk").output(),
                b.initializer("scale", Tensor.scalarFloat(4))).outputNames("scores").output();
        Value ones = b.initializer("ones", Tensor.ofFloats(new int[] {6, 6}, new float[36]));
        Value filled = b.op("Add").inputs(ones, b.initializer("one_c", Tensor.scalarFloat(1))).outputNames("filled")
                .output();
        Value lower = b.op("Trilu").inputs(filled).attr("upper", 0L).outputNames("lower").output();
        Value allowed = b.op("Cast").inputs(lower).attr("to", (long) DType.BOOL.onnxCode()).outputNames("allowed")
                .output();
        Value masked = b.op("Where").inputs(allowed, scores,
                b.initializer("neg_inf", Tensor.scalarFloat(Float.NEGATIVE_INFINITY))).outputNames("masked").output();
        Value probs = b.op("Softmax").inputs(masked).attr("axis", -1L).outputNames("probs").output();
        Value attended = b.op("Add").inputs(x, b.op("MatMul").inputs(probs, v).outputNames("ctx").output())
                .outputNames("attended").output();
        Value hidden = b.op("LSTM").inputs(attended, b.initializer("lstm.W", random(new int[] {1, 48, 16}, 0.3f)),
                b.initializer("lstm.R", random(new int[] {1, 48, 12}, 0.3f)),
                b.initializer("lstm.B", random(new int[] {1, 96}, 0.1f))).attr("hidden_size", 12L).attr("layout", 1L)
                .outputNames("", "lstm_h").build().get(1);
        Value last = b.op("Squeeze").inputs(hidden, b.initializer("dir_axis", Tensor.ofInt64s(1)))
                .outputNames("last").output();
        b.output(linear(b, "head", last, 12, 4));
        return b.build();
    }

    private static Value conv(GraphBuilder b, String name, Value x, int in, int out, int k, int stride, int pad,
                              int group) {
        Value w = b.initializer(name + ".weight", random(new int[] {out, in / group, k, k},
                (float) Math.sqrt(2.0 / (in / group * k * k))));
        return b.op("Conv").inputs(x, w).attr("kernel_shape", new long[] {k, k})
                .attr("strides", new long[] {stride, stride}).attr("pads", new long[] {pad, pad, pad, pad})
                .attr("group", (long) group).outputNames(name).output();
    }

    private static Value batchNorm(GraphBuilder b, String name, Value x, int c) {
        return b.op("BatchNormalization").inputs(x, b.initializer(name + ".weight", random(new int[] {c}, 0.2f, 1f)),
                b.initializer(name + ".bias", random(new int[] {c}, 0.1f)),
                b.initializer(name + ".running_mean", random(new int[] {c}, 0.1f)),
                b.initializer(name + ".running_var", random(new int[] {c}, 0.2f, 1f))).attr("epsilon", 1e-5f)
                .outputNames(name).output();
    }

    private static Value relu6(GraphBuilder b, String name, Value x) {
        return b.op("Clip").inputs(x, b.initializer(name + ".min", Tensor.scalarFloat(0)),
                b.initializer(name + ".max", Tensor.scalarFloat(6))).outputNames(name).output();
    }

    private static Graph head(GraphBuilder b, Value features, int c, int classes) {
        Value pooled = b.op("GlobalAveragePool").inputs(features).outputNames("gap").output();
        Value flat = b.op("Flatten").inputs(pooled).attr("axis", 1L).outputNames("flat").output();
        Value w = b.initializer("fc.weight", random(new int[] {classes, c}, (float) (1 / Math.sqrt(c))));
        Value bias = b.initializer("fc.bias", random(new int[] {classes}, 0.1f));
        b.output(b.op("Gemm").inputs(flat, w, bias).attr("transB", 1L).outputNames("logits").output());
        return b.build();
    }

    private static Tensor random(int[] shape, float scale) {
        return random(shape, scale, 0f);
    }

    /** Uniform in {@code offset ± scale}. */
    private static Tensor random(int[] shape, float scale, float offset) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        float[] v = new float[n];
        synchronized (RANDOM) {
            for (int i = 0; i < n; i++) {
                v[i] = offset + scale * (2 * RANDOM.nextFloat() - 1);
            }
        }
        return Tensor.ofFloats(shape, v);
    }
}
