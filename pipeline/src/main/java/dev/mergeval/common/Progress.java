package dev.mergeval.common;

/**
 * Progress of long work (units merged, prompts evaluated), reported to whoever watches: a terminal
 * progress bar in the CLI, nothing in tests. Implementations must be thread-safe.
 */
public interface Progress {

    Progress NONE = new Progress() {
        @Override
        public void start(String task, long total) {
        }

        @Override
        public void advance(long steps) {
        }

        @Override
        public void finish() {
        }
    };

    void start(String task, long total);

    void advance(long steps);

    void finish();

    /** A short status shown beside the progress (e.g. the current loss); ignored by default. */
    default void message(String text) {
    }
}
