package dev.kiln.ir.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class NumpyRandomTest {
    @Test
    void matchesNumpyLegacySeeding() {
        // np.random.seed(0); np.random.uniform(size=3)
        NumpyRandom r = new NumpyRandom(0);
        assertEquals(0.5488135039273248, r.nextDouble(), 0);
        assertEquals(0.7151893663724195, r.nextDouble(), 0);
        assertEquals(0.6027633760716439, r.nextDouble(), 0);
        // np.random.seed(42); np.random.uniform()
        assertEquals(0.3745401188473625, new NumpyRandom(42).nextDouble(), 0);
    }
}
