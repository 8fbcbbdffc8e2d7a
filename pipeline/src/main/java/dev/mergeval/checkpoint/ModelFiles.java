package dev.mergeval.checkpoint;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.BadInputException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/** The non-weight files of a Hugging Face model directory that an output model needs. */
public final class ModelFiles {

    /** Copied unchanged when present: tokenizer files, chat template, generation config. */
    public static final List<String> AUXILIARY_FILES = List.of(
            "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
            "tokenizer.model", "added_tokens.json", "vocab.json", "merges.txt", "vocab.txt",
            "chat_template.jinja", "chat_template.json", "generation_config.json");

    /**
     * Reads tokenizer vocabularies, whose tokens are field names: without canonicalizing (and
     * interning) them, which for a 128K-token vocabulary cost more than the parse.
     */
    private static final JsonFactory VOCABULARY_JSON = JsonFactory.builder()
            .disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES).build();

    private ModelFiles() {
    }

    /**
     * Copies {@code config.json} from {@code srcDir} to {@code dstDir} with {@code torch_dtype}
     * (and {@code dtype}, the key newer transformers write, where present) set to
     * {@code outDtype}, keys kept in their order, and copies the {@link #AUXILIARY_FILES} present.
     *
     * @return the names of the files written, in the order written
     */
    public static List<String> copyAuxiliary(String srcDir, String dstDir, DType outDtype,
                                             Configuration conf) {
        return copyAuxiliary(srcDir, srcDir, dstDir, outDtype, UnaryOperator.identity(), true, conf);
    }

    /**
     * As {@link #copyAuxiliary(String, String, DType, Configuration)}, with {@code config.json}
     * from {@code configDir} further changed by {@code editConfig} (a merge of layer slices sets
     * its {@code num_hidden_layers}) and the {@link #AUXILIARY_FILES} from {@code auxiliaryDir}
     * (a merge that takes another model's tokenizer), or none of them where {@code auxiliary} is
     * false (mergekit-yaml's {@code --no-copy-tokenizer}).
     */
    public static List<String> copyAuxiliary(String configDir, String auxiliaryDir, String dstDir, DType outDtype,
                                             UnaryOperator<ObjectNode> editConfig, boolean auxiliary,
                                             Configuration conf) {
        Path src = new Path(configDir);
        Path aux = new Path(auxiliaryDir);
        Path dst = new Path(dstDir);
        return copyAuxiliary(HadoopFs.get(src, conf), src, HadoopFs.get(aux, conf), aux, HadoopFs.get(dst, conf), dst,
                outDtype, editConfig, auxiliary);
    }

    /** As {@link #copyAuxiliary(String, String, DType, Configuration)}, on given filesystems. */
    public static List<String> copyAuxiliary(FileSystem srcFs, Path srcDir, FileSystem dstFs,
                                             Path dstDir, DType outDtype) {
        return copyAuxiliary(srcFs, srcDir, srcFs, srcDir, dstFs, dstDir, outDtype, UnaryOperator.identity(), true);
    }

    private static List<String> copyAuxiliary(FileSystem srcFs, Path srcDir, FileSystem auxFs, Path auxDir,
                                              FileSystem dstFs, Path dstDir, DType outDtype,
                                              UnaryOperator<ObjectNode> editConfig, boolean auxiliary) {
        List<String> written = new ArrayList<>();
        try {
            dstFs.mkdirs(dstDir);
            Path cfg = new Path(srcDir, CheckpointResolver.CONFIG_FILE);
            if (CheckpointResolver.isFile(srcFs, cfg)) {
                ObjectNode config = Json.readObject(srcFs, cfg, CheckpointResolver.MAX_JSON_BYTES);
                writeConfig(dstFs, new Path(dstDir, CheckpointResolver.CONFIG_FILE),
                        editConfig.apply(withDtype(config, outDtype)));
                written.add(CheckpointResolver.CONFIG_FILE);
            }
            for (String name : auxiliary ? AUXILIARY_FILES : List.<String>of()) {
                Path from = new Path(auxDir, name);
                if (CheckpointResolver.isFile(auxFs, from)) {
                    try (InputStream in = auxFs.open(from);
                         OutputStream out = dstFs.create(new Path(dstDir, name), true)) {
                        in.transferTo(out);
                    }
                    written.add(name);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy model files from " + srcDir + " to "
                    + dstDir, e);
        }
        return written;
    }

    /**
     * The vocabulary of the tokenizer in {@code dir}, as Hugging Face's {@code get_vocab()} gives
     * it: {@code tokenizer.json}'s model vocabulary (a token-to-id mapping, or Unigram's list of
     * pieces numbered in order) and its added tokens; null when there is no {@code tokenizer.json}.
     */
    public static Map<String, Integer> tokenizerVocabulary(String dir, Configuration conf) {
        Path file = new Path(dir, "tokenizer.json");
        FileSystem fs = HadoopFs.get(file, conf);
        if (!CheckpointResolver.isFile(fs, file)) {
            return null;
        }
        try {
            long len = fs.getFileStatus(file).getLen();
            if (len > CheckpointResolver.MAX_JSON_BYTES) {
                throw new BadInputException(file + ": " + len + " bytes, more than the "
                        + CheckpointResolver.MAX_JSON_BYTES + "-byte limit for a JSON file");
            }
            try (InputStream in = fs.open(file); JsonParser p = VOCABULARY_JSON.createParser(in)) {
                return vocabulary(p);
            } catch (JsonProcessingException e) {
                throw new BadInputException(file + ": not valid JSON: " + Json.firstLine(e.getOriginalMessage()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    /**
     * {@link #tokenizerVocabulary(String, Configuration)} of a {@code tokenizer.json} already read
     * whole: the model's vocabulary (a mapping, or Unigram's pieces numbered in order), then the
     * added tokens over it.
     */
    public static Map<String, Integer> tokenizerVocabulary(JsonNode tokenizer) {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        JsonNode model = tokenizer.path("model").path("vocab");
        if (model.isObject()) {
            model.fields().forEachRemaining(e -> vocab.put(e.getKey(), e.getValue().asInt()));
        } else if (model.isArray()) {
            for (int i = 0; i < model.size(); i++) {
                vocab.put(model.get(i).path(0).asText(), i);
            }
        }
        tokenizer.path("added_tokens").forEach(t -> vocab.put(t.path("content").asText(), t.path("id").asInt()));
        return vocab;
    }

    /**
     * {@link #tokenizerVocabulary} from a parser at the start of {@code tokenizer.json}, streamed:
     * only the model's vocabulary and the added tokens are read, the rest (a BPE tokenizer's
     * hundreds of thousands of merges) is skipped without building a tree of it.
     */
    private static Map<String, Integer> vocabulary(JsonParser p) throws IOException {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        Map<String, Integer> added = new LinkedHashMap<>();
        if (p.nextToken() != JsonToken.START_OBJECT) {
            throw new JsonParseException(p, "expected a JSON object");
        }
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken value = p.nextToken();
            if (field.equals("model") && value == JsonToken.START_OBJECT) {
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String key = p.currentName();
                    JsonToken v = p.nextToken();
                    if (key.equals("vocab") && v == JsonToken.START_OBJECT) {
                        while (p.nextToken() == JsonToken.FIELD_NAME) {
                            String token = p.currentName();
                            p.nextToken();
                            vocab.put(token, p.getValueAsInt());
                        }
                    } else if (key.equals("vocab") && v == JsonToken.START_ARRAY) {
                        // Unigram: [piece, score] pairs, numbered in order.
                        while (p.nextToken() == JsonToken.START_ARRAY) {
                            p.nextToken();
                            vocab.put(p.getValueAsString(), vocab.size());
                            p.skipChildren();
                            while (p.currentToken() != JsonToken.END_ARRAY) {
                                p.nextToken();
                            }
                        }
                    } else {
                        p.skipChildren();
                    }
                }
            } else if (field.equals("added_tokens") && value == JsonToken.START_ARRAY) {
                while (p.nextToken() == JsonToken.START_OBJECT) {
                    String content = null;
                    int id = 0;
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String key = p.currentName();
                        p.nextToken();
                        if (key.equals("content")) {
                            content = p.getValueAsString();
                        } else if (key.equals("id")) {
                            id = p.getValueAsInt();
                        } else {
                            p.skipChildren();
                        }
                    }
                    added.put(String.valueOf(content), id);
                }
            } else {
                p.skipChildren();
            }
        }
        vocab.putAll(added);
        return vocab;
    }

    /**
     * The JSON object in file {@code name} of {@code dir} ({@code tokenizer.json},
     * {@code config.json}); null when there is no such file.
     *
     * @throws BadInputException if it is not a JSON object, or larger than side files may be
     */
    public static ObjectNode jsonFile(String dir, String name, Configuration conf) {
        Path file = new Path(dir, name);
        FileSystem fs = HadoopFs.get(file, conf);
        if (!CheckpointResolver.isFile(fs, file)) {
            return null;
        }
        return Json.readObject(fs, file, CheckpointResolver.MAX_JSON_BYTES);
    }

    /** A copy of {@code config} with its dtype keys set to {@code dtype}; order is kept. */
    public static ObjectNode withDtype(ObjectNode config, DType dtype) {
        ObjectNode c = config.deepCopy();
        c.put("torch_dtype", dtype.torchName());
        if (c.has("dtype")) {
            c.put("dtype", dtype.torchName());
        }
        return c;
    }

    /** Writes {@code config} as transformers does: 2-space indent, {@code "key": value}. */
    public static void writeConfig(FileSystem fs, Path file, ObjectNode config) throws IOException {
        String json = Json.MAPPER.writer(new HfPrettyPrinter()).writeValueAsString(config) + "\n";
        try (OutputStream out = fs.create(file, true)) {
            out.write(json.getBytes(StandardCharsets.UTF_8));
        }
    }

    /** Jackson's pretty printer with Python's {@code json.dumps(indent=2)} separators. */
    private static final class HfPrettyPrinter extends DefaultPrettyPrinter {
        HfPrettyPrinter() {
            indentArraysWith(new DefaultIndenter("  ", "\n"));
            indentObjectsWith(new DefaultIndenter("  ", "\n"));
        }

        HfPrettyPrinter(HfPrettyPrinter base) {
            super(base);
        }

        @Override
        public DefaultPrettyPrinter createInstance() {
            return new HfPrettyPrinter(this);
        }

        @Override
        public void writeObjectFieldValueSeparator(JsonGenerator g) throws IOException {
            g.writeRaw(": ");
        }
    }
}
