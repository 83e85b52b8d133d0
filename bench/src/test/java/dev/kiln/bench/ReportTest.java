package dev.kiln.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The generated section replaces only itself: analysis written around it survives a new run; a run saved before a
 * table existed still renders (its figures as dashes).
 */
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

    @Test
    void runWithoutTrainingResultsRendersTheTrainingTableWithPyTorchsFiguresOnly(@TempDir Path dir) throws Exception {
        Machine machine = new Machine(2, "test cpu", "avx2 fma", "test jdk", "1.0", "0.1 0.1 0.1", "0.2 0.2 0.2");
        SuiteRun empty = new SuiteRun("2025-01-01T00:00", machine, "no measurements", List.of(), Map.of());
        Path md = dir.resolve("BENCHMARKS.md");
        Report.write(empty, md, dir.resolve("ratios.svg"));
        String text = Files.readString(md);
        assertTrue(text.contains("### Training step (batch 64)"), text);
        assertTrue(text.contains("| mlp | ce | `adam:lr=1e-3` | 1 | — | 3,919 | — | — | — |"), text);
        assertTrue(text.contains("| mlp | ce | `adam:lr=1e-3` | 2 | — | — | — | — | — |"), text);
        assertTrue(text.contains("| mnist_cnn | nll | `sgd:lr=0.01,momentum=0.5` | 1 | — | 11,627 | — | — | — |"), text);
        assertTrue(text.contains("Kiln speed-up from 2 threads: mlp —, mnist_cnn —."), text);
    }
}
