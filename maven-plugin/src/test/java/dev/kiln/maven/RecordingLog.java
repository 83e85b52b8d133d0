package dev.kiln.maven;

import java.util.ArrayList;
import java.util.List;
import org.apache.maven.plugin.logging.SystemStreamLog;

/** A Maven log that also keeps the info and warning lines, so tests can check what the plugin said it did. */
final class RecordingLog extends SystemStreamLog {
    final List<String> lines = new ArrayList<>();

    @Override
    public void info(CharSequence content) {
        lines.add("INFO " + content);
        super.info(content);
    }

    @Override
    public void warn(CharSequence content) {
        lines.add("WARN " + content);
        super.warn(content);
    }

    boolean contains(String fragment) {
        return lines.stream().anyMatch(l -> l.contains(fragment));
    }
}
