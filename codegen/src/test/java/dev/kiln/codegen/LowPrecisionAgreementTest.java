package dev.kiln.codegen;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.ir.DType;
import dev.kiln.ir.MiniFloat;
import dev.kiln.ir.ScaleFloat;
import dev.kiln.runtime.LowPrecision;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;

/**
 * Generated code's float8/float4/float8e8m0 rounding ({@link LowPrecision}, in the runtime) agrees bit for bit with
 * the reference evaluator's ({@link MiniFloat}, {@link ScaleFloat}), two implementations written apart: on every
 * value of each format, the midpoints between neighbours and their neighbours, specials, and random numbers.
 */
class LowPrecisionAgreementTest {

    @Test
    void float8AndFloat4RoundingAgrees() {
        check(MiniFloat.E4M3FN, LowPrecision::toFloat8E4M3FN);
        check(MiniFloat.E4M3FNUZ, LowPrecision::toFloat8E4M3FNUZ);
        check(MiniFloat.E5M2, LowPrecision::toFloat8E5M2);
        check(MiniFloat.E5M2FNUZ, LowPrecision::toFloat8E5M2FNUZ);
        check(MiniFloat.E2M1, (v, saturate) -> LowPrecision.toFloat4E2M1(v));
    }

    @Test
    void float8e8m0RoundingAgrees() {
        List<Double> probes = new ArrayList<>(specials());
        for (int e = -130; e <= 130; e++) {
            for (double m : new double[] {1, 1.25, 1.5, Math.nextDown(1.5), 1.75, Math.nextDown(2.0)}) {
                probes.add(Math.scalb(m, e));
                probes.add(-Math.scalb(m, e));
            }
        }
        for (double v : probes) {
            for (boolean saturate : new boolean[] {false, true}) {
                for (ScaleFloat.RoundMode mode : ScaleFloat.RoundMode.values()) {
                    float expected = (float) ScaleFloat.round(v, saturate, mode);
                    float actual = LowPrecision.toFloat8E8M0(v, saturate, LowPrecision.RoundMode.valueOf(mode.name()));
                    assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(actual), v + " " + mode);
                }
            }
        }
    }

    @Test
    void subByteIntegerWrapsAgree() {
        for (long v = -40; v <= 40; v++) {
            assertEquals(DType.INT4.wrap(v), LowPrecision.toInt4(v));
            assertEquals(DType.UINT4.wrap(v), LowPrecision.toUint4(v));
            assertEquals(DType.INT2.wrap(v), LowPrecision.toInt2(v));
            assertEquals(DType.UINT2.wrap(v), LowPrecision.toUint2(v));
        }
    }

    private static void check(MiniFloat f, BiFunction<Double, Boolean, Float> runtime) {
        List<Double> probes = new ArrayList<>(specials());
        int n = 1 << f.bits();
        for (int bits = 0; bits < n; bits++) {
            double v = f.fromBits(bits);
            double next = f.fromBits(bits + 1 < n ? bits + 1 : bits);
            probes.add(v);
            if (Double.isFinite(v) && Double.isFinite(next)) {
                double mid = (v + next) / 2;
                probes.addAll(List.of(mid, Math.nextUp(mid), Math.nextDown(mid), (double) Math.nextUp((float) mid),
                        (double) Math.nextDown((float) mid)));
            }
        }
        Random random = new Random(17);
        for (int i = 0; i < 20_000; i++) {
            probes.add((double) Float.intBitsToFloat(random.nextInt()));
            probes.add(random.nextGaussian() * f.max());
        }
        for (double v : probes) {
            for (boolean saturate : new boolean[] {false, true}) {
                float expected = (float) f.round(v, saturate);
                float actual = runtime.apply(v, saturate);
                assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(actual), f + " " + v + " " + saturate);
            }
        }
    }

    private static List<Double> specials() {
        return List.of(0.0, -0.0, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.MIN_VALUE,
                -Double.MIN_VALUE, Double.MAX_VALUE, 1e-45, 1e38, -1e38);
    }
}
