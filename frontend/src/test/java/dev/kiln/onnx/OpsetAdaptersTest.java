package dev.kiln.onnx;

import static dev.kiln.onnx.TestModels.f;
import static dev.kiln.onnx.TestModels.floats;
import static dev.kiln.onnx.TestModels.i;
import static dev.kiln.onnx.TestModels.ints;
import static dev.kiln.onnx.TestModels.iota;
import static dev.kiln.onnx.TestModels.model;
import static dev.kiln.onnx.TestModels.s;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphPrinter;
import dev.kiln.ir.KilnException;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.UnsupportedOpException;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Old-opset op forms, built as old exporters wrote them, import as the canonical forms with the old semantics. */
class OpsetAdaptersTest {
    private static Map<String, Tensor> run(Graph g, String name, Tensor x) {
        return ReferenceEvaluator.run(g, Map.of(name, x));
    }

    private static NodeProto.Builder node(String op, String name, List<String> in, List<String> out) {
        return NodeProto.newBuilder().setOpType(op).setName(name).addAllInput(in).addAllOutput(out);
    }

    @Test
    void squeezeAxesAttributeBecomesAConstantInput() {
        Graph g = model(11).input("x", DType.FLOAT32, 1L, 3L, 1L, 2L)
                .node(node("Squeeze", "sq", List.of("x"), List.of("y")).addAttribute(ints("axes", 0, 2)).build())
                .output("y").load();
        assertEquals("""
                graph test(%x: f32[1,3,1,2]) -> (%y: f32[3,2])
                  init %sq_axes: i64[2] = [0,2]
                  %y: f32[3,2] = Squeeze(%x, %sq_axes)  # sq
                  return %y
                """, GraphPrinter.print(g));
        Tensor x = iota(0, 1, 3, 1, 2);
        assertArrayEquals(x.toFloatArray(), run(g, "x", x).get("y").toFloatArray());
    }

    @Test
    void canonicalFormsPassUnchanged() {
        Graph g = model(13).input("x", DType.FLOAT32, 1L, 3L).init("axes", Tensor.ofInt64s(0))
                .node("Squeeze", List.of("x", "axes"), List.of("y")).output("y").load();
        assertEquals("""
                graph test(%x: f32[1,3]) -> (%y: f32[3])
                  init %axes: i64[1] = [0]
                  %y: f32[3] = Squeeze(%x, %axes)
                  return %y
                """, GraphPrinter.print(g));
    }

    @Test
    void unsqueezeAxesAttributeBecomesAConstantInput() {
        Graph g = model(11).input("x", DType.FLOAT32, 2L, 3L)
                .node("Unsqueeze", List.of("x"), List.of("y"), ints("axes", 0, 3)).output("y").load();
        assertEquals("f32[1,2,3,1]", g.outputs().get(0).type().toString());
        assertTrue(GraphPrinter.print(g).contains("init %unsqueeze_axes: i64[2] = [0,3]"), GraphPrinter.print(g));
    }

    @Test
    void splitAttributeBecomesAnInput() {
        Graph g = model(11).input("x", DType.FLOAT32, 2L, 3L)
                .node("Split", List.of("x"), List.of("a", "b"), i("axis", 1), ints("split", 1, 2))
                .output("a").output("b").load();
        Map<String, Tensor> out = run(g, "x", iota(0, 2, 3));
        assertArrayEquals(new float[] {0, 3}, out.get("a").toFloatArray());
        assertArrayEquals(new float[] {1, 2, 4, 5}, out.get("b").toFloatArray());
        assertEquals("f32[2,2]", g.outputs().get(1).type().toString());
    }

    @Test
    void clipAttributesBecomeInputsWithTheOldDefaults() {
        Tensor x = Tensor.ofFloats(new int[] {4}, -3f, 0.5f, 5f, Float.POSITIVE_INFINITY);
        Graph both = model(7).input("x", DType.FLOAT32, 4L)
                .node("Clip", List.of("x"), List.of("y"), f("min", -1f), f("max", 2f)).output("y").load();
        assertArrayEquals(new float[] {-1f, 0.5f, 2f, 2f}, run(both, "x", x).get("y").toFloatArray());
        // Clip-6's absent max was FLT_MAX, which clamps +inf (newer Clip without max leaves it).
        Graph minOnly = model(7).input("x", DType.FLOAT32, 4L)
                .node("Clip", List.of("x"), List.of("y"), f("min", 0f)).output("y").load();
        assertArrayEquals(new float[] {0f, 0.5f, 5f, Float.MAX_VALUE}, run(minOnly, "x", x).get("y").toFloatArray());
    }

    @Test
    void padAttributesBecomeInputs() {
        Graph constant = model(10).input("x", DType.FLOAT32, 1L, 2L)
                .node("Pad", List.of("x"), List.of("y"), ints("pads", 0, 1, 0, 2), f("value", 9f)).output("y").load();
        assertEquals("f32[1,5]", constant.outputs().get(0).type().toString());
        assertArrayEquals(new float[] {9, 1, 2, 9, 9},
                run(constant, "x", Tensor.ofFloats(new int[] {1, 2}, 1, 2)).get("y").toFloatArray());
        Graph reflect = model(10).input("x", DType.FLOAT32, 1L, 3L)
                .node("Pad", List.of("x"), List.of("y"), ints("pads", 0, 2, 0, 0), s("mode", "reflect")).output("y")
                .load();
        assertArrayEquals(new float[] {3, 2, 1, 2, 3},
                run(reflect, "x", Tensor.ofFloats(new int[] {1, 3}, 1, 2, 3)).get("y").toFloatArray());
    }

    @Test
    void sliceAttributesBecomeInputs() {
        Graph g = model(9).input("x", DType.FLOAT32, 2L, 4L)
                .node("Slice", List.of("x"), List.of("y"), ints("starts", 1), ints("ends", 3), ints("axes", 1))
                .output("y").load();
        assertEquals("f32[2,2]", g.outputs().get(0).type().toString());
        assertArrayEquals(new float[] {1, 2, 5, 6}, run(g, "x", iota(0, 2, 4)).get("y").toFloatArray());
        Graph noAxes = model(9).input("x", DType.FLOAT32, 2L, 4L)
                .node("Slice", List.of("x"), List.of("y"), ints("starts", 1, 0), ints("ends", 2, -1)).output("y").load();
        assertArrayEquals(new float[] {4, 5, 6}, run(noAxes, "x", iota(0, 2, 4)).get("y").toFloatArray());
    }

    @Test
    void reduceAxesAttributesBecomeInputs() {
        Graph sum = model(11).input("x", DType.FLOAT32, 2L, 3L)
                .node("ReduceSum", List.of("x"), List.of("y"), ints("axes", 1), i("keepdims", 0)).output("y").load();
        assertEquals("f32[2]", sum.outputs().get(0).type().toString());
        assertArrayEquals(new float[] {3, 12}, run(sum, "x", iota(0, 2, 3)).get("y").toFloatArray());
        Graph mean = model(13).input("x", DType.FLOAT32, 2L, 3L)
                .node("ReduceMean", List.of("x"), List.of("y"), ints("axes", 0)).output("y").load();
        assertEquals("f32[1,3]", mean.outputs().get(0).type().toString());
        assertArrayEquals(new float[] {1.5f, 2.5f, 3.5f}, run(mean, "x", iota(0, 2, 3)).get("y").toFloatArray());
        Graph all = model(13).input("x", DType.FLOAT32, 2L, 3L)
                .node("ReduceMax", List.of("x"), List.of("y"), i("keepdims", 0)).output("y").load();
        assertArrayEquals(new float[] {5}, run(all, "x", iota(0, 2, 3)).get("y").toFloatArray());
    }

    @Test
    void oldSoftmaxCoercesToTwoDimensions() {
        Graph g = model(11).input("x", DType.FLOAT32, "N", 2L, 3L)
                .node("Softmax", List.of("x"), List.of("y")).output("y").load();
        assertEquals("f32[N,2,3]", g.outputs().get(0).type().toString());
        Tensor x = iota(-2, 2, 2, 3);
        float[] y = run(g, "x", x).get("y").toFloatArray();
        // axis=1 (the old default): each batch row's six values form one distribution.
        for (int b = 0; b < 2; b++) {
            double sum = 0;
            for (int k = 0; k < 6; k++) {
                sum += Math.exp(k - 5);
            }
            for (int k = 0; k < 6; k++) {
                assertEquals(Math.exp(k - 5) / sum, y[b * 6 + k], 1e-6);
            }
        }
        String text = GraphPrinter.print(g);
        assertTrue(text.contains("= Flatten(%x) {axis=1}") && text.contains("= Shape(%x)")
                && text.contains("%y: f32[N,2,3] = Reshape("), text);
    }

    @Test
    void oldSoftmaxOnTheLastAxisNeedsNoReshape() {
        Graph g = model(12).input("x", DType.FLOAT32, 2L, 3L)
                .node("LogSoftmax", List.of("x"), List.of("y")).output("y").load();
        assertEquals("""
                graph test(%x: f32[2,3]) -> (%y: f32[2,3])
                  %y: f32[2,3] = LogSoftmax(%x) {axis=1}
                  return %y
                """, GraphPrinter.print(g));
        float[] y = run(g, "x", iota(0, 2, 3)).get("y").toFloatArray();
        double lse = Math.log(Math.exp(0) + Math.exp(1) + Math.exp(2));
        assertEquals(-lse, y[0], 1e-6);
        assertEquals(2 - lse, y[2], 1e-6);
    }

    @Test
    void oldHardmaxCoercesToTwoDimensions() {
        Graph g = model(11).input("x", DType.FLOAT32, 2L, 2L, 2L)
                .node("Hardmax", List.of("x"), List.of("y"), i("axis", 1)).output("y").load();
        Tensor x = Tensor.ofFloats(new int[] {2, 2, 2}, 1, 9, 3, 4, 8, 2, 7, 1);
        // Per batch the 4 values are one row: the max is 9 (batch 0, index 1) and 8 (batch 1, index 0).
        assertArrayEquals(new float[] {0, 1, 0, 0, 1, 0, 0, 0}, run(g, "x", x).get("y").toFloatArray());
    }

    @Test
    void dropoutRatioBecomesAnInputAndOldMasksKeepTheInputType() {
        Graph seven = model(7).input("x", DType.FLOAT32, 4L)
                .node("Dropout", List.of("x"), List.of("y", "mask"), f("ratio", 0.3f)).output("y").output("mask").load();
        assertEquals("f32[4]", seven.outputs().get(1).type().toString());
        Map<String, Tensor> out = run(seven, "x", iota(1, 4));
        assertArrayEquals(new float[] {1, 2, 3, 4}, out.get("y").toFloatArray());
        assertArrayEquals(new float[] {1, 1, 1, 1}, out.get("mask").toFloatArray());
        Graph ten = model(10).input("x", DType.FLOAT32, 4L)
                .node("Dropout", List.of("x"), List.of("y", "mask"), f("ratio", 0.3f)).output("y").output("mask").load();
        assertEquals(DType.BOOL, ten.outputs().get(1).dtype());
        assertTrue(GraphPrinter.print(ten).contains("init %dropout_ratio: f32[] = [0.3]"), GraphPrinter.print(ten));
    }

    @Test
    void batchNormSpatialForms() {
        Tensor scale = Tensor.ofFloats(new int[] {2}, 2, 3);
        Tensor bias = Tensor.ofFloats(new int[] {2}, 1, -1);
        Tensor mean = Tensor.ofFloats(new int[] {2}, 0.5f, 1);
        Tensor var = Tensor.ofFloats(new int[] {2}, 4, 9);
        Graph spatial = model(7).input("x", DType.FLOAT32, 1L, 2L, 1L, 1L)
                .init("s", scale).init("b", bias).init("m", mean).init("v", var)
                .node("BatchNormalization", List.of("x", "s", "b", "m", "v"), List.of("y"), i("spatial", 1),
                        f("epsilon", 0f))
                .output("y").load();
        // (x - mean) / sqrt(var) * scale + B per channel: (2.5-0.5)/2*2+1 = 3, (4-1)/3*3-1 = 2.
        assertArrayEquals(new float[] {3, 2},
                run(spatial, "x", Tensor.ofFloats(new int[] {1, 2, 1, 1}, 2.5f, 4)).get("y").toFloatArray(), 1e-6f);
        Tensor s2 = Tensor.ofFloats(new int[] {2, 2}, 1, 2, 3, 4);
        Tensor z = Tensor.ofFloats(new int[] {2, 2}, 0, 0, 0, 0);
        Tensor one = Tensor.ofFloats(new int[] {2, 2}, 1, 1, 1, 1);
        Graph perActivation = model(8).input("x", DType.FLOAT32, 1L, 2L, 2L)
                .init("s", s2).init("b", z).init("m", one).init("v", one)
                .node("BatchNormalization", List.of("x", "s", "b", "m", "v"), List.of("y"), i("spatial", 0),
                        f("epsilon", 0f))
                .output("y").load();
        // Each activation has its own statistics: (x - 1) / 1 * s.
        assertArrayEquals(new float[] {0, 2, 6, 12},
                run(perActivation, "x", Tensor.ofFloats(new int[] {1, 2, 2}, 1, 2, 3, 4)).get("y").toFloatArray(),
                1e-6f);
    }

    @Test
    void batchNormTrainingOutputsBeforeOpset14AreRefused() {
        TestModels.Model m = model(9).input("x", DType.FLOAT32, 1L, 2L)
                .init("s", Tensor.ofFloats(new int[] {2}, 1, 1)).init("b", Tensor.ofFloats(new int[] {2}, 0, 0))
                .node(node("BatchNormalization", "bn", List.of("x", "s", "b", "b", "s"),
                        List.of("y", "mean", "var", "", "")).build())
                .output("y");
        KilnException e = assertThrows(KilnException.class, m::load);
        assertTrue(e.getMessage().contains("test.onnx: node 'bn' (BatchNormalization) (opset 9): the training-mode outputs"),
                e.getMessage());
        Graph inference = model(9).input("x", DType.FLOAT32, 1L, 2L)
                .init("s", Tensor.ofFloats(new int[] {2}, 1, 1)).init("b", Tensor.ofFloats(new int[] {2}, 0, 0))
                .node("BatchNormalization", List.of("x", "s", "b", "b", "s"), List.of("y", "", "", "", ""))
                .output("y").load();
        assertEquals(1, inference.nodes().get(0).outputs().size());
    }

    @Test
    void upsampleBecomesResizeOrFailsClearly() {
        TestModels.Model m = model(9).input("x", DType.FLOAT32, 1L, 1L, 2L, 2L)
                .init("scales", Tensor.ofFloats(new int[] {4}, 1, 1, 2, 2))
                .node(node("Upsample", "up", List.of("x", "scales"), List.of("y")).build()).output("y");
        if (OpTable.get().find("", "Resize").isEmpty()) {
            UnsupportedOpException e = assertThrows(UnsupportedOpException.class, m::load);
            assertEquals("test.onnx: unsupported op 'Upsample' (domain 'ai.onnx', opset 9) used by node 'up' (Upsample); "
                    + "Kiln rewrites it to Resize, which the op table does not have", e.getMessage());
        } else {
            Graph g = m.load();
            assertArrayEquals(new float[] {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4},
                    run(g, "x", Tensor.ofFloats(new int[] {1, 1, 2, 2}, 1, 2, 3, 4)).get("y").toFloatArray());
        }
    }

    @Test
    void topKAttributeBecomesAnInput() {
        Graph g = model(9).input("x", DType.FLOAT32, 1L, 4L)
                .node("TopK", List.of("x"), List.of("v", "i"), i("k", 2)).output("v").output("i").load();
        Map<String, Tensor> out = run(g, "x", Tensor.ofFloats(new int[] {1, 4}, 1, 4, 2, 3));
        assertArrayEquals(new float[] {4, 3}, out.get("v").toFloatArray());
        assertArrayEquals(new long[] {1, 3}, out.get("i").longs());
    }

    @Test
    void constantValueAttributesBecomeTensors() {
        Graph g = model(13).input("x", DType.FLOAT32, 2L)
                .node("Constant", List.of(), List.of("c"), f("value_float", 2.5f))
                .node("Constant", List.of(), List.of("shape"), ints("value_ints", 2, 1))
                .node("Add", List.of("x", "c"), List.of("s"))
                .node("Reshape", List.of("s", "shape"), List.of("y")).output("y").load();
        assertEquals("f32[2,1]", g.outputs().get(0).type().toString());
        assertTrue(GraphPrinter.print(g).contains("%c: f32[] = Constant() {value=f32[]}"), GraphPrinter.print(g));
        assertArrayEquals(new float[] {3.5f, 4.5f},
                run(g, "x", Tensor.ofFloats(new int[] {2}, 1, 2)).get("y").toFloatArray());
    }

    @Test
    void scatterBecomesScatterElements() {
        Graph g = model(9).input("x", DType.FLOAT32, 1L, 3L)
                .init("idx", Tensor.ofLongs(DType.INT64, new int[] {1, 1}, 2))
                .init("upd", Tensor.ofFloats(new int[] {1, 1}, 7))
                .node("Scatter", List.of("x", "idx", "upd"), List.of("y"), i("axis", 1)).output("y").load();
        assertEquals("ScatterElements", g.nodes().get(0).op());
        assertArrayEquals(new float[] {0, 1, 7}, run(g, "x", iota(0, 1, 3)).get("y").toFloatArray());
    }

    @Test
    void adapterNamesNeverCollideWithModelNames() {
        // The model itself defines "sq_axes" after the Squeeze that needs a constant of that name.
        Graph g = model(11).input("x", DType.FLOAT32, 1L, 2L)
                .node(node("Squeeze", "sq", List.of("x"), List.of("y")).addAttribute(ints("axes", 0)).build())
                .node("Relu", List.of("y"), List.of("sq_axes")).output("sq_axes").load();
        assertTrue(GraphPrinter.print(g).contains("init %sq_axes_1: i64[1] = [0]"), GraphPrinter.print(g));
    }

    @Test
    void upsampleWithScalesAttribute() {
        // Upsample-7 carried the scales as an attribute; the rewrite makes it a constant either way.
        TestModels.Model m = model(7).input("x", DType.FLOAT32, 1L, 1L, 2L, 2L)
                .node("Upsample", List.of("x"), List.of("y"), floats("scales", 1, 1, 2, 2)).output("y");
        if (OpTable.get().find("", "Resize").isEmpty()) {
            assertThrows(UnsupportedOpException.class, m::load);
        } else {
            assertEquals("f32[1,1,4,4]", m.load().outputs().get(0).type().toString());
        }
    }

    @Test
    void legacyBroadcastAlignsTheSecondOperandAtItsAxis() {
        // Add-6: B of shape [3] broadcast along axis 1 of A [2,3,2], i.e. B becomes [3,1] for numpy rules.
        Graph g = model(6).input("a", DType.FLOAT32, 2L, 3L, 2L).init("b", Tensor.ofFloats(new int[] {3}, 10, 20, 30))
                .node("Add", List.of("a", "b"), List.of("y"), i("broadcast", 1), i("axis", 1)).output("y").load();
        assertEquals("f32[2,3,2]", g.outputs().get(0).type().toString());
        assertArrayEquals(new float[] {10, 11, 22, 23, 34, 35, 16, 17, 28, 29, 40, 41},
                run(g, "a", iota(0, 2, 3, 2)).get("y").toFloatArray());
        // Without an axis the operand matches A's trailing dims, as numpy does.
        Graph suffix = model(6).input("a", DType.FLOAT32, 2L, 3L).init("b", Tensor.ofFloats(new int[] {3}, 1, 2, 3))
                .node("Mul", List.of("a", "b"), List.of("y"), i("broadcast", 1)).output("y").load();
        assertArrayEquals(new float[] {0, 2, 6, 3, 8, 15}, run(suffix, "a", iota(0, 2, 3)).get("y").toFloatArray());
    }

    @Test
    void preOpset6FormsAreRewritten() {
        Graph g = model(3).input("x", DType.FLOAT32, 2L, 3L)
                .node("Relu", List.of("x"), List.of("r"), ints("consumed_inputs", 0))
                .node("Reshape", List.of("r"), List.of("flat"), ints("shape", 6))
                .node("Cast", List.of("flat"), List.of("c"), s("to", "DOUBLE"))
                .node("Concat", List.of("x", "x"), List.of("cat"))
                .output("c").output("cat").load();
        assertEquals("f64[6]", g.outputs().get(0).type().toString());
        assertEquals("f32[2,6]", g.outputs().get(1).type().toString());
        Map<String, Tensor> out = run(g, "x", iota(-1, 2, 3));
        assertArrayEquals(new double[] {0, 0, 1, 2, 3, 4}, out.get("c").doubles());
        Graph pad = model(1).input("x", DType.FLOAT32, 1L, 2L)
                .node("Pad", List.of("x"), List.of("y"), ints("paddings", 0, 1, 0, 0)).output("y").load();
        assertArrayEquals(new float[] {0, 1, 2}, run(pad, "x", Tensor.ofFloats(new int[] {1, 2}, 1, 2)).get("y")
                .toFloatArray());
    }

    @Test
    void labelEncoderOpset1ClassesMapStringsToIndicesAndBack() {
        dev.kiln.onnx.proto.Onnx.AttributeProto classes = dev.kiln.onnx.proto.Onnx.AttributeProto.newBuilder()
                .setName("classes_strings").setType(dev.kiln.onnx.proto.Onnx.AttributeProto.AttributeType.STRINGS)
                .addStrings(com.google.protobuf.ByteString.copyFromUtf8("cat"))
                .addStrings(com.google.protobuf.ByteString.copyFromUtf8("dog")).build();
        TestModels.Model toIds = model(13).input("x", DType.STRING, 3L)
                .node(node("LabelEncoder", "enc", List.of("x"), List.of("y")).setDomain("ai.onnx.ml")
                        .addAttribute(classes).addAttribute(i("default_int64", 9)).build())
                .output("y");
        toIds.model.addOpsetImport(dev.kiln.onnx.proto.Onnx.OperatorSetIdProto.newBuilder().setDomain("ai.onnx.ml")
                .setVersion(1));
        Tensor ids = run(toIds.load(), "x", Tensor.wrapStrings(new int[] {3}, new String[] {"dog", "cow", "cat"}))
                .get("y");
        assertArrayEquals(new long[] {1, 9, 0}, ids.longs());
        TestModels.Model toNames = model(13).input("x", DType.INT64, 3L)
                .node(node("LabelEncoder", "dec", List.of("x"), List.of("y")).setDomain("ai.onnx.ml")
                        .addAttribute(classes).build())
                .output("y");
        toNames.model.addOpsetImport(dev.kiln.onnx.proto.Onnx.OperatorSetIdProto.newBuilder().setDomain("ai.onnx.ml")
                .setVersion(1));
        Tensor names = run(toNames.load(), "x", Tensor.ofInt64s(1, 5, 0)).get("y");
        assertArrayEquals(new String[] {"dog", "_Unused", "cat"}, names.strings());
    }
}
