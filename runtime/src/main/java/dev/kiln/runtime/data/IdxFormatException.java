package dev.kiln.runtime.data;

import java.io.IOException;

/** An IDX file that is truncated, corrupted or not IDX at all; the message names the file and what was expected. */
public class IdxFormatException extends IOException {
    public IdxFormatException(String message) { super(message); }

    public IdxFormatException(String message, Throwable cause) { super(message, cause); }
}
