package dev.mergeval.jobs.cli;

import dev.mergeval.common.BadInputException;
import dev.mergeval.engine.EngineSpec;
import picocli.CommandLine.Option;

/**
 * The engine options of {@code eval} and {@code judge}: where the models run. Each option given
 * overrides the same key of the file's {@code engine:} block; without {@code --engine} and without
 * a block, models run in the JVM ({@code djl}) and the server options are refused.
 */
final class EngineOptions {

    @Option(names = "--engine", paramLabel = "KIND",
            description = "Where models run: djl (in the JVM, the default) or openai (an OpenAI-compatible server).")
    String engine;

    @Option(names = "--base-url", paramLabel = "URL",
            description = "With --engine openai: the API root, as the OpenAI SDKs take it (http://127.0.0.1:8000/v1).")
    String baseUrl;

    @Option(names = "--api-key-env", paramLabel = "VAR",
            description = "With --engine openai: the environment variable holding the API key (sent as a Bearer token).")
    String apiKeyEnv;

    @Option(names = "--concurrency", paramLabel = "N",
            description = "With --engine openai: requests in flight per executor (default "
                    + EngineSpec.DEFAULT_CONCURRENCY + ").")
    Integer concurrency;

    @Option(names = "--timeout", paramLabel = "S",
            description = "With --engine openai: seconds one request may take (default 600).")
    Double timeout;

    @Option(names = "--max-retries", paramLabel = "N",
            description = "With --engine openai: retries after a 429, a 5xx, a connection error or a timeout (default "
                    + EngineSpec.DEFAULT_MAX_RETRIES + ").")
    Integer maxRetries;

    /**
     * The engine: {@code file}'s block (djl when it has none) with the options given laid over it,
     * every field checked.
     */
    EngineSpec resolve(EngineSpec file) {
        String kind = engine != null ? engine : file.kind();
        if (!EngineSpec.DJL.equals(kind) && !EngineSpec.OPENAI.equals(kind)) {
            throw new BadInputException("--engine: unknown engine '" + kind + "'; known: djl, openai");
        }
        if (EngineSpec.DJL.equals(kind)) {
            String given = baseUrl != null ? "--base-url" : apiKeyEnv != null ? "--api-key-env"
                    : concurrency != null ? "--concurrency" : timeout != null ? "--timeout"
                    : maxRetries != null ? "--max-retries" : null;
            if (given != null) {
                throw new BadInputException(given + " needs --engine openai (models run in the JVM otherwise)");
            }
            return EngineSpec.DJL_ENGINE;
        }
        EngineSpec base = file.isOpenAi() ? file : new EngineSpec(EngineSpec.OPENAI, null, null, null,
                EngineSpec.DEFAULT_CONCURRENCY, EngineSpec.DEFAULT_TIMEOUT_SECONDS, EngineSpec.DEFAULT_MAX_RETRIES,
                null, EngineSpec.DEFAULT_STARTUP_TIMEOUT_SECONDS);
        return new EngineSpec(EngineSpec.OPENAI, baseUrl != null ? baseUrl : base.baseUrl(), base.model(),
                apiKeyEnv != null ? apiKeyEnv : base.apiKeyEnv(),
                concurrency != null ? concurrency : base.concurrency(),
                timeout != null ? timeout : base.timeoutSeconds(),
                maxRetries != null ? maxRetries : base.maxRetries(), null, base.startupTimeoutSeconds())
                .validate(null);
    }
}
