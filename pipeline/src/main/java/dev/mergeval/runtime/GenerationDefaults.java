package dev.mergeval.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.runtime.llama.LlamaConfig;
import java.io.IOException;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The stop tokens of a model, as Hugging Face's {@code generate} finds them: {@code eos_token_id}
 * of {@code generation_config.json} (an id or a list), else of {@code config.json}, else the
 * tokenizer's EOS token.
 */
record GenerationDefaults(Set<Integer> eosIds) {

    public GenerationDefaults {
        eosIds = Set.copyOf(eosIds);
    }

    public static GenerationDefaults load(ModelDirectory dir, LlamaConfig config, int tokenizerEos) {
        Set<Integer> eos = new LinkedHashSet<>();
        if (dir.exists("generation_config.json")) {
            try {
                JsonNode g = Mappers.JSON.readTree(dir.readBytes("generation_config.json"));
                eos.addAll(LlamaConfig.intList(g.path("eos_token_id")));
            } catch (IOException e) {
                throw new BadInputException(dir.resolve("generation_config.json") + ": not valid JSON", e);
            }
        }
        if (eos.isEmpty()) {
            eos.addAll(config.eosTokenIds());
        }
        if (eos.isEmpty() && tokenizerEos >= 0) {
            eos.addAll(List.of(tokenizerEos));
        }
        return new GenerationDefaults(eos);
    }
}
