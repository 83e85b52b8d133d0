package dev.kiln.onnx;

import dev.kiln.ir.KilnException;
import dev.kiln.ir.ModelFormatException;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Reads whole files with errors that name the file, and writes files whole-or-nothing (temp file, then move). */
final class FileIo {
    private FileIo() {}

    /** The bytes of {@code file}; {@code kind} says what the file was meant to be ("ONNX model", "tensor file"). */
    static byte[] readAll(Path file, String kind) {
        if (Files.isDirectory(file)) {
            throw new ModelFormatException(kind + " " + file + " is a directory, not a file");
        }
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(kind + " " + file + " does not exist", e);
        } catch (AccessDeniedException e) {
            throw new ModelFormatException(kind + " " + file + " cannot be read (permission denied)", e);
        } catch (IOException e) {
            throw new ModelFormatException(kind + " " + file + " cannot be read: " + e.getMessage(), e);
        }
    }

    /** Writes {@code data} to {@code out} through a temporary sibling file, so {@code out} is never half-written. */
    static void writeAtomically(Path out, byte[] data) {
        Path target = out.toAbsolutePath();
        Path dir = target.getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, "." + target.getFileName(), ".tmp");
            Files.write(tmp, data);
            try {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new KilnException("cannot write " + out + ": " + e.getMessage(), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // The move already succeeded or the write failed; a leftover temp file is all that remains.
                }
            }
        }
    }
}
