package dev.mergeval.merge;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.ModelFiles;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Sha256;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/**
 * The output vocabulary of a merge with {@code tokenizer_source}, and where each model's embedding
 * rows come from in it, as mergekit's {@code tokenizer/build.py} (the permutations) and
 * {@code tokenizer/embed.py} ({@code PermutedEmbeddings}) define them:
 *
 * <ul>
 *   <li>the output vocabulary {@code V}: the base model's tokenizer (ids at or above its
 *       {@code vocab_size} left out) for {@code base}; the named model's whole tokenizer for a model
 *       path; the base model's plus every token the other models add for {@code union}
 *       ({@link UnionTokenizer});</li>
 *   <li>model {@code m}'s row of output token {@code t}: {@code P_m[t]}, the id {@code m}'s tokenizer
 *       gives {@code t} (below its {@code vocab_size}), else none. A model without
 *       {@code tokenizer.json} is taken to have the base model's;</li>
 *   <li>a model that lacks {@code t} takes, in this order: the row of the only model that has it; a
 *       zero row where none has it; the base model's row where there is a base model that has it;
 *       else the mean of the rows of the models that have it.</li>
 * </ul>
 *
 * The output's embedding and head matrices have {@code |V|} rows, and its {@code vocab_size} is
 * {@code |V|}. Immutable.
 */
public final class VocabularyAlignment {

    private final int size;
    /** {@code rows[m][t]}: model {@code m}'s row of output token {@code t}, or -1. */
    private final int[][] rows;
    private final String[] tokens;
    private final int base;
    /** Per model, the largest row it is read at, or -1. */
    private final int[] maxRows;

    private VocabularyAlignment(int size, int[][] rows, String[] tokens, int base) {
        this.size = size;
        this.rows = rows;
        this.tokens = tokens;
        this.base = base;
        this.maxRows = Arrays.stream(rows).mapToInt(r -> Arrays.stream(r).max().orElse(-1)).toArray();
    }

    /**
     * The alignment of {@code models} (in config order, as the merge reads them) for {@code config}'s
     * {@code tokenizer_source}; null without one, or where the base model has no {@code tokenizer.json}
     * and so no vocabulary to align to (rows are then merged by index).
     *
     * @param reference the base model, else the first model: whose vocabulary the others default to
     */
    static VocabularyAlignment of(MergeConfig config, Map<String, Checkpoint> models, Checkpoint reference,
            Configuration conf) {
        if (config.tokenizerSource().isEmpty()) {
            return null;
        }
        Map<String, Integer> baseVocab = vocabulary(reference, conf);
        List<Map<String, Integer>> vocabs = new ArrayList<>();
        for (Checkpoint model : models.values()) {
            Map<String, Integer> v = model == reference ? baseVocab : vocabulary(model, conf);
            vocabs.add(v != null ? v : baseVocab);
        }
        Map<String, Integer> out;
        String where;
        if (config.tokenizerSource().get().equals("union")) {
            out = UnionTokenizer.of(reference, models.values(), conf).vocabulary();
            where = "the union vocabulary";
        } else if (config.tokenizerModel().isPresent()) {
            String dir = MergeConfig.resolvePath(config.tokenizerModel().get(), null);
            out = ModelFiles.tokenizerVocabulary(dir, conf);
            if (out == null) {
                throw config.error("tokenizer_source", dir + " has no tokenizer.json");
            }
            where = "the tokenizer of " + config.tokenizerModel().get();
        } else {
            out = baseVocab;
            where = "the base model's tokenizer";
        }
        if (out == null) {
            return null;
        }
        String[] tokens = new String[out.size()];
        for (Map.Entry<String, Integer> e : out.entrySet()) {
            int id = e.getValue();
            if (id < 0 || id >= tokens.length || tokens[id] != null) {
                throw config.error("tokenizer_source", where + " numbers its " + tokens.length + " tokens other than"
                        + " 0.." + (tokens.length - 1) + " (token '" + e.getKey() + "' is " + id + ")");
            }
            tokens[id] = e.getKey();
        }
        int[][] rows = new int[vocabs.size()][];
        List<String> refs = List.copyOf(models.keySet());
        for (int m = 0; m < rows.length; m++) {
            Map<String, Integer> vocab = vocabs.get(m);
            if (vocab == null) {
                throw config.error("tokenizer_source", "model '" + refs.get(m) + "' has no tokenizer.json, nor has"
                        + " the base model, so its embedding rows cannot be matched to " + where);
            }
            rows[m] = new int[tokens.length];
            for (int t = 0; t < tokens.length; t++) {
                rows[m][t] = vocab.getOrDefault(tokens[t], -1);
            }
        }
        int base = config.baseModel().map(refs::indexOf).orElse(-1);
        return new VocabularyAlignment(tokens.length, rows, tokens, base);
    }

    /** A model's tokenizer vocabulary, ids at or above its {@code vocab_size} left out; null without one. */
    static Map<String, Integer> vocabulary(Checkpoint model, Configuration conf) {
        Map<String, Integer> vocab = ModelFiles.tokenizerVocabulary(model.root(), conf);
        if (vocab != null && model.config() != null && model.config().hasNonNull("vocab_size")) {
            int size = model.config().get("vocab_size").asInt();
            vocab.values().removeIf(id -> id >= size);
        }
        return vocab;
    }

    /**
     * Identifies the output vocabulary and every model's rows in it (a plan's id includes it, so
     * that a changed tokenizer does not resume from parts merged for another).
     */
    public String fingerprint() {
        MessageDigest sha = Sha256.digest();
        for (String token : tokens) {
            sha.update(token.getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
        }
        ByteBuffer ids = ByteBuffer.allocate(4 * (size + 1));
        for (int[] r : rows) {
            ids.clear();
            for (int id : r) {
                ids.putInt(id);
            }
            ids.putInt(base);
            sha.update(ids.array(), 0, ids.position());
        }
        return Sha256.hex(sha);
    }

    /** {@code |V|}: the output's rows. */
    public int size() {
        return size;
    }

    /** Model {@code m}'s (config order) row of output token {@code t}, or -1 where it lacks the token. */
    int row(int m, int t) {
        return rows[m][t];
    }

    /**
     * Checks that model {@code m} (reference {@code ref}) has every row its tokenizer names in its
     * matrix {@code tensor} of {@code matrixRows} rows.
     */
    void checkRows(int m, String ref, String tensor, long matrixRows) {
        if (maxRows[m] < matrixRows) {
            return;
        }
        int t = 0;
        while (rows[m][t] != maxRows[m]) {
            t++;
        }
        throw new BadInputException("tokenizer_source: model '" + ref + "' numbers token '" + tokens[t] + "' "
                + maxRows[m] + ", beyond the " + matrixRows + " rows of its " + tensor);
    }

    /**
     * The models whose rows a model that lacks output token {@code t} takes the mean of (one
     * model: its row; none: zeros), in config order.
     */
    int[] donors(int t) {
        int[] present = new int[rows.length];
        int n = 0;
        for (int m = 0; m < rows.length; m++) {
            if (rows[m][t] >= 0) {
                present[n++] = m;
            }
        }
        if (n > 1 && base >= 0 && rows[base][t] >= 0) {
            return new int[] {base};
        }
        return Arrays.copyOf(present, n);
    }
}
