package dev.kiln.codegen;

import dev.kiln.ir.Attr;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Node;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.ir.ops.FusedOps;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/** The one registry of kernel emitters, keyed by the op table's qualified op names. */
final class Emitters {
    private static final Map<String, KernelEmitter> BY_OP = registry();

    private Emitters() {}

    private static Map<String, KernelEmitter> registry() {
        Map<String, KernelEmitter> m = new TreeMap<>();
        ElementwiseEmitter pointwise = new ElementwiseEmitter();
        for (String op : PointwiseForms.supportedOps()) {
            m.put(op, pointwise);
        }
        for (String op : TypedForms.supportedOps()) {
            m.put(op, pointwise);
        }
        m.put(OpTable.KILN_DOMAIN + "." + FusedOps.FUSED_ELEMENTWISE, pointwise);
        GemmEmitter gemm = new GemmEmitter();
        m.put("Gemm", gemm);
        m.put("MatMul", gemm);
        m.put("MatMulInteger", gemm);
        m.put("QLinearMatMul", gemm);
        DirectConvEmitter direct = new DirectConvEmitter();
        m.put("ConvInteger", direct);
        m.put("QLinearConv", direct);
        m.put(OpTable.KILN_DOMAIN + "." + FusedOps.FUSED_GEMM, gemm);
        m.put(OpTable.KILN_DOMAIN + "." + dev.kiln.ir.ops.LayoutOps.PACKED_GEMM, new PackedGemmEmitter());
        ConvEmitter conv = new ConvEmitter();
        m.put("Conv", conv);
        m.put(OpTable.KILN_DOMAIN + "." + FusedOps.FUSED_CONV, conv);
        m.put(OpTable.KILN_DOMAIN + "." + dev.kiln.ir.ops.LayoutOps.PACKED_CONV, conv);
        BlockedLayoutEmitter blocked = new BlockedLayoutEmitter();
        for (String op : new String[] {dev.kiln.ir.ops.BlockedLayoutOps.TO_BLOCKED, dev.kiln.ir.ops.BlockedLayoutOps.FROM_BLOCKED,
                dev.kiln.ir.ops.BlockedLayoutOps.BLOCKED_CONV, dev.kiln.ir.ops.BlockedLayoutOps.BLOCKED_MAX_POOL,
                dev.kiln.ir.ops.BlockedLayoutOps.BLOCKED_AVERAGE_POOL,
                dev.kiln.ir.ops.BlockedLayoutOps.BLOCKED_GLOBAL_AVERAGE_POOL,
                dev.kiln.ir.ops.BlockedLayoutOps.BLOCKED_ZERO_PADDING}) {
            m.put(OpTable.KILN_DOMAIN + "." + op, blocked);
        }
        PoolEmitter pool = new PoolEmitter();
        for (String op : new String[] {"MaxPool", "AveragePool", "GlobalMaxPool", "GlobalAveragePool", "LpPool"}) {
            m.put(op, pool);
        }
        SoftmaxEmitter softmax = new SoftmaxEmitter();
        m.put("Softmax", softmax);
        m.put("LogSoftmax", softmax);
        m.put("Hardmax", softmax);
        NormalizationEmitter norm = new NormalizationEmitter();
        m.put("BatchNormalization", norm);
        m.put("InstanceNormalization", norm);
        m.put("LayerNormalization", norm);
        m.put("RMSNormalization", norm);
        m.put("LRN", new LrnEmitter());
        AttentionEmitter attention = new AttentionEmitter();
        m.put("Attention", attention);
        m.put("RotaryEmbedding", attention);
        m.put(OpTable.KILN_DOMAIN + "." + dev.kiln.ir.ops.AttentionGrads.ATTENTION_GRAD, attention);
        StateSpaceEmitter stateSpace = new StateSpaceEmitter();
        m.put("LinearAttention", stateSpace);
        m.put("CausalConvWithState", stateSpace);
        m.put("ConvTranspose", new ConvTransposeEmitter());
        DeformConvEmitter deformConv = new DeformConvEmitter();
        m.put("DeformConv", deformConv);
        m.put(OpTable.KILN_DOMAIN + "." + dev.kiln.ir.ops.DeformConvOps.DEFORM_CONV_GRAD, deformConv);
        RecurrentEmitter recurrent = new RecurrentEmitter();
        m.put("LSTM", recurrent);
        m.put("GRU", recurrent);
        m.put("RNN", recurrent);
        m.put("Transpose", new TransposeEmitter());
        m.put("Gather", new GatherEmitter());
        m.put("Concat", new ConcatEmitter());
        m.put("Split", new SplitEmitter());
        m.put("Slice", new SliceEmitter());
        ExpandEmitter expand = new ExpandEmitter();
        m.put("Expand", expand);
        m.put("Tile", expand);
        m.put("Pad", new PadEmitter());
        DepthSpaceEmitter depthSpace = new DepthSpaceEmitter();
        m.put("DepthToSpace", depthSpace);
        m.put("SpaceToDepth", depthSpace);
        m.put("Dropout", new DropoutEmitter());
        RandomEmitter random = new RandomEmitter();
        for (String op : new String[] {"RandomUniform", "RandomNormal", "RandomUniformLike", "RandomNormalLike",
                "Bernoulli"}) {
            m.put(op, random);
        }
        m.put("ArgMax", new ArgExtremeEmitter());
        m.put("ArgMin", m.get("ArgMax"));
        m.put("Trilu", new TriluEmitter());
        m.put("LpNormalization", new LpNormalizationEmitter());
        m.put("GatherND", new NdIndexEmitter());
        m.put("ScatterND", m.get("GatherND"));
        m.put("Resize", new ResizeEmitter());
        SignalEmitter signal = new SignalEmitter();
        for (String op : new String[] {"HannWindow", "HammingWindow", "BlackmanWindow", "MelWeightMatrix", "DFT", "STFT"}) {
            m.put(op, signal);
        }
        GridSampleEmitter grid = new GridSampleEmitter();
        m.put("GridSample", grid);
        m.put("AffineGrid", grid);
        DetectionEmitter detection = new DetectionEmitter();
        m.put("NonMaxSuppression", detection);
        m.put("RoiAlign", detection);
        CropFoldEmitter cropFold = new CropFoldEmitter();
        m.put("CenterCropPad", cropFold);
        m.put("Col2Im", cropFold);
        DetUniqueEmitter detUnique = new DetUniqueEmitter();
        m.put("Det", detUnique);
        m.put("Unique", detUnique);
        StringEmitter strings = new StringEmitter();
        for (String op : new String[] {"StringNormalizer", "StringSplit", "RegexFullMatch", "TfIdfVectorizer"}) {
            m.put(op, strings);
        }
        MlEmitter ml = new MlEmitter();
        for (String op : new String[] {"LabelEncoder", "Binarizer", "ArrayFeatureExtractor", "Imputer", "Scaler",
                "Normalizer", "OneHotEncoder", "LinearRegressor", "LinearClassifier"}) {
            m.put(dev.kiln.ir.ops.MlOps.DOMAIN + "." + op, ml);
        }
        TreeEnsembleEmitter trees = new TreeEnsembleEmitter();
        for (String op : new String[] {"TreeEnsemble", "TreeEnsembleRegressor", "TreeEnsembleClassifier"}) {
            m.put(dev.kiln.ir.ops.MlOps.DOMAIN + "." + op, trees);
        }
        m.put("GatherElements", new ElementIndexEmitter());
        m.put("ScatterElements", m.get("GatherElements"));
        m.put("TensorScatter", new TensorScatterEmitter());
        CumSumEmitter cumulative = new CumSumEmitter();
        m.put("CumSum", cumulative);
        m.put("CumProd", cumulative);
        QuantizeEmitter quantize = new QuantizeEmitter();
        m.put("QuantizeLinear", quantize);
        m.put("DequantizeLinear", quantize);
        m.put("DynamicQuantizeLinear", new DynamicQuantizeEmitter());
        m.put("TopK", new TopKEmitter());
        ConditionEmitter condition = new ConditionEmitter();
        m.put("Compress", condition);
        m.put("NonZero", condition);
        m.put("MaxUnpool", new MaxUnpoolEmitter());
        ReduceEmitter reduce = new ReduceEmitter();
        ReduceEmitter.OPS.forEach(op -> m.put(op, reduce));
        LossEmitter loss = new LossEmitter();
        m.put("SoftmaxCrossEntropyLoss", loss);
        m.put("NegativeLogLikelihoodLoss", loss);
        m.put(OpTable.KILN_DOMAIN + ".SoftmaxCrossEntropyLossGrad", loss);
        m.put(OpTable.KILN_DOMAIN + ".NegativeLogLikelihoodLossGrad", loss);
        ActivationGradEmitter activationGrad = new ActivationGradEmitter();
        for (String op : new String[] {"ReluGrad", "LeakyReluGrad", "SigmoidGrad", "TanhGrad"}) {
            m.put(OpTable.KILN_DOMAIN + "." + op, activationGrad);
        }
        ConvGradEmitter convGrad = new ConvGradEmitter();
        m.put(OpTable.KILN_DOMAIN + "." + dev.kiln.ir.ops.NnGradOps.CONV_GRAD_INPUT, convGrad);
        m.put(OpTable.KILN_DOMAIN + "." + dev.kiln.ir.ops.NnGradOps.CONV_GRAD_WEIGHT, convGrad);
        PoolGradEmitter poolGrad = new PoolGradEmitter();
        m.put(OpTable.KILN_DOMAIN + "." + dev.kiln.ir.ops.NnGradOps.MAX_POOL_GRAD, poolGrad);
        m.put(OpTable.KILN_DOMAIN + "." + dev.kiln.ir.ops.NnGradOps.AVERAGE_POOL_GRAD, poolGrad);
        RecurrentTrainingEmitter recurrentGrad = new RecurrentTrainingEmitter();
        m.put(OpTable.KILN_DOMAIN + "." + dev.kiln.ir.ops.NnGradOps.LSTM_GRAD, recurrentGrad);
        m.put(OpTable.KILN_DOMAIN + "." + dev.kiln.ir.ops.NnGradOps.GRU_GRAD, recurrentGrad);
        m.put(OpTable.KILN_DOMAIN + "." + dev.kiln.ir.ops.NnGradOps.GATHER_GRAD, new GatherGradEmitter());
        m.put(OpTable.KILN_DOMAIN + "." + dev.kiln.ir.ops.NnGradOps.BATCH_NORM_TRAINING_GRAD, new BatchNormTrainingEmitter());
        m.put(OpTable.KILN_DOMAIN + "." + dev.kiln.ir.ops.NnGradOps.DROPOUT_GRAD, new DropoutTrainingEmitter());
        PreviewTrainingEmitter optimizerOps = new PreviewTrainingEmitter();
        for (String op : new String[] {"Adagrad", "Momentum", "Adam"}) {
            m.put(dev.kiln.ir.ops.PreviewTrainingOps.DOMAIN + "." + op, optimizerOps);
        }
        GeneratorEmitter generator = new GeneratorEmitter();
        m.put("Shape", generator);
        m.put("EyeLike", generator);
        m.put("ReverseSequence", new ReverseSequenceEmitter());
        m.put("ConstantOfShape", new FillEmitter());
        m.put("Range", m.get("ConstantOfShape"));
        m.put("OneHot", new OneHotEmitter());
        m.put("Einsum", new EinsumEmitter());
        MomentNormEmitter moments = new MomentNormEmitter();
        m.put("GroupNormalization", moments);
        m.put("MeanVarianceNormalization", moments);
        ControlFlowEmitter controlFlow = new ControlFlowEmitter();
        for (String op : new String[] {"If", "Loop", "Scan"}) {
            m.put(op, controlFlow);
        }
        CopyEmitter copy = new CopyEmitter();
        for (String view : new String[] {"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze"}) {
            m.put(view, copy);
        }
        return m;
    }

    /** The emitter for a node, or an {@link UnsupportedOpException} naming the node and op. */
    static KernelEmitter forNode(Node n) {
        KernelEmitter e = BY_OP.get(n.qualifiedOp());
        if (e == null) {
            throw new UnsupportedOpException(n.describe() + ": op " + n.qualifiedOp()
                    + " has no code generation yet (it runs in the reference evaluator; see docs/CONFORMANCE.md)");
        }
        if (n.op().equals(FusedOps.FUSED_ELEMENTWISE)) {
            Graph body = ((Attr.GraphValue) n.attributes().get("body").orElseThrow()).value();
            body.nodes().forEach(op -> {
                if (!TypedForms.supports(op)) {
                    PointwiseForms.require(op, n);
                }
            });
        }
        return e;
    }

    /** The ops code generation supports, by qualified name. */
    static Set<String> supportedOps() {
        return BY_OP.keySet();
    }
}
