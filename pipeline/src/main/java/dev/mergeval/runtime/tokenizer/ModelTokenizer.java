package dev.mergeval.runtime.tokenizer;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mergeval.checkpoint.ModelFiles;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.runtime.ModelDirectory;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's tokenizer: {@code tokenizer.json} run by DJL's HuggingFace tokenizers (never a hub
 * download, never truncated or padded), plus the special tokens of {@code tokenizer_config.json}.
 *
 * <p>BOS: prepended to every encoded text when {@code add_bos_token} says so, or, where the key is
 * absent, when the tokenizer's own post-processor adds it (Llama 3). Text that already starts with
 * the BOS token (a rendered chat template) does not get a second one. EOS is never appended.
 */
public final class ModelTokenizer implements AutoCloseable {

    /** Context tokens decoded before a continuation's (vLLM keeps 5). */
    public static final int CONTEXT_WINDOW = 5;

    private final HuggingFaceTokenizer tokenizer;
    private final Map<String, Integer> tokenIds;
    private final String bosToken;
    private final String eosToken;
    private final int bosId;
    private final int eosId;
    private final boolean addBos;

    private ModelTokenizer(HuggingFaceTokenizer tokenizer, Map<String, Integer> tokenIds, String bosToken,
            String eosToken, Boolean addBosSetting) {
        this.tokenizer = tokenizer;
        this.tokenIds = tokenIds;
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        this.bosId = bosToken == null ? -1 : tokenIds.getOrDefault(bosToken, -1);
        this.eosId = eosToken == null ? -1 : tokenIds.getOrDefault(eosToken, -1);
        this.addBos = addBosSetting != null ? addBosSetting && bosId >= 0 : postProcessorAddsBos();
    }

    /**
     * Loads {@code tokenizer.json} (required) and {@code tokenizer_config.json} (optional) from a
     * model directory; {@code fallbackBosId}/{@code fallbackEosId} (from {@code config.json}, -1
     * if none) name the special tokens when the tokenizer config does not.
     */
    public static ModelTokenizer load(ModelDirectory dir, int fallbackBosId, int fallbackEosId) {
        if (!dir.exists("tokenizer.json")) {
            throw new BadInputException("missing tokenizer: " + dir.resolve("tokenizer.json"));
        }
        byte[] json = dir.readBytes("tokenizer.json");
        ObjectMapper mapper = Mappers.JSON;
        Map<String, Integer> ids;
        try {
            ids = ModelFiles.tokenizerVocabulary(mapper.readTree(json));
        } catch (IOException e) {
            throw new BadInputException(dir.resolve("tokenizer.json") + ": not valid JSON", e);
        }
        JsonNode config = mapper.createObjectNode();
        if (dir.exists("tokenizer_config.json")) {
            try {
                config = mapper.readTree(dir.readBytes("tokenizer_config.json"));
            } catch (IOException e) {
                throw new BadInputException(dir.resolve("tokenizer_config.json") + ": not valid JSON", e);
            }
        }
        Map<Integer, String> byId = new HashMap<>();
        ids.forEach((token, id) -> byId.putIfAbsent(id, token));
        String bos = specialToken(config.get("bos_token"));
        if (bos == null && fallbackBosId >= 0) {
            bos = byId.get(fallbackBosId);
        }
        String eos = specialToken(config.get("eos_token"));
        if (eos == null && fallbackEosId >= 0) {
            eos = byId.get(fallbackEosId);
        }
        Boolean addBos = config.has("add_bos_token") ? config.get("add_bos_token").asBoolean() : null;
        Map<String, String> options = Map.of("truncation", "false", "padding", "false");
        try {
            HuggingFaceTokenizer hf = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(json), options);
            return new ModelTokenizer(hf, ids, bos, eos, addBos);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load " + dir.resolve("tokenizer.json"), e);
        } catch (RuntimeException e) {
            throw new BadInputException(dir.resolve("tokenizer.json") + ": " + e.getMessage(), e);
        }
    }

    /** A special token given as a string or as {@code {"content": ...}}; null if absent. */
    private static String specialToken(JsonNode n) {
        if (n == null || n.isNull()) {
            return null;
        }
        return n.isObject() ? n.path("content").asText(null) : n.asText();
    }

    private boolean postProcessorAddsBos() {
        if (bosId < 0) {
            return false;
        }
        long[] with = tokenizer.encode("a", true, false).getIds();
        long[] without = tokenizer.encode("a", false, false).getIds();
        return with.length > without.length && with[0] == bosId;
    }

    /** Token ids of {@code text}, with BOS prepended as configured. */
    public int[] encode(String text) {
        boolean bos = addBos && !(bosToken != null && text.startsWith(bosToken));
        return encode(text, bos);
    }

    /** Token ids of {@code text}, with BOS prepended only if {@code withBos}; no other special tokens added. */
    public int[] encode(String text, boolean withBos) {
        long[] ids = tokenizer.encode(text, false, false).getIds();
        int offset = withBos && bosId >= 0 ? 1 : 0;
        int[] out = new int[ids.length + offset];
        if (offset == 1) {
            out[0] = bosId;
        }
        for (int i = 0; i < ids.length; i++) {
            out[i + offset] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    /**
     * Per token of {@link #encode(String) encode(text)}, the part of {@code text} it stands for, from
     * the tokenizer's character offsets: they concatenate to {@code text} exactly (a BOS the
     * tokenizer adds is ""; text between two tokens' spans goes with the earlier one), where decoding
     * the tokens one by one may not (a SentencePiece token after a special one decodes with a space
     * the text lacks). Null where the offsets do not tile the text in order.
     */
    public List<String> textPieces(String text) {
        Encoding e = tokenizer.encode(text, false, false);
        CharSpan[] spans = e.getCharTokenSpans();
        int n = e.getIds().length;
        if (spans == null || spans.length != n) {
            return null;
        }
        int codePoints = text.codePointCount(0, text.length());
        int[] starts = new int[n];
        int previous = 0;
        for (int i = 0; i < n; i++) {
            // the tokenizers library's offsets count code points; Java's strings count UTF-16 units
            int start = spans[i] == null ? previous : spans[i].getStart();
            if (start < previous || start > codePoints) {
                return null;
            }
            starts[i] = start;
            previous = start;
        }
        for (int i = 0; i < n; i++) {
            starts[i] = text.offsetByCodePoints(0, starts[i]);
        }
        List<String> pieces = new ArrayList<>();
        if (encode(text).length == n + 1) {
            pieces.add("");
        }
        for (int i = 0; i < n; i++) {
            pieces.add(text.substring(i == 0 ? 0 : starts[i], i + 1 < n ? starts[i + 1] : text.length()));
        }
        return pieces;
    }

    /** Text of {@code ids}, special tokens skipped. */
    public String decode(int[] ids) {
        return decode(ids, true);
    }

    /** Text of {@code ids}; special tokens (BOS, EOS, ...) appear as their token strings unless skipped. */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            l[i] = ids[i];
        }
        return tokenizer.decode(l, skipSpecialTokens);
    }

    /**
     * The text {@code ids} add after {@code context}, special tokens skipped: what a generation's
     * continuation reads as after its prompt ("Once" + " upon", where {@code ids} alone decode to
     * "upon", a SentencePiece decoder dropping the first token's space).
     */
    public String decodeAfter(int[] context, int[] ids) {
        return decodeAfter(context, ids, true);
    }

    /**
     * The text {@code ids} add after {@code context}, found as vLLM's incremental detokenizer finds
     * it: decode the last {@value #CONTEXT_WINDOW} context tokens with and without {@code ids} and
     * take the difference; where the shorter is not a prefix of the longer (a multi-byte character
     * split across the two), {@code ids} decoded on their own.
     */
    public String decodeAfter(int[] context, int[] ids, boolean skipSpecialTokens) {
        int[] window = Arrays.copyOfRange(context, Math.max(0, context.length - CONTEXT_WINDOW), context.length);
        int[] with = Arrays.copyOf(window, window.length + ids.length);
        System.arraycopy(ids, 0, with, window.length, ids.length);
        String before = decode(window, skipSpecialTokens);
        String now = decode(with, skipSpecialTokens);
        return now.startsWith(before) ? now.substring(before.length()) : decode(ids, skipSpecialTokens);
    }

    /** The id of a token string, or -1. */
    public int tokenId(String token) {
        return tokenIds.getOrDefault(token, -1);
    }

    public String bosToken() {
        return bosToken;
    }

    public String eosToken() {
        return eosToken;
    }

    public int bosId() {
        return bosId;
    }

    public int eosId() {
        return eosId;
    }

    public boolean addsBos() {
        return addBos;
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
