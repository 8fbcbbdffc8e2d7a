package dev.mergeval.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.ModelFiles;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * mergekit's {@code chat_template} setting ({@code merge.py}, {@code _set_chat_template}): the
 * output tokenizer's chat template is
 *
 * <ul>
 *   <li>{@code auto}: the template most of the merged models have (the first of the most frequent,
 *       models in config order; whitespace around it ignored), or the copied one where none has one;</li>
 *   <li>a name, {@link #NAMES}: that conversation format. The templates are Mergeval's own (in
 *       {@code resources/dev/mergeval/merge/chat-templates}), rendering the formats as their
 *       model families define them;</li>
 *   <li>else a Jinja template as written (at least 20 characters and a <code>{</code>, as mergekit
 *       requires).</li>
 * </ul>
 *
 * It is written into the output's {@code tokenizer_config.json} (and {@code chat_template.jinja} or
 * {@code chat_template.json} where the copied tokenizer has them, which newer transformers read
 * first).
 */
public final class ChatTemplates {

    /** The named templates. */
    public static final List<String> NAMES = List.of("alpaca", "chatml", "exaone", "llama3", "mistral");

    private static final String TOKENIZER_CONFIG = "tokenizer_config.json";
    private static final String JINJA_FILE = "chat_template.jinja";
    private static final String JSON_FILE = "chat_template.json";

    private ChatTemplates() {
    }

    /** What is wrong with {@code value} as a {@code chat_template}, or null where it is one. */
    public static String problem(String value) {
        if (value.equals("auto") || NAMES.contains(value) || value.length() >= 20 && value.contains("{")) {
            return null;
        }
        return "'" + value + "' is neither auto, a template's name (" + String.join(", ", NAMES)
                + ") nor a Jinja template";
    }

    /**
     * The template the output's tokenizer gets; empty without {@code chat_template}, or for
     * {@code auto} where no model has a template.
     *
     * @param models the merged models, in config order
     */
    public static Optional<String> resolve(MergeConfig config, Collection<Checkpoint> models, Configuration conf) {
        if (config.chatTemplate().isEmpty()) {
            return Optional.empty();
        }
        String value = config.chatTemplate().get();
        if (value.equals("auto")) {
            Map<String, Integer> counts = new LinkedHashMap<>();
            for (Checkpoint model : models) {
                of(model.root(), conf).ifPresent(t -> counts.merge(t.strip(), 1, Integer::sum));
            }
            int most = counts.values().stream().mapToInt(Integer::intValue).max().orElse(0);
            return counts.entrySet().stream().filter(e -> e.getValue() == most).map(Map.Entry::getKey).findFirst();
        }
        if (NAMES.contains(value)) {
            return Optional.of(named(value));
        }
        return Optional.of(value);
    }

    /** The text of the named template. */
    static String named(String name) {
        try (InputStream in = ChatTemplates.class.getResourceAsStream("chat-templates/" + name + ".jinja")) {
            if (in == null) {
                throw new IllegalStateException("no chat template resource for " + name);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The chat template of the tokenizer in {@code dir}: its {@code chat_template.jinja}, else its
     * {@code tokenizer_config.json}'s {@code chat_template} (a string, or of a list the one named
     * {@code default}).
     */
    static Optional<String> of(String dir, Configuration conf) {
        Path jinja = new Path(dir, JINJA_FILE);
        FileSystem fs = HadoopFs.get(jinja, conf);
        try {
            if (fs.exists(jinja)) {
                try (InputStream in = fs.open(jinja)) {
                    return Optional.of(new String(in.readAllBytes(), StandardCharsets.UTF_8));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + jinja, e);
        }
        ObjectNode config = ModelFiles.jsonFile(dir, TOKENIZER_CONFIG, conf);
        JsonNode t = config == null ? null : config.get("chat_template");
        if (t != null && t.isTextual() && !t.asText().isEmpty()) {
            return Optional.of(t.asText());
        }
        if (t != null && t.isArray()) {
            for (JsonNode named : t) {
                if ("default".equals(named.path("name").asText()) && named.path("template").isTextual()) {
                    return Optional.of(named.path("template").asText());
                }
            }
        }
        return Optional.empty();
    }

    /** {@code tokenizerConfig} (null: none) with its {@code chat_template} set to {@code template}. */
    public static ObjectNode withTemplate(ObjectNode tokenizerConfig, String template) {
        ObjectNode c = tokenizerConfig == null ? Mappers.JSON.createObjectNode() : tokenizerConfig.deepCopy();
        c.put("chat_template", template);
        return c;
    }

    /**
     * The bytes of a {@code tokenizer_config.json}: {@code copied} (null: none), read from
     * {@code where}, with its {@code chat_template} set to {@code template}.
     */
    public static byte[] tokenizerConfig(byte[] copied, String where, String template) {
        ObjectNode config = null;
        if (copied != null) {
            try {
                JsonNode node = Mappers.JSON.readTree(copied);
                if (!node.isObject()) {
                    throw new BadInputException(where + ": not a JSON object");
                }
                config = (ObjectNode) node;
            } catch (IOException e) {
                throw new BadInputException(where + ": not valid JSON", e);
            }
        }
        return withTemplate(config, template).toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Sets the chat template of the tokenizer written to {@code dir} (see the class comment). */
    public static void write(String template, String dir, Configuration conf) {
        Path out = new Path(dir);
        FileSystem fs = HadoopFs.get(out, conf);
        try {
            ModelFiles.writeConfig(fs, new Path(out, TOKENIZER_CONFIG),
                    withTemplate(ModelFiles.jsonFile(dir, TOKENIZER_CONFIG, conf), template));
            Path jinja = new Path(out, JINJA_FILE);
            if (fs.exists(jinja)) {
                try (OutputStream o = fs.create(jinja, true)) {
                    o.write(template.getBytes(StandardCharsets.UTF_8));
                }
            }
            ObjectNode json = ModelFiles.jsonFile(dir, JSON_FILE, conf);
            if (json != null) {
                ModelFiles.writeConfig(fs, new Path(out, JSON_FILE), withTemplate(json, template));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the chat template to " + dir, e);
        }
    }
}
