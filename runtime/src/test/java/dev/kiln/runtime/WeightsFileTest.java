package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WeightsFileTest {
    private static Map<String, float[]> sample() {
        Map<String, float[]> m = new LinkedHashMap<>();
        m.put("fc1.weight", new float[] {1.5f, -2f, Float.MIN_VALUE, Float.NaN});
        m.put("empty", new float[0]);
        float[] big = new float[70_000];
        for (int i = 0; i < big.length; i++) {
            big[i] = i * 0.25f;
        }
        m.put("big", big);
        return m;
    }

    @Test
    void roundTripsNamesOrderAndBits() {
        Map<String, float[]> back = WeightsFile.read(WeightsFile.write(sample()), "t.weights");
        assertEquals(java.util.List.of("fc1.weight", "empty", "big"), java.util.List.copyOf(back.keySet()));
        sample().forEach((k, v) -> assertArrayEquals(v, back.get(k), k));
    }

    @Test
    void refusesTruncatedCorruptedAndForeignFiles() {
        byte[] good = WeightsFile.write(sample());
        WeightsException cut = assertThrows(WeightsException.class,
                () -> WeightsFile.read(Arrays.copyOf(good, good.length / 2), "Net.weights"));
        assertTrue(cut.getMessage().contains("Net.weights") && cut.getMessage().contains("checksum mismatch"),
                cut.getMessage());
        byte[] flipped = good.clone();
        flipped[100] ^= 1;
        assertTrue(assertThrows(WeightsException.class, () -> WeightsFile.read(flipped, "Net.weights")).getMessage()
                .contains("checksum mismatch"));
        byte[] foreign = good.clone();
        foreign[0] = 'X';
        assertTrue(assertThrows(WeightsException.class, () -> WeightsFile.read(foreign, "x")).getMessage()
                .contains("bad magic"));
        assertTrue(assertThrows(WeightsException.class, () -> WeightsFile.read(new byte[3], "tiny")).getMessage()
                .contains("truncated"));
    }

    @Test
    void missingResourceNamesIt() {
        WeightsException e = assertThrows(WeightsException.class,
                () -> WeightsFile.readResource(WeightsFileTest.class, "Nope.weights"));
        assertTrue(e.getMessage().contains("dev/kiln/runtime/Nope.weights"), e.getMessage());
    }
}
