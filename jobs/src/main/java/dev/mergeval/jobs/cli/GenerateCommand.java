package dev.mergeval.jobs.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.KeyedRandom;
import dev.mergeval.common.Mappers;
import dev.mergeval.runtime.ChatMessage;
import dev.mergeval.runtime.Completion;
import dev.mergeval.runtime.GenerationParams;
import dev.mergeval.runtime.LanguageModel;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code mergeval generate}: one continuation of one prompt. Plain output is the prompt (as fed
 * to the model, i.e. after the chat template with {@code --chat}) followed by the continuation;
 * {@code --json} prints {@code prompt_ids}, {@code output_ids}, {@code text} (the continuation) and
 * {@code finish_reason}.
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate a continuation of a prompt (greedy unless --temperature > 0).")
final class GenerateCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions model;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "The prompt (or user message with --chat).")
    String prompt;

    @Option(names = "--chat", description = "Wrap the prompt as a user turn with the model's chat template.")
    boolean chat;

    @Option(names = "--system", paramLabel = "TEXT", description = "System prompt (implies --chat).")
    String system;

    @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "" + GenerationParams.DEFAULT_MAX_NEW_TOKENS)
    int maxNewTokens;

    @Option(names = "--temperature", paramLabel = "T", defaultValue = "0", description = "0 = greedy.")
    double temperature;

    @Option(names = "--top-p", paramLabel = "P", defaultValue = "1.0")
    double topP;

    @Option(names = "--top-k", paramLabel = "K", defaultValue = "0", description = "0 = no top-k filter.")
    int topK;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "" + KeyedRandom.DEFAULT_SEED)
    long seed;

    @Option(names = "--repetition-penalty", paramLabel = "R", defaultValue = "1.0")
    double repetitionPenalty;

    @Option(names = "--stop", paramLabel = "TEXT", description = "Stop string (repeatable).")
    List<String> stops = new ArrayList<>();

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        GenerationParams params = checkedParams();
        model.check();
        try (LanguageModel lm = model.load()) {
            String input = prompt;
            if (chat || system != null) {
                List<ChatMessage> messages = new ArrayList<>();
                if (system != null) {
                    messages.add(ChatMessage.system(system));
                }
                messages.add(ChatMessage.user(prompt));
                input = lm.renderChat(messages, true);
            }
            Completion c = lm.generate(List.of(input), params).get(0);
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                ObjectMapper mapper = Mappers.JSON;
                ObjectNode o = mapper.createObjectNode();
                o.putPOJO("prompt_ids", c.promptIds());
                o.putPOJO("output_ids", c.outputIds());
                o.put("text", c.text());
                o.put("finish_reason", c.finishReason());
                out.println(mapper.writeValueAsString(o));
            } else {
                out.println(input + c.text());
            }
            out.flush();
        }
        return MergevalCli.EXIT_OK;
    }

    /** The decoding options, each range checked under its option name. */
    private GenerationParams checkedParams() {
        InputChecks.atLeast("--max-new-tokens", maxNewTokens, 1);
        InputChecks.atLeast("--top-k", topK, 0);
        if (!(temperature >= 0 && Double.isFinite(temperature))) {
            throw new BadInputException("--temperature must be >= 0 and finite, got " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new BadInputException("--top-p must be in (0, 1], got " + topP);
        }
        if (!(repetitionPenalty > 0 && Double.isFinite(repetitionPenalty))) {
            throw new BadInputException("--repetition-penalty must be > 0 and finite, got " + repetitionPenalty);
        }
        if (stops.contains("")) {
            throw new BadInputException("--stop: an empty stop string would end every completion before its first token");
        }
        return new GenerationParams(maxNewTokens, temperature, topK, topP, repetitionPenalty, seed, stops);
    }
}
