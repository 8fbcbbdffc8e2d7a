package dev.mergeval.engine;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import dev.mergeval.common.BadInputException;
import java.io.Serializable;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.regex.Pattern;

/**
 * Where a model runs, as written in the {@code engine:} block of a suite or sweep spec and the CLI's
 * engine options: {@value #DJL} (Mergeval's runtime in the JVM, the default) or {@value #OPENAI} (a
 * server speaking the OpenAI API). Validated once on the driver and shipped to executors as it is;
 * the API key itself is never part of it, only the name of the environment variable that holds it,
 * read where the requests are sent.
 *
 * @param kind           {@value #DJL} or {@value #OPENAI}
 * @param baseUrl        the API root as the OpenAI SDKs take it ({@code http://127.0.0.1:8000/v1});
 *                       null for a launched server (its URL is known once it runs)
 * @param model          the served model name; null when the command line or the launched server gives it
 * @param apiKeyEnv      the environment variable holding the API key, or null for none
 * @param concurrency    requests in flight per executor
 * @param timeoutSeconds one request's time limit
 * @param maxRetries     retries of a request after a 429, a 5xx, a connection error or a timeout
 * @param launch         a sweep's server command with {@code {model}} and {@code {port}}, or null
 * @param startupTimeoutSeconds how long a launched server may take to answer {@code GET /v1/models}
 */
public record EngineSpec(String kind, String baseUrl, String model, String apiKeyEnv, int concurrency,
                         double timeoutSeconds, int maxRetries, String launch, double startupTimeoutSeconds)
        implements Serializable {
    private static final long serialVersionUID = 1L;

    public static final String DJL = "djl";
    public static final String OPENAI = "openai";
    public static final int DEFAULT_CONCURRENCY = 8;
    public static final double DEFAULT_TIMEOUT_SECONDS = 600;
    public static final int DEFAULT_MAX_RETRIES = 5;
    public static final double DEFAULT_STARTUP_TIMEOUT_SECONDS = 600;

    /** The in-JVM runtime. */
    public static final EngineSpec DJL_ENGINE = new EngineSpec(DJL, null, null, null, DEFAULT_CONCURRENCY,
            DEFAULT_TIMEOUT_SECONDS, DEFAULT_MAX_RETRIES, null, DEFAULT_STARTUP_TIMEOUT_SECONDS);

    private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

    /** The YAML shape of an {@code engine:} block; every key optional here, checked by {@link #of}. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Yaml(String kind, String baseUrl, String model, String apiKeyEnv, Integer concurrency,
                       Double timeout, Integer maxRetries, String launch, Double startupTimeout) {
    }

    /**
     * Checks a block and fills defaults; messages name the key ({@code engine.base_url: ...}) under
     * {@code key}, the caller adds the file.
     *
     * @param key where the block is ({@code engine}, {@code tasks[1].judge_engine})
     */
    public static EngineSpec of(Yaml y, String key) {
        String kind = y.kind() == null ? DJL : y.kind();
        if (!DJL.equals(kind) && !OPENAI.equals(kind)) {
            throw new BadInputException(key + ".kind: unknown engine '" + kind + "'; known: djl, openai");
        }
        if (DJL.equals(kind)) {
            String extra = y.baseUrl() != null ? "base_url" : y.model() != null ? "model"
                    : y.apiKeyEnv() != null ? "api_key_env" : y.concurrency() != null ? "concurrency"
                    : y.timeout() != null ? "timeout" : y.maxRetries() != null ? "max_retries"
                    : y.launch() != null ? "launch" : y.startupTimeout() != null ? "startup_timeout" : null;
            if (extra != null) {
                throw new BadInputException(key + "." + extra + ": only for kind openai (kind is djl)");
            }
            return DJL_ENGINE;
        }
        EngineSpec spec = new EngineSpec(OPENAI, y.baseUrl(), y.model(), y.apiKeyEnv(),
                y.concurrency() == null ? DEFAULT_CONCURRENCY : y.concurrency(),
                y.timeout() == null ? DEFAULT_TIMEOUT_SECONDS : y.timeout(),
                y.maxRetries() == null ? DEFAULT_MAX_RETRIES : y.maxRetries(), y.launch(),
                y.startupTimeout() == null ? DEFAULT_STARTUP_TIMEOUT_SECONDS : y.startupTimeout());
        spec.validate(key);
        return spec;
    }

    /**
     * Checks every field of an {@value #OPENAI} engine, naming {@code key.FIELD} (or the CLI option
     * when {@code key} is {@code null}).
     */
    public EngineSpec validate(String key) {
        if (!OPENAI.equals(kind)) {
            return this;
        }
        if (baseUrl != null) {
            checkUrl(baseUrl, name(key, "base_url", "--base-url"));
        }
        if (launch != null && baseUrl != null) {
            throw new BadInputException(name(key, "launch", "--launch") + ": give base_url or launch, not both");
        }
        if (launch != null && (!launch.contains("{model}") || !launch.contains("{port}"))) {
            throw new BadInputException(name(key, "launch", "--launch")
                    + ": the command must contain {model} and {port}, got '" + launch + "'");
        }
        if (model != null && model.isBlank()) {
            throw new BadInputException(name(key, "model", "--model") + ": must not be empty");
        }
        if (apiKeyEnv != null && !ENV_NAME.matcher(apiKeyEnv).matches()) {
            throw new BadInputException(name(key, "api_key_env", "--api-key-env")
                    + ": not an environment variable name: '" + apiKeyEnv + "'");
        }
        if (concurrency < 1) {
            throw new BadInputException(name(key, "concurrency", "--concurrency") + ": must be >= 1, got " + concurrency);
        }
        if (!(timeoutSeconds > 0) || Double.isInfinite(timeoutSeconds)) {
            throw new BadInputException(name(key, "timeout", "--timeout") + ": must be > 0 seconds, got " + timeoutSeconds);
        }
        if (maxRetries < 0) {
            throw new BadInputException(name(key, "max_retries", "--max-retries") + ": must be >= 0, got " + maxRetries);
        }
        if (!(startupTimeoutSeconds > 0) || Double.isInfinite(startupTimeoutSeconds)) {
            throw new BadInputException(name(key, "startup_timeout", "--startup-timeout")
                    + ": must be > 0 seconds, got " + startupTimeoutSeconds);
        }
        return this;
    }

    /**
     * Checks that this engine can reach a running server: an {@value #OPENAI} engine with its
     * {@code base_url} and {@code model}, and its API key variable set here.
     */
    public EngineSpec requireServer(String key) {
        if (baseUrl == null) {
            throw new BadInputException(name(key, "base_url", "--base-url") + ": required with engine openai");
        }
        if (model == null) {
            throw new BadInputException(name(key, "model", "--model")
                    + ": the served model name is required with engine openai");
        }
        if (apiKeyEnv != null && System.getenv(apiKeyEnv) == null) {
            throw new BadInputException(name(key, "api_key_env", "--api-key-env") + ": environment variable "
                    + apiKeyEnv + " is not set");
        }
        return this;
    }

    public boolean isOpenAi() {
        return OPENAI.equals(kind);
    }

    public EngineSpec withModel(String served) {
        return new EngineSpec(kind, baseUrl, served, apiKeyEnv, concurrency, timeoutSeconds, maxRetries, launch,
                startupTimeoutSeconds);
    }

    /** A launched server's engine once it runs at {@code url}, serving {@code served}. */
    public EngineSpec launchedAt(String url, String served) {
        return new EngineSpec(kind, url, served, apiKeyEnv, concurrency, timeoutSeconds, maxRetries, null,
                startupTimeoutSeconds);
    }

    /** The base URL without a trailing slash, so paths join as {@code base + "/models"}. */
    public String root() {
        return baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
    }

    private static String name(String key, String field, String option) {
        return key == null ? option : key + "." + field;
    }

    private static void checkUrl(String url, String name) {
        try {
            URI u = new URI(url);
            if (!("http".equals(u.getScheme()) || "https".equals(u.getScheme())) || u.getHost() == null) {
                throw new BadInputException(name + ": expected an http(s) URL such as http://127.0.0.1:8000/v1, got '"
                        + url + "'");
            }
        } catch (URISyntaxException e) {
            throw new BadInputException(name + ": not a URL: '" + url + "'", e);
        }
    }
}
