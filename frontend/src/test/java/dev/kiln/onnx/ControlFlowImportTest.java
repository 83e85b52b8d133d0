package dev.kiln.onnx;

import static dev.kiln.onnx.TestModels.i;
import static dev.kiln.onnx.TestModels.model;
import static dev.kiln.onnx.TestModels.valueInfo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attr;
import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphPrinter;
import dev.kiln.ir.Node;
import dev.kiln.ir.ReferenceEvaluator;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import dev.kiln.onnx.proto.Onnx.AttributeProto;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Bodies refer to outer values by name, at any depth; the importer makes them closed graphs whose captures are the
 * node's trailing operands, and the exporter gives them back their outer references.
 */
class ControlFlowImportTest {
    private static AttributeProto graph(String name, GraphProto g) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.GRAPH).setG(g).build();
    }

    private static NodeProto node(String op, List<String> in, List<String> out, AttributeProto... attrs) {
        return NodeProto.newBuilder().setOpType(op).addAllInput(in).addAllOutput(out).addAllAttribute(List.of(attrs))
                .build();
    }

    /**
     * acc = 0; repeat twice: acc = c ? acc + x : acc - x, where the If's branches (two scopes down) read the model's
     * inputs x and c and the loop's carried acc (one scope down).
     */
    private static byte[] nestedModel() {
        GraphProto then = GraphProto.newBuilder().setName("then")
                .addNode(node("Add", List.of("acc_in", "x"), List.of("plus")))
                .addOutput(valueInfo("plus", DType.FLOAT32)).build();
        GraphProto otherwise = GraphProto.newBuilder().setName("else")
                .addNode(node("Sub", List.of("acc_in", "x"), List.of("minus")))
                .addOutput(valueInfo("minus", DType.FLOAT32)).build();
        GraphProto body = GraphProto.newBuilder().setName("body")
                .addInput(valueInfo("i", DType.INT64)).addInput(valueInfo("cond_in", DType.BOOL))
                .addInput(valueInfo("acc_in", DType.FLOAT32, 2L))
                .addNode(node("Identity", List.of("cond_in"), List.of("cond_out")))
                .addNode(node("If", List.of("c"), List.of("acc_out"), graph("then_branch", then),
                        graph("else_branch", otherwise)))
                .addOutput(valueInfo("cond_out", DType.BOOL)).addOutput(valueInfo("acc_out", DType.FLOAT32, 2L)).build();
        return model(16).input("x", DType.FLOAT32, 2L).input("c", DType.BOOL)
                .init("m", Tensor.scalarLong(DType.INT64, 2)).init("zero", Tensor.ofFloats(new int[] {2}, 0, 0))
                .node(node("Loop", List.of("m", "", "zero"), List.of("acc"), graph("body", body)))
                .output("acc").bytes();
    }

    private static Map<String, Tensor> run(Graph g, boolean c) {
        return ReferenceEvaluator.run(g, Map.of("x", Tensor.ofFloats(new int[] {2}, 1, 2),
                "c", Tensor.wrapBools(new int[0], new boolean[] {c})));
    }

    @Test
    void outerValuesAtAnyDepthBecomeCapturedOperands() {
        Graph g = OnnxImporter.load(nestedModel(), "nested.onnx", Path.of("."));
        Node loop = g.nodes().get(0);
        // zero is the carried operand; c and x, which the body uses, are captured (in order of first use).
        assertEquals(List.of("m", "", "zero", "c", "x"), loop.inputs().stream().map(Value::name).toList());
        assertEquals(new Attr.Int(2), loop.attributes().get("captures").orElseThrow());
        Graph body = ((Attr.GraphValue) loop.attributes().get("body").orElseThrow()).value();
        assertEquals(List.of("i", "cond_in", "acc_in", "c", "x"), body.inputs().stream().map(Value::name).toList());
        Node inner = body.nodes().stream().filter(n -> n.op().equals("If")).findFirst().orElseThrow();
        // Both branches take every value either captures: acc_in and x.
        assertEquals(List.of("c", "acc_in", "x"), inner.inputs().stream().map(Value::name).toList());
        assertEquals(Tensor.ofFloats(new int[] {2}, 2, 4), run(g, true).get("acc"));
        assertEquals(Tensor.ofFloats(new int[] {2}, -2, -4), run(g, false).get("acc"));
    }

    @Test
    void exportGivesBodiesTheirOuterReferencesBack() {
        Graph g = OnnxImporter.load(nestedModel(), "nested.onnx", Path.of("."));
        byte[] exported = OnnxExporter.toBytes(g);
        Graph again = OnnxImporter.load(exported, "again.onnx", Path.of("."));
        assertEquals(GraphPrinter.print(g), GraphPrinter.print(again));
        assertEquals(run(g, true), run(again, true));
    }

    @Test
    void scanOfOpset8RunsItsBodyPerBatchElement() {
        GraphProto body = GraphProto.newBuilder().setName("sum")
                .addInput(valueInfo("s_in", DType.FLOAT32, 2L)).addInput(valueInfo("row", DType.FLOAT32, 2L))
                .addNode(node("Add", List.of("s_in", "row"), List.of("s_out")))
                .addNode(node("Identity", List.of("s_out"), List.of("partial")))
                .addOutput(valueInfo("s_out", DType.FLOAT32, 2L)).addOutput(valueInfo("partial", DType.FLOAT32, 2L))
                .build();
        Graph g = model(8).input("s0", DType.FLOAT32, 2L, 2L).input("x", DType.FLOAT32, 2L, 3L, 2L)
                .node(node("Scan", List.of("", "s0", "x"), List.of("s", "partials"), graph("body", body),
                        i("num_scan_inputs", 1)))
                .output("s").output("partials").load();
        assertTrue(GraphPrinter.print(g).contains("= Loop("), GraphPrinter.print(g));
        Tensor x = Tensor.ofFloats(new int[] {2, 3, 2}, 1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60);
        Map<String, Tensor> out = ReferenceEvaluator.run(g, Map.of("s0", Tensor.ofFloats(new int[] {2, 2}, 0, 0, 1, 1),
                "x", x));
        assertEquals(Tensor.ofFloats(new int[] {2, 2}, 9, 12, 91, 121), out.get("s"));
        assertEquals(Tensor.ofFloats(new int[] {2, 3, 2}, 1, 2, 4, 6, 9, 12, 11, 21, 41, 61, 91, 121),
                out.get("partials"));
    }
}
