package dev.mergeval.serve;

import dev.mergeval.common.BadInputException;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.source.ModelSource;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Objects;

/**
 * How {@link OpenAiServer} serves one model.
 *
 * @param model the model source (a directory, {@code BASE+ADAPTER}, a merge evaluated at load)
 * @param host the address to bind; anything but loopback needs {@code apiKey}
 * @param port the TCP port; 0 picks a free one ({@link OpenAiServer#baseUrl()} names it)
 * @param servedModelName the model id clients send and {@code /v1/models} lists; null for the last
 *     path element of the model's location ({@link #defaultName})
 * @param apiKey the key clients must send as {@code Authorization: Bearer KEY}; null for none. Never
 *     printed: {@link #toString()} hides it
 * @param maxBatch most requests decoded in one batch
 * @param threads PyTorch intra-op threads of the model thread (0 = PyTorch's default)
 * @param device {@code cpu} or {@code cuda:N}
 * @param batchWindowMillis how long the batcher waits, after the first request of a batch, for more
 *     (0: take only those already queued)
 * @param maxBodyBytes largest request body accepted; larger ones get HTTP 413
 */
public record ServeOptions(
        ModelSource model,
        String host,
        int port,
        String servedModelName,
        String apiKey,
        int maxBatch,
        int threads,
        String device,
        int batchWindowMillis,
        int maxBodyBytes) {

    public static final String DEFAULT_HOST = "127.0.0.1";
    public static final int DEFAULT_PORT = 8000;
    public static final int DEFAULT_MAX_BATCH = RuntimeOptions.DEFAULT_MAX_BATCH_SIZE;
    public static final int DEFAULT_BATCH_WINDOW_MILLIS = 5;
    /** 8 MiB: far above any prompt a served model's window holds, small enough to refuse garbage cheaply. */
    public static final int DEFAULT_MAX_BODY_BYTES = 8 << 20;

    public ServeOptions {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(host, "host");
        if (port < 0 || port > 65535) {
            throw new BadInputException("--port must be in [0, 65535], got " + port);
        }
        if (maxBatch < 1) {
            throw new BadInputException("--max-batch must be >= 1, got " + maxBatch);
        }
        if (threads < 0) {
            throw new BadInputException("--threads must be >= 0, got " + threads);
        }
        if (batchWindowMillis < 0) {
            throw new BadInputException("--batch-window-ms must be >= 0, got " + batchWindowMillis);
        }
        if (maxBodyBytes < 1024) {
            throw new BadInputException("the request body limit must be at least 1024 bytes, got " + maxBodyBytes);
        }
        if (apiKey != null && apiKey.isEmpty()) {
            throw new BadInputException("the API key is empty");
        }
        if (servedModelName == null) {
            servedModelName = defaultName(model);
        } else if (servedModelName.isBlank()) {
            throw new BadInputException("--served-model-name is empty");
        }
        new RuntimeOptions(device, threads, maxBatch); // checks the device
        if (apiKey == null && !loopback(host)) {
            throw new BadInputException("--host " + host + " is not a loopback address: serving beyond this machine"
                    + " needs an API key (--api-key-env VAR)");
        }
    }

    /** Defaults for everything but the model: loopback, port 8000, no key, CPU. */
    public static ServeOptions of(ModelSource model) {
        return new ServeOptions(model, DEFAULT_HOST, DEFAULT_PORT, null, null, DEFAULT_MAX_BATCH, 0, "cpu",
                DEFAULT_BATCH_WINDOW_MILLIS, DEFAULT_MAX_BODY_BYTES);
    }

    public ServeOptions withPort(int p) {
        return new ServeOptions(model, host, p, servedModelName, apiKey, maxBatch, threads, device,
                batchWindowMillis, maxBodyBytes);
    }

    public ServeOptions withApiKey(String key) {
        return new ServeOptions(model, host, port, servedModelName, key, maxBatch, threads, device,
                batchWindowMillis, maxBodyBytes);
    }

    public ServeOptions withServedModelName(String name) {
        return new ServeOptions(model, host, port, name, apiKey, maxBatch, threads, device,
                batchWindowMillis, maxBodyBytes);
    }

    public ServeOptions withMaxBatch(int n) {
        return new ServeOptions(model, host, port, servedModelName, apiKey, n, threads, device,
                batchWindowMillis, maxBodyBytes);
    }

    public ServeOptions withThreads(int n) {
        return new ServeOptions(model, host, port, servedModelName, apiKey, maxBatch, n, device,
                batchWindowMillis, maxBodyBytes);
    }

    public ServeOptions withMaxBodyBytes(int n) {
        return new ServeOptions(model, host, port, servedModelName, apiKey, maxBatch, threads, device,
                batchWindowMillis, n);
    }

    /** The runtime options the model is loaded with: one forward batch holds a whole micro-batch. */
    public RuntimeOptions runtimeOptions() {
        return new RuntimeOptions(device, threads, maxBatch);
    }

    /**
     * The last path element of the model's location: the directory, the adapter of
     * {@code BASE+ADAPTER}, the config file of a merge.
     */
    public static String defaultName(ModelSource model) {
        String location = model.match(new ModelSource.Cases<>() {
            @Override
            public String directory(ModelSource.Directory d) {
                return d.uri();
            }

            @Override
            public String withAdapter(ModelSource.WithAdapter a) {
                return a.adapter();
            }

            @Override
            public String mergeOnLoad(ModelSource.MergeOnLoad m) {
                return m.location();
            }

            @Override
            public String served(ModelSource.Served s) {
                return s.engine().model();
            }
        });
        String trimmed = location.replaceAll("/+$", "");
        String name = trimmed.substring(trimmed.lastIndexOf('/') + 1);
        return name.isEmpty() ? location : name;
    }

    private static boolean loopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            throw new BadInputException("--host " + host + ": unknown host");
        }
    }

    @Override
    public String toString() {
        return "ServeOptions[model=" + model.text() + ", host=" + host + ", port=" + port + ", servedModelName="
                + servedModelName + ", apiKey=" + (apiKey == null ? "none" : "(set)") + ", maxBatch=" + maxBatch
                + ", threads=" + threads + ", device=" + device + ", batchWindowMillis=" + batchWindowMillis
                + ", maxBodyBytes=" + maxBodyBytes + "]";
    }
}
