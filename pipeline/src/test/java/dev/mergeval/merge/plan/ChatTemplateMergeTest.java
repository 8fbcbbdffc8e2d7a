package dev.mergeval.merge.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.common.Mappers;
import dev.mergeval.common.Progress;
import dev.mergeval.merge.ChatTemplates;
import dev.mergeval.runtime.ChatMessage;
import dev.mergeval.runtime.DjlLanguageModel;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.runtime.TinyModels;
import dev.mergeval.runtime.chat.ChatTemplate;
import dev.mergeval.source.ModelSource;
import dev.mergeval.source.ModelSources;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code chat_template}, as mergekit sets it: a named format, a Jinja template as written, or
 * {@code auto} (the template most models have), written into the output's
 * {@code tokenizer_config.json} and used alike by a merge evaluated on load.
 */
class ChatTemplateMergeTest {

    private static final Configuration CONF = new Configuration();
    private static final List<ChatMessage> CHAT = List.of(new ChatMessage("system", "S"),
            new ChatMessage("user", "Hi"), new ChatMessage("assistant", "Hello"), new ChatMessage("user", "Bye"));

    @TempDir
    Path tmp;

    private Path base;
    private Path tune;

    @BeforeEach
    void writeModels() {
        base = TinyModels.write(tmp.resolve("base"), TinyModels.llamaConfig(), DType.F32, 1, Long.MAX_VALUE);
        tune = TinyModels.write(tmp.resolve("tune"), TinyModels.llamaConfig(), DType.F32, 2, Long.MAX_VALUE);
    }

    /** Each named template renders its format (BOS {@code <s>}, EOS {@code </s>}). */
    @ParameterizedTest
    @CsvSource(delimiterString = " => ", value = {
        "chatml => <|im_start|>system\\nS<|im_end|>\\n<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\nHello"
                + "<|im_end|>\\n<|im_start|>user\\nBye<|im_end|>\\n<|im_start|>assistant\\n",
        "llama3 => <s><|start_header_id|>system<|end_header_id|>\\n\\nS<|eot_id|><|start_header_id|>user<|end_header_id|>"
                + "\\n\\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\\n\\nHello<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\\n\\nBye<|eot_id|><|start_header_id|>assistant"
                + "<|end_header_id|>\\n\\n",
        "mistral => <s> [INST] S\\n\\nHi [/INST] Hello</s> [INST] Bye [/INST]",
        "alpaca => S\\n\\n### Instruction:\\nHi\\n\\n### Response:\\nHello\\n\\n### Instruction:\\nBye\\n\\n"
                + "### Response:\\n",
        "exaone => [|system|]S[|endofturn|]\\n[|user|]Hi\\n[|assistant|]Hello[|endofturn|]\\n[|user|]Bye\\n"
                + "[|assistant|]",
    })
    void eachNamedTemplateRendersItsFormat(String name, String expected) {
        ChatTemplate template = new ChatTemplate(name, named(name), Map.of("bos_token", "<s>", "eos_token", "</s>"));
        assertEquals(expected.replace("\\n", "\n"), template.render(CHAT, true), name);
    }

    private String named(String name) {
        Path out = merge("merge_method: linear\nmodels:\n  - model: " + base + "\n    parameters: {weight: 1}\n"
                + "chat_template: " + name + "\n", "named-" + name);
        return config(out).get("chat_template").asText();
    }

    /** The template goes into the copied tokenizer config, whose other keys stay; on load too. */
    @Test
    void aNamedTemplateIsWrittenAndUsedOnLoad() throws IOException {
        String yaml = "merge_method: linear\nmodels:\n  - model: " + base + "\n    parameters: {weight: 0.5}\n"
                + "  - model: " + tune + "\n    parameters: {weight: 0.5}\nchat_template: chatml\n";
        Path out = merge(yaml, "out");
        ObjectNode copied = (ObjectNode) config(base);
        assertEquals(ChatTemplates.withTemplate(copied, config(out).get("chat_template").asText()), config(out));
        Path plain = merge(yaml.replace("chat_template: chatml\n", ""), "plain");
        assertArrayEquals(Files.readAllBytes(plain.resolve("model.safetensors")),
                Files.readAllBytes(out.resolve("model.safetensors")));

        Path conf = tmp.resolve("merge.yaml");
        Files.writeString(conf, yaml);
        try (DjlLanguageModel onDisk = LanguageModels.loadDirectory(out.toString(), CONF, RuntimeOptions.cpu());
                DjlLanguageModel onLoad = (DjlLanguageModel) ModelSources.load(
                        ModelSource.parse("merge:" + conf, CONF), CONF, RuntimeOptions.cpu())) {
            List<ChatMessage> turn = List.of(new ChatMessage("user", "w3 w4"));
            assertEquals("<|im_start|>user\nw3 w4<|im_end|>\n<|im_start|>assistant\n", onDisk.renderChat(turn, true));
            assertEquals(onDisk.renderChat(turn, true), onLoad.renderChat(turn, true));
        }
    }

    /** {@code auto}: the template most models have, the first of equals; none: the copied config as it is. */
    @Test
    void autoTakesTheTemplateMostModelsHave() throws IOException {
        String a = "{% for m in messages %}A: {{ m['content'] }}{% endfor %}";
        String b = "{% for m in messages %}B: {{ m['content'] }}{% endfor %}";
        Path third = TinyModels.write(tmp.resolve("third"), TinyModels.llamaConfig(), DType.F32, 3, Long.MAX_VALUE);
        String yaml = "merge_method: linear\nmodels:\n  - model: " + base + "\n    parameters: {weight: 1}\n"
                + "  - model: " + tune + "\n    parameters: {weight: 1}\n"
                + "  - model: " + third + "\n    parameters: {weight: 1}\nchat_template: auto\n";
        Path none = merge(yaml, "none");
        assertArrayEquals(Files.readAllBytes(base.resolve("tokenizer_config.json")),
                Files.readAllBytes(none.resolve("tokenizer_config.json")));

        setTemplate(tune, a + "\n");
        setTemplate(third, b);
        assertEquals(a, config(merge(yaml, "tie")).get("chat_template").asText());
        setTemplate(base, b);
        assertEquals(b, config(merge(yaml, "most")).get("chat_template").asText());

        String literal = "{{ messages[0]['content'] }}";
        assertEquals(literal, config(merge(yaml.replace("chat_template: auto", "chat_template: \"" + literal + "\""),
                "literal")).get("chat_template").asText());
    }

    private static void setTemplate(Path model, String template) throws IOException {
        ObjectNode c = (ObjectNode) config(model);
        c.put("chat_template", template);
        Files.writeString(model.resolve("tokenizer_config.json"), c.toPrettyString());
    }

    private Path merge(String yaml, String name) {
        Path out = tmp.resolve(name);
        MergeJob.run(new MergeJob.Request("test.yaml", yaml, out.toString(), 0, false, PlanOptions.defaults()),
                new LocalMergeExecutor(1, CONF, Progress.NONE), CONF);
        return out;
    }

    private static JsonNode config(Path model) {
        try {
            return Mappers.JSON.readTree(model.resolve("tokenizer_config.json").toFile());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
