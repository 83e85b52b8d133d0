package dev.kiln.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** The Markdown report: command, totals per suite, per-op counts, failed and skipped lists. */
class ConformanceReportTest {
    private static CaseResult result(String suite, String c, CaseResult.Status s, String detail, String... ops) {
        return new CaseResult(suite, suite + "/" + c, Path.of(suite, c), s, detail, new TreeSet<>(Set.of(ops)));
    }

    @Test
    void countsPerSuiteAndPerOp() {
        List<CaseResult> results = List.of(
                result("node", "test_add", CaseResult.Status.PASS, "", "Add"),
                result("node", "test_add_bcast", CaseResult.Status.FAIL, "output 0 'c': max abs error 1", "Add"),
                result("node", "test_frob", CaseResult.Status.SKIP, "unsupported op 'Frob'", "Frob", "Add"),
                result("simple", "test_relu", CaseResult.Status.PASS, "", "Relu"));
        String md = ConformanceReport.render("kiln test-onnx --report r.md node simple", Tolerance.ONNX_BACKEND, results);
        assertTrue(md.contains("```\n./kiln test-onnx --report r.md node simple\n```"), md);
        assertTrue(md.contains("| `node` | 3 | 1 | 1 | 1 |"), md);
        assertTrue(md.contains("| `simple` | 1 | 1 | 0 | 0 |"), md);
        assertTrue(md.contains("| **all** | 4 | 2 | 1 | 1 |"), md);
        assertTrue(md.contains("| Add | 1 / 3 | 1 | 1 |"), md);
        assertTrue(md.contains("| Frob | 0 / 1 | 0 | 1 |"), md);
        assertTrue(md.contains("## Failed cases (1)\n\n- `node/test_add_bcast` (Add): output 0 'c': max abs error 1"), md);
        assertTrue(md.contains("## Skipped cases (1)\n\n- `node/test_frob` (Add, Frob): unsupported op 'Frob'"), md);
        assertTrue(md.contains("1e-7 + 0.001 * |expected|"), md);
    }
}
