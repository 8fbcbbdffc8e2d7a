package dev.mergeval.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.OpenAIServiceException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionChoice;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.models.Model;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.runtime.ChatMessage;
import dev.mergeval.runtime.GenerationParams;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.runtime.LogLikelihood;
import dev.mergeval.runtime.LogLikelihoodRequest;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.runtime.TestModels;
import dev.mergeval.source.ModelSource;
import dev.mergeval.source.ModelSources;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link OpenAiServer} on the toy aligned model, talked to by the official OpenAI Java SDK (and by
 * raw HTTP where the SDK cannot send what is tested), against the same model loaded in the JVM and
 * called as {@code mergeval generate} ({@link LanguageModel#generate}) and {@code mergeval score}
 * ({@link LanguageModel#logLikelihood}) call it.
 */
class OpenAiServerTest {

    private static final String KEY = "test-key-not-secret";
    private static final List<String> PROMPTS = List.of("Tell me a story", "What is a cat?", "Say hello",
            "How do I bake bread?", "Name a color", "Write a poem about the sea", "Who are you?", "Count to five");

    private static LanguageModel reference;
    private static OpenAiServer server;
    private static OpenAIClient client;
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @BeforeAll
    static void start() {
        ModelSource source = new ModelSource.Directory(TestModels.projectRoot().resolve("models/toy/aligned").toString());
        reference = ModelSources.load(source, HadoopFs.defaults(), RuntimeOptions.cpu());
        server = OpenAiServer.start(ServeOptions.of(source).withPort(0).withMaxBatch(8));
        client = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl()).apiKey("unused").maxRetries(0).build();
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
        if (reference != null) {
            reference.close();
        }
    }

    private static String chatPrompt(String user) {
        return reference.renderChat(List.of(ChatMessage.user(user)), true);
    }

    private static ChatCompletionCreateParams.Builder chat(String user) {
        return ChatCompletionCreateParams.builder().model("aligned").addUserMessage(user).temperature(0.0)
                .maxCompletionTokens(40L);
    }

    @Test
    void listsTheModelUnderTheDirectorysName() {
        List<Model> models = client.models().list().data();
        assertEquals(1, models.size());
        assertEquals("aligned", models.get(0).id());
        assertEquals("mergeval", models.get(0).ownedBy());
        assertEquals("aligned", client.models().retrieve("aligned").id());
    }

    @Test
    void greedyChatIsWhatGenerateGives() {
        for (String user : PROMPTS.subList(0, 3)) {
            ChatCompletion c = client.chat().completions().create(chat(user).build());
            dev.mergeval.runtime.Completion expected = reference.generate(List.of(chatPrompt(user)),
                    GenerationParams.greedy(40)).get(0);
            assertEquals(expected.text(), c.choices().get(0).message().content().orElseThrow(), user);
            assertEquals(expected.finishReason().equals("length") ? "length" : "stop",
                    c.choices().get(0).finishReason().asString());
            assertEquals(expected.promptIds().size(), c.usage().orElseThrow().promptTokens());
            assertEquals(expected.outputIds().size(), c.usage().orElseThrow().completionTokens());
            assertEquals("aligned", c.model());
        }
    }

    @Test
    void sampledChatIsWhatGenerateGivesWithTheSameSeed() {
        String user = "Tell me a story";
        ChatCompletion c = client.chat().completions().create(chat(user).temperature(0.9).topP(0.95).seed(7L).build());
        dev.mergeval.runtime.Completion expected = reference.generate(List.of(chatPrompt(user)),
                new GenerationParams(40, 0.9, 0, 0.95, 1.0, 7L, List.of())).get(0);
        assertEquals(expected.text(), c.choices().get(0).message().content().orElseThrow());
        ChatCompletion other = client.chat().completions().create(chat(user).temperature(0.9).seed(8L).build());
        assertFalse(other.choices().get(0).message().content().orElseThrow().isEmpty());
    }

    @Test
    void aStopStringEndsTheAnswerAndIsLeftOut() {
        String user = "Tell me a story";
        String full = reference.generate(List.of(chatPrompt(user)), GenerationParams.greedy(40)).get(0).text();
        String stop = full.substring(full.length() / 2, full.length() / 2 + 2);
        ChatCompletion c = client.chat().completions().create(chat(user).stop(stop).build());
        String text = c.choices().get(0).message().content().orElseThrow();
        assertEquals(full.substring(0, full.indexOf(stop)), text);
        assertEquals("stop", c.choices().get(0).finishReason().asString());
    }

    @Test
    void streamedChatAddsUpToTheAnswer() {
        String user = "Tell me a story";
        String whole = client.chat().completions().create(chat(user).build()).choices().get(0).message().content()
                .orElseThrow();
        StringBuilder text = new StringBuilder();
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        ChatCompletionCreateParams params = chat(user)
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(params)) {
            stream.stream().forEach(chunk -> {
                chunks.add(chunk);
                chunk.choices().forEach(ch -> ch.delta().content().ifPresent(text::append));
            });
        }
        assertEquals(whole, text.toString());
        assertTrue(chunks.size() > 3, "deltas came one by one: " + chunks.size());
        assertEquals("assistant", chunks.get(0).choices().get(0).delta().role().orElseThrow().asString());
        ChatCompletionChunk last = chunks.get(chunks.size() - 1);
        assertTrue(last.choices().isEmpty());
        assertTrue(last.usage().orElseThrow().completionTokens() > 0);
        ChatCompletionChunk finish = chunks.get(chunks.size() - 2);
        assertTrue(finish.choices().get(0).finishReason().isPresent());
    }

    @Test
    void streamedStopStringIsNeverSent() {
        String user = "Tell me a story";
        String full = reference.generate(List.of(chatPrompt(user)), GenerationParams.greedy(40)).get(0).text();
        String stop = full.substring(10, 14);
        StringBuilder text = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> stream =
                client.chat().completions().createStreaming(chat(user).stop(stop).build())) {
            stream.stream().forEach(chunk -> chunk.choices().forEach(ch -> ch.delta().content().ifPresent(text::append)));
        }
        assertEquals(full.substring(0, full.indexOf(stop)), text.toString());
    }

    @Test
    void echoedPromptLogprobsAreTheScoresOfScore() {
        String context = "Once upon a time";
        String continuation = " there was a little girl";
        Completion c = client.completions().create(CompletionCreateParams.builder().model("aligned")
                .prompt(context + continuation).echo(true).logprobs(1L).maxTokens(0L).temperature(0.0).build());
        CompletionChoice choice = c.choices().get(0);
        assertEquals(context + continuation, choice.text());
        CompletionChoice.Logprobs lp = choice.logprobs().orElseThrow();
        List<String> tokens = lp.tokens().orElseThrow();
        List<Double> logprobs = lp.tokenLogprobs().orElseThrow();
        List<Long> offsets = lp.textOffset().orElseThrow();
        assertEquals(context + continuation, String.join("", tokens));
        assertNull(logprobs.get(0), "the first token has no log-probability");
        LogLikelihood expected = reference.logLikelihood(List.of(new LogLikelihoodRequest(context, continuation))).get(0);
        double sum = 0;
        int counted = 0;
        boolean greedy = true;
        for (int i = 0; i < tokens.size(); i++) {
            if (offsets.get(i) >= context.length()) {
                sum += logprobs.get(i);
                counted++;
                Map<String, JsonValue> top = lp.topLogprobs().orElseThrow().get(i)._additionalProperties();
                double best = top.values().stream().mapToDouble(v -> ((Number) v.asNumber().orElseThrow()).doubleValue())
                        .max().orElseThrow();
                greedy &= logprobs.get(i) >= best;
            }
        }
        assertEquals(expected.tokenCount(), counted);
        assertEquals(expected.logProb(), sum, 1e-4);
        assertEquals(expected.greedy(), greedy);
    }

    @Test
    void chatLogprobsGiveEveryGeneratedToken() {
        ChatCompletion c = client.chat().completions().create(chat("Say hello").logprobs(true).topLogprobs(2L).build());
        var choice = c.choices().get(0);
        var content = choice.logprobs().orElseThrow().content().orElseThrow();
        assertEquals(c.usage().orElseThrow().completionTokens(), content.size());
        StringBuilder text = new StringBuilder();
        for (var token : content) {
            text.append(token.token());
            assertEquals(2, token.topLogprobs().size());
            assertEquals(token.topLogprobs().get(0).logprob(), token.logprob(), 1e-6, "greedy: the chosen token is the top one");
        }
        assertEquals(choice.message().content().orElseThrow(), text.toString());
    }

    @Test
    void streamedCompletionsAddUpToTheAnswer() throws Exception {
        Map<String, Object> body = new java.util.HashMap<>(Map.of("prompt", List.of("Once", "The cat"),
                "max_tokens", 12, "temperature", 0, "echo", true));
        JsonNode whole = post("/completions", body, null).body();
        body.put("stream", true);
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/completions"))
                .POST(HttpRequest.BodyPublishers.ofString(Mappers.JSON.writeValueAsString(body))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElseThrow().startsWith("text/event-stream"));
        StringBuilder[] texts = {new StringBuilder(), new StringBuilder()};
        String[] finish = new String[2];
        List<String> lines = r.body().lines().filter(l -> l.startsWith("data: ")).toList();
        assertEquals("data: [DONE]", lines.get(lines.size() - 1));
        for (String line : lines.subList(0, lines.size() - 1)) {
            JsonNode chunk = Mappers.JSON.readTree(line.substring(6)).get("choices").get(0);
            int i = chunk.get("index").asInt();
            texts[i].append(chunk.get("text").asText());
            if (!chunk.get("finish_reason").isNull()) {
                finish[i] = chunk.get("finish_reason").asText();
            }
        }
        for (int i = 0; i < 2; i++) {
            assertEquals(whole.at("/choices/" + i + "/text").asText(), texts[i].toString());
            assertEquals(whole.at("/choices/" + i + "/finish_reason").asText(), finish[i]);
        }
    }

    @Test
    void echoWithGenerationLogsBothParts() throws Exception {
        // the model continues "Once" with a word: its first piece begins with the space that the
        // token decoded on its own would lose
        JsonNode body = post("/completions", Map.of("prompt", "Once", "echo", true, "logprobs", 2,
                "max_tokens", 5, "temperature", 0), null).body();
        JsonNode choice = body.get("choices").get(0);
        JsonNode lp = choice.get("logprobs");
        String generated = reference.generate(List.of("Once"), GenerationParams.greedy(5)).get(0).text();
        assertTrue(generated.startsWith(" "), generated);
        assertEquals("Once" + generated, choice.get("text").asText());
        StringBuilder joined = new StringBuilder();
        lp.get("tokens").forEach(t -> joined.append(t.asText()));
        assertEquals(choice.get("text").asText(), joined.toString());
        int n = lp.get("tokens").size();
        assertEquals(n, lp.get("token_logprobs").size());
        assertEquals(n, lp.get("text_offset").size());
        for (int i = 1; i < n; i++) {
            JsonNode top = lp.get("top_logprobs").get(i);
            assertTrue(top.size() >= 2 && top.size() <= 3, "2 alternatives and maybe the chosen token: " + top);
            assertTrue(top.has(lp.get("tokens").get(i).asText()), "the chosen token is labelled as its text: " + top);
            assertTrue(lp.get("token_logprobs").get(i).asDouble() <= 0);
        }
        // greedy: every generated token is the most likely one
        for (int i = n - 5; i < n; i++) {
            double best = 0;
            boolean first = true;
            for (JsonNode v : lp.get("top_logprobs").get(i)) {
                best = first ? v.asDouble() : Math.max(best, v.asDouble());
                first = false;
            }
            assertEquals(best, lp.get("token_logprobs").get(i).asDouble(), 1e-6);
        }
    }

    @Test
    void aListOfPromptsGivesOneChoiceEachInOrder() {
        List<String> prompts = List.of("Once upon a time", "The cat", "A dog ran");
        Completion c = client.completions().create(CompletionCreateParams.builder().model("aligned")
                .prompt(CompletionCreateParams.Prompt.ofArrayOfStrings(prompts)).maxTokens(12L).temperature(0.0).build());
        assertEquals(3, c.choices().size());
        for (int i = 0; i < prompts.size(); i++) {
            CompletionChoice choice = c.choices().get(i);
            assertEquals(i, choice.index());
            assertEquals(reference.generate(List.of(prompts.get(i)), GenerationParams.greedy(12)).get(0).text(),
                    choice.text());
        }
    }

    @Test
    void tokenIdPromptsAreTheTextsTokens() throws Exception {
        String prompt = "Once upon a time";
        List<Integer> ids = reference.generate(List.of(prompt), GenerationParams.greedy(1)).get(0).promptIds();
        JsonNode byText = post("/completions", Map.of("prompt", prompt, "max_tokens", 8, "temperature", 0), null).body();
        JsonNode byIds = post("/completions", Map.of("prompt", ids, "max_tokens", 8, "temperature", 0), null).body();
        assertEquals(byText.at("/choices/0/text"), byIds.at("/choices/0/text"));
        assertEquals(ids.size(), byIds.at("/usage/prompt_tokens").asInt());
    }

    @Test
    void concurrentGreedyAnswersAreTheAnswersAlone() throws Exception {
        List<String> alone = new ArrayList<>();
        for (String p : PROMPTS) {
            alone.add(reference.generate(List.of(chatPrompt(p)), GenerationParams.greedy(40)).get(0).text());
        }
        ExecutorService pool = Executors.newFixedThreadPool(PROMPTS.size());
        try {
            for (int round = 0; round < 3; round++) {
                List<Future<String>> answers = new ArrayList<>();
                for (String p : PROMPTS) {
                    Callable<String> call = () -> client.chat().completions().create(chat(p).build()).choices().get(0)
                            .message().content().orElseThrow();
                    answers.add(pool.submit(call));
                }
                for (int i = 0; i < PROMPTS.size(); i++) {
                    assertEquals(alone.get(i), answers.get(i).get(), PROMPTS.get(i));
                }
            }
        } finally {
            pool.shutdownNow();
        }
        int largest = server.takeLargestBatch();
        assertTrue(largest > 1, "concurrent requests shared a batch: " + largest);
    }

    @Test
    void badRequestsAreOpenAiErrorsThroughTheSdk() {
        BadRequestException unknown = assertThrows(BadRequestException.class,
                () -> client.chat().completions().create(chat("hi").model("gpt-4o").build()));
        assertEquals(400, unknown.statusCode());
        assertEquals("model", unknown.param().orElseThrow());
        OpenAIServiceException n = assertThrows(OpenAIServiceException.class,
                () -> client.chat().completions().create(chat("hi").n(2L).build()));
        assertEquals(400, n.statusCode());
        assertEquals("n", n.param().orElseThrow());
        OpenAIServiceException t = assertThrows(OpenAIServiceException.class,
                () -> client.chat().completions().create(chat("hi").temperature(2.5).build()));
        assertEquals(400, t.statusCode());
        assertEquals("invalid_request_error", t.type().orElseThrow());
        assertEquals("aligned", client.models().list().data().get(0).id(), "still serving");
    }

    @Test
    void malformedBodiesUnknownPathsAndWrongMethods() throws Exception {
        assertError(post("/chat/completions", "{not json", null), 400, "invalid_request_error", null);
        assertError(post("/chat/completions", "", null), 400, "invalid_request_error", null);
        assertError(post("/chat/completions", Map.of("model", "aligned"), null), 400, "invalid_request_error", "messages");
        assertError(post("/chat/completions", Map.of("messages", List.of()), null), 400, "invalid_request_error",
                "messages");
        assertError(post("/chat/completions", Map.of("messages", List.of(Map.of("role", "user", "content", "hi")),
                "max_tokens", -1), null), 400, "invalid_request_error", "max_tokens");
        assertError(post("/chat/completions", Map.of("messages", List.of(Map.of("role", "user", "content", "hi")),
                "top_p", 0), null), 400, "invalid_request_error", "top_p");
        assertError(post("/completions", Map.of("prompt", "x", "max_tokens", -3), null), 400, "invalid_request_error",
                "max_tokens");
        assertError(post("/completions", Map.of("prompt", 5), null), 400, "invalid_request_error", "prompt");
        assertError(post("/completions", Map.of("prompt", List.of(List.of(1, 99999))), null), 400,
                "invalid_request_error", "prompt");
        assertError(post("/completions", Map.of("prompt", "x".repeat(5000)), null), 400, "invalid_request_error",
                "prompt");
        assertError(post("/embeddings", Map.of("input", "x"), null), 404, "invalid_request_error", null);
        HttpResponse<String> get = HTTP.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/chat/completions"))
                .GET().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, get.statusCode());
        assertEquals("invalid_request_error", Mappers.JSON.readTree(get.body()).at("/error/type").asText());
        byte[] huge = new byte[ServeOptions.DEFAULT_MAX_BODY_BYTES + 1024];
        java.util.Arrays.fill(huge, (byte) ' ');
        HttpResponse<String> tooBig = HTTP.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/completions"))
                .POST(HttpRequest.BodyPublishers.ofByteArray(huge)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(413, tooBig.statusCode());
        assertEquals("aligned", client.models().list().data().get(0).id(), "still serving after every error");
    }

    @Test
    void anApiKeyIsRequiredWhenSet() throws Exception {
        ModelSource source = new ModelSource.Directory(TestModels.projectRoot().resolve("models/toy/aligned").toString());
        try (OpenAiServer keyed = OpenAiServer.start(ServeOptions.of(source).withPort(0).withApiKey(KEY)
                .withServedModelName("toy"))) {
            HttpResponse<String> none = HTTP.send(HttpRequest.newBuilder(URI.create(keyed.baseUrl() + "/models")).GET()
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(401, none.statusCode());
            assertEquals("authentication_error", Mappers.JSON.readTree(none.body()).at("/error/type").asText());
            assertFalse(none.body().contains(KEY));
            OpenAIClient wrong = OpenAIOkHttpClient.builder().baseUrl(keyed.baseUrl()).apiKey("wrong").maxRetries(0)
                    .build();
            UnauthorizedException e = assertThrows(UnauthorizedException.class, () -> wrong.models().list());
            assertEquals(401, e.statusCode());
            OpenAIClient right = OpenAIOkHttpClient.builder().baseUrl(keyed.baseUrl()).apiKey(KEY).maxRetries(0).build();
            assertEquals("toy", right.models().list().data().get(0).id());
            assertFalse(keyed.toString().contains(KEY));
        }
    }

    @Test
    void aNonLoopbackHostNeedsAKey() {
        ModelSource source = new ModelSource.Directory("/nowhere/model");
        BadInputException e = assertThrows(BadInputException.class,
                () -> new ServeOptions(source, "0.0.0.0", 0, null, null, 4, 0, "cpu", 5, 1 << 20));
        assertTrue(e.getMessage().contains("--api-key-env"), e.getMessage());
        ServeOptions keyed = new ServeOptions(source, "0.0.0.0", 0, null, KEY, 4, 0, "cpu", 5, 1 << 20);
        assertEquals("model", keyed.servedModelName());
        assertFalse(keyed.toString().contains(KEY));
    }

    /** {@code logprobs: 0} (completions) and chat {@code logprobs: true} alone: the chosen tokens, no alternatives. */
    @Test
    void logprobsWithNoAlternativesListTheChosenTokens() throws Exception {
        Reply completion = post("/completions", Map.of("prompt", "Once", "logprobs", 0, "max_tokens", 4,
                "temperature", 0), null);
        assertEquals(200, completion.status(), completion.body().toString());
        JsonNode lp = completion.body().at("/choices/0/logprobs");
        assertEquals(4, lp.get("tokens").size());
        lp.get("top_logprobs").forEach(top -> assertEquals(1, top.size(), "the chosen token only: " + top));
        Reply chat = post("/chat/completions", Map.of("model", "aligned", "messages",
                List.of(Map.of("role", "user", "content", "Say hello")), "logprobs", true, "max_tokens", 4,
                "temperature", 0), null);
        assertEquals(200, chat.status(), chat.body().toString());
        chat.body().at("/choices/0/logprobs/content").forEach(e -> assertEquals(0, e.get("top_logprobs").size()));
    }

    /**
     * Offsets in code points (an emoji counts once, as Python servers count), the chosen token's label
     * its entry, and pieces that add up to the text where a stop string cuts a token.
     */
    @Test
    void logprobsTokensOffsetsAndLabelsAgreeWithTheText() throws Exception {
        // an emoji (two UTF-16 units, four byte tokens), and special tokens' text, which decodes otherwise
        for (String prompt : List.of("I like \uD83C\uDF55 a lot", "<s>literal", "</s> x")) {
            JsonNode echoed = post("/completions", Map.of("prompt", prompt, "echo", true, "logprobs", 1,
                    "max_tokens", 6, "temperature", 0), null).body().at("/choices/0");
            String text = echoed.get("text").asText();
            JsonNode lp = echoed.get("logprobs");
            StringBuilder joined = new StringBuilder();
            int[] codePoints = text.codePoints().toArray();
            for (int i = 0; i < lp.get("tokens").size(); i++) {
                String token = lp.get("tokens").get(i).asText();
                joined.append(token);
                int offset = lp.get("text_offset").get(i).asInt();
                String from = new String(codePoints, offset, codePoints.length - offset);
                assertTrue(from.startsWith(token), i + ": '" + token + "' at code point " + offset + " of " + text);
                JsonNode top = lp.get("top_logprobs").get(i);
                assertTrue(top.isNull() || top.has(token), "label of the chosen token " + i + ": " + top);
            }
            assertEquals(text, joined.toString());
            assertTrue(text.startsWith(prompt), text);
        }
        // a stop string that begins inside a generated token, not found in the text before it
        JsonNode free = post("/completions", Map.of("prompt", "Once upon a time", "logprobs", 0, "max_tokens", 12,
                "temperature", 0), null).body().at("/choices/0/logprobs/tokens");
        int cut = -1;
        StringBuilder before = new StringBuilder();
        for (int i = 0; i < free.size() && cut < 0; i++) {
            String piece = free.get(i).asText();
            boolean fresh = piece.length() >= 2 && !(before + piece.substring(0, 1)).contains(piece.substring(1));
            cut = i > 0 && fresh ? i : -1;
            before.append(piece);
        }
        assertTrue(cut > 0, "a token of two characters or more: " + free);
        String stop = free.get(cut).asText().substring(1);
        JsonNode stopped = post("/completions", Map.of("prompt", "Once upon a time", "logprobs", 1, "max_tokens", 12,
                "temperature", 0, "stop", stop), null).body().at("/choices/0");
        StringBuilder joined = new StringBuilder();
        stopped.at("/logprobs/tokens").forEach(t -> joined.append(t.asText()));
        assertEquals(stopped.get("text").asText(), joined.toString());
        assertEquals(free.get(cut).asText().substring(0, 1),
                stopped.at("/logprobs/tokens").get(cut).asText(), "the cut token keeps its text before the stop string");
    }

    /** vLLM's top_k and repetition_penalty are honoured; fields that cannot be are refused, not dropped. */
    @Test
    void samplingFieldsAreHonouredOrRefused() throws Exception {
        Map<String, Object> greedy = Map.of("prompt", "Once upon a time", "max_tokens", 12, "temperature", 0);
        String expected = post("/completions", greedy, null).body().at("/choices/0/text").asText();
        for (long seed = 1; seed <= 3; seed++) {
            Reply topK = post("/completions", Map.of("prompt", "Once upon a time", "max_tokens", 12,
                    "temperature", 1.5, "top_k", 1, "seed", seed), null);
            assertEquals(expected, topK.body().at("/choices/0/text").asText(), "top_k 1 is greedy");
        }
        Map<String, Object> penalized = new java.util.HashMap<>(greedy);
        penalized.put("repetition_penalty", 2.0);
        String withPenalty = post("/completions", penalized, null).body().at("/choices/0/text").asText();
        assertEquals(reference.generate(List.of("Once upon a time"),
                new GenerationParams(12, 0, 0, 1.0, 2.0, 0, List.of())).get(0).text(), withPenalty);
        assertError(post("/completions", Map.of("prompt", "x", "top_k", "x"), null), 400, "invalid_request_error",
                "top_k");
        assertError(post("/completions", Map.of("prompt", "x", "logit_bias", Map.of("3", -100)), null), 400,
                "invalid_request_error", "logit_bias");
        assertError(post("/chat/completions", Map.of("messages", List.of(Map.of("role", "user", "content", "x")),
                "min_tokens", 5), null), 400, "invalid_request_error", "min_tokens");
        assertEquals(200, post("/completions", Map.of("prompt", "x", "max_tokens", 1, "logit_bias", Map.of(),
                "ignore_eos", false), null).status(), "neutral values are accepted");
        Reply huge = post("/completions", Map.of("prompt", "x", "max_tokens", 1_000_000_000_000L), null);
        assertError(huge, 400, "invalid_request_error", "max_tokens");
        assertTrue(huge.body().at("/error/message").asText().contains("greater than the maximum"), huge.body().toString());
        assertError(post("/chat/completions", Map.of("messages", List.of(Map.of("role", 5, "content", "x"))), null),
                400, "invalid_request_error", "messages");
    }

    /** As vLLM: a requested max_tokens must fit in the context after the prompt (the toy model's is 512). */
    @Test
    void maxTokensBeyondTheContextIsRefusedAndNoneRunsToItsEnd() throws Exception {
        List<Integer> ids = java.util.Collections.nCopies(508, 300);
        Reply defaulted = post("/completions", Map.of("prompt", List.of(ids)), null);
        assertError(defaulted, 400, "invalid_request_error", "max_tokens");
        assertTrue(defaulted.body().at("/error/message").asText().contains("524 tokens (508 in the prompt, 16 in the"),
                defaulted.body().toString());
        assertEquals("context_length_exceeded", defaulted.body().at("/error/code").asText());
        Reply fits = post("/completions", Map.of("prompt", List.of(ids), "max_tokens", 4, "temperature", 0), null);
        assertEquals(200, fits.status(), fits.body().toString());
        assertTrue(fits.body().at("/usage/completion_tokens").asInt() <= 4, fits.body().toString());
        assertError(post("/chat/completions", Map.of("messages", List.of(Map.of("role", "user", "content", "hi")),
                "max_tokens", 512), null), 400, "invalid_request_error", "max_tokens");
        String longChat = "Once upon a time there was a cat. ".repeat(40);
        Reply open = post("/chat/completions", Map.of("messages", List.of(Map.of("role", "user", "content", longChat)),
                "temperature", 0), null);
        assertEquals(200, open.status(), open.body().toString());
        int promptTokens = open.body().at("/usage/prompt_tokens").asInt();
        assertTrue(promptTokens > 400 && promptTokens < 512, "prompt of " + promptTokens + " tokens");
        assertTrue(open.body().at("/usage/completion_tokens").asInt() <= 512 - promptTokens, open.body().toString());
    }

    @Test
    void aLoneSurrogateEscapeIsRefusedWhereverItIs() throws Exception {
        assertError(post("/completions", "{\"prompt\": \"a\\ud800b\", \"max_tokens\": 1}", null), 400,
                "invalid_request_error", "prompt");
        assertError(post("/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"x\\udc00\"}]}", null),
                400, "invalid_request_error", "messages[0].content");
        assertError(post("/completions", "{\"prompt\": \"x\", \"stop\": [\"ok\", \"\\ud83d\"]}", null), 400,
                "invalid_request_error", "stop[1]");
        assertEquals(200, post("/completions", "{\"prompt\": \"a cat \\ud83d\\ude00\", \"max_tokens\": 1}", null).status(),
                "a surrogate pair is one code point");
    }

    /** SIGTERM's close: requests in flight are answered, new ones get 503, then the port closes. */
    @Test
    void closingAnswersTheRequestsInFlight() throws Exception {
        // stories260K tells long stories: its stream is still going when the server closes
        java.nio.file.Path stories = TestModels.stories260K();
        OpenAiServer own = OpenAiServer.start(ServeOptions.of(new ModelSource.Directory(stories.toString()))
                .withPort(0));
        HttpRequest streamed = HttpRequest.newBuilder(URI.create(own.baseUrl() + "/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
                        Mappers.JSON.writeValueAsString(Map.of("prompt", "Once upon a time", "max_tokens", 160,
                                "temperature", 0, "stream", true)))).build();
        HttpResponse<java.io.InputStream> inFlight = HTTP.send(streamed, HttpResponse.BodyHandlers.ofInputStream());
        try (java.io.BufferedReader lines = new java.io.BufferedReader(new java.io.InputStreamReader(
                inFlight.body(), java.nio.charset.StandardCharsets.UTF_8))) {
            assertTrue(lines.readLine().startsWith("data: "), "the first chunk: generating");
            own.refuseNewRequests();
            HttpResponse<String> late = HTTP.send(HttpRequest.newBuilder(URI.create(own.baseUrl() + "/models"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(503, late.statusCode(), "a request after shutdown began");
            Thread closing = new Thread(own::close);
            closing.start();
            List<String> rest = lines.lines().filter(l -> l.startsWith("data: ")).toList();
            assertEquals("data: [DONE]", rest.get(rest.size() - 1), "the stream in flight ends as it should");
            closing.join();
        }
        assertThrows(java.io.IOException.class, () -> HTTP.send(streamed, HttpResponse.BodyHandlers.ofString()),
                "the port is closed");
    }

    private record Reply(int status, JsonNode body) {
    }

    private static Reply post(String path, Object body, String key) throws Exception {
        String json = body instanceof String s ? s : Mappers.JSON.writeValueAsString(body);
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.baseUrl() + path))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json));
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), Mappers.JSON.readTree(r.body()));
    }

    private static void assertError(Reply r, int status, String type, String param) {
        assertEquals(status, r.status(), r.body().toString());
        JsonNode error = r.body().get("error");
        assertTrue(error.get("message").isTextual(), r.body().toString());
        assertEquals(type, error.get("type").asText());
        assertTrue(error.has("param") && error.has("code"), r.body().toString());
        if (param != null) {
            assertEquals(param, error.get("param").asText(), r.body().toString());
        }
    }
}
