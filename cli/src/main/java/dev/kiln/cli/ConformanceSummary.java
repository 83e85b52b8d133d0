package dev.kiln.cli;

import java.util.Collection;

/**
 * Counts of passed, failed and skipped cases.
 *
 * @param passed cases whose every output matched
 * @param failed cases with a wrong output or an error
 * @param skipped cases using something Kiln does not support
 */
public record ConformanceSummary(int passed, int failed, int skipped) {
    public static ConformanceSummary of(Collection<CaseResult> results) {
        int p = 0;
        int f = 0;
        int s = 0;
        for (CaseResult r : results) {
            switch (r.status()) {
                case PASS -> p++;
                case FAIL -> f++;
                case SKIP -> s++;
            }
        }
        return new ConformanceSummary(p, f, s);
    }

    public int total() { return passed + failed + skipped; }

    /** Exactly {@code N passed, M failed, K skipped}: the last line of {@code kiln test-onnx}, which scripts parse. */
    public String line() {
        return passed + " passed, " + failed + " failed, " + skipped + " skipped";
    }
}
