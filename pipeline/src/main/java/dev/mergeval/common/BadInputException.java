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

    /**
     * The first bad-input error in {@code t}'s cause chain, or null: Spark, thread pools and parsers
     * wrap the user's error, whose one-line message is what the user must see.
     */
    public static BadInputException in(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof BadInputException bad) {
                return bad;
            }
        }
        return null;
    }
}
