package dev.mergeval.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.ModelFiles;
import dev.mergeval.common.BadInputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The output tokenizer of a merge with {@code tokenizer_source} (or a {@code tokenizer:} block), as
 * mergekit's {@code tokenizer/build.py} builds it: the base model's for {@code base} (tokens numbered
 * at or above its {@code vocab_size} left out of the vocabulary), a named model's for a model path,
 * or the union; then the block's {@code tokens} that it lacks, each added as transformers'
 * {@code add_tokens} adds a string (numbered on, not special, normalized).
 *
 * <p>The union ({@code build_union_tokenizer}): the base model's tokenizer (tokens numbered at or
 * above its {@code vocab_size} removed), then, numbered on from its size, every token of another
 * model's vocabulary that it lacks, then every added token of any model that it lacks (each with
 * the settings of the first model that adds it). Only tokens a model numbers below its
 * {@code vocab_size} count; a model without {@code tokenizer.json} adds none. mergekit walks each
 * vocabulary in the order of a hash map, so its ids for new tokens vary from run to run; here each
 * model's tokens come in the order of their ids, models in config order after the base model.
 *
 * @param vocabulary the output's tokens and ids
 * @param tokenizer the output's {@code tokenizer.json} where it is written; null where the source's
 *     is copied
 * @param added the added-token entries the source tokenizer did not have, in id order: where there
 *     are any, {@link #write} writes the tokenizer; else the source's files are copied as they are
 */
public record OutputTokenizer(Map<String, Integer> vocabulary, ObjectNode tokenizer, List<ObjectNode> added) {

    private static final String TOKENIZER = "tokenizer.json";
    private static final String TOKENIZER_CONFIG = "tokenizer_config.json";

    /**
     * The output tokenizer of {@code config}, whose models are {@code models} (config order) and
     * whose base model (else first) is {@code reference}; null without {@code tokenizer_source}, or
     * for {@code base} where the base model has no {@code tokenizer.json}.
     */
    public static OutputTokenizer of(MergeConfig config, Checkpoint reference, Collection<Checkpoint> models,
            Configuration conf) {
        return of(config, reference, models, dir -> ModelFiles.tokenizerVocabulary(dir, conf),
                dir -> ModelFiles.jsonFile(dir, TOKENIZER, conf));
    }

    /**
     * As {@link #of(MergeConfig, Checkpoint, Collection, Configuration)}, reading each directory's
     * {@code tokenizer.json} with {@code vocabularies} (its vocabulary only, streamed) or, where
     * the tokenizer is written, {@code tokenizers} (the whole file); each gives null where there is
     * none, and neither's result is changed here. A tokenizer that is copied has no
     * {@link #tokenizer()}.
     */
    static OutputTokenizer of(MergeConfig config, Checkpoint reference, Collection<Checkpoint> models,
            Function<String, Map<String, Integer>> vocabularies, Function<String, ObjectNode> tokenizers) {
        if (config.tokenizerSource().isEmpty()) {
            return null;
        }
        if (config.tokenizerSource().get().equals("union")) {
            return union(reference, models, tokenizers).with(listed(config), null);
        }
        String dir;
        Map<String, Integer> vocab;
        if (config.tokenizerModel().isPresent()) {
            dir = MergeConfig.resolvePath(config.tokenizerModel().get(), null);
            vocab = vocabularies.apply(dir);
            if (vocab == null) {
                throw config.error("tokenizer_source", dir + " has no " + TOKENIZER);
            }
        } else {
            dir = reference.root();
            vocab = vocabularies.apply(dir);
            if (vocab == null) {
                return null;
            }
            int limit = reference.config() != null && reference.config().path("vocab_size").canConvertToInt()
                    ? reference.config().get("vocab_size").asInt() : Integer.MAX_VALUE;
            vocab = new LinkedHashMap<>(vocab);
            vocab.values().removeIf(id -> id >= limit);
        }
        return new OutputTokenizer(vocab, null, List.of()).with(listed(config), () -> tokenizers.apply(dir));
    }

    /** The tokens the {@code tokenizer:} block lists. */
    private static List<String> listed(MergeConfig config) {
        return config.tokenizer().map(t -> List.copyOf(t.tokens().keySet())).orElse(List.of());
    }

    /**
     * Whether {@code config}'s output tokenizer is written rather than copied: a union, or tokens
     * listed to add ({@link #rewritten} says whether they were new).
     */
    public static boolean mayRewrite(MergeConfig config) {
        return config.tokenizerSource().filter("union"::equals).isPresent()
                || config.tokenizer().filter(t -> !t.tokens().isEmpty()).isPresent();
    }

    /**
     * This tokenizer with {@code tokens} that it lacks added, numbered on; {@code source} gives its
     * {@code tokenizer.json} where this has none yet.
     */
    private OutputTokenizer with(List<String> tokens, Supplier<ObjectNode> source) {
        if (tokens.stream().allMatch(vocabulary::containsKey)) {
            return this;
        }
        Map<String, Integer> vocab = new LinkedHashMap<>(vocabulary);
        ObjectNode json = (tokenizer != null ? tokenizer : source.get()).deepCopy();
        List<ObjectNode> more = new ArrayList<>(added);
        for (String token : tokens) {
            if (!vocab.containsKey(token)) {
                ObjectNode entry = plainAdded(json, vocab.size(), token);
                vocab.put(token, vocab.size());
                json.withArray("added_tokens").add(entry);
                more.add(entry);
            }
        }
        return new OutputTokenizer(vocab, json, List.copyOf(more));
    }

    /** An added token as transformers' {@code add_tokens} makes one of a string. */
    private static ObjectNode plainAdded(ObjectNode json, int id, String token) {
        return json.objectNode().put("id", id).put("content", token).put("single_word", false)
                .put("lstrip", false).put("rstrip", false).put("normalized", true).put("special", false);
    }

    /**
     * The union of the vocabularies of {@code reference} (the base model, else the first) and
     * {@code models} (in config order; the reference among them is skipped).
     */
    private static OutputTokenizer union(Checkpoint reference, Collection<Checkpoint> models,
            Function<String, ObjectNode> tokenizers) {
        ObjectNode base = tokenizers.apply(reference.root());
        if (base == null) {
            throw new BadInputException("tokenizer_source: 'union' needs the base model's " + TOKENIZER + " ("
                    + reference.root() + " has none)");
        }
        base = stripped(base, vocabSize(reference, base), reference.root());
        Map<String, Integer> vocabulary = ModelFiles.tokenizerVocabulary(base);
        Set<String> plain = new LinkedHashSet<>();
        Map<String, ObjectNode> addedTokens = new LinkedHashMap<>();
        collect(base, Integer.MAX_VALUE, plain, addedTokens);
        for (Checkpoint model : models) {
            if (model == reference) {
                continue;
            }
            ObjectNode json = tokenizers.apply(model.root());
            if (json != null) {
                collect(json, vocabSize(model, json), plain, addedTokens);
            }
        }
        Set<String> baseAdded = new HashSet<>();
        base.path("added_tokens").forEach(t -> baseAdded.add(t.path("content").asText()));
        List<ObjectNode> added = new ArrayList<>();
        for (String token : plain) {
            if (!addedTokens.containsKey(token) && !vocabulary.containsKey(token)) {
                added.add(plainAdded(base, vocabulary.size(), token));
                vocabulary.put(token, vocabulary.size());
            }
        }
        for (ObjectNode info : addedTokens.values()) {
            String token = info.path("content").asText();
            if (baseAdded.contains(token)) {
                continue;
            }
            // A token the base has in its vocabulary becomes an added token under its id.
            int id = vocabulary.computeIfAbsent(token, t -> vocabulary.size());
            ObjectNode entry = info.deepCopy();
            entry.put("id", id);
            added.add(entry);
        }
        added.sort(Comparator.comparingInt(e -> e.get("id").asInt()));
        ArrayNode list = base.withArray("added_tokens");
        added.forEach(list::add);
        return new OutputTokenizer(vocabulary, base, List.copyOf(added));
    }

    /** Whether the output's {@code tokenizer.json} differs from its source's, and {@link #write} writes it. */
    public boolean rewritten() {
        return !added.isEmpty();
    }

    /**
     * Writes this {@code tokenizer.json} into {@code dir}, and its added tokens into the
     * {@code added_tokens_decoder} of the {@code tokenizer_config.json} there, where it has one.
     */
    public void write(String dir, Configuration conf) {
        try {
            Path out = new Path(dir);
            FileSystem fs = HadoopFs.get(out, conf);
            ModelFiles.writeConfig(fs, new Path(out, TOKENIZER), tokenizer);
            ObjectNode config = ModelFiles.jsonFile(dir, TOKENIZER_CONFIG, conf);
            if (config != null && config.path("added_tokens_decoder").isObject()) {
                ObjectNode decoder = (ObjectNode) config.get("added_tokens_decoder");
                for (ObjectNode entry : added) {
                    ObjectNode e = entry.deepCopy();
                    e.remove("id");
                    decoder.set(entry.get("id").asText(), e);
                }
                ModelFiles.writeConfig(fs, new Path(out, TOKENIZER_CONFIG), config);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the merged tokenizer to " + dir, e);
        }
    }

    /** The model's {@code vocab_size}, else the number of its tokenizer's vocabulary tokens. */
    private static int vocabSize(Checkpoint model, ObjectNode tokenizer) {
        if (model.config() != null && model.config().path("vocab_size").canConvertToInt()) {
            return model.config().get("vocab_size").asInt();
        }
        return tokenizer.path("model").path("vocab").size();
    }

    /** A tokenizer's tokens below {@code limit}: its vocabulary's, in id order, and its added tokens. */
    private static void collect(ObjectNode tokenizer, int limit, Set<String> plain, Map<String, ObjectNode> added) {
        Map<String, Integer> vocab = ModelFiles.tokenizerVocabulary(tokenizer);
        vocab.entrySet().stream().filter(e -> e.getValue() < limit).sorted(Map.Entry.comparingByValue())
                .forEach(e -> plain.add(e.getKey()));
        for (JsonNode t : tokenizer.path("added_tokens")) {
            if (t.path("id").asInt() < limit && t.isObject()) {
                added.putIfAbsent(t.path("content").asText(), (ObjectNode) t);
            }
        }
    }

    /**
     * The tokenizer without the tokens numbered at or above {@code vocabSize} (mergekit's
     * {@code get_stripped_tokenizer}): from its vocabulary, its added tokens and, for BPE, the
     * merges that name them. Like mergekit, only BPE vocabularies are stripped.
     */
    private static ObjectNode stripped(ObjectNode tokenizer, int vocabSize, String root) {
        Map<String, Integer> vocab = ModelFiles.tokenizerVocabulary(tokenizer);
        Set<String> unused = new HashSet<>();
        vocab.forEach((token, id) -> {
            if (id >= vocabSize) {
                unused.add(token);
            }
        });
        if (unused.isEmpty()) {
            return tokenizer.deepCopy();
        }
        String type = tokenizer.path("model").path("type").asText();
        if (!type.equals("BPE")) {
            throw new BadInputException(root + "/" + TOKENIZER + ": tokens numbered at or above vocab_size " + vocabSize
                    + " in a " + type + " tokenizer; only BPE tokenizers can be stripped for a union (as in mergekit)");
        }
        ObjectNode copy = tokenizer.deepCopy();
        ObjectNode modelVocab = (ObjectNode) copy.path("model").path("vocab");
        unused.forEach(modelVocab::remove);
        ArrayNode addedTokens = copy.withArray("added_tokens");
        for (int i = addedTokens.size() - 1; i >= 0; i--) {
            if (addedTokens.get(i).path("id").asInt() >= vocabSize) {
                addedTokens.remove(i);
            }
        }
        ArrayNode merges = copy.path("model").withArray("merges");
        for (int i = merges.size() - 1; i >= 0; i--) {
            JsonNode m = merges.get(i);
            List<String> parts = new ArrayList<>();
            if (m.isTextual()) {
                parts.addAll(List.of(m.asText().split(" ", -1)));
            } else {
                m.forEach(p -> parts.add(p.asText()));
            }
            if (parts.stream().anyMatch(unused::contains)) {
                merges.remove(i);
            }
        }
        return copy;
    }
}
