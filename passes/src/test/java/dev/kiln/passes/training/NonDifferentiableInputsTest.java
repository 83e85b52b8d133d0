package dev.kiln.passes.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.Value;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Float initializers that feed only inputs the op table declares non-differentiable (Dropout's ratio, Clip's
 * bounds, ...) stay constants of the training graph; the others are parameters as before.
 */
class NonDifferentiableInputsTest {
    private static Tensor scalar(double v) {
        return Tensor.wrapDoubles(DType.FLOAT64, new int[0], new double[] {v});
    }

    @Test
    void theOpTableDeclaresConfigurationOperands() {
        OpDef dropout = OpTable.get().require("", "Dropout", "test");
        assertTrue(dropout.isDifferentiable(0));
        assertFalse(dropout.isDifferentiable(1));
        OpDef bn = OpTable.get().require("", "BatchNormalization", "test");
        assertTrue(bn.isDifferentiable(1) && bn.isDifferentiable(2));
        assertFalse(bn.isDifferentiable(3) || bn.isDifferentiable(4));
        assertThrows(IllegalArgumentException.class, () -> OpDef.builder("Bad").doc("d").inputs("X", "Y")
                .outputs("Z").nonDifferentiable("W").shape(ctx -> List.of()).eval(ctx -> List.of()).build());
    }

    @Test
    void aDropoutRatioInitializerIsAConstantNotAParameter() {
        Graph g = GradTesting.graph(b -> {
            Value x = b.input("x", DType.FLOAT64, Shape.parse("N,4"));
            Value w = b.initializer("w", GradTesting.random(1, -1, 1, 4));
            Value h = b.op("Mul").inputs(x, w).output();
            Value training = b.initializer("training", Tensor.wrapBools(new int[0], new boolean[] {true}));
            return b.op("Dropout").inputs(h, b.initializer("ratio", scalar(0.25)), training).attr("seed", 3).output();
        });
        TrainingGraph tg = Autodiff.build(g, TrainingSpec.of(Loss.MSE));
        assertEquals(List.of("w"), List.copyOf(tg.parameters().keySet()));
        assertTrue(tg.graph().initializers().keySet().stream().anyMatch(v -> v.name().equals("ratio")));
        GradTesting.assertGradients(g);
    }

    @Test
    void clipBoundsAndPadValueInitializersStayConstants() {
        Graph g = GradTesting.graph(b -> {
            Value x = b.input("x", DType.FLOAT64, Shape.parse("N,4"));
            Value w = b.initializer("w", GradTesting.random(1, -2, 2, 4));
            Value h = b.op("Mul").inputs(x, w).output();
            Value clipped = b.op("Clip").inputs(h, b.initializer("lo", scalar(-0.5)), b.initializer("hi", scalar(0.5)))
                    .output();
            return b.op("Pad").inputs(clipped, b.initializer("pads", Tensor.ofInt64s(0, 1, 0, 2)),
                    b.initializer("fill", scalar(0.25))).output();
        });
        TrainingGraph tg = Autodiff.build(g, TrainingSpec.of(Loss.MSE));
        assertEquals(List.of("w"), List.copyOf(tg.parameters().keySet()));
        GradTesting.assertGradients(g);
    }
}
