package dev.mergeval.merge;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.ModelFiles;
import dev.mergeval.common.BadInputException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.IntPredicate;
import java.util.zip.CRC32C;
import org.apache.hadoop.conf.Configuration;

/**
 * The output vocabulary of a merge with {@code tokenizer_source} (or a {@code tokenizer:} block),
 * and where each model's embedding rows come from in it, as mergekit's {@code tokenizer/build.py}
 * (the permutations) and {@code tokenizer/embed.py} ({@code PermutedEmbeddings}) define them:
 *
 * <ul>
 *   <li>the output vocabulary {@code V}: {@link OutputTokenizer};</li>
 *   <li>model {@code m}'s row of output token {@code t}: {@code P_m[t]}, the id {@code m}'s tokenizer
 *       gives {@code t} (below its {@code vocab_size}), else none. A model without
 *       {@code tokenizer.json} is taken to have the base model's;</li>
 *   <li>a model that lacks {@code t} takes, where the {@code tokenizer:} block lists {@code t}, the
 *       row its entry names (a model's row of {@code t}, a model's row of another token or id, or
 *       zeros; with {@code force}, every model takes it); else the row of the only model that has
 *       it; zeros where none has it; the base model's row where there is a base model that has it;
 *       else the mean of the rows of the models that have it;</li>
 *   <li>with {@code pad_to_multiple_of}, the rows are padded up to that multiple, each padding row
 *       the mean of the model's rows of {@code V}.</li>
 * </ul>
 *
 * An extra model input (the {@code unaligned_model} of RESTA and Safe LoRA) is read like a model,
 * after them: its own row of each token, else the row the models' rules give (a token it lacks
 * reads as the models read it). It adds no token to a {@code union} and is no donor: mergekit,
 * which has no such inputs, builds both from the models alone.
 *
 * The output's embedding and head matrices have {@link #size()} rows, and its {@code vocab_size}
 * is that. Immutable.
 */
public final class VocabularyAlignment {

    private final int size;
    private final String[] tokens;
    /** {@code rows[m][t]}: model {@code m}'s row of output token {@code t}, or -1; extra inputs after the models. */
    private final int[][] rows;
    /** How many of {@link #rows} are the merge's models (the donors); the rest are extra inputs. */
    private final int models;
    /** Per listed token, the (model, row) pairs its row is the mean of (none: zeros). */
    private final Map<Integer, int[][]> listed;
    private final boolean[] forced;
    private final int base;
    /** The config's source name, which errors found when a matrix is read name first. */
    private final String source;
    /** Per model, the largest row it is read at, and the token that reads it. */
    private final int[] maxRows;
    private final String[] maxRowTokens;

    private VocabularyAlignment(String source, int size, String[] tokens, int[][] rows, int models,
            Map<Integer, int[][]> listed, boolean[] forced, int base) {
        this.source = source;
        this.size = size;
        this.tokens = tokens;
        this.rows = rows;
        this.models = models;
        this.listed = listed;
        this.forced = forced;
        this.base = base;
        this.maxRows = new int[rows.length];
        this.maxRowTokens = new String[rows.length];
        Arrays.fill(maxRows, -1);
        for (int m = 0; m < rows.length; m++) {
            for (int t = 0; t < tokens.length; t++) {
                note(m, rows[m][t], tokens[t]);
            }
        }
        listed.forEach((t, pairs) -> {
            for (int[] pair : pairs) {
                note(pair[0], pair[1], tokens[t]);
            }
        });
    }

    private void note(int m, int row, String token) {
        if (row > maxRows[m]) {
            maxRows[m] = row;
            maxRowTokens[m] = token;
        }
    }

    /**
     * The alignment of {@code models} (in config order, as the merge reads them) and then of
     * {@code extras} for {@code config}'s tokenizer; null without one, or where the base model has no
     * {@code tokenizer.json} and so no vocabulary to align to (rows are then merged by index).
     *
     * @param extras the extra model inputs, by the name their errors give them
     * @param reference the base model, else the first model: whose vocabulary the others default to
     */
    static VocabularyAlignment of(MergeConfig config, Map<String, Checkpoint> models, Map<String, Checkpoint> extras,
            Checkpoint reference, Configuration conf) {
        // Each tokenizer.json is read once: its vocabulary streamed, the whole file only for a union.
        Map<String, Optional<Map<String, Integer>>> read = new HashMap<>();
        Function<String, Map<String, Integer>> vocabularies = dir -> read.computeIfAbsent(dir,
                d -> Optional.ofNullable(ModelFiles.tokenizerVocabulary(d, conf))).orElse(null);
        OutputTokenizer output = OutputTokenizer.of(config, reference, models.values(), vocabularies,
                dir -> ModelFiles.jsonFile(dir, "tokenizer.json", conf));
        if (output == null) {
            return null;
        }
        Map<String, Integer> baseVocab = vocabulary(reference, vocabularies);
        List<String> refs = new ArrayList<>(models.keySet());
        refs.addAll(extras.keySet());
        List<Checkpoint> readers = new ArrayList<>(models.values());
        readers.addAll(extras.values());
        List<Map<String, Integer>> vocabs = new ArrayList<>();
        for (Checkpoint model : readers) {
            Map<String, Integer> v = model == reference ? baseVocab : vocabulary(model, vocabularies);
            vocabs.add(v != null ? v : baseVocab);
        }
        String[] tokens = new String[output.vocabulary().size()];
        for (Map.Entry<String, Integer> e : output.vocabulary().entrySet()) {
            int id = e.getValue();
            if (id < 0 || id >= tokens.length || tokens[id] != null) {
                throw config.error("tokenizer_source", "the output tokenizer numbers its " + tokens.length
                        + " tokens other than 0.." + (tokens.length - 1) + " (token '" + e.getKey() + "' is " + id
                        + ")");
            }
            tokens[id] = e.getKey();
        }
        int[][] rows = new int[vocabs.size()][];
        for (int m = 0; m < rows.length; m++) {
            Map<String, Integer> vocab = vocabs.get(m);
            if (vocab == null) {
                throw config.error("tokenizer_source", named(m, refs.get(m), models.size()) + " has no"
                        + " tokenizer.json, nor has the base model, so its embedding rows cannot be matched to the"
                        + " output tokenizer");
            }
            rows[m] = new int[tokens.length];
            for (int t = 0; t < tokens.length; t++) {
                rows[m][t] = vocab.getOrDefault(tokens[t], -1);
            }
        }
        Map<Integer, int[][]> listed = new HashMap<>();
        boolean[] forced = new boolean[tokens.length];
        int pad = 0;
        if (config.tokenizer().isPresent()) {
            pad = config.tokenizer().get().padToMultipleOf();
            config.tokenizer().get().tokens().forEach((token, e) -> {
                int t = output.vocabulary().get(token);
                listed.put(t, listedRows(config, token, e, refs, vocabs, rows, t));
                forced[t] = e.force();
            });
        }
        int size = pad > 0 ? (tokens.length + pad - 1) / pad * pad : tokens.length;
        int base = config.baseModel().map(refs::indexOf).orElse(-1);
        return new VocabularyAlignment(config.sourceName(), size, tokens, rows, models.size(), listed, forced, base);
    }

    /** The (model, row) pairs the {@code tokenizer:} block gives listed token {@code t}. */
    private static int[][] listedRows(MergeConfig config, String token, TokenizerSettings.TokenEmbedding e,
            List<String> refs, List<Map<String, Integer>> vocabs, int[][] rows, int t) {
        String key = "tokenizer.tokens." + token + ".source";
        if (e.kind() == TokenizerSettings.Kind.ZERO) {
            return new int[0][];
        }
        int m = refs.indexOf(e.model());
        int row;
        if (e.kind() == TokenizerSettings.Kind.MODEL) {
            row = rows[m][t];
            if (row < 0) {
                throw config.error(key, "model '" + e.model() + "' has no token '" + token + "'");
            }
        } else if (e.token() != null) {
            Integer id = vocabs.get(m).get(e.token());
            if (id == null) {
                throw config.error(key, "model '" + e.model() + "' has no token '" + e.token() + "'");
            }
            row = id;
        } else {
            row = e.tokenId();
        }
        return new int[][] {{m, row}};
    }

    /** A model's tokenizer vocabulary, ids at or above its {@code vocab_size} left out; null without one. */
    private static Map<String, Integer> vocabulary(Checkpoint model,
            Function<String, Map<String, Integer>> vocabularies) {
        Map<String, Integer> read = vocabularies.apply(model.root());
        Map<String, Integer> vocab = read == null ? null : new LinkedHashMap<>(read);
        if (vocab != null && model.config() != null && model.config().hasNonNull("vocab_size")) {
            int size = model.config().get("vocab_size").asInt();
            vocab.values().removeIf(id -> id >= size);
        }
        return vocab;
    }

    /**
     * Identifies the output vocabulary and every model's rows in it (a plan's id includes it, so
     * that a changed tokenizer does not resume from parts merged for another): CRC-32C of the
     * tokens' hash codes, the rows, the base model, the size and the listed tokens' sources, over
     * ints (a vocabulary of 128K tokens takes milliseconds).
     */
    public String fingerprint() {
        CRC32C crc = new CRC32C();
        ByteBuffer ints = ByteBuffer.allocate(4 * (tokens.length + 2));
        for (String token : tokens) {
            ints.putInt(token.hashCode());
        }
        ints.putInt(base).putInt(size);
        crc.update(ints.array(), 0, ints.position());
        for (int[] r : rows) {
            ints.clear();
            for (int id : r) {
                ints.putInt(id);
            }
            crc.update(ints.array(), 0, ints.position());
        }
        listed.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> crc.update((e.getKey()
                + Arrays.deepToString(e.getValue()) + forced[e.getKey()]).getBytes(StandardCharsets.UTF_8)));
        return tokens.length + "-" + Long.toHexString(crc.getValue());
    }

    /** The output's rows: the vocabulary's, padded. */
    public int size() {
        return size;
    }

    /** The vocabulary's tokens: rows at or above this are padding. */
    int vocabularyRows() {
        return tokens.length;
    }

    /**
     * Model {@code m}'s (config order) row of output token {@code t < vocabularyRows()}, or -1 where
     * it lacks the token or the {@code tokenizer:} block forces the token's row on every model.
     */
    int row(int m, int t) {
        return forced[t] ? -1 : rows[m][t];
    }

    /**
     * Checks that model {@code m} (reference {@code ref}) has every row it is read at in its matrix
     * {@code tensor} of {@code matrixRows} rows.
     */
    void checkRows(int m, String ref, String tensor, long matrixRows) {
        if (maxRows[m] >= matrixRows) {
            throw new BadInputException(source + ": tokenizer_source: " + named(m, ref, models) + " is read at row "
                    + maxRows[m] + " (token '" + maxRowTokens[m] + "'), beyond the " + matrixRows + " rows of its "
                    + tensor);
        }
    }

    /** How errors name reader {@code m}: a model by its reference, an extra input by its name. */
    private static String named(int m, String ref, int models) {
        return m < models ? "model '" + ref + "'" : ref;
    }

    /**
     * The (model, row) pairs whose rows' mean a model (or extra input) takes for output token
     * {@code t} where {@link #row} is -1 (one pair: that row; none: zeros); models only, and of them
     * those {@code eligible} (by position) for the tensor read: mergekit's {@code PermutedEmbeddings}
     * sees the models of its own tensor and the base model, so with {@code slices:} a model that
     * gives no input to a matrix gives none of its rows either.
     */
    int[][] donors(int t, IntPredicate eligible) {
        int[][] fixed = listed.get(t);
        if (fixed != null) {
            return fixed;
        }
        int[][] present = new int[models][];
        int n = 0;
        for (int m = 0; m < models; m++) {
            if (eligible.test(m) && rows[m][t] >= 0) {
                present[n++] = new int[] {m, rows[m][t]};
            }
        }
        if (n > 1 && base >= 0 && eligible.test(base) && rows[base][t] >= 0) {
            return new int[][] {{base, rows[base][t]}};
        }
        return Arrays.copyOf(present, n);
    }
}
