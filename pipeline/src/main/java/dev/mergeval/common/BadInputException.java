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
     * a denied access (a file's permissions, HDFS's, missing or refused S3 credentials) or an S3
     * bucket that does not exist counts as one: the paths and settings were the user's; its message
     * names the path.
     */
    public static BadInputException in(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof BadInputException bad) {
                return bad;
            }
        }
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof AccessDeniedException || c instanceof AccessControlException) {
                return new BadInputException("access denied: " + firstLine(c), c);
            }
            // S3A's for a bucket that does not exist (hadoop-aws, not on every class path)
            if (c.getClass().getName().equals("org.apache.hadoop.fs.s3a.UnknownStoreException")) {
                String message = firstLine(c);
                int end = message.indexOf("': ");
                String path = message.startsWith("`") && end > 0 ? message.substring(1, end) : message;
                return new BadInputException(path + ": no such bucket", c);
            }
        }
        return null;
    }

    private static String firstLine(Throwable t) {
        return String.valueOf(t.getMessage()).lines().findFirst().orElse("");
    }
}
