package dev.mergeval.merge;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.mergeval.checkpoint.OutputPublisher;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The {@code README.md} of a merged model or an extracted adapter, as mergekit's
 * {@code generate_card} and {@code generate_card_lora} write them (the card the Hugging Face Hub
 * shows): metadata, then for a merge the method with its paper, the base model, the other models
 * and the config as given, for an adapter the two models and the command. Models are local paths
 * or storage URIs here (Mergeval never reads from the Hub), so, as mergekit for such models, the
 * metadata names no {@code base_model}.
 */
public final class ModelCard {

    /** The card's file name in the output directory. */
    public static final String FILE = "README.md";

    private static final YAMLMapper YAML = YAMLMapper.builder()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .build();

    private ModelCard() {
    }

    /**
     * The card of {@code config}, given as {@code configYaml}, for a model called {@code name} (the
     * output directory's name, as mergekit takes it).
     */
    public static String render(MergeConfig config, String configYaml, String name) {
        MergeMethod method = config.method();
        // mergekit's slerp takes its base_model as the start of the path, not as a base.
        String base = method.name().equals("slerp") ? null : config.baseModel().orElse(null);
        Set<String> models = new LinkedHashSet<>(config.inputModels());
        models.addAll(config.extraModels().values());
        List<String> bullets = new ArrayList<>();
        for (String model : models) {
            if (!model.equals(base)) {
                bullets.add("* " + model);
            }
        }
        ObjectNode metadata = metadata("transformers", "merge");
        String link = method.referenceUrl() == null || method.referenceUrl().isBlank() ? method.name()
                : "[" + method.name() + "](" + method.referenceUrl() + ")";
        return """
                ---
                %s---
                # %s

                This is a merge of pre-trained language models created with Mergeval from a \
                [mergekit](https://github.com/arcee-ai/mergekit) configuration.

                ## Merge Details
                ### Merge Method

                This model was merged using the %s merge method%s.

                ### Models Merged

                The following models were included in the merge:
                %s

                ### Configuration

                The following YAML configuration was used to produce this model:

                ```yaml
                %s
                ```

                Inputs, their digests, the parameters of every tensor and the versions that made this \
                model are recorded in `%s`.
                """.formatted(yaml(metadata), name, link, base == null ? "" : " using " + base + " as a base",
                String.join("\n", bullets), configYaml.strip(), OutputPublisher.PROVENANCE_FILE);
    }

    /**
     * The card of an adapter extracted from {@code model} over {@code baseModel} by the command
     * {@code commandLine}, called {@code name} (the adapter directory's name).
     */
    public static String lora(String baseModel, String model, String commandLine, String name) {
        return """
                ---
                %s---
                # %s

                This is a LoRA adapter extracted from a language model with Mergeval, as \
                [mergekit](https://github.com/arcee-ai/mergekit)'s mergekit-extract-lora extracts it.

                ## LoRA Details

                This LoRA adapter was extracted from %s and uses %s as a base.

                ### Parameters

                The following command was used to extract this LoRA adapter:

                ```sh
                %s
                ```

                The rank and relative error of every matrix, and the digests of both models, are recorded \
                in `%s`.
                """.formatted(yaml(metadata("peft", "peft")), name, model, baseModel, commandLine,
                OutputPublisher.PROVENANCE_FILE);
    }

    /** mergekit's metadata: no Hub model to name as {@code base_model}, the library and the tags. */
    private static ObjectNode metadata(String library, String kind) {
        ObjectNode metadata = YAML.createObjectNode();
        metadata.putArray("base_model");
        metadata.put("library_name", library);
        metadata.putArray("tags").add("mergekit").add(kind).add("mergeval");
        return metadata;
    }

    private static String yaml(ObjectNode node) {
        try {
            return YAML.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
