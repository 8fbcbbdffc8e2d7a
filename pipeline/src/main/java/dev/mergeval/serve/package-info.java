/**
 * {@code mergeval serve}: the runtime behind the OpenAI HTTP API ({@code /v1/models},
 * {@code /v1/chat/completions}, {@code /v1/completions}), so that anything that speaks it (the OpenAI
 * SDKs, lm-evaluation-harness's {@code local-completions}, Mergeval's own {@code openai} engine) can use
 * any model source, a merge evaluated at load included. {@link dev.mergeval.serve.OpenAiServer} is the
 * entry point; concurrent requests are micro-batched into the runtime's batch generator and scorer
 * ({@link dev.mergeval.serve.MicroBatcher}). HTTP is Undertow's; no servlet container, no Spark.
 */
package dev.mergeval.serve;
