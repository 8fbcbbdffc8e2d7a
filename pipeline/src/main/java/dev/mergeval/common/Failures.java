package dev.mergeval.common;

import java.util.concurrent.ExecutionException;

/** How a failure that crossed a thread pool is rethrown to the caller. */
public final class Failures {

    private Failures() {
    }

    /**
     * The exception to throw for a failed task: the bad-input error in its cause chain (whose
     * one-line message is what the user must see), else the cause itself if unchecked, else the
     * cause wrapped in an {@link IllegalStateException}.
     */
    public static RuntimeException unwrap(ExecutionException e) {
        BadInputException bad = BadInputException.in(e);
        if (bad != null) {
            return bad;
        }
        return e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
    }
}
