package dev.mergeval.serve;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.common.KeyedRandom;
import dev.mergeval.runtime.ChatMessage;
import java.util.ArrayList;
import java.util.List;

/**
 * The request bodies of the two generation endpoints, read and range-checked as OpenAI does: a
 * value of the wrong type or out of range is an {@link ApiException} naming its field
 * ({@code param}). Fields the runtime has no use for (user, metadata, ...) are ignored; vLLM's
 * {@code top_k} and {@code repetition_penalty} are honoured; fields that would change the answer and
 * that it cannot honour ({@code n > 1}, OpenAI's penalties and {@code logit_bias}, {@code suffix},
 * vLLM's {@code min_tokens}, {@code ignore_eos}, {@code min_p}, guided decoding, ...) are refused
 * where they are set to anything but their neutral value, rather than silently dropped.
 */
final class Requests {

    /** OpenAI's range of {@code top_logprobs}; completions' {@code logprobs} allows the same here (vLLM: 20). */
    static final int MAX_TOP_LOGPROBS = 20;

    /** Completions' default {@code max_tokens} (OpenAI's). */
    static final int COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

    private Requests() {
    }

    /**
     * Decoding settings shared by both endpoints; {@code maxTokens} null where the request named none,
     * {@code topK} 0 for no filter.
     */
    record Sampling(Integer maxTokens, double temperature, int topK, double topP, double repetitionPenalty, long seed,
            List<String> stop) {
    }

    /**
     * Fields that change the answer and that the runtime cannot honour, with what counts as unset:
     * null, false, 0, an empty list or object, or for {@code response_format} the type text.
     */
    private static final List<String> UNSUPPORTED = List.of("logit_bias", "min_tokens", "ignore_eos", "min_p",
            "use_beam_search", "stop_token_ids", "bad_words", "allowed_token_ids",
            "logits_processors", "guided_json", "guided_regex", "guided_choice", "guided_grammar", "structured_outputs",
            "tools", "functions", "prompt_logprobs", "truncate_prompt_tokens");

    record Chat(String model, List<ChatMessage> messages, Sampling sampling, boolean stream, boolean includeUsage,
            boolean logprobs, int topLogprobs) {
    }

    /** One completions prompt: text, or token ids. */
    record Prompt(String text, int[] ids) {
    }

    record Completions(String model, List<Prompt> prompts, Sampling sampling, boolean echo, Integer logprobs,
            boolean stream, boolean includeUsage) {
    }

    static Chat chat(JsonNode body) {
        requireObject(body);
        String model = optionalText(body, "model");
        JsonNode messagesNode = body.get("messages");
        if (messagesNode == null || messagesNode.isNull()) {
            throw ApiException.invalid("'messages' is a required property", "messages");
        }
        if (!messagesNode.isArray() || messagesNode.isEmpty()) {
            throw ApiException.invalid("'messages' must be a non-empty array", "messages");
        }
        List<ChatMessage> messages = new ArrayList<>();
        for (int i = 0; i < messagesNode.size(); i++) {
            messages.add(message(messagesNode.get(i), "messages[" + i + "]"));
        }
        Integer maxTokens = optionalInt(body, "max_completion_tokens", 1, Integer.MAX_VALUE);
        if (maxTokens == null) {
            maxTokens = optionalInt(body, "max_tokens", 1, Integer.MAX_VALUE);
        }
        boolean logprobs = optionalBool(body, "logprobs", false);
        Integer top = optionalInt(body, "top_logprobs", 0, MAX_TOP_LOGPROBS);
        if (top != null && !logprobs) {
            throw ApiException.invalid("'top_logprobs' needs 'logprobs' set to true", "top_logprobs");
        }
        boolean stream = optionalBool(body, "stream", false);
        return new Chat(model, List.copyOf(messages), sampling(body, maxTokens), stream, includeUsage(body, stream),
                logprobs, top == null ? 0 : top);
    }

    static Completions completions(JsonNode body) {
        requireObject(body);
        String model = optionalText(body, "model");
        JsonNode p = body.get("prompt");
        if (p == null || p.isNull()) {
            throw ApiException.invalid("'prompt' is a required property", "prompt");
        }
        List<Prompt> prompts = new ArrayList<>();
        if (p.isTextual()) {
            prompts.add(new Prompt(p.asText(), null));
        } else if (p.isArray() && !p.isEmpty() && p.get(0).isTextual()) {
            for (JsonNode e : p) {
                if (!e.isTextual()) {
                    throw ApiException.invalid("'prompt' must be a string, a list of strings, a list of token ids"
                            + " or a list of such lists", "prompt");
                }
                prompts.add(new Prompt(e.asText(), null));
            }
        } else if (p.isArray() && !p.isEmpty() && p.get(0).isIntegralNumber()) {
            prompts.add(new Prompt(null, tokenIds(p)));
        } else if (p.isArray() && !p.isEmpty() && p.get(0).isArray()) {
            for (JsonNode e : p) {
                prompts.add(new Prompt(null, tokenIds(e)));
            }
        } else {
            throw ApiException.invalid("'prompt' must be a string, a list of strings, a list of token ids"
                    + " or a list of such lists", "prompt");
        }
        Integer maxTokens = optionalInt(body, "max_tokens", 0, Integer.MAX_VALUE);
        boolean echo = optionalBool(body, "echo", false);
        Integer logprobs = optionalInt(body, "logprobs", 0, MAX_TOP_LOGPROBS);
        Integer bestOf = optionalInt(body, "best_of", 1, Integer.MAX_VALUE);
        if (bestOf != null && bestOf != 1) {
            throw ApiException.invalid("only best_of = 1 is supported, got " + bestOf, "best_of");
        }
        if (body.hasNonNull("suffix")) {
            throw ApiException.invalid("'suffix' is not supported", "suffix");
        }
        boolean stream = optionalBool(body, "stream", false);
        if (stream && logprobs != null) {
            throw ApiException.invalid("'logprobs' is not supported with 'stream'", "logprobs");
        }
        Sampling sampling = sampling(body, maxTokens == null ? COMPLETIONS_DEFAULT_MAX_TOKENS : maxTokens);
        return new Completions(model, List.copyOf(prompts), sampling, echo, logprobs, stream, includeUsage(body, stream));
    }

    private static Sampling sampling(JsonNode body, Integer maxTokens) {
        Integer n = optionalInt(body, "n", 1, Integer.MAX_VALUE);
        if (n != null && n != 1) {
            throw ApiException.invalid("only n = 1 is supported, got " + n, "n");
        }
        Double temperature = optionalDouble(body, "temperature");
        if (temperature != null && !(temperature >= 0 && temperature <= 2)) {
            throw ApiException.invalid(temperature + " is not in [0, 2] - 'temperature'", "temperature");
        }
        Double topP = optionalDouble(body, "top_p");
        if (topP != null && !(topP > 0 && topP <= 1)) {
            throw ApiException.invalid(topP + " is not in (0, 1] - 'top_p'", "top_p");
        }
        for (String penalty : List.of("presence_penalty", "frequency_penalty")) {
            Double v = optionalDouble(body, penalty);
            if (v != null && v != 0) {
                throw ApiException.invalid("'" + penalty + "' is not supported (only 0)", penalty);
            }
        }
        // vLLM's: -1 (and 0) for no filter
        Integer topK = optionalInt(body, "top_k", -1, Integer.MAX_VALUE);
        Double repetition = optionalDouble(body, "repetition_penalty");
        if (repetition != null && !(repetition > 0 && Double.isFinite(repetition))) {
            throw ApiException.invalid(repetition + " is not a finite number > 0 - 'repetition_penalty'",
                    "repetition_penalty");
        }
        for (String field : UNSUPPORTED) {
            if (isSet(body.get(field))) {
                throw ApiException.invalid("'" + field + "' is not supported; leave it unset", field);
            }
        }
        JsonNode format = body.get("response_format");
        if (format != null && !format.isNull() && !"text".equals(format.path("type").asText())) {
            throw ApiException.invalid("'response_format' other than {\"type\": \"text\"} is not supported",
                    "response_format");
        }
        JsonNode seedNode = body.get("seed");
        long seed = KeyedRandom.DEFAULT_SEED;
        if (seedNode != null && !seedNode.isNull()) {
            if (!seedNode.isIntegralNumber() || !seedNode.canConvertToLong()) {
                throw ApiException.invalid("'seed' must be an integer of 64 bits", "seed");
            }
            seed = seedNode.asLong();
        }
        return new Sampling(maxTokens, temperature == null ? 1.0 : temperature, topK == null ? 0 : Math.max(0, topK),
                topP == null ? 1.0 : topP, repetition == null ? 1.0 : repetition, seed, stops(body.get("stop")));
    }

    /** Whether an answer-changing field is set to anything but its neutral value. */
    private static boolean isSet(JsonNode v) {
        return v != null && !v.isNull() && !(v.isBoolean() && !v.asBoolean()) && !(v.isNumber() && v.asDouble() == 0)
                && !(v.isContainerNode() && v.isEmpty());
    }

    private static List<String> stops(JsonNode stop) {
        List<String> out = new ArrayList<>();
        if (stop == null || stop.isNull()) {
            return out;
        }
        if (stop.isTextual()) {
            out.add(stop.asText());
        } else if (stop.isArray()) {
            for (JsonNode s : stop) {
                if (!s.isTextual()) {
                    throw ApiException.invalid("'stop' must be a string or a list of strings", "stop");
                }
                out.add(s.asText());
            }
        } else {
            throw ApiException.invalid("'stop' must be a string or a list of strings", "stop");
        }
        if (out.stream().anyMatch(String::isEmpty)) {
            throw ApiException.invalid("'stop' strings must not be empty", "stop");
        }
        return out;
    }

    private static boolean includeUsage(JsonNode body, boolean stream) {
        JsonNode options = body.get("stream_options");
        if (options == null || options.isNull()) {
            return false;
        }
        if (!stream) {
            throw ApiException.invalid("'stream_options' is only allowed with 'stream' set to true", "stream_options");
        }
        if (!options.isObject()) {
            throw ApiException.invalid("'stream_options' must be an object", "stream_options");
        }
        return optionalBool(options, "include_usage", false);
    }

    private static ChatMessage message(JsonNode m, String where) {
        if (!m.isObject()) {
            throw ApiException.invalid(where + " must be an object", "messages");
        }
        JsonNode roleNode = m.get("role");
        if (roleNode == null || roleNode.isNull()) {
            throw ApiException.invalid(where + ".role is required", "messages");
        }
        if (!roleNode.isTextual()) {
            throw ApiException.invalid(where + ".role must be a string", "messages");
        }
        String role = roleNode.asText();
        role = switch (role) {
            case "system", "developer" -> "system";
            case "user", "assistant" -> role;
            default -> throw ApiException.invalid(where + ".role '" + role
                    + "' is not supported (system, developer, user, assistant)", "messages");
        };
        JsonNode content = m.get("content");
        String text;
        if (content == null || content.isNull()) {
            throw ApiException.invalid(where + ".content is required", "messages");
        } else if (content.isTextual()) {
            text = content.asText();
        } else if (content.isArray()) {
            List<String> parts = new ArrayList<>();
            for (JsonNode part : content) {
                if (!"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
                    throw ApiException.invalid(where + ".content: only text parts are supported", "messages");
                }
                parts.add(part.get("text").asText());
            }
            text = String.join("\n", parts);
        } else {
            throw ApiException.invalid(where + ".content must be a string or a list of text parts", "messages");
        }
        return new ChatMessage(role, text);
    }

    private static int[] tokenIds(JsonNode list) {
        if (!list.isArray() || list.isEmpty()) {
            throw ApiException.invalid("a token-id prompt must be a non-empty list of integers", "prompt");
        }
        int[] ids = new int[list.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode e = list.get(i);
            if (!e.isIntegralNumber() || !e.canConvertToInt() || e.asInt() < 0) {
                throw ApiException.invalid("a token-id prompt must be a non-empty list of integers", "prompt");
            }
            ids[i] = e.asInt();
        }
        return ids;
    }

    private static void requireObject(JsonNode body) {
        if (body == null || !body.isObject()) {
            throw ApiException.invalid("the request body must be a JSON object", null);
        }
    }

    private static String optionalText(JsonNode body, String field) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isTextual()) {
            throw ApiException.invalid("'" + field + "' must be a string", field);
        }
        return n.asText();
    }

    private static boolean optionalBool(JsonNode body, String field, boolean absent) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) {
            return absent;
        }
        if (!n.isBoolean()) {
            throw ApiException.invalid("'" + field + "' must be a boolean", field);
        }
        return n.asBoolean();
    }

    private static Integer optionalInt(JsonNode body, String field, int min, int max) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isIntegralNumber()) {
            throw ApiException.invalid("'" + field + "' must be an integer", field);
        }
        if (!n.canConvertToInt()) {
            throw ApiException.invalid(n.asText() + " is " + (n.bigIntegerValue().signum() < 0
                    ? "less than the minimum of " + min : "greater than the maximum of " + max) + " - '" + field + "'",
                    field);
        }
        int v = n.asInt();
        if (v < min || v > max) {
            throw ApiException.invalid(v + " is " + (v < min ? "less than the minimum of " + min
                    : "greater than the maximum of " + max) + " - '" + field + "'", field);
        }
        return v;
    }

    private static Double optionalDouble(JsonNode body, String field) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isNumber()) {
            throw ApiException.invalid("'" + field + "' must be a number", field);
        }
        return n.asDouble();
    }
}
