package dev.kiln.ir.ops;

import static dev.kiln.ir.ops.OpCheck.bools;
import static dev.kiln.ir.ops.OpCheck.f32;
import static dev.kiln.ir.ops.OpCheck.i64;
import static dev.kiln.ir.ops.OpCheck.ints;
import static dev.kiln.ir.ops.OpCheck.run;
import static dev.kiln.ir.ops.OpCheck.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.KilnException;
import dev.kiln.ir.ShapeException;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.UnsupportedOpException;
import org.junit.jupiter.api.Test;

class ElementwiseOpsTest {
    @Test
    void addBroadcastsColumnAgainstRow() {
        Tensor y = run("Add", f32(shape(2, 1), 1, 2), f32(10, 20, 30));
        assertArrayEquals(new int[] {2, 3}, y.shape());
        assertArrayEquals(new float[] {11, 21, 31, 12, 22, 32}, y.toFloatArray());
    }

    @Test
    void integerArithmeticWrapsToTheDtype() {
        assertArrayEquals(new long[] {127}, run("Sub", ints(DType.INT8, -128), ints(DType.INT8, 1)).longs());
        assertArrayEquals(new long[] {254}, run("Add", ints(DType.UINT8, 200), ints(DType.UINT8, 54)).longs());
        assertArrayEquals(new long[] {0}, run("Add", ints(DType.UINT8, 200), ints(DType.UINT8, 56)).longs());
        assertArrayEquals(new long[] {-32768}, run("Mul", ints(DType.INT16, 256), ints(DType.INT16, 128)).longs());
    }

    @Test
    void integerDivisionTruncatesTowardZero() {
        Tensor y = run("Div", ints(DType.INT32, 7, -7, 7, -7), ints(DType.INT32, 2, 2, -2, -2));
        assertArrayEquals(new long[] {3, -3, -3, 3}, y.longs());
        // 2^64 - 2 over 2 is 2^63 - 1: UINT64 divides unsigned.
        Tensor u = run("Div", ints(DType.UINT64, -2L), ints(DType.UINT64, 2));
        assertArrayEquals(new long[] {Long.MAX_VALUE}, u.longs());
        assertArrayEquals(new float[] {Float.POSITIVE_INFINITY, 0.5f}, run("Div", f32(1, 1), f32(0, 2)).toFloatArray());
    }

    @Test
    void modFollowsDivisorUnlessFmod() {
        Tensor a = ints(DType.INT32, 5, -5, 5, -5);
        Tensor b = ints(DType.INT32, 3, 3, -3, -3);
        assertArrayEquals(new long[] {2, 1, -1, -2}, run("Mod", a, b).longs());
        Attributes fmod = Attributes.builder().i("fmod", 1).build();
        assertArrayEquals(new long[] {2, -2, 2, -2}, run("Mod", fmod, a, b).longs());
        assertArrayEquals(new float[] {1.5f, -1.5f}, run("Mod", fmod, f32(5.5f, -5.5f), f32(-2, 2)).toFloatArray());
        assertArrayEquals(new long[] {3}, run("Mod", ints(DType.UINT64, -1L), ints(DType.UINT64, 4)).longs());
    }

    @Test
    void powKeepsTheBaseDtype() {
        assertArrayEquals(new float[] {8, 0.25f}, run("Pow", f32(2, 4), i64(3, -1)).toFloatArray());
        Tensor ii = run("Pow", ints(DType.INT32, 2, 3, -2), ints(DType.INT32, 10, 3, 3));
        assertEquals(DType.INT32, ii.dtype());
        assertArrayEquals(new long[] {1024, 27, -8}, ii.longs());
        // A float exponent on an integer base: the real power truncated (sqrt 2 = 1.41 -> 1).
        assertArrayEquals(new long[] {1, 3}, run("Pow", i64(2, 9), f32(0.5f)).longs());
    }

    @Test
    void roundHalvesToEven() {
        Tensor y = run("Round", f32(0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4999f, 2.6f));
        assertArrayEquals(new float[] {0, 2, 2, -0f, -2, 2, 3}, y.toFloatArray());
    }

    @Test
    void signAndAbsRespectUnsignedTypes() {
        assertArrayEquals(new float[] {-1, 0, 1, Float.NaN}, run("Sign", f32(-2, 0, 3, Float.NaN)).toFloatArray());
        assertArrayEquals(new long[] {1, 0}, run("Sign", ints(DType.UINT64, -1L, 0)).longs());
        assertArrayEquals(new long[] {-1L}, run("Abs", ints(DType.UINT64, -1L)).longs());
        assertArrayEquals(new long[] {5, 0}, run("Abs", ints(DType.INT8, -5, 0)).longs());
    }

    @Test
    void negRejectsUnsignedTypes() {
        ShapeException e = assertThrows(ShapeException.class, () -> run("Neg", ints(DType.UINT8, 1)));
        assertTrue(e.getMessage().contains("Neg") && e.getMessage().contains("u8"), e.getMessage());
    }

    @Test
    void mathFunctionsMatchKnownValues() {
        assertEquals(0.5204998778130465, SpecialFunctions.erf(0.5), 1e-15); // a few ulps
        assertEquals(0.8427007929497149, SpecialFunctions.erf(1), 1e-15); // a few ulps
        assertEquals(0.9953222650189527, SpecialFunctions.erf(2), 1e-15); // a few ulps
        assertEquals(-0.9999779095030014, SpecialFunctions.erf(-3), 1e-15); // a few ulps
        assertEquals(0.9999999999984626, SpecialFunctions.erf(5), 1e-15); // a few ulps
        assertEquals(1e-10 * 2 / Math.sqrt(Math.PI), SpecialFunctions.erf(1e-10), 1e-25);
        assertEquals(0.881373587019543, SpecialFunctions.asinh(1), 1e-15);
        assertEquals(-0.881373587019543, SpecialFunctions.asinh(-1), 1e-15);
        assertEquals(1.3169578969248166, SpecialFunctions.acosh(2), 1e-15);
        assertTrue(Double.isNaN(SpecialFunctions.acosh(0.5)));
        assertEquals(0.5493061443340549, SpecialFunctions.atanh(0.5), 1e-15);
        assertEquals(Double.POSITIVE_INFINITY, SpecialFunctions.atanh(1));
        assertEquals(Math.log(2e10), SpecialFunctions.asinh(1e10), 1e-12);
    }

    @Test
    void unaryFloatFunctionsRoundOnceToTheDtype() {
        Tensor y = run("Exp", Tensor.ofDoubles(DType.FLOAT16, new int[] {1}, 1.0));
        // e = 2.71828... is 2.71875 in float16 (10 mantissa bits).
        assertArrayEquals(new double[] {2.71875}, y.doubles());
        assertArrayEquals(new float[] {(float) Math.sqrt(2), Float.NaN}, run("Sqrt", f32(2, -1)).toFloatArray());
    }

    @Test
    void isInfHonoursDetectedSigns() {
        Tensor x = f32(Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, 1);
        assertArrayEquals(new boolean[] {true, true, false, false}, run("IsInf", x).bools());
        Attributes posOnly = Attributes.builder().i("detect_negative", 0).build();
        assertArrayEquals(new boolean[] {false, true, false, false}, run("IsInf", posOnly, x).bools());
        assertArrayEquals(new boolean[] {false, false, true, false}, run("IsNaN", x).bools());
    }

    @Test
    void variadicOpsBroadcastAllInputs() {
        Tensor s = run("Sum", f32(shape(2, 1), 1, 2), f32(10, 20), Tensor.scalarFloat(100));
        assertArrayEquals(new float[] {111, 121, 112, 122}, s.toFloatArray());
        assertArrayEquals(new float[] {2, 3}, run("Mean", f32(1, 2), f32(3, 4), f32(2, 3)).toFloatArray());
        assertArrayEquals(new float[] {2, Float.NaN}, run("Max", f32(1, Float.NaN), f32(2, 0)).toFloatArray());
        assertArrayEquals(new float[] {1, Float.NaN}, run("Min", f32(1, Float.NaN), f32(2, 0)).toFloatArray());
        assertArrayEquals(new long[] {-1L, 7}, run("Max", ints(DType.UINT64, -1L, 3), ints(DType.UINT64, 1, 7)).longs());
        assertArrayEquals(new float[] {4, 5}, run("Max", f32(4, 5)).toFloatArray());
    }

    @Test
    void clipWithoutBoundsIsTheIdentityAndMinAboveMaxGivesMax() {
        Tensor x = f32(-3, 0.5f, 7, Float.NaN);
        assertArrayEquals(x.toFloatArray(), run("Clip", x).toFloatArray());
        assertArrayEquals(new float[] {-1, 0.5f, 7, Float.NaN},
                run("Clip", x, Tensor.scalarFloat(-1)).toFloatArray());
        assertArrayEquals(new float[] {-3, 0.5f, 2, Float.NaN},
                run("Clip", x, null, Tensor.scalarFloat(2)).toFloatArray());
        assertArrayEquals(new float[] {1, 1, 1, Float.NaN},
                run("Clip", x, Tensor.scalarFloat(2), Tensor.scalarFloat(1)).toFloatArray());
        Tensor i8 = ints(DType.INT8, -128, 0, 127);
        assertArrayEquals(new long[] {-128, 0, 5}, run("Clip", i8, null, Tensor.scalarLong(DType.INT8, 5)).longs());
    }

    @Test
    void whereBroadcastsThreeWays() {
        Tensor cond = Tensor.wrapBools(new int[] {2, 1}, new boolean[] {true, false});
        Tensor y = run("Where", cond, f32(1, 2, 3), Tensor.scalarFloat(0));
        assertArrayEquals(new int[] {2, 3}, y.shape());
        assertArrayEquals(new float[] {1, 2, 3, 0, 0, 0}, y.toFloatArray());
        Tensor s = run("Where", bools(true, false), Tensor.wrapStrings(new int[] {2}, new String[] {"a", "b"}),
                Tensor.wrapStrings(new int[] {2}, new String[] {"c", "d"}));
        assertArrayEquals(new String[] {"a", "d"}, s.strings());
    }

    @Test
    void comparisonsAreFalseOnNaNAndExactOnIntegers() {
        Tensor a = f32(1, Float.NaN, 3);
        Tensor b = f32(2, Float.NaN, 3);
        assertArrayEquals(new boolean[] {true, false, false}, run("Less", a, b).bools());
        assertArrayEquals(new boolean[] {true, false, true}, run("LessOrEqual", a, b).bools());
        assertArrayEquals(new boolean[] {false, false, true}, run("Equal", a, b).bools());
        assertArrayEquals(new boolean[] {false, false, true}, run("GreaterOrEqual", a, b).bools());
        // 2^53 + 1 and 2^53 are equal as doubles but not as int64.
        assertArrayEquals(new boolean[] {true}, run("Greater", i64((1L << 53) + 1), i64(1L << 53)).bools());
        assertArrayEquals(new boolean[] {true}, run("Greater", ints(DType.UINT64, -1L), ints(DType.UINT64, 1)).bools());
        Tensor s1 = Tensor.wrapStrings(new int[] {2}, new String[] {"x", "y"});
        Tensor s2 = Tensor.wrapStrings(new int[] {}, new String[] {"y"});
        assertArrayEquals(new boolean[] {false, true}, run("Equal", s1, s2).bools());
        assertThrows(ShapeException.class, () -> run("Less", s1, s2));
    }

    @Test
    void logicAndBitwiseOps() {
        Tensor p = bools(true, true, false, false);
        Tensor q = bools(true, false, true, false);
        assertArrayEquals(new boolean[] {true, false, false, false}, run("And", p, q).bools());
        assertArrayEquals(new boolean[] {true, true, true, false}, run("Or", p, q).bools());
        assertArrayEquals(new boolean[] {false, true, true, false}, run("Xor", p, q).bools());
        assertArrayEquals(new boolean[] {false, false, true, true}, run("Not", p).bools());
        Attributes left = Attributes.builder().s("direction", "LEFT").build();
        Attributes right = Attributes.builder().s("direction", "RIGHT").build();
        Tensor x = ints(DType.UINT8, 1, 255, 1, 128);
        Tensor n = ints(DType.UINT8, 7, 1, 8, 7);
        assertArrayEquals(new long[] {128, 254, 0, 0}, run("BitShift", left, x, n).longs());
        assertArrayEquals(new long[] {0, 127, 0, 1}, run("BitShift", right, x, n).longs());
        assertArrayEquals(new long[] {255, 254}, run("BitwiseNot", ints(DType.UINT8, 0, 1)).longs());
        assertArrayEquals(new long[] {-1, -2}, run("BitwiseNot", ints(DType.INT32, 0, 1)).longs());
        assertArrayEquals(new long[] {0b1000}, run("BitwiseAnd", ints(DType.INT16, 0b1100), ints(DType.INT16, 0b1010)).longs());
        assertArrayEquals(new long[] {0b1110}, run("BitwiseOr", ints(DType.INT16, 0b1100), ints(DType.INT16, 0b1010)).longs());
        assertArrayEquals(new long[] {0b0110}, run("BitwiseXor", ints(DType.INT16, 0b1100), ints(DType.INT16, 0b1010)).longs());
    }

    @Test
    void castTruncatesWrapsAndParses() {
        Attributes toI32 = Attributes.builder().i("to", DType.INT32.onnxCode()).build();
        assertArrayEquals(new long[] {1, -1, 0}, run("Cast", toI32, f32(1.9f, -1.9f, Float.NaN)).longs());
        Attributes toU8 = Attributes.builder().i("to", DType.UINT8.onnxCode()).build();
        assertArrayEquals(new long[] {44, 255}, run("Cast", toU8, i64(300, -1)).longs());
        Attributes toF32 = Attributes.builder().i("to", DType.FLOAT32.onnxCode()).build();
        Tensor strings = Tensor.wrapStrings(new int[] {3}, new String[] {"3.5", "-INF", "NaN"});
        assertArrayEquals(new float[] {3.5f, Float.NEGATIVE_INFINITY, Float.NaN},
                run("Cast", toF32, strings).toFloatArray());
        Attributes toBool = Attributes.builder().i("to", DType.BOOL.onnxCode()).build();
        assertArrayEquals(new boolean[] {false, false, true, true},
                run("Cast", toBool, f32(0, -0f, 2, Float.NaN)).bools());
        Attributes toF16 = Attributes.builder().i("to", DType.FLOAT16.onnxCode()).i("saturate", 0).build();
        // float16 has 10 mantissa bits: 1.0001 rounds to 1, 2049 to 2048 (ties to even).
        assertArrayEquals(new double[] {1, 2048},
                run("Cast", toF16, Tensor.ofDoubles(DType.FLOAT64, new int[] {2}, 1.0001, 2049)).doubles());
        assertArrayEquals(new float[] {2.5f},
                run("CastLike", Tensor.ofDoubles(DType.FLOAT64, new int[] {1}, 2.5), f32(0)).toFloatArray());
        Attributes toComplex = Attributes.builder().i("to", 14).build();
        UnsupportedOpException e = assertThrows(UnsupportedOpException.class, () -> run("Cast", toComplex, f32(1)));
        assertTrue(e.getMessage().contains("14"), e.getMessage());
    }

    @Test
    void castToFloat8HonoursSaturateAndFloat8e8m0ItsRoundMode() {
        Tensor x = f32(1000, Float.NEGATIVE_INFINITY, 0.3f, Float.NaN, -1e-7f);
        Attributes saturating = Attributes.builder().i("to", DType.FLOAT8E4M3FN.onnxCode()).build();
        assertArrayEquals(new double[] {448, -448, 0.3125, Double.NaN, -0.0}, run("Cast", saturating, x).doubles());
        Attributes wrapping = Attributes.builder().i("to", DType.FLOAT8E5M2.onnxCode()).i("saturate", 0).build();
        assertArrayEquals(new double[] {1024, Double.NEGATIVE_INFINITY, 0.3125, Double.NaN, -0.0},
                run("Cast", wrapping, x).doubles());
        Attributes fnuz = Attributes.builder().i("to", DType.FLOAT8E4M3FNUZ.onnxCode()).i("saturate", 0).build();
        assertArrayEquals(new double[] {Double.NaN, Double.NaN, 0.3125, Double.NaN, 0.0}, run("Cast", fnuz, x).doubles());
        Tensor y = f32(3, 0.75f);
        Attributes down = Attributes.builder().i("to", DType.FLOAT8E8M0.onnxCode()).s("round_mode", "down").build();
        assertArrayEquals(new double[] {2, 0.5}, run("Cast", down, y).doubles());
        Attributes up = Attributes.builder().i("to", DType.FLOAT8E8M0.onnxCode()).build();
        assertArrayEquals(new double[] {4, 1}, run("Cast", up, y).doubles());
        assertArrayEquals(new double[] {4, 1}, run("CastLike", Attributes.builder().build(), y,
                Tensor.ofDoubles(DType.FLOAT8E8M0, new int[] {1}, 1)).doubles());
        Attributes bad = Attributes.builder().i("to", DType.FLOAT8E8M0.onnxCode()).s("round_mode", "sideways").build();
        assertThrows(KilnException.class, () -> run("Cast", bad, y));
        // From float8 to wider types every value is exact; into int4 values truncate and wrap.
        Tensor f8 = Tensor.ofDoubles(DType.FLOAT8E4M3FN, new int[] {3}, -448, 0x1p-9, 9);
        Attributes toF32 = Attributes.builder().i("to", DType.FLOAT32.onnxCode()).build();
        assertArrayEquals(new float[] {-448, 0x1p-9f, 9}, run("Cast", toF32, f8).toFloatArray());
        Attributes toI4 = Attributes.builder().i("to", DType.INT4.onnxCode()).build();
        assertArrayEquals(new long[] {0, 0, -7}, run("Cast", toI4, f8).longs());
    }

    @Test
    void bitCastReadsTheSameBitsAsAnotherTypeOfTheSameWidth() {
        Attributes toI32 = Attributes.builder().i("to", DType.INT32.onnxCode()).build();
        assertArrayEquals(new long[] {0x3F800000L, Float.floatToRawIntBits(-2f)}, run("BitCast", toI32, f32(1, -2)).longs());
        Attributes toF16 = Attributes.builder().i("to", DType.FLOAT16.onnxCode()).build();
        Tensor halves = run("BitCast", toF16, Tensor.ofLongs(DType.UINT16, new int[] {2}, 0x3C00, 0xC000));
        assertArrayEquals(new double[] {1, -2}, halves.doubles());
        Attributes toU8 = Attributes.builder().i("to", DType.UINT8.onnxCode()).build();
        assertArrayEquals(new long[] {255, 1}, run("BitCast", toU8, Tensor.ofLongs(DType.INT8, new int[] {2}, -1, 1)).longs());
        ShapeException e = assertThrows(ShapeException.class, () -> run("BitCast", toI32,
                Tensor.ofDoubles(DType.FLOAT64, new int[] {1}, 1)));
        assertTrue(e.getMessage().contains("FLOAT64 (8 bytes) to INT32 (4 bytes)") || e.getMessage().contains("8 bytes"),
                e.getMessage());
    }
}
