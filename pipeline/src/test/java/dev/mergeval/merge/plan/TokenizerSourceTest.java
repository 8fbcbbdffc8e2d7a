package dev.mergeval.merge.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.checkpoint.DType;
import dev.mergeval.common.Progress;
import dev.mergeval.runtime.DjlLanguageModel;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.runtime.TinyModels;
import dev.mergeval.runtime.ChatMessage;
import dev.mergeval.source.ModelSource;
import dev.mergeval.source.ModelSources;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tokenizer_source}: the base model's (or the named model's) tokenizer files are the
 * output's. Re-indexing rows to it is {@link VocabularyReindexTest}'s.
 */
class TokenizerSourceTest {

    private static final Configuration CONF = new Configuration();

    @TempDir
    Path tmp;

    private String yaml(Path base, Path other) {
        return """
                merge_method: slerp
                base_model: %1$s
                slices:
                  - sources: [{model: %1$s, layer_range: [0, 2]}, {model: %2$s, layer_range: [0, 2]}]
                parameters: {t: 0.5}
                tokenizer_source: base
                """.formatted(base, other);
    }

    private MergeJob.Request request(String yaml, Path out) {
        return new MergeJob.Request("test.yaml", yaml, out.toString(), 0, false, PlanOptions.defaults());
    }

    @Test
    void baseTokenizerIsCopiedWhenTheVocabulariesAgree() throws IOException {
        Path base = TinyModels.write(tmp.resolve("base"), TinyModels.llamaConfig(), DType.F32, 1, Long.MAX_VALUE);
        Path other = TinyModels.write(tmp.resolve("other"), TinyModels.llamaConfig(), DType.F32, 2, Long.MAX_VALUE);
        // A model without tokenizer.json is taken to share the base's vocabulary, as in mergekit.
        Path bare = TinyModels.write(tmp.resolve("bare"), TinyModels.llamaConfig(), DType.F32, 3, Long.MAX_VALUE);
        Files.delete(bare.resolve("tokenizer.json"));
        for (Path model : new Path[] {other, bare}) {
            Path out = tmp.resolve("out-" + model.getFileName());
            MergeJob.run(request(yaml(base, model), out), new LocalMergeExecutor(1, CONF, Progress.NONE), CONF);
            assertArrayEquals(Files.readAllBytes(base.resolve("tokenizer.json")),
                    Files.readAllBytes(out.resolve("tokenizer.json")));
        }
    }

    /**
     * {@code tokenizer_source: PATH} (or {@code model:PATH}): the tokenizer files, chat template
     * included, are that model's, written to disk and merged on load alike; weights and
     * {@code config.json} are the base model's merge as without it.
     */
    @Test
    void aNamedModelsTokenizerIsTheOutputsWhenTheVocabulariesAgree() throws IOException {
        Path base = TinyModels.write(tmp.resolve("base"), TinyModels.llamaConfig(), DType.F32, 1, Long.MAX_VALUE);
        Path other = TinyModels.write(tmp.resolve("other"), TinyModels.llamaConfig(), DType.F32, 2, Long.MAX_VALUE);
        Path chat = tmp.resolve("chat");
        Files.createDirectories(chat);
        Files.copy(base.resolve("tokenizer.json"), chat.resolve("tokenizer.json"));
        Files.writeString(chat.resolve("tokenizer_config.json"), """
                {"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": true,
                 "chat_template": "{% for m in messages %}User: {{ m['content'] }}\\n{% endfor %}Assistant:"}
                """);
        Path plain = tmp.resolve("plain");
        MergeJob.run(request(yaml(base, other), plain), new LocalMergeExecutor(1, CONF, Progress.NONE), CONF);
        for (String source : new String[] {chat.toString(), "model:" + chat}) {
            Path out = tmp.resolve("out-" + source.length());
            String text = yaml(base, other).replace("tokenizer_source: base", "tokenizer_source: " + source);
            MergeJob.run(request(text, out), new LocalMergeExecutor(1, CONF, Progress.NONE), CONF);
            assertArrayEquals(Files.readAllBytes(chat.resolve("tokenizer_config.json")),
                    Files.readAllBytes(out.resolve("tokenizer_config.json")), source);
            assertArrayEquals(Files.readAllBytes(plain.resolve("model.safetensors")),
                    Files.readAllBytes(out.resolve("model.safetensors")), source);
            assertArrayEquals(Files.readAllBytes(plain.resolve("config.json")),
                    Files.readAllBytes(out.resolve("config.json")), source);

            Path conf = tmp.resolve("merge-" + source.length() + ".yaml");
            Files.writeString(conf, text);
            try (DjlLanguageModel onDisk = LanguageModels.loadDirectory(out.toString(), CONF, RuntimeOptions.cpu());
                    DjlLanguageModel onLoad = (DjlLanguageModel) ModelSources.load(
                            ModelSource.parse("merge:" + conf, CONF), CONF, RuntimeOptions.cpu())) {
                assertTrue(onDisk.hasChatTemplate() && onLoad.hasChatTemplate(), "the chat model's template");
                List<ChatMessage> chatTurn = List.of(new ChatMessage("user", "w3 w4"));
                assertEquals(onDisk.renderChat(chatTurn, true), onLoad.renderChat(chatTurn, true));
            }
        }
    }
}
