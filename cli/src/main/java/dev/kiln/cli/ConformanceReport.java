package dev.kiln.cli;

import dev.kiln.ir.KilnException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes the Markdown conformance report of a {@code kiln test-onnx --report} run: how it was produced, totals per
 * suite, passed/total per op (a case counts for every op type its model uses), and every failed and skipped case
 * with its reason. The report is deterministic (no dates, no timings), so regenerating it shows real changes only.
 */
public final class ConformanceReport {
    private ConformanceReport() {}

    public static void write(Path file, String command, Tolerance tolerance, List<CaseResult> results) {
        String text = render(command, tolerance, results);
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            Files.writeString(file, text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new KilnException("cannot write report '" + file + "': " + e, e);
        }
    }

    static String render(String command, Tolerance tolerance, List<CaseResult> results) {
        StringBuilder sb = new StringBuilder();
        sb.append("# ONNX conformance of Kiln's reference evaluator\n\n");
        sb.append("Generated — do not edit by hand. Regenerate from the repository root (after `mvn -B -q package -DskipTests`) with\n\n");
        sb.append("```\n./").append(command).append("\n```\n\n");
        sb.append("A case is one ONNX backend test (`model.onnx` plus `test_data_set_*`). It **passes** when every output of every ")
                .append("data set matches: floating outputs within `").append(tolerance.describe())
                .append("` elementwise (ONNX's backend-test tolerance), NaN equal to NaN; integer, bool and string outputs exactly. ")
                .append("It is **skipped** only when the model uses something Kiln does not support (an op, an op mode, an element ")
                .append("type, sequence/optional values, an opset the importer does not read) or when a mismatching output ")
                .append("depends on random draws (Dropout in training mode: the expected values come from NumPy's generator); ")
                .append("any other error is a **failure**. See docs/CLI.md.\n\n");

        ConformanceSummary all = ConformanceSummary.of(results);
        sb.append("## Totals\n\n| Suite | Cases | Passed | Failed | Skipped |\n|---|---:|---:|---:|---:|\n");
        Map<String, List<CaseResult>> bySuite = new TreeMap<>();
        for (CaseResult r : results) {
            bySuite.computeIfAbsent(r.suite(), k -> new ArrayList<>()).add(r);
        }
        bySuite.forEach((suite, rs) -> row(sb, "`" + suite + "`", ConformanceSummary.of(rs)));
        row(sb, "**all**", all);

        sb.append("\n## Per op\n\nCases passed / total among the cases whose model uses the op (a case counts for each op it uses).\n\n")
                .append("| Op | Passed / total | Failed | Skipped |\n|---|---:|---:|---:|\n");
        Map<String, List<CaseResult>> byOp = new TreeMap<>();
        for (CaseResult r : results) {
            for (String op : r.ops()) {
                byOp.computeIfAbsent(op, k -> new ArrayList<>()).add(r);
            }
        }
        byOp.forEach((op, rs) -> {
            ConformanceSummary s = ConformanceSummary.of(rs);
            sb.append("| ").append(op).append(" | ").append(s.passed()).append(" / ").append(s.total())
                    .append(" | ").append(s.failed()).append(" | ").append(s.skipped()).append(" |\n");
        });

        list(sb, "Failed cases", CaseResult.Status.FAIL, results);
        list(sb, "Skipped cases", CaseResult.Status.SKIP, results);
        return sb.toString();
    }

    private static void row(StringBuilder sb, String label, ConformanceSummary s) {
        sb.append("| ").append(label).append(" | ").append(s.total()).append(" | ").append(s.passed()).append(" | ")
                .append(s.failed()).append(" | ").append(s.skipped()).append(" |\n");
    }

    private static void list(StringBuilder sb, String title, CaseResult.Status status, List<CaseResult> results) {
        Map<String, CaseResult> chosen = new LinkedHashMap<>();
        for (CaseResult r : results) {
            if (r.status() == status) {
                chosen.put(r.name(), r);
            }
        }
        sb.append("\n## ").append(title).append(" (").append(chosen.size()).append(")\n\n");
        if (chosen.isEmpty()) {
            sb.append("None.\n");
            return;
        }
        for (CaseResult r : chosen.values()) {
            sb.append("- `").append(r.name()).append("` (").append(String.join(", ", r.ops())).append("): ")
                    .append(r.detail().replace("`", "'")).append('\n');
        }
    }
}
