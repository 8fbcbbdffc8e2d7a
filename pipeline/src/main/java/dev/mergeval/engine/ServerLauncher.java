package dev.mergeval.engine;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.common.BadInputException;
import dev.mergeval.runtime.ModelRequestException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An OpenAI-compatible server started for one model and stopped after it: the engine's
 * {@code launch} command with {@code {model}} (shell-quoted) and {@code {port}} (a free loopback
 * port) substituted, run by {@code /bin/sh -c}, its output in a log file. {@link #start} returns
 * once {@code GET /v1/models} answers; a server that exits first, or does not answer within the
 * engine's {@code startup_timeout}, is a {@link BadInputException} quoting the command and its last
 * output lines. {@link #close} stops the whole process tree (the shell, a wrapper script, the server
 * and anything it forked): terminate, then kill what is left after a grace period.
 */
public final class ServerLauncher implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ServerLauncher.class);
    private static final int TAIL_LINES = 20;
    private static final long GRACE_MILLIS = 15_000;

    private final Process process;
    private final String command;
    private final Path log;
    private final EngineSpec engine;

    private ServerLauncher(Process process, String command, Path log, EngineSpec engine) {
        this.process = process;
        this.command = command;
        this.log = log;
        this.engine = engine;
    }

    /**
     * Starts {@code launch.launch()} for {@code model} and waits until it serves.
     *
     * @param launch the engine with its {@code launch} command (and optionally the served name)
     * @param model  what {@code {model}} stands for: a model directory or source the server reads
     */
    public static ServerLauncher start(EngineSpec launch, String model) {
        int port = freePort();
        String command = launch.launch().replace("{model}", shellQuote(model)).replace("{port}", Integer.toString(port));
        Path log;
        Process process;
        try {
            log = Files.createTempFile("mergeval-launch-", ".log");
            process = new ProcessBuilder("/bin/sh", "-c", command).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
        } catch (IOException e) {
            throw new BadInputException("engine.launch: cannot start '" + command + "': " + e.getMessage(), e);
        }
        LOG.info("launched '{}' (pid {}), output in {}", command, process.pid(), log);
        String url = "http://127.0.0.1:" + port + "/v1";
        ServerLauncher server = new ServerLauncher(process, command, log, null);
        try {
            String served = server.awaitModels(launch.launchedAt(url, launch.model() == null ? "?" : launch.model()),
                    launch.model());
            return new ServerLauncher(process, command, log, launch.launchedAt(url, served));
        } catch (RuntimeException e) {
            server.close();
            throw e;
        }
    }

    /** The engine of the running server: its URL and served model name. */
    public EngineSpec engine() {
        return engine;
    }

    /** The command as run. */
    public String command() {
        return command;
    }

    private String awaitModels(EngineSpec probe, String wanted) {
        EngineSpec once = new EngineSpec(probe.kind(), probe.baseUrl(), probe.model(), probe.apiKeyEnv(), 1,
                Math.min(10, probe.timeoutSeconds()), 0, null, probe.startupTimeoutSeconds());
        OpenAiClient client = new OpenAiClient(once);
        long deadline = System.nanoTime() + (long) (probe.startupTimeoutSeconds() * 1e9);
        while (true) {
            if (!process.isAlive()) {
                throw failure("exited with code " + process.exitValue() + " before answering GET /v1/models");
            }
            List<String> ids = null;
            try {
                ids = new ArrayList<>();
                for (JsonNode m : client.models().path("data")) {
                    ids.add(m.path("id").asText());
                }
            } catch (ModelRequestException e) {
                ids = null; // not up yet
            } catch (BadInputException e) {
                // Up, but it wants a key this JVM does not hold (401), or hides its models.
                if (wanted != null) {
                    return wanted;
                }
                throw failure("answers GET /v1/models with an error (" + e.getMessage() + "); name the served"
                        + " model (engine.model) or give this JVM the key (engine.api_key_env)");
            }
            if (ids != null && wanted != null && !ids.isEmpty() && !ids.contains(wanted)) {
                throw failure("serves " + ids + ", not engine.model '" + wanted + "'");
            }
            if (ids != null && !ids.isEmpty()) {
                return wanted != null ? wanted : ids.get(0);
            }
            if (System.nanoTime() > deadline) {
                throw failure("did not answer GET /v1/models within " + probe.startupTimeoutSeconds()
                        + " s (engine.startup_timeout)");
            }
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for '" + command + "'", e);
            }
        }
    }

    private BadInputException failure(String what) {
        return new BadInputException("engine.launch: '" + command + "' " + what + "; its last output lines:\n"
                + String.join("\n", tail()));
    }

    private List<String> tail() {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return lines.subList(Math.max(0, lines.size() - TAIL_LINES), lines.size());
        } catch (IOException e) {
            return List.of("(output unreadable: " + e.getMessage() + ")");
        }
    }

    /** Stops the server and everything it started; waits for them to exit. */
    @Override
    public void close() {
        List<ProcessHandle> tree = new ArrayList<>(process.descendants().toList());
        tree.add(process.toHandle());
        tree.forEach(ProcessHandle::destroy);
        long deadline = System.currentTimeMillis() + GRACE_MILLIS;
        for (ProcessHandle p : tree) {
            try {
                p.onExit().get(Math.max(1, deadline - System.currentTimeMillis()), TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                p.destroyForcibly();
            }
        }
        tree.forEach(p -> {
            if (p.isAlive()) {
                p.destroyForcibly();
            }
        });
        try {
            Files.deleteIfExists(log);
        } catch (IOException e) {
            LOG.warn("cannot delete {}: {}", log, e.getMessage());
        }
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free port", e);
        }
    }

    private static String shellQuote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }
}
