package dev.mergeval.common;

/**
 * Bad input or configuration supplied by the user: a malformed file, an unknown key, a tensor that
 * does not fit. The message is one line that names the file, tensor or key; the CLI prints it
 * without a stack trace and exits with status 2.
 */
public class BadInputException extends RuntimeException {
    public BadInputException(String message) {
        super(message);
    }

    public BadInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
