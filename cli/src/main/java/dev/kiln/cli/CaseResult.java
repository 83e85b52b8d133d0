package dev.kiln.cli;

import java.nio.file.Path;
import java.util.Objects;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * The outcome of one ONNX backend test case.
 *
 * @param suite the folder holding the case (e.g. {@code node}), used to group totals
 * @param name {@code suite/case}, how output lines and reports name the case
 * @param dir the case folder
 * @param status pass, fail or skip
 * @param detail empty for a pass; why it failed or was skipped otherwise (one line)
 * @param ops the op types used by the case's model (empty if the model could not be read)
 */
public record CaseResult(String suite, String name, Path dir, Status status, String detail, SortedSet<String> ops) {
    /** PASS: every output within tolerance; FAIL: a wrong result or an error; SKIP: something Kiln does not support. */
    public enum Status { PASS, FAIL, SKIP }

    public CaseResult {
        Objects.requireNonNull(suite);
        Objects.requireNonNull(name);
        Objects.requireNonNull(dir);
        Objects.requireNonNull(status);
        Objects.requireNonNull(detail);
        ops = new TreeSet<>(ops);
    }

    /** {@code PASS node/test_abs} or {@code FAIL node/test_x: <detail>}. */
    public String line() {
        return status + " " + name + (detail.isEmpty() ? "" : ": " + detail);
    }
}
