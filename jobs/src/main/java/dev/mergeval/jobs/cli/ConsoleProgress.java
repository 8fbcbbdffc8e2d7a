package dev.mergeval.jobs.cli;

import dev.mergeval.common.Progress;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A terminal progress bar on standard error, so standard output stays machine-readable. Its width is
 * {@code COLUMNS} (which {@code bin/mergeval} sets from the terminal) or 80: asked for the terminal's
 * width itself, the progress bar library builds a JLine terminal, which starts six processes
 * ({@code tty}, {@code test -t}) and loads JNA, about 0.2 s of a short merge's start.
 */
final class ConsoleProgress implements Progress {

    private static final int DEFAULT_WIDTH = 80;
    /** The bars on the console now, which a run ending on a signal closes before it says so. */
    private static final Set<ProgressBar> OPEN = ConcurrentHashMap.newKeySet();

    /** System.err as it is at each write: a run ending on a signal sends it to the log file. */
    private static final PrintStream STDERR = new PrintStream(new OutputStream() {
        @Override
        public void write(int b) {
            System.err.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            System.err.write(b, off, len);
        }

        @Override
        public void flush() {
            System.err.flush();
        }
    }, true, StandardCharsets.UTF_8);

    private ProgressBar bar;

    @Override
    public synchronized void start(String task, long total) {
        bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(total)
                .setStyle(ProgressBarStyle.ASCII).setConsumer(new ConsoleProgressBarConsumer(STDERR, width()))
                .setUpdateIntervalMillis(500).build();
        OPEN.add(bar);
    }

    @Override
    public synchronized void advance(long steps) {
        if (bar != null) {
            bar.stepBy(steps);
        }
    }

    @Override
    public synchronized void message(String text) {
        if (bar != null) {
            bar.setExtraMessage(text);
        }
    }

    @Override
    public synchronized void finish() {
        if (bar != null) {
            OPEN.remove(bar);
            bar.close();
            bar = null;
        }
    }

    /** Stops every bar's updates, each ending its line as it stands. */
    static void closeAll() {
        OPEN.forEach(ProgressBar::close);
        OPEN.clear();
    }

    /** One less than the terminal's columns, so the bar never fills the last column and wraps. */
    private static int width() {
        String columns = System.getenv("COLUMNS");
        try {
            int n = columns == null ? DEFAULT_WIDTH : Integer.parseInt(columns.trim());
            return n > 1 ? n - 1 : DEFAULT_WIDTH - 1;
        } catch (NumberFormatException e) {
            return DEFAULT_WIDTH - 1;
        }
    }
}
