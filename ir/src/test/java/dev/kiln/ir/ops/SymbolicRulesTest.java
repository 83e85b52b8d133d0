package dev.kiln.ir.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.OpDef;
import dev.kiln.ir.OpTable;
import dev.kiln.ir.Shape;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The symbolic rules that keep shape-tensor arithmetic as dims ({@code Mul(Gather(Shape(x), 0), 320) = 320*N}). */
class SymbolicRulesTest {
    private static final Dim N = Dim.sym("N");

    /** Values whose elements are known as dims, as type inference would know them after Shape(x). */
    private final Map<Value, List<Dim>> known = new IdentityHashMap<>();
    private final Map<Value, Tensor> constants = new IdentityHashMap<>();

    private Value dims(Shape shape, Dim... elements) {
        Value v = new Value("d" + known.size(), new TensorType(DType.INT64, shape));
        known.put(v, List.of(elements));
        return v;
    }

    private Optional<List<Dim>> apply(String op, Attributes attrs, Value... inputs) {
        OpDef def = OpTable.get().find("", op).orElseThrow();
        ShapeContext ctx = new ShapeContext(def, op + " node", attrs, List.of(inputs), 1,
                new ShapeContext.ConstantLookup() {
                    public Optional<Tensor> constant(Value v) { return Optional.ofNullable(constants.get(v)); }

                    public Optional<List<Dim>> dims(Value v) { return Optional.ofNullable(known.get(v)); }
                });
        return def.symbolicRule().orElseThrow().apply(ctx);
    }

    private Optional<List<Dim>> apply(String op, Value... inputs) {
        return apply(op, Attributes.EMPTY, inputs);
    }

    @Test
    void arithmeticOnShapeTensorsStaysSymbolic() {
        Value batch = dims(Shape.SCALAR, N);
        Value c320 = dims(Shape.SCALAR, Dim.of(320));
        assertEquals(Optional.of(List.of(N.times(320))), apply("Mul", batch, c320));
        Value total = dims(Shape.of(1), N.times(320));
        assertEquals(Optional.of(List.of(N)), apply("Div", total, c320));
        Value seven = dims(Shape.SCALAR, Dim.of(7));
        assertTrue(apply("Div", total, seven).isEmpty(), "320*N / 7 is not a monomial");
        assertEquals(Optional.of(List.of(Dim.of(3))), apply("Div", seven, dims(Shape.SCALAR, Dim.of(2))));
        assertEquals(Optional.of(List.of(N.times(2))), apply("Add", batch, batch));
        assertTrue(apply("Add", batch, seven).isEmpty(), "N + 7 is not a monomial");
        assertEquals(Optional.of(List.of(Dim.of(0))), apply("Sub", batch, batch));
        assertTrue(apply("Sub", seven, dims(Shape.SCALAR, Dim.of(8))).isEmpty(), "dims are never negative");
    }

    @Test
    void oneElementOperandsBroadcastOverAShapeVector() {
        Value shape = dims(Shape.of(3), N, Dim.of(4), Dim.of(5));
        Value two = dims(Shape.of(1), Dim.of(2));
        assertEquals(Optional.of(List.of(N.times(2), Dim.of(8), Dim.of(10))), apply("Mul", shape, two));
    }

    @Test
    void integerCastsAndProductsKeepDims() {
        Value shape = dims(Shape.of(3), N, Dim.of(4), Dim.of(5));
        Attributes toI32 = Attributes.builder().i("to", DType.INT32.onnxCode()).build();
        assertEquals(Optional.of(List.of(N, Dim.of(4), Dim.of(5))), apply("Cast", toI32, shape));
        Attributes toF32 = Attributes.builder().i("to", DType.FLOAT32.onnxCode()).build();
        assertTrue(apply("Cast", toF32, shape).isEmpty());
        Attributes drop = Attributes.builder().i("keepdims", 0).build();
        assertEquals(Optional.of(List.of(N.times(20))), apply("ReduceProd", drop, shape));
    }

    @Test
    void whereWithAConstantConditionPicksDims() {
        Value target = dims(Shape.of(2), N, Dim.of(0));
        Value fallback = dims(Shape.of(2), Dim.of(7), Dim.of(320));
        Value cond = new Value("cond", new TensorType(DType.BOOL, Shape.of(2)));
        constants.put(cond, Tensor.wrapBools(new int[] {2}, new boolean[] {true, false}));
        assertEquals(Optional.of(List.of(N, Dim.of(320))), apply("Where", cond, target, fallback));
    }
}
