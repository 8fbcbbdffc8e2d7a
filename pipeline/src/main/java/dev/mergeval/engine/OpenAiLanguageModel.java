package dev.mergeval.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Failures;
import dev.mergeval.common.Mappers;
import dev.mergeval.runtime.ChatMessage;
import dev.mergeval.runtime.Completion;
import dev.mergeval.runtime.GenerationParams;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.runtime.LogLikelihood;
import dev.mergeval.runtime.LogLikelihoodRequest;
import dev.mergeval.runtime.ModelRequestException;
import dev.mergeval.runtime.chat.ChatTemplate;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * A model served by an OpenAI-compatible server, as a {@link LanguageModel}: at most
 * {@code concurrency} requests in flight (one pool of that many threads per instance, and an
 * executor shares one instance across its tasks), one prompt per request, results in input order.
 *
 * <ul>
 *   <li>{@link #chat}: {@code POST /chat/completions} with the messages (the server applies the
 *       model's chat template); {@link #generate}: {@code POST /completions} with the raw text.
 *       Decoding maps to {@code max_tokens}, {@code temperature}, {@code top_p}, {@code seed} (when
 *       sampling), {@code stop}, and, only where not neutral, the vLLM extensions {@code top_k} and
 *       {@code repetition_penalty}.
 *   <li>{@link #logLikelihood}: lm-evaluation-harness's {@code local-completions} scoring: {@code POST
 *       /completions} of context + continuation with {@code echo: true}, {@code logprobs: 1},
 *       {@code max_tokens: 0} (1 where the server refuses 0; the generated token is then left out),
 *       summing the {@code token_logprobs} of the tokens whose {@code text_offset} is at or past the
 *       context's end, located from the prompt's end (the last prompt token's offset plus its length,
 *       less the continuation's length), so that a tokenizer's dummy prefix space, which shifts every
 *       offset of the echo by one, does not move it. A server that returns no prompt log-probabilities is a
 *       {@link BadInputException}, never a zero.
 *   <li>{@link #renderChat}: the text a chat request stands for, for records: the served model's own
 *       chat template when {@code GET /models} names a model directory readable here (its
 *       {@code root}, else its {@code id}), as {@code mergeval serve} and vLLM serving a local path do,
 *       so records equal the in-JVM engine's; otherwise the messages as JSON.
 * </ul>
 * A request that still fails after its retries becomes {@link Completion#failed} (generation) or a
 * {@link ModelRequestException} (scoring), recorded by the caller on that prompt's record.
 */
public final class OpenAiLanguageModel implements LanguageModel {

    private final EngineSpec engine;
    private final OpenAiClient client;
    private final ExecutorService pool;
    private final AtomicBoolean zeroMaxTokensRefused = new AtomicBoolean();
    private volatile Rendering rendering;

    /** How {@link #renderChat} renders: the template found, or the messages as JSON. */
    private record Rendering(boolean templated, ChatTemplate template) {
    }

    public OpenAiLanguageModel(EngineSpec engine) {
        if (engine.baseUrl() == null || engine.model() == null) {
            throw new IllegalArgumentException("a served model needs base_url and model");
        }
        this.engine = engine;
        this.client = new OpenAiClient(engine);
        this.pool = Executors.newFixedThreadPool(engine.concurrency(), r -> {
            Thread t = new Thread(r, "mergeval-openai");
            t.setDaemon(true);
            return t;
        });
    }

    /** The served model name. */
    @Override
    public String id() {
        return engine.model();
    }

    public OpenAiClient client() {
        return client;
    }

    @Override
    public String renderChat(List<ChatMessage> messages, boolean addGenerationPrompt) {
        Rendering r = rendering();
        if (!r.templated()) {
            ArrayNode a = Mappers.JSON.createArrayNode();
            messages.forEach(m -> a.addObject().put("role", m.role()).put("content", m.content()));
            return a.toString();
        }
        if (r.template() == null) {
            return messages.stream().map(ChatMessage::content).collect(Collectors.joining("\n\n"));
        }
        return r.template().render(messages, addGenerationPrompt);
    }

    @Override
    public boolean rendersChat() {
        return rendering().templated();
    }

    @Override
    public List<Completion> chat(List<List<ChatMessage>> conversations, GenerationParams params) {
        return all(conversations, c -> complete("/chat/completions", body(params).set("messages", messages(c))));
    }

    @Override
    public List<Completion> generate(List<String> prompts, GenerationParams params) {
        return all(prompts, p -> complete("/completions", body(params).put("prompt", p)));
    }

    @Override
    public List<LogLikelihood> logLikelihood(List<LogLikelihoodRequest> requests) {
        List<Future<LogLikelihood>> futures = new ArrayList<>();
        for (LogLikelihoodRequest r : requests) {
            futures.add(pool.submit(() -> score(r)));
        }
        return await(futures);
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }

    private <T> List<Completion> all(List<T> inputs, Function<T, Completion> one) {
        List<Future<Completion>> futures = new ArrayList<>();
        for (T in : inputs) {
            futures.add(pool.submit(() -> {
                long start = System.nanoTime();
                try {
                    return one.apply(in);
                } catch (ModelRequestException e) {
                    return Completion.failed(e.getMessage(), System.nanoTime() - start);
                }
            }));
        }
        return await(futures);
    }

    private static <T> List<T> await(List<Future<T>> futures) {
        List<T> out = new ArrayList<>(futures.size());
        try {
            for (Future<T> f : futures) {
                out.add(f.get());
            }
            return out;
        } catch (InterruptedException e) {
            futures.forEach(f -> f.cancel(true));
            Thread.currentThread().interrupt();
            throw new ModelRequestException("interrupted");
        } catch (ExecutionException e) {
            futures.forEach(f -> f.cancel(true));
            throw Failures.unwrap(e);
        }
    }

    private ObjectNode body(GenerationParams p) {
        ObjectNode b = Mappers.JSON.createObjectNode();
        b.put("model", engine.model());
        b.put("max_tokens", p.maxNewTokens());
        b.put("temperature", p.temperature());
        if (p.topP() != 1.0) {
            b.put("top_p", p.topP());
        }
        if (p.temperature() > 0) {
            b.put("seed", p.seed());
        }
        if (!p.stopStrings().isEmpty()) {
            ArrayNode stop = b.putArray("stop");
            p.stopStrings().forEach(stop::add);
        }
        if (p.topK() > 0) {
            b.put("top_k", p.topK());
        }
        if (p.repetitionPenalty() != 1.0) {
            b.put("repetition_penalty", p.repetitionPenalty());
        }
        return b;
    }

    private static ArrayNode messages(List<ChatMessage> conversation) {
        ArrayNode a = Mappers.JSON.createArrayNode();
        conversation.forEach(m -> a.addObject().put("role", m.role()).put("content", m.content()));
        return a;
    }

    private Completion complete(String path, ObjectNode body) {
        long start = System.nanoTime();
        JsonNode r = client.post(path, body);
        JsonNode choice = r.path("choices").path(0);
        JsonNode text = path.startsWith("/chat") ? choice.path("message").path("content") : choice.path("text");
        if (!text.isTextual()) {
            throw new ModelRequestException("POST " + engine.root() + path + ": answer without "
                    + (path.startsWith("/chat") ? "choices[0].message.content" : "choices[0].text"));
        }
        return Completion.served(text.asText(), choice.path("finish_reason").asText("stop"), System.nanoTime() - start,
                r.path("usage").path("prompt_tokens").asInt(0), r.path("usage").path("completion_tokens").asInt(0));
    }

    private LogLikelihood score(LogLikelihoodRequest request) {
        String prompt = request.context() + request.continuation();
        ObjectNode body = Mappers.JSON.createObjectNode();
        body.put("model", engine.model());
        body.put("prompt", prompt);
        body.put("echo", true);
        body.put("logprobs", 1);
        body.put("temperature", 0.0);
        JsonNode r;
        boolean generated = zeroMaxTokensRefused.get();
        if (!generated) {
            try {
                r = client.post("/completions", body.put("max_tokens", 0));
            } catch (OpenAiClient.Refused e) {
                if (e.status() != 400) {
                    throw e;
                }
                zeroMaxTokensRefused.set(true);
                generated = true;
                r = client.post("/completions", body.put("max_tokens", 1));
            }
        } else {
            r = client.post("/completions", body.put("max_tokens", 1));
        }
        JsonNode lp = r.path("choices").path(0).path("logprobs");
        JsonNode tokens = lp.path("tokens");
        JsonNode logprobs = lp.path("token_logprobs");
        JsonNode offsets = lp.path("text_offset");
        if (!logprobs.isArray() || !offsets.isArray() || !tokens.isArray() || logprobs.size() != offsets.size()
                || tokens.size() != offsets.size() || logprobs.isEmpty()) {
            throw new BadInputException(engine.root() + " (model " + engine.model() + ") returns no prompt"
                    + " log-probabilities (completions with echo and logprobs), which log-likelihood tasks need");
        }
        // The prompt's tokens: all of them, less the one generated where max_tokens 0 was refused.
        int usage = r.path("usage").path("prompt_tokens").asInt(-1);
        int promptTokens = usage > 0 && usage <= tokens.size() ? usage : tokens.size() - (generated ? 1 : 0);
        // Anchored at the prompt's end, in the server's own offsets (code points, as Python counts):
        // a tokenizer's dummy prefix space shifts every offset of the echoed text by one, but the
        // continuation is always the prompt's last characters.
        String last = tokens.get(promptTokens - 1).asText();
        int end = offsets.get(promptTokens - 1).asInt() + last.codePointCount(0, last.length());
        int start = end - request.continuation().codePointCount(0, request.continuation().length());
        double sum = 0;
        int count = 0;
        boolean greedy = true;
        JsonNode top = lp.path("top_logprobs");
        for (int i = 0; i < promptTokens; i++) {
            if (offsets.get(i).asInt() < start) {
                continue;
            }
            JsonNode v = logprobs.get(i);
            if (v == null || !v.isNumber()) {
                throw new BadInputException(engine.root() + " (model " + engine.model() + ") returns no log-probability"
                        + " for prompt token " + i + ", which log-likelihood tasks need");
            }
            sum += v.asDouble();
            count++;
            greedy &= isTop(top.path(i), tokens.path(i).asText(), v.asDouble());
        }
        if (count == 0) {
            throw new ModelRequestException("POST " + engine.root() + "/completions: no token of the continuation '"
                    + request.continuation() + "' starts at or after the context's end (text_offset)");
        }
        return new LogLikelihood(sum, count, request.continuation().codePointCount(0, request.continuation().length()),
                greedy);
    }

    /** Whether {@code token} is the most likely one at its position (top_logprobs holds the top 1). */
    private static boolean isTop(JsonNode top, String token, double logprob) {
        if (!top.isObject() || top.isEmpty()) {
            return false;
        }
        double best = Double.NEGATIVE_INFINITY;
        for (Iterator<JsonNode> it = top.elements(); it.hasNext(); ) {
            best = Math.max(best, it.next().asDouble());
        }
        return top.has(token) || logprob >= best;
    }

    private Rendering rendering() {
        Rendering r = rendering;
        if (r == null) {
            r = findTemplate();
            rendering = r;
        }
        return r;
    }

    private Rendering findTemplate() {
        for (JsonNode m : client.models().path("data")) {
            if (!engine.model().equals(m.path("id").asText())) {
                continue;
            }
            for (String where : new String[] {m.path("root").asText(null), m.path("id").asText(null)}) {
                Path dir = localDirectory(where);
                if (dir == null || !Files.isRegularFile(dir.resolve("config.json"))) {
                    continue;
                }
                Path config = dir.resolve("tokenizer_config.json");
                try {
                    return new Rendering(true, Files.isRegularFile(config)
                            ? ChatTemplate.fromTokenizerConfig(
                                    Mappers.JSON.readTree(config.toFile()), config.toString()) : null);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
        return new Rendering(false, null);
    }

    private static Path localDirectory(String where) {
        if (where == null || where.isBlank()) {
            return null;
        }
        try {
            Path p = where.startsWith("file:") ? Path.of(new org.apache.hadoop.fs.Path(where).toUri()) : Path.of(where);
            return Files.isDirectory(p) ? p : null;
        } catch (RuntimeException e) {
            return null;
        }
    }
}
