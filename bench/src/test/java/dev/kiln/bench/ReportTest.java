package dev.kiln.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The generated section replaces only itself: analysis written around it survives a new run. */
class ReportTest {
    private static final String SECTION = "## measured\n| a | b |\n";

    @Test
    void newFileGetsTitleAndSection() {
        assertEquals("# Benchmarks\n\n" + Report.BEGIN + "\n" + SECTION + Report.END + "\n", Report.merge("", SECTION));
    }

    @Test
    void existingSectionIsReplacedAndTheRestKept() {
        String old = "# Benchmarks\n\nintro\n" + Report.BEGIN + "\nold figures\n" + Report.END + "\n\n## Notes\nkept\n";
        String merged = Report.merge(old, SECTION);
        assertEquals("# Benchmarks\n\nintro\n" + Report.BEGIN + "\n" + SECTION + Report.END + "\n\n## Notes\nkept\n",
                merged);
    }

    @Test
    void documentWithoutMarkersKeepsItsTextBelowTheSection() {
        String old = "# Benchmarks\n\n## Preliminary GEMM figures\n| x |\n";
        String merged = Report.merge(old, SECTION);
        assertTrue(merged.startsWith("# Benchmarks\n\n" + Report.BEGIN + "\n" + SECTION + Report.END + "\n\n"), merged);
        assertTrue(merged.endsWith("## Preliminary GEMM figures\n| x |\n"), merged);
    }

    @Test
    void numbersHaveAboutThreeSignificantFigures() {
        assertEquals("0.473", Report.num(0.4731));
        assertEquals("37.6", Report.num(37.63));
        assertEquals("1,262", Report.num(1261.6));
        assertEquals("—", Report.num(Double.NaN));
    }
}
