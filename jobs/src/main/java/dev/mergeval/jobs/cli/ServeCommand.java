package dev.mergeval.jobs.cli;

import dev.mergeval.common.BadInputException;
import dev.mergeval.serve.OpenAiServer;
import dev.mergeval.serve.ServeOptions;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code mergeval serve}: one model source behind the OpenAI HTTP API ({@link OpenAiServer},
 * {@code docs/serving.md}). Prints {@code mergeval serve: listening on URL (model NAME)} once the
 * port is bound, and serves until the process is stopped; SIGTERM (or Ctrl-C) answers new requests
 * 503, lets those in flight finish, closes the listener and frees the model.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve a model over the OpenAI HTTP API (/v1/models, /v1/chat/completions, /v1/completions).")
final class ServeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions model;

    @Option(names = "--host", paramLabel = "HOST", defaultValue = ServeOptions.DEFAULT_HOST,
            description = "Address to bind (default ${DEFAULT-VALUE}); a non-loopback one needs --api-key-env.")
    String host;

    @Option(names = "--port", paramLabel = "PORT", defaultValue = "" + ServeOptions.DEFAULT_PORT,
            description = "TCP port (default ${DEFAULT-VALUE}; 0 picks a free one, printed).")
    int port;

    @Option(names = "--served-model-name", paramLabel = "NAME",
            description = "The model id clients send (default: the last path element of the model's location).")
    String servedModelName;

    @Option(names = "--api-key-env", paramLabel = "VAR",
            description = "Require 'Authorization: Bearer KEY', KEY read from environment variable VAR.")
    String apiKeyEnv;

    @Option(names = "--max-batch", paramLabel = "N", defaultValue = "" + ServeOptions.DEFAULT_MAX_BATCH,
            description = "Most concurrent requests decoded as one batch (default ${DEFAULT-VALUE}).")
    int maxBatch;

    @Option(names = "--batch-window-ms", paramLabel = "MS", defaultValue = "" + ServeOptions.DEFAULT_BATCH_WINDOW_MILLIS,
            description = "Under concurrent load, how long a batch waits for more requests (default ${DEFAULT-VALUE}).")
    int batchWindowMillis;

    @Override
    public Integer call() throws Exception {
        InputChecks.atLeast("--port", port, 0);
        InputChecks.atLeast("--max-batch", maxBatch, 1);
        InputChecks.atLeast("--batch-window-ms", batchWindowMillis, 0);
        String apiKey = null;
        if (apiKeyEnv != null) {
            apiKey = System.getenv(apiKeyEnv);
            if (apiKey == null || apiKey.isEmpty()) {
                throw new BadInputException("--api-key-env: environment variable " + apiKeyEnv + " is not set or empty");
            }
        }
        model.check();
        ServeOptions options = new ServeOptions(model.parsed(), host, port, servedModelName, apiKey, maxBatch,
                model.threads, model.device, batchWindowMillis, ServeOptions.DEFAULT_MAX_BODY_BYTES);
        OpenAiServer server = OpenAiServer.start(options);
        CountDownLatch stopped = new CountDownLatch(1);
        PrintWriter out = spec.commandLine().getOut();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            out.println("mergeval serve: stopped");
            out.flush();
            stopped.countDown();
        }, "mergeval-serve-shutdown"));
        out.println("mergeval serve: listening on " + server.baseUrl() + " (model " + server.modelName() + ")");
        out.flush();
        stopped.await();
        return MergevalCli.EXIT_OK;
    }
}
