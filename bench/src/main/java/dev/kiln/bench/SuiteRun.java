package dev.kiln.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import org.openjdk.jmh.results.RunResult;

/**
 * Everything one run of the suite measured, with when, where and how: the input of {@link Report}. Saved next
 * to the build output so the report can be rendered again without measuring again.
 *
 * @param date ISO date and time the suite started
 * @param machine what it ran on
 * @param settings forks and iterations, as one sentence for the report
 * @param results every JMH result of the run
 */
public record SuiteRun(String date, Machine machine, String settings, List<RunResult> results) implements Serializable {
    public SuiteRun {
        Objects.requireNonNull(date);
        Objects.requireNonNull(machine);
        Objects.requireNonNull(settings);
        results = List.copyOf(results);
    }

    public void save(Path file) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        try (OutputStream out = Files.newOutputStream(file); ObjectOutputStream oos = new ObjectOutputStream(out)) {
            oos.writeObject(this);
        }
    }

    public static SuiteRun load(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file); ObjectInputStream ois = new ObjectInputStream(in)) {
            return (SuiteRun) ois.readObject();
        } catch (ClassNotFoundException | ClassCastException e) {
            throw new IOException(file + " does not hold a saved suite run: " + e.getMessage(), e);
        }
    }
}
