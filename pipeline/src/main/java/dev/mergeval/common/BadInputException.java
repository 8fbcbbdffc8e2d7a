package dev.mergeval.common;

import java.nio.file.AccessDeniedException;
import org.apache.hadoop.security.AccessControlException;

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
     * wrap the user's error, whose one-line message is what the user must see. Where there is none,
     * a denied access (a file's permissions, HDFS's, missing or refused S3 credentials) counts as
     * one: the paths and settings were the user's; its message names the path.
     */
    public static BadInputException in(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof BadInputException bad) {
                return bad;
            }
        }
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof AccessDeniedException || c instanceof AccessControlException) {
                String message = String.valueOf(c.getMessage()).lines().findFirst().orElse("");
                return new BadInputException("access denied: " + message, c);
            }
        }
        return null;
    }
}
