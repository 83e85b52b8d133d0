package dev.kiln.runtime.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link PanelScratch#transpose} against the definition, on shapes around its four-row step, with offsets and strides. */
class PanelScratchTest {

    @Test
    void transposeWritesEveryElementWhereTheDefinitionPutsItAndNothingElse() {
        Random r = new Random(31);
        for (int rows : new int[] {0, 1, 3, 4, 5, 8, 13}) {
            for (int cols : new int[] {1, 2, 7, 16, 33}) {
                int sOff = r.nextInt(4);
                int lds = cols + r.nextInt(3);
                int dOff = r.nextInt(4);
                int ldd = rows + r.nextInt(3);
                float[] src = new float[sOff + rows * lds];
                for (int i = 0; i < src.length; i++) {
                    src[i] = r.nextFloat();
                }
                float[] got = new float[dOff + cols * ldd + 2];
                Arrays.fill(got, -1f);
                float[] want = got.clone();
                for (int i = 0; i < rows; i++) {
                    for (int j = 0; j < cols; j++) {
                        want[dOff + j * ldd + i] = src[sOff + i * lds + j];
                    }
                }
                PanelScratch.transpose(rows, cols, src, sOff, lds, got, dOff, ldd);
                for (int i = 0; i < want.length; i++) {
                    assertEquals(want[i], got[i], rows + "x" + cols + " at " + i);
                }
            }
        }
    }
}
