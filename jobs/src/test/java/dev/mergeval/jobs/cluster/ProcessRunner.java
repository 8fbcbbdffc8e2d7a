package dev.mergeval.jobs.cluster;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a short-lived command to completion and returns its output, failing loudly otherwise. */
public final class ProcessRunner {

    private ProcessRunner() {
    }

    /** What a finished command printed (stdout and stderr together) and its exit code. */
    public record Result(int exitCode, String output) {
    }

    /** Runs the command and returns its output; fails unless it exits with 0. */
    public static String run(Path dir, long timeoutSeconds, List<String> command) {
        Result r = runForResult(dir, timeoutSeconds, command);
        if (r.exitCode() != 0) {
            throw new IllegalStateException("exit " + r.exitCode() + " from " + command + ":\n" + r.output());
        }
        return r.output();
    }

    /** Runs the command to completion, whatever its exit code. */
    public static Result runForResult(Path dir, long timeoutSeconds, List<String> command) {
        try {
            Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("timed out after " + timeoutSeconds + " s: " + command);
            }
            return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted: " + command, e);
        }
    }
}
