package dev.mergeval.merge;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.regex.Pattern;

/**
 * Embedding matrices of different vocabulary sizes, as mergekit's {@code rectify_embed_sizes}
 * merges them: a fine-tune that added tokens has more embedding (and output head) rows than its
 * base, and the merge takes the rows all inputs have, {@code E[: min_rows, :]} of each input. The
 * rows of the tokens only some models know are dropped, as in mergekit without a
 * {@code tokenizer_source}.
 *
 * <p>mergekit does this in {@code linear}, {@code slerp}, {@code nuslerp}, {@code model_stock},
 * {@code karcher} and {@code arcee_fusion}, and in the task-arithmetic family cuts each model to the
 * base's rows (the same rows wherever it merges: a model with fewer rows than the base fails
 * there). Mergeval takes the common rows for every method. Only the rows may differ: embeddings of
 * another hidden size, and any other tensor of another shape, stay bad input. Rows are a prefix of
 * a row-major matrix, so the merge reads the first {@code rows * columns} elements of each input.
 */
public final class EmbeddingRows {

    /**
     * The vocabulary matrices of mergekit's architecture definitions ({@code is_embed}): input
     * embeddings and output heads, by their names across the architectures it knows.
     */
    private static final Pattern EMBEDDING = Pattern.compile(
            "(?:^|.*\\.)(?:embed_tokens|wte|word_embeddings|embed_in|embed_out|tok_embeddings|output_layer"
                    + "|vocab_projector|lm_head(?:\\.[a-z_]+)?)\\.weight|(?:output|shared)\\.weight");

    private EmbeddingRows() {
    }

    /** Whether tensor {@code name} is an embedding or output-head matrix whose rows are tokens. */
    public static boolean isEmbedding(String name) {
        return EMBEDDING.matcher(name).matches();
    }

    /**
     * The shape inputs of these shapes merge to as tensor {@code name}: their shape where they all
     * agree; for an embedding whose inputs are all matrices with the same number of columns, the
     * fewest rows; null otherwise (the inputs are incompatible).
     */
    public static long[] common(String name, List<long[]> shapes) {
        long[] first = shapes.get(0);
        if (shapes.stream().allMatch(s -> Arrays.equals(s, first))) {
            return first.clone();
        }
        if (!isEmbedding(name) || shapes.stream().anyMatch(s -> s.length != 2 || s[1] != first[1])) {
            return null;
        }
        return new long[] {shapes.stream().mapToLong(s -> s[0]).min().orElseThrow(), first[1]};
    }

    /**
     * Whether an input of shape {@code have} supplies output tensor {@code name} of shape
     * {@code out}: the same shape, or for an embedding, at least its rows of the same columns.
     */
    public static boolean supplies(String name, long[] have, long[] out) {
        return Arrays.equals(have, out) || isEmbedding(name) && have.length == 2 && out.length == 2
                && have[1] == out[1] && have[0] >= out[0];
    }

    /**
     * The {@code vocab_size} the output's {@code config.json} needs where its embeddings have fewer
     * rows than the {@code vocab_size} of the config it copies, so that the output loads (Hugging
     * Face checks the embedding's shape against it); empty where it stands. mergekit leaves
     * {@code vocab_size} as copied, except that with a {@code tokenizer_source} ({@code reindexed})
     * it sets it to the output vocabulary's size, which is then the embeddings' rows whatever they are.
     *
     * @param shapes the output tensors' shapes, by name
     */
    public static OptionalInt vocabSize(Map<String, long[]> shapes, JsonNode config, boolean reindexed) {
        if (config == null || !config.path("vocab_size").canConvertToInt()) {
            return OptionalInt.empty();
        }
        int declared = config.get("vocab_size").asInt();
        return shapes.entrySet().stream().filter(e -> isEmbedding(e.getKey()) && e.getValue().length == 2)
                .mapToInt(e -> Math.toIntExact(e.getValue()[0])).filter(rows -> reindexed ? rows != declared
                        : rows < declared).min();
    }
}
