package dev.kiln.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import org.junit.jupiter.api.Test;

class DotWriterTest {
    @Test
    void drawsInputsNodesOutputsAndTypedEdges() {
        GraphBuilder b = new GraphBuilder("g");
        Value x = b.input("x", DType.FLOAT32, Shape.parse("N,4"));
        Value w = b.initializer("w", Tensor.ofFloats(new int[] {4}, 1, 2, 3, 4));
        Value s = b.op("Add").name("add \"1\"").inputs(x, w).outputNames("sum").output();
        Value y = b.op("Relu").inputs(s).outputNames("y").output();
        b.output(y);
        Graph g = b.build();
        assertEquals("""
                digraph "g" {
                  rankdir=TB;
                  node [fontname="Helvetica", fontsize=10];
                  edge [fontname="Helvetica", fontsize=9];
                  in0 [shape=ellipse, style=filled, fillcolor="#dde8f5", label="x\\nf32[N,4]"];
                  n0 [shape=box, style=rounded, label="Add\\nadd \\"1\\"\\nw: f32[4]"];
                  in0 -> n0 [label="x\\nf32[N,4]"];
                  n1 [shape=box, style=rounded, label="Relu"];
                  n0 -> n1 [label="sum\\nf32[N,4]"];
                  out0 [shape=ellipse, style=filled, fillcolor="#e3f2dc", label="y\\nf32[N,4]"];
                  n1 -> out0;
                }
                """, DotWriter.toDot(g));
    }
}
