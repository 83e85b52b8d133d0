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

    /**
     * @param results the reference evaluator's results
     * @param generated the same cases through generated code (empty when not run)
     */
    public static void write(Path file, String command, Tolerance tolerance, List<CaseResult> results,
                             List<CaseResult> generated) {
        String text = render(command, tolerance, results, generated);
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
        return render(command, tolerance, results, List.of());
    }

    static String render(String command, Tolerance tolerance, List<CaseResult> results, List<CaseResult> generated) {
        StringBuilder sb = new StringBuilder();
        sb.append(generated.isEmpty() ? "# ONNX conformance of Kiln's reference evaluator\n\n"
                : "# ONNX conformance of Kiln: reference evaluator and generated code\n\n");
        sb.append("Generated — do not edit by hand. Regenerate from the repository root (after `mvn -B -q package -DskipTests`) with\n\n");
        sb.append("```\n./").append(command).append("\n```\n\n");
        sb.append("A case is one ONNX backend test (`model.onnx` plus `test_data_set_*`). It **passes** when every output of every ")
                .append("data set matches: floating outputs within `").append(tolerance.describe())
                .append("` elementwise (ONNX's backend-test tolerance; for an output of DFT or STFT the absolute part is at least ")
                .append("1e-6 x the largest expected magnitude, since float32 expected data carries rounding noise of that size ")
                .append("in bins that are exactly zero), NaN equal to NaN; integer, bool and string outputs exactly. ")
                .append("It is **skipped** only when the model uses something Kiln does not support (an op, an op mode, an element ")
                .append("type, a map or sparse value, an opset the importer does not read) or when a mismatching output ")
                .append("depends on random draws (Dropout in training mode, the Random* ops, Bernoulli: the expected values come ")
                .append("from NumPy's generator); ")
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

        if (!generated.isEmpty()) {
            generatedSection(sb, results, generated);
        }
        list(sb, "Failed cases", CaseResult.Status.FAIL, results);
        list(sb, "Skipped cases", CaseResult.Status.SKIP, results);
        return sb.toString();
    }

    /** Totals through generated code, and the cases the reference passes that generated code does not yet. */
    private static void generatedSection(StringBuilder sb, List<CaseResult> reference, List<CaseResult> generated) {
        sb.append("\n## Through generated code\n\nThe same cases compiled to Java (`--backend codegen`), compiled in process ")
                .append("and run; a case is skipped when code generation does not handle one of its ops or element types yet.\n\n")
                .append("| Suite | Cases | Passed (reference) | Passed (codegen) | Failed (codegen) | Skipped (codegen) |\n")
                .append("|---|---:|---:|---:|---:|---:|\n");
        Map<String, List<CaseResult>> refBySuite = new TreeMap<>();
        reference.forEach(r -> refBySuite.computeIfAbsent(r.suite(), k -> new ArrayList<>()).add(r));
        Map<String, List<CaseResult>> genBySuite = new TreeMap<>();
        generated.forEach(r -> genBySuite.computeIfAbsent(r.suite(), k -> new ArrayList<>()).add(r));
        genBySuite.forEach((suite, rs) -> {
            ConformanceSummary g = ConformanceSummary.of(rs);
            ConformanceSummary r = ConformanceSummary.of(refBySuite.getOrDefault(suite, List.of()));
            sb.append("| `").append(suite).append("` | ").append(g.total()).append(" | ").append(r.passed()).append(" | ")
                    .append(g.passed()).append(" | ").append(g.failed()).append(" | ").append(g.skipped()).append(" |\n");
        });
        ConformanceSummary g = ConformanceSummary.of(generated);
        sb.append("| **all** | ").append(g.total()).append(" | ").append(ConformanceSummary.of(reference).passed())
                .append(" | ").append(g.passed()).append(" | ").append(g.failed()).append(" | ").append(g.skipped()).append(" |\n");
        Map<String, Integer> gaps = new TreeMap<>();
        Map<String, CaseResult> genByName = new LinkedHashMap<>();
        generated.forEach(r -> genByName.put(r.name(), r));
        for (CaseResult r : reference) {
            CaseResult c = genByName.get(r.name());
            if (r.status() == CaseResult.Status.PASS && c != null && c.status() != CaseResult.Status.PASS) {
                // One row per kind of reason: node names and shapes are dropped.
                String why = c.detail().replaceAll(".*?op ([A-Za-z.]+) has no code generation.*", "no emitter for $1")
                        .replaceAll(".*which depends on values known only at run time.*",
                                "a shape depends on input values (shape, axes, sizes or scales given as a graph input)")
                        .replaceAll(".*code generation of ([A-Za-z.]+) handles float32 tensors only.*",
                                "$1 on non-float32 tensors")
                        .replaceAll("^.*? node producing '[^']*': ", "");
                gaps.merge(why.length() > 80 ? why.substring(0, 80) + "..." : why, 1, Integer::sum);
            }
        }
        if (gaps.isEmpty()) {
            sb.append("\nEvery case the reference evaluator passes also passes through generated code.\n");
            return;
        }
        sb.append("\nCases the reference evaluator passes but generated code does not yet, by reason:\n\n")
                .append("| Reason | Cases |\n|---|---:|\n");
        gaps.entrySet().stream().sorted((a, b) -> b.getValue() - a.getValue())
                .forEach(e -> sb.append("| ").append(e.getKey().replace("|", "\\|")).append(" | ").append(e.getValue())
                        .append(" |\n"));
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
