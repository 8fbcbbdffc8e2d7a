package dev.mergeval.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.runtime.ModelRequestException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP side of an {@value EngineSpec#OPENAI} engine: JSON requests to {@code base_url} with
 * {@code Authorization: Bearer} when the engine names an API key variable, retried with exponential
 * backoff (0.5 s doubling up to 30 s, or the server's {@code Retry-After} when longer; no jitter, so
 * a run's request pattern does not depend on a random source) after a 429, a 5xx, a connection error
 * or a timeout, at most {@code max_retries} times. The key is read from the environment here, where
 * requests are sent, and appears in no message or log line.
 *
 * <p>What a request ends in: a JSON answer; a {@link ModelRequestException} when the server kept
 * failing or refused this one request (400, 413, 422: a prompt too long, say), recorded on the
 * prompt's record; or a {@link BadInputException} when nothing sent to this server can succeed (401,
 * 403: the key; 404: the model or the API path), which stops the run with exit code 2.
 */
public final class OpenAiClient {

    private static final Logger LOG = LoggerFactory.getLogger(OpenAiClient.class);
    private static final long BASE_DELAY_MILLIS = 500;
    private static final long MAX_DELAY_MILLIS = 30_000;

    private final EngineSpec engine;
    private final String apiKey;
    private final HttpClient http;
    private final AtomicLong retries = new AtomicLong();

    /** A client of {@code engine}'s server; the API key variable must be set in this JVM's environment. */
    public OpenAiClient(EngineSpec engine) {
        this.engine = engine;
        if (engine.apiKeyEnv() != null) {
            String key = System.getenv(engine.apiKeyEnv());
            if (key == null) {
                throw new BadInputException("engine api_key_env: environment variable " + engine.apiKeyEnv()
                        + " is not set in this JVM (on a cluster, pass spark.executorEnv." + engine.apiKeyEnv() + ")");
            }
            this.apiKey = key;
        } else {
            this.apiKey = null;
        }
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofMillis((long) (Math.min(engine.timeoutSeconds(), 30) * 1000)))
                .build();
    }

    public EngineSpec engine() {
        return engine;
    }

    /** Requests retried so far by this client (all threads). */
    public long retries() {
        return retries.get();
    }

    /** {@code GET /models}: the server's answer as it is. */
    public JsonNode models() {
        return send("GET", "/models", null);
    }

    /**
     * Checks, before any work, that the server answers {@code GET /models} and serves the engine's
     * model; returns that answer (provenance records it).
     *
     * @throws BadInputException naming the server and what is wrong
     */
    public JsonNode requireModel() {
        JsonNode models;
        try {
            models = models();
        } catch (ModelRequestException e) {
            throw new BadInputException("engine " + engine.root() + ": " + e.getMessage(), e);
        }
        List<String> ids = new ArrayList<>();
        models.path("data").forEach(m -> ids.add(m.path("id").asText()));
        if (!ids.contains(engine.model())) {
            throw new BadInputException("engine " + engine.root() + " serves no model '" + engine.model()
                    + "' (GET /models lists " + ids + ")");
        }
        return models;
    }

    /** {@code POST path} with a JSON body. */
    public JsonNode post(String path, ObjectNode body) {
        return send("POST", path, body);
    }

    /** A request refused with this status, kept apart so that callers can adapt (max_tokens 0, say). */
    public static final class Refused extends ModelRequestException {
        private static final long serialVersionUID = 1L;
        private final int status;

        Refused(int status, String message) {
            super(message);
            this.status = status;
        }

        public int status() {
            return status;
        }
    }

    private JsonNode send(String method, String path, ObjectNode body) {
        String url = engine.root() + path;
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url))
                .timeout(Duration.ofMillis((long) (engine.timeoutSeconds() * 1000)))
                .header("Accept", "application/json");
        if (apiKey != null) {
            b.header("Authorization", "Bearer " + apiKey);
        }
        if (body != null) {
            b.header("Content-Type", "application/json");
            b.method(method, HttpRequest.BodyPublishers.ofByteArray(bytes(body)));
        } else {
            b.method(method, HttpRequest.BodyPublishers.noBody());
        }
        HttpRequest request = b.build();
        String last = null;
        for (int attempt = 0; ; attempt++) {
            long retryAfter = 0;
            try {
                HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
                int status = r.statusCode();
                if (status / 100 == 2) {
                    return Mappers.JSON.readTree(r.body());
                }
                String message = method + " " + url + ": HTTP " + status + errorMessage(r.body());
                if (status == 401 || status == 403) {
                    throw new BadInputException(message + (apiKey == null ? " (no API key sent; set api_key_env)"
                            : " (check the key in " + engine.apiKeyEnv() + ")"));
                }
                if (status == 404) {
                    throw new BadInputException(message);
                }
                if (status != 429 && status / 100 != 5) {
                    throw new Refused(status, message);
                }
                last = message;
                retryAfter = r.headers().firstValue("Retry-After").map(OpenAiClient::seconds).orElse(0L);
            } catch (HttpTimeoutException e) {
                last = method + " " + url + ": no answer within " + engine.timeoutSeconds() + " s";
            } catch (ConnectException e) {
                last = method + " " + url + ": cannot connect (" + e.getClass().getSimpleName() + ")";
            } catch (IOException e) {
                last = method + " " + url + ": " + e.getClass().getSimpleName()
                        + (e.getMessage() == null ? "" : ": " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ModelRequestException(method + " " + url + ": interrupted");
            }
            if (attempt >= engine.maxRetries()) {
                throw new ModelRequestException(last + " (after " + (attempt + 1) + " attempts)");
            }
            retries.incrementAndGet();
            long delay = Math.max(retryAfter, Math.min(MAX_DELAY_MILLIS, BASE_DELAY_MILLIS << Math.min(attempt, 16)));
            LOG.warn("{}; retry {} of {} in {} ms", last, attempt + 1, engine.maxRetries(), delay);
            try {
                Thread.sleep(delay);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ModelRequestException(method + " " + url + ": interrupted");
            }
        }
    }

    private static byte[] bytes(ObjectNode body) {
        try {
            return Mappers.JSON.writeValueAsBytes(body);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The OpenAI error body's {@code error.message}, or the start of the body. */
    private static String errorMessage(String body) {
        try {
            JsonNode n = Mappers.JSON.readTree(body);
            String m = n.path("error").path("message").asText(null);
            if (m != null) {
                return ": " + m;
            }
        } catch (IOException | RuntimeException e) {
            // Not JSON: the text follows.
        }
        String t = body == null ? "" : body.strip().replaceAll("\\s+", " ");
        return t.isEmpty() ? "" : ": " + (t.length() > 200 ? t.substring(0, 200) + "..." : t);
    }

    private static long seconds(String retryAfter) {
        try {
            return Math.min(MAX_DELAY_MILLIS, Long.parseLong(retryAfter.trim()) * 1000);
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
