package dev.mergeval.common;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.util.concurrent.ExecutionException;
import org.apache.hadoop.security.AccessControlException;
import org.junit.jupiter.api.Test;

/** What the CLI reports as the user's error (exit 2) when it arrives wrapped in other exceptions. */
class BadInputExceptionTest {

    @Test
    void theUsersErrorIsFoundUnderWrappers() {
        BadInputException bad = new BadInputException("merge.yaml: unknown key 'x'");
        assertSame(bad, BadInputException.in(new ExecutionException(new IllegalStateException(bad))));
        AccessDeniedException denied = new AccessDeniedException("/data/in");
        denied.initCause(bad);
        assertSame(bad, BadInputException.in(new RuntimeException(denied)), "a bad-input error wins over a denial");
    }

    @Test
    void aDeniedAccessIsTheUsersErrorNamingThePath() {
        BadInputException local = BadInputException.in(new UncheckedIOException("cannot stat /data/in",
                new AccessDeniedException("/data/in")));
        assertEquals("access denied: /data/in", local.getMessage());
        BadInputException hdfs = BadInputException.in(new UncheckedIOException("cannot create",
                new AccessControlException("Permission denied: user=u, access=WRITE, inode=\"/out\"\n\tat x")));
        assertEquals("access denied: Permission denied: user=u, access=WRITE, inode=\"/out\"", hdfs.getMessage());
        assertNull(BadInputException.in(new UncheckedIOException(new IOException("connection reset"))),
                "other I/O failures are not the user's");
    }
}
