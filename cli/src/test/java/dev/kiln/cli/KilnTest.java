package dev.kiln.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.ShapeException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.NoSuchFileException;
import org.junit.jupiter.api.Test;

/** How failures map to exit codes and stderr lines. */
class KilnTest {
    private record Outcome(int code, String err) {}

    private static Outcome handle(Exception e, boolean verbose) {
        StringWriter s = new StringWriter();
        int code = Kiln.handle(e, new PrintWriter(s, true), verbose);
        return new Outcome(code, s.toString());
    }

    @Test
    void userErrorsAreOneLineWithExitCode2() {
        Outcome k = handle(new ShapeException("node 'fc' (Gemm): K mismatch\n  (inputs: A: f32[2,3])"), false);
        assertEquals(2, k.code());
        assertEquals("kiln: node 'fc' (Gemm): K mismatch (inputs: A: f32[2,3])" + System.lineSeparator(), k.err());
        Outcome f = handle(new NoSuchFileException("x.npy"), false);
        assertEquals(2, f.code());
        assertEquals("kiln: no such file or folder: x.npy" + System.lineSeparator(), f.err());
    }

    @Test
    void unexpectedExceptionsAreInternalErrorsWithExitCode1AndTraceUnderVerbose() {
        Outcome quiet = handle(new IllegalStateException("boom"), false);
        assertEquals(1, quiet.code());
        assertTrue(quiet.err().startsWith("kiln: internal error: java.lang.IllegalStateException: boom"), quiet.err());
        assertTrue(!quiet.err().contains("\tat "), "no stack trace without -v: " + quiet.err());
        Outcome verbose = handle(new IllegalStateException("boom"), true);
        assertEquals(1, verbose.code());
        assertTrue(verbose.err().contains("\tat dev.kiln.cli.KilnTest"), verbose.err());
    }
}
