/**
 * Engines: where generation and log-likelihood scoring happen. {@code djl} is Mergeval's own runtime
 * in the JVM (the default); {@code openai} is any server speaking the OpenAI HTTP API (vLLM, SGLang,
 * TGI, llama.cpp's server, {@code mergeval serve}), reached through {@link OpenAiClient} and used as
 * a {@code runtime.LanguageModel} by {@link OpenAiLanguageModel}; {@link ServerLauncher} starts such
 * a server for a sweep point and stops it. {@link EngineSpec} is the {@code engine:} block of suites
 * and sweep specs, and the CLI's engine options.
 */
package dev.mergeval.engine;
