package dev.kiln.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One short in-process iteration of each kind of benchmark (mlp, batch 1, one thread; mlp's training step at one
 * thread; one GEMM shape), through the whole path to the report: the harness, the benchmarks' set-up and the
 * report run. Times are not checked, only that each figure was measured and rendered.
 */
class SuiteSmokeTest {
    @Test
    void quickRunWritesTheReportAndChart(@TempDir Path dir) throws Exception {
        // JMH refuses to start while another JMH run on the machine holds /tmp/jmh.lock; a one-iteration
        // smoke run measures nothing that a concurrent run could spoil.
        System.setProperty("jmh.ignoreLock", "true");
        Path md = dir.resolve("BENCHMARKS.md");
        Path svg = dir.resolve("ratios.svg");
        Suite.main(new String[] {"--quick", "--out", md.toString(), "--svg", svg.toString(),
            "--results", dir.resolve("results.ser").toString()});
        String text = Files.readString(md);
        assertTrue(text.contains(Report.BEGIN) && text.contains(Report.END), text);
        // the mlp batch-1 one-thread row: Kiln, ORT prealloc and from array times, then their ratios
        Pattern row = Pattern.compile("\\| 1 \\| 1 \\| [\\d,.]+( \\(±\\d+ %\\))? \\| [\\d,.]+( \\(±\\d+ %\\))? "
                + "\\| [\\d,.]+( \\(±\\d+ %\\))? \\| \\*\\*[\\d,.]+\\*\\* \\| \\*\\*[\\d,.]+\\*\\* \\|");
        assertTrue(row.matcher(text).find(), text);
        assertTrue(text.contains("| 64x784x512 | 1 | "), text);
        // the training step of mlp at one thread: Kiln's time, PyTorch's figure from MACHINE.md, their ratio, B/call
        Pattern train = Pattern.compile("\\| mlp \\| ce \\| `adam:lr=1e-3` \\| 1 \\| [\\d,.]+( \\(±\\d+ %\\))? "
                + "\\| 3,919 \\| \\*\\*[\\d,.]+\\*\\* \\| [\\d,.]+ \\|");
        assertTrue(train.matcher(text).find(), text);
        assertTrue(Pattern.compile("Reference evaluator, batch 1: [\\d,.]+ µs").matcher(text).find(), text);
        DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(svg.toFile()); // well-formed
        assertTrue(Files.readString(svg).contains("<rect"), "chart has bars");
    }
}
