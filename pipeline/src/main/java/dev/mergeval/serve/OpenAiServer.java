package dev.mergeval.serve;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.KeyedRandom;
import dev.mergeval.common.Mappers;
import dev.mergeval.runtime.Completion;
import dev.mergeval.runtime.DjlLanguageModel;
import dev.mergeval.runtime.GenerationParams;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.runtime.generation.BatchScorer;
import dev.mergeval.runtime.tokenizer.ModelTokenizer;
import dev.mergeval.source.ModelSources;
import io.undertow.Handlers;
import io.undertow.Undertow;
import io.undertow.UndertowOptions;
import io.undertow.server.HttpServerExchange;
import io.undertow.server.RequestTooBigException;
import io.undertow.server.handlers.GracefulShutdownHandler;
import io.undertow.util.Headers;
import io.undertow.util.HttpString;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One model behind the OpenAI HTTP API: {@code GET /v1/models}, {@code POST /v1/chat/completions}
 * (the model's chat template, streaming as server-sent events) and {@code POST /v1/completions}
 * (text or token-id prompts, {@code echo} and {@code logprobs} as vLLM returns them, so that
 * {@code echo: true, logprobs: 1} gives a prompt's token log-likelihoods as
 * lm-evaluation-harness's {@code local-completions} reads them). Errors are OpenAI's error bodies
 * with their HTTP statuses; the server keeps serving after every one. {@code docs/serving.md} is the
 * user's page.
 *
 * <pre>
 * try (OpenAiServer server = OpenAiServer.start(ServeOptions.of(source).withPort(0))) {
 *     String url = server.baseUrl(); // http://127.0.0.1:PORT/v1
 * }
 * </pre>
 *
 * <p>Requests are parsed and answered on Undertow's worker threads, which block while their work
 * runs on the one model thread ({@link MicroBatcher}); a generation's text is what
 * {@code mergeval generate} gives for the same prompt and settings (same tokenization, same sampler
 * stream, keyed by the prompt's text and the request's {@code seed}).
 */
public final class OpenAiServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(OpenAiServer.class);
    private static final HttpString ALLOW = new HttpString("Allow");

    /** How long {@link #close} waits for the requests in flight. */
    private static final int DRAIN_MINUTES = 2;

    /** Bodies up to this many times the limit are read and dropped before a 413; larger ones close the connection. */
    private static final int DRAIN_FACTOR = 4;

    private final ServeOptions options;
    private final DjlLanguageModel model;
    private final ModelTokenizer tokenizer;
    private final int maxPositions;
    private final int vocabSize;
    private final long created = Instant.now().getEpochSecond();
    private final MicroBatcher batcher;
    private final Undertow undertow;
    /** Counts the requests in flight, and answers 503 once shutdown has begun. */
    private final GracefulShutdownHandler requests;
    private final String baseUrl;
    private final int port;

    private OpenAiServer(ServeOptions options, DjlLanguageModel model) {
        this.options = options;
        this.model = model;
        this.tokenizer = model.tokenizer();
        this.maxPositions = model.forward().config().maxPositionEmbeddings();
        this.vocabSize = model.forward().config().vocabSize();
        this.batcher = new MicroBatcher(model, options.maxBatch(),
                TimeUnit.MILLISECONDS.toNanos(options.batchWindowMillis()));
        this.requests = Handlers.gracefulShutdown(this::handle);
        this.undertow = Undertow.builder()
                .addHttpListener(options.port(), options.host())
                .setWorkerThreads(Math.max(64, 4 * options.maxBatch()))
                .setServerOption(UndertowOptions.MAX_ENTITY_SIZE, (long) DRAIN_FACTOR * options.maxBodyBytes())
                .setHandler(requests)
                .build();
        try {
            undertow.start();
        } catch (RuntimeException e) {
            batcher.close();
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof BindException) {
                    throw new BadInputException("cannot listen on " + options.host() + ":" + options.port() + ": "
                            + t.getMessage(), e);
                }
            }
            throw e;
        }
        this.port = ((InetSocketAddress) undertow.getListenerInfo().get(0).getAddress()).getPort();
        String host = options.host().contains(":") ? "[" + options.host() + "]" : options.host();
        this.baseUrl = "http://" + host + ":" + port + "/v1";
    }

    /**
     * Loads the model of {@code options} and starts serving it; returns once the port is bound.
     *
     * @throws BadInputException if the model cannot be loaded or the address cannot be bound
     */
    public static OpenAiServer start(ServeOptions options) {
        LanguageModel lm = ModelSources.load(options.model(), HadoopFs.defaults(), options.runtimeOptions());
        if (!(lm instanceof DjlLanguageModel djl)) {
            lm.close();
            throw new IllegalStateException("the runtime returned a " + lm.getClass().getName());
        }
        try {
            return new OpenAiServer(options, djl);
        } catch (RuntimeException e) {
            djl.close();
            throw e;
        }
    }

    /** The URL OpenAI clients take, {@code http://HOST:PORT/v1}. */
    public String baseUrl() {
        return baseUrl;
    }

    /** The bound port (the free one picked when the options asked for port 0). */
    public int port() {
        return port;
    }

    /** The model id clients send and {@code /v1/models} lists. */
    public String modelName() {
        return options.servedModelName();
    }

    /**
     * The most requests one batch has held since the last call (a statistic for benchmarks and
     * tests: were concurrent requests batched?); counting starts anew.
     */
    public int takeLargestBatch() {
        return batcher.takeLargestBatch();
    }

    /** Answers requests from now on with 503, still listening; the first step of {@link #close}. */
    public void refuseNewRequests() {
        requests.shutdown();
    }

    /**
     * Answers new requests 503, lets the requests in flight finish (for up to {@link #DRAIN_MINUTES}
     * minutes: then their connections close), stops listening, fails what is still queued, and frees
     * the model.
     */
    @Override
    public void close() {
        refuseNewRequests();
        try {
            requests.awaitShutdown(TimeUnit.MINUTES.toMillis(DRAIN_MINUTES));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        undertow.stop();
        batcher.close();
        model.close();
    }

    // ---- HTTP plumbing ---------------------------------------------------------------------

    private void handle(HttpServerExchange ex) {
        if (ex.isInIoThread()) {
            ex.dispatch(this::handle);
            return;
        }
        ex.startBlocking();
        try {
            route(ex);
        } catch (ApiException e) {
            sendError(ex, e);
        } catch (BadInputException e) {
            sendError(ex, ApiException.invalid(e.getMessage(), null));
        } catch (IOException e) {
            LOG.info("{} {}: the client went away ({})", ex.getRequestMethod(), ex.getRequestPath(), e.toString());
        } catch (RuntimeException e) {
            LOG.error("{} {} failed", ex.getRequestMethod(), ex.getRequestPath(), e);
            sendError(ex, new ApiException(500, "server_error", "internal error: " + e, null, null));
        } finally {
            ex.endExchange();
        }
    }

    private void route(HttpServerExchange ex) throws IOException {
        String path = ex.getRequestPath();
        while (path.length() > 1 && path.endsWith("/")) {
            path = path.substring(0, path.length() - 1);
        }
        if (path.equals("/health")) {
            method(ex, "GET");
            sendJson(ex, 200, Mappers.JSON.createObjectNode().put("status", "ok"));
            return;
        }
        authorize(ex);
        switch (path) {
            case "/v1/models" -> {
                method(ex, "GET");
                ObjectNode list = Mappers.JSON.createObjectNode().put("object", "list");
                list.putArray("data").add(modelCard());
                sendJson(ex, 200, list);
            }
            case "/v1/chat/completions" -> {
                method(ex, "POST");
                chat(ex, Requests.chat(body(ex)));
            }
            case "/v1/completions" -> {
                method(ex, "POST");
                completions(ex, Requests.completions(body(ex)));
            }
            default -> {
                if (path.equals("/v1/models/" + options.servedModelName())) {
                    method(ex, "GET");
                    sendJson(ex, 200, modelCard());
                } else {
                    throw new ApiException(404, "invalid_request_error",
                            "Invalid URL (" + ex.getRequestMethod() + " " + ex.getRequestPath() + ")", null, null);
                }
            }
        }
    }

    private ObjectNode modelCard() {
        return Mappers.JSON.createObjectNode()
                .put("id", options.servedModelName())
                .put("object", "model")
                .put("created", created)
                .put("owned_by", "mergeval")
                .put("root", options.model().text())
                .put("max_model_len", maxPositions);
    }

    private static void method(HttpServerExchange ex, String allowed) {
        if (!ex.getRequestMethod().equalToString(allowed)) {
            ex.getResponseHeaders().put(ALLOW, allowed);
            throw new ApiException(405, "invalid_request_error",
                    "Method " + ex.getRequestMethod() + " not allowed on " + ex.getRequestPath() + " (use " + allowed + ")",
                    null, null);
        }
    }

    /** With an API key set, the request must carry {@code Authorization: Bearer KEY} (compared in constant time). */
    private void authorize(HttpServerExchange ex) {
        if (options.apiKey() == null) {
            return;
        }
        String given = ex.getRequestHeaders().getFirst(Headers.AUTHORIZATION);
        byte[] expected = ("Bearer " + options.apiKey()).getBytes(StandardCharsets.UTF_8);
        if (given == null || !MessageDigest.isEqual(expected, given.strip().getBytes(StandardCharsets.UTF_8))) {
            throw new ApiException(401, "authentication_error", given == null
                    ? "You didn't provide an API key. Send it as 'Authorization: Bearer KEY'."
                    : "Incorrect API key provided.", null, "invalid_api_key");
        }
    }

    /**
     * The request body, at most {@code maxBodyBytes}. A larger one is read to its end (up to the
     * listener's hard cap of {@link #DRAIN_FACTOR} times the limit, beyond which the connection is
     * dropped) before the 413 goes out, so that a client still sending gets the answer.
     */
    private JsonNode body(HttpServerExchange ex) throws IOException {
        if (ex.getRequestContentLength() > (long) DRAIN_FACTOR * options.maxBodyBytes()) {
            throw tooBig();
        }
        InputStream in = ex.getInputStream();
        byte[] bytes;
        try {
            bytes = in.readNBytes(options.maxBodyBytes() + 1);
            if (bytes.length > options.maxBodyBytes()) {
                in.transferTo(OutputStream.nullOutputStream());
                throw tooBig();
            }
        } catch (RequestTooBigException e) {
            throw tooBig();
        }
        try {
            JsonNode node = Mappers.JSON.readTree(bytes);
            if (node == null || node.isMissingNode()) {
                throw ApiException.invalid("the request body is empty; send a JSON object", null);
            }
            requireUnicode(node, "");
            return node;
        } catch (JsonProcessingException e) {
            throw ApiException.invalid("We could not parse the JSON body of your request: "
                    + e.getOriginalMessage(), null);
        }
    }

    /** Refuses a name or string anywhere in the body holding a lone surrogate escape: it has no UTF-8 and no tokens. */
    private static void requireUnicode(JsonNode node, String path) {
        String param = path.isEmpty() ? null : path;
        int at = node.isTextual() ? Mappers.loneSurrogate(node.textValue()) : -1;
        if (at >= 0) {
            throw ApiException.invalid("'" + path + "' holds a lone UTF-16 surrogate escape (\\u"
                    + Integer.toHexString(node.textValue().charAt(at)) + "), which is not Unicode text", param);
        }
        for (int i = 0; node.isArray() && i < node.size(); i++) {
            requireUnicode(node.get(i), path + "[" + i + "]");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            if (Mappers.loneSurrogate(field.getKey()) >= 0) {
                throw ApiException.invalid("a field name " + (param == null ? "" : "in '" + path + "' ")
                        + "holds a lone UTF-16 surrogate escape, which is not Unicode text", param);
            }
            requireUnicode(field.getValue(), param == null ? field.getKey() : path + "." + field.getKey());
        }
    }

    private ApiException tooBig() {
        return new ApiException(413, "invalid_request_error", "the request body is larger than the server's limit of "
                + options.maxBodyBytes() + " bytes", null, "request_too_large");
    }

    private static void sendError(HttpServerExchange ex, ApiException e) {
        if (ex.isResponseStarted()) {
            LOG.warn("{} {}: {} after the response started", ex.getRequestMethod(), ex.getRequestPath(), e.getMessage());
            return;
        }
        ObjectNode body = Mappers.JSON.createObjectNode();
        ObjectNode error = body.putObject("error");
        error.put("message", e.getMessage());
        error.put("type", e.type);
        error.put("param", e.param);
        error.put("code", e.code);
        try {
            sendJson(ex, e.status, body);
        } catch (IOException io) {
            LOG.debug("could not send an error response", io);
        }
    }

    private static void sendJson(HttpServerExchange ex, int status, JsonNode body) throws IOException {
        byte[] bytes = Mappers.JSON.writeValueAsBytes(body);
        ex.setStatusCode(status);
        ex.getResponseHeaders().put(Headers.CONTENT_TYPE, "application/json");
        ex.setResponseContentLength(bytes.length);
        OutputStream out = ex.getOutputStream();
        out.write(bytes);
        out.flush();
    }

    // ---- endpoints -------------------------------------------------------------------------

    private void checkModel(String requested) {
        if (requested != null && !requested.equals(options.servedModelName())) {
            throw ApiException.invalid("The model `" + requested + "` does not exist (this server serves `"
                    + options.servedModelName() + "`).", "model", "model_not_found");
        }
    }

    /**
     * Refuses an empty prompt, one longer than the context, and (as vLLM does) a requested
     * {@code max_tokens} that does not fit in the context after the prompt.
     */
    private void checkLength(int[] ids, Integer maxTokens, String param) {
        if (ids.length == 0) {
            throw ApiException.invalid("the prompt encodes to no tokens", param);
        }
        if (ids.length > maxPositions) {
            throw ApiException.invalid("This model's maximum context length is " + maxPositions
                    + " tokens. However, your prompt has " + ids.length + " tokens.", param, "context_length_exceeded");
        }
        if (maxTokens != null && (long) ids.length + maxTokens > maxPositions) {
            throw ApiException.invalid("This model's maximum context length is " + maxPositions
                    + " tokens. However, you requested " + ((long) ids.length + maxTokens) + " tokens (" + ids.length
                    + " in the " + param + ", " + maxTokens + " in the completion). Please reduce the length of the "
                    + param + " or completion.", "max_tokens", "context_length_exceeded");
        }
    }

    private GenerationParams params(Requests.Sampling s, int maxTokens) {
        return new GenerationParams(maxTokens, s.temperature(), s.topK(), s.topP(), s.repetitionPenalty(), s.seed(),
                s.stop());
    }

    private void chat(HttpServerExchange ex, Requests.Chat req) throws IOException {
        checkModel(req.model());
        String prompt;
        try {
            prompt = model.renderChat(req.messages(), true);
        } catch (RuntimeException e) {
            throw ApiException.invalid("the model's chat template cannot render these messages: " + e.getMessage(),
                    "messages");
        }
        int[] ids = tokenizer.encode(prompt);
        Integer maxTokens = req.sampling().maxTokens();
        checkLength(ids, maxTokens, "messages");
        // without max_tokens a chat may run to the end of the context, as vLLM's
        GenerationParams params = params(req.sampling(), maxTokens != null ? maxTokens : maxPositions - ids.length);
        String id = "chatcmpl-" + UUID.randomUUID().toString().replace("-", "");
        if (req.stream()) {
            if (req.logprobs()) {
                throw ApiException.invalid("'logprobs' is not supported with 'stream'", "logprobs");
            }
            streamChoices(ex, id, true, List.of(new Pending(ids, KeyedRandom.textKey(prompt), params, "")),
                    req.includeUsage());
            return;
        }
        List<TokenText.Position> positions = new ArrayList<>();
        int top = req.topLogprobs();
        MicroBatcher.Generation g = new MicroBatcher.Generation(ids, KeyedRandom.textKey(prompt), params,
                req.logprobs() ? (token, logits, finish) -> positions.add(TokenText.fromLogits(logits, token, top)) : null);
        batcher.submit(g);
        Completion c = await(g.result());
        ObjectNode body = envelope(id, "chat.completion");
        ObjectNode choice = body.putArray("choices").addObject();
        choice.put("index", 0);
        ObjectNode message = choice.putObject("message");
        message.put("role", "assistant");
        message.put("content", c.text());
        message.putNull("refusal");
        if (req.logprobs()) {
            choice.putObject("logprobs").set("content", chatLogprobs(ids, c, positions));
        } else {
            choice.putNull("logprobs");
        }
        choice.put("finish_reason", finishReason(c));
        body.set("usage", usage(ids.length, c.outputIds().size()));
        sendJson(ex, 200, body);
    }

    /** Chat's logprobs content: per generated token its text, logprob, UTF-8 bytes and alternatives. */
    private ArrayNode chatLogprobs(int[] prompt, Completion c, List<TokenText.Position> positions) {
        ArrayNode content = Mappers.JSON.createArrayNode();
        List<String> pieces = generatedPieces(c);
        int[] sequence = sequence(c);
        for (int i = 0; i < pieces.size() && i < positions.size(); i++) {
            TokenText.Position p = positions.get(i);
            ObjectNode entry = content.addObject();
            entry.put("token", pieces.get(i));
            entry.put("logprob", p.logProb());
            entry.set("bytes", bytes(pieces.get(i)));
            ArrayNode tops = entry.putArray("top_logprobs");
            for (int k = 0; k < p.topIds().length; k++) {
                String t = p.topIds()[k] == p.token() ? pieces.get(i)
                        : TokenText.alternative(tokenizer, sequence, 0, prompt.length + i, p.topIds()[k]);
                tops.addObject().put("token", t).put("logprob", p.topLogProbs()[k]).set("bytes", bytes(t));
            }
        }
        return content;
    }

    private void completions(HttpServerExchange ex, Requests.Completions req) throws IOException {
        checkModel(req.model());
        List<Pending> pending = new ArrayList<>();
        GenerationParams params = params(req.sampling(), req.sampling().maxTokens());
        for (Requests.Prompt p : req.prompts()) {
            int[] ids;
            String text;
            if (p.text() != null) {
                ids = tokenizer.encode(p.text());
                text = p.text();
            } else {
                ids = p.ids();
                for (int t : ids) {
                    if (t >= vocabSize) {
                        throw ApiException.invalid("token id " + t + " is outside the vocabulary (" + vocabSize
                                + " tokens)", "prompt");
                    }
                }
                text = String.join("", TokenText.pieces(tokenizer, ids, 0, false));
            }
            checkLength(ids, params.maxNewTokens(), "prompt");
            pending.add(new Pending(ids, KeyedRandom.textKey(text), params, text));
        }
        String id = "cmpl-" + UUID.randomUUID().toString().replace("-", "");
        if (req.stream()) {
            if (req.echo()) {
                pending = pending.stream().map(p -> p.withPrefix(p.promptText())).toList();
            } else {
                pending = pending.stream().map(p -> p.withPrefix("")).toList();
            }
            streamChoices(ex, id, false, pending, req.includeUsage());
            return;
        }
        Integer logprobs = req.logprobs();
        List<MicroBatcher.Scoring> scorings = new ArrayList<>();
        List<MicroBatcher.Generation> generations = new ArrayList<>();
        List<List<TokenText.Position>> positions = new ArrayList<>();
        for (Pending p : pending) {
            MicroBatcher.Scoring s = null;
            if (req.echo() && logprobs != null && p.ids().length >= 2) {
                s = new MicroBatcher.Scoring(p.ids(), logprobs);
                batcher.submit(s);
            }
            scorings.add(s);
            List<TokenText.Position> seen = new ArrayList<>();
            positions.add(seen);
            MicroBatcher.Generation g = null;
            if (params.maxNewTokens() > 0) {
                g = new MicroBatcher.Generation(p.ids(), p.streamKey(), params, logprobs == null ? null
                        : (token, logits, finish) -> seen.add(TokenText.fromLogits(logits, token, logprobs)));
                batcher.submit(g);
            }
            generations.add(g);
        }
        ObjectNode body = envelope(id, "text_completion");
        ArrayNode choices = body.putArray("choices");
        int promptTokens = 0;
        int completionTokens = 0;
        for (int i = 0; i < pending.size(); i++) {
            Pending p = pending.get(i);
            MicroBatcher.Generation g = generations.get(i);
            Completion c = g == null ? new Completion("", box(p.ids()), List.of(), "length", 0) : await(g.result());
            BatchScorer.TokenLogProbs scored = scorings.get(i) == null ? null : await(scorings.get(i).result());
            ObjectNode choice = choices.addObject();
            choice.put("index", i);
            choice.put("text", (req.echo() ? p.promptText() : "") + c.text());
            if (logprobs != null) {
                choice.set("logprobs", completionLogprobs(p, c, req.echo(), scored, positions.get(i), logprobs));
            } else {
                choice.putNull("logprobs");
            }
            choice.put("finish_reason", finishReason(c));
            promptTokens += p.ids().length;
            completionTokens += c.outputIds().size();
        }
        body.set("usage", usage(promptTokens, completionTokens));
        sendJson(ex, 200, body);
    }

    /** vLLM's completions logprobs: tokens, token_logprobs, top_logprobs and text_offset, prompt first with echo. */
    private ObjectNode completionLogprobs(Pending p, Completion c, boolean echo, BatchScorer.TokenLogProbs scored,
            List<TokenText.Position> generated, int topK) {
        ObjectNode lp = Mappers.JSON.createObjectNode();
        ArrayNode tokens = lp.putArray("tokens");
        ArrayNode tokenLogprobs = lp.putArray("token_logprobs");
        ArrayNode topLogprobs = lp.putArray("top_logprobs");
        ArrayNode offsets = lp.putArray("text_offset");
        int offset = 0;
        if (echo) {
            List<String> pieces = promptPieces(p);
            for (int i = 0; i < pieces.size(); i++) {
                tokens.add(pieces.get(i));
                offsets.add(offset);
                offset += codePoints(pieces.get(i));
                if (i == 0 || scored == null) {
                    tokenLogprobs.addNull();
                    topLogprobs.addNull();
                } else {
                    tokenLogprobs.add(scored.logProbs()[i - 1]);
                    topLogprobs.add(topMap(p.ids(), addedBos(p) ? 1 : 0, i, pieces.get(i), scored.logProbs()[i - 1],
                            Arrays.copyOf(scored.topIds()[i - 1], topK),
                            Arrays.copyOf(scored.topLogProbs()[i - 1], topK)));
                }
            }
        }
        List<String> pieces = generatedPieces(c);
        int[] sequence = sequence(c);
        int from = c.promptIds().size();
        for (int i = 0; i < pieces.size() && i < generated.size(); i++) {
            TokenText.Position pos = generated.get(i);
            tokens.add(pieces.get(i));
            offsets.add(offset);
            offset += codePoints(pieces.get(i));
            tokenLogprobs.add(pos.logProb());
            topLogprobs.add(topMap(sequence, 0, from + i, pieces.get(i), pos.logProb(), pos.topIds(),
                    pos.topLogProbs()));
        }
        return lp;
    }

    /**
     * {token text: logprob} of the most likely tokens at position {@code at} of {@code sequence}, and
     * of the chosen one (as vLLM adds it): the chosen one labelled {@code chosen}, its entry in
     * {@code tokens}, each other decoded after the tokens before it from {@code from} on, as the
     * pieces are.
     */
    private ObjectNode topMap(int[] sequence, int from, int at, String chosen, float chosenLogProb, int[] ids,
            float[] logProbs) {
        ObjectNode map = Mappers.JSON.createObjectNode();
        for (int k = 0; k < ids.length; k++) {
            String t = ids[k] == sequence[at] ? chosen : TokenText.alternative(tokenizer, sequence, from, at, ids[k]);
            if (!map.has(t)) {
                map.put(t, logProbs[k]);
            }
        }
        if (!map.has(chosen)) {
            map.put(chosen, chosenLogProb);
        }
        return map;
    }

    /**
     * The prompt's pieces: for a text prompt, the parts of its text its tokens stand for, by the
     * tokenizer's offsets ({@link ModelTokenizer#textPieces}), so that they add up to the text even
     * where decoding would not ({@code "<s>literal"} decodes to {@code "<s> literal"}). Otherwise a
     * BOS the tokenizer added (not in the text) is an empty piece, and the rest is decoded without it,
     * as the text begins (a SentencePiece decoder drops the first token's space).
     */
    private List<String> promptPieces(Pending p) {
        int[] ids = p.ids();
        if (Arrays.equals(tokenizer.encode(p.promptText()), ids)) {
            List<String> fromText = tokenizer.textPieces(p.promptText());
            if (fromText != null && fromText.size() == ids.length) {
                return fromText;
            }
        }
        if (addedBos(p)) {
            List<String> pieces = new ArrayList<>();
            pieces.add("");
            pieces.addAll(TokenText.pieces(tokenizer, Arrays.copyOfRange(ids, 1, ids.length), 0, false));
            return pieces;
        }
        return TokenText.pieces(tokenizer, ids, 0, false);
    }

    /** Whether the prompt's first token is a BOS the tokenizer added, not one its text names. */
    private boolean addedBos(Pending p) {
        String bos = tokenizer.bosToken();
        return p.ids().length > 0 && p.ids()[0] == tokenizer.bosId() && bos != null && !p.promptText().startsWith(bos);
    }

    /**
     * The pieces of the generated tokens that made the returned text, decoded as the text is (after
     * the prompt's): after a stop string, the tokens past its start are left out, and a token the
     * stop string begins inside keeps the part before it, so that the pieces add up to the text.
     */
    private List<String> generatedPieces(Completion c) {
        List<String> pieces = TokenText.pieces(tokenizer, sequence(c), c.promptIds().size(), true);
        if (!"stop".equals(c.finishReason())) {
            return pieces;
        }
        List<String> kept = new ArrayList<>();
        int length = 0;
        for (String piece : pieces) {
            if (length >= c.text().length()) {
                break;
            }
            kept.add(piece.substring(0, Math.min(piece.length(), c.text().length() - length)));
            length += piece.length();
        }
        return kept;
    }

    /** The prompt's ids, then the generated ones. */
    private static int[] sequence(Completion c) {
        return Stream.of(c.promptIds(), c.outputIds()).flatMap(List::stream)
                .mapToInt(Integer::intValue).toArray();
    }

    /** A text's length as Python servers count it (vLLM's text_offset): in code points. */
    private static int codePoints(String s) {
        return s.codePointCount(0, s.length());
    }

    private static ArrayNode bytes(String s) {
        ArrayNode a = Mappers.JSON.createArrayNode();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            a.add(b & 0xff);
        }
        return a;
    }

    // ---- streaming -------------------------------------------------------------------------

    /** A prompt ready to run: its ids, sampler key, settings, its text, and what a stream sends first. */
    private record Pending(int[] ids, long streamKey, GenerationParams params, String promptText, String prefix) {
        Pending(int[] ids, long streamKey, GenerationParams params, String promptText) {
            this(ids, streamKey, params, promptText, "");
        }

        Pending withPrefix(String p) {
            return new Pending(ids, streamKey, params, promptText, p);
        }
    }

    /** A token of choice {@code index}, or its end ({@code done} or {@code error}). */
    private record Event(int index, int token, Completion done, Throwable error) {
    }

    /**
     * Server-sent events for {@code pending} (one choice each): a first chunk per choice (the
     * assistant role for chat, the echoed prompt for completions), text deltas as tokens come, a
     * last chunk with the finish reason, the usage chunk if asked, then {@code data: [DONE]}. Text
     * that could still turn out to be the start of a stop string is held back, so the deltas add
     * up to the non-streamed answer.
     */
    private void streamChoices(HttpServerExchange ex, String id, boolean chat, List<Pending> pending,
            boolean includeUsage) throws IOException {
        BlockingQueue<Event> events = new LinkedBlockingQueue<>();
        List<StreamText> texts = new ArrayList<>();
        for (int i = 0; i < pending.size(); i++) {
            int index = i;
            Pending p = pending.get(i);
            texts.add(new StreamText(tokenizer, p.ids(), p.params().stopStrings()));
            if (p.params().maxNewTokens() == 0) {
                events.add(new Event(i, -1, new Completion("", box(p.ids()), List.of(), "length", 0), null));
                continue;
            }
            MicroBatcher.Generation g = new MicroBatcher.Generation(p.ids(), p.streamKey(), p.params(),
                    (token, logits, finish) -> {
                        if (!"eos".equals(finish)) {  // its text is no part of the answer's (BatchGenerator)
                            events.add(new Event(index, token, null, null));
                        }
                    });
            g.result().whenComplete((c, t) -> events.add(new Event(index, -1, c, t)));
            batcher.submit(g);
        }
        ex.setStatusCode(200);
        ex.getResponseHeaders().put(Headers.CONTENT_TYPE, "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().put(Headers.CACHE_CONTROL, "no-cache");
        OutputStream out = ex.getOutputStream();
        String object = chat ? "chat.completion.chunk" : "text_completion";
        for (int i = 0; i < pending.size(); i++) {
            if (chat) {
                send(out, chunk(id, object, i, true, "", null, includeUsage));
            } else if (!pending.get(i).prefix().isEmpty()) {
                send(out, chunk(id, object, i, false, pending.get(i).prefix(), null, includeUsage));
            }
        }
        int promptTokens = pending.stream().mapToInt(p -> p.ids().length).sum();
        int completionTokens = 0;
        int open = pending.size();
        while (open > 0) {
            Event e;
            try {
                e = events.take();
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while streaming", interrupted);
            }
            if (e.error() != null) {
                ApiException api = asApi(e.error());
                ObjectNode err = Mappers.JSON.createObjectNode();
                err.putObject("error").put("message", api.getMessage()).put("type", api.type).putNull("param")
                        .put("code", api.code);
                send(out, err);
                break;
            }
            StreamText text = texts.get(e.index());
            if (e.done() == null) {
                String delta = text.next(e.token());
                if (!delta.isEmpty()) {
                    send(out, chunk(id, object, e.index(), chat, delta, null, includeUsage));
                }
                continue;
            }
            String rest = text.finish(e.done().text());
            send(out, chunk(id, object, e.index(), chat, rest, finishReason(e.done()), includeUsage));
            completionTokens += e.done().outputIds().size();
            open--;
        }
        if (includeUsage && open == 0) {
            ObjectNode last = envelope(id, object);
            last.putArray("choices");
            last.set("usage", usage(promptTokens, completionTokens));
            send(out, last);
        }
        out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private ObjectNode chunk(String id, String object, int index, boolean chat, String text, String finish,
            boolean includeUsage) {
        ObjectNode body = envelope(id, object);
        ObjectNode choice = body.putArray("choices").addObject();
        choice.put("index", index);
        if (chat) {
            ObjectNode delta = choice.putObject("delta");
            if (finish == null && text.isEmpty()) {
                delta.put("role", "assistant");
            }
            if (!text.isEmpty() || finish == null) {
                delta.put("content", text);
            }
        } else {
            choice.put("text", text);
        }
        choice.putNull("logprobs");
        choice.put("finish_reason", finish);
        if (includeUsage) {
            body.putNull("usage");
        }
        return body;
    }

    private static void send(OutputStream out, JsonNode chunk) throws IOException {
        out.write(("data: " + Mappers.JSON.writeValueAsString(chunk) + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    // ---- shared pieces ---------------------------------------------------------------------

    private ObjectNode envelope(String id, String object) {
        return Mappers.JSON.createObjectNode()
                .put("id", id)
                .put("object", object)
                .put("created", Instant.now().getEpochSecond())
                .put("model", options.servedModelName());
    }

    private static ObjectNode usage(int prompt, int completion) {
        return Mappers.JSON.createObjectNode()
                .put("prompt_tokens", prompt)
                .put("completion_tokens", completion)
                .put("total_tokens", prompt + completion);
    }

    /** The runtime's {@code eos} and {@code stop} are OpenAI's {@code stop}; {@code length} stays. */
    private static String finishReason(Completion c) {
        return "length".equals(c.finishReason()) ? "length" : "stop";
    }

    private static <T> T await(CompletableFuture<T> result) {
        try {
            return result.join();
        } catch (CompletionException e) {
            throw asApi(e.getCause());
        }
    }

    private static ApiException asApi(Throwable t) {
        Throwable cause = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
        if (cause instanceof ApiException api) {
            return api;
        }
        BadInputException bad = BadInputException.in(cause);
        if (bad != null) {
            return ApiException.invalid(bad.getMessage(), null);
        }
        LOG.error("generation failed", cause);
        return new ApiException(500, "server_error", "internal error: " + cause, null, null);
    }

    private static List<Integer> box(int[] ids) {
        return Arrays.stream(ids).boxed().toList();
    }
}
