package dev.mergeval.toy;

import dev.mergeval.runtime.ChatMessage;
import dev.mergeval.runtime.Completion;
import dev.mergeval.runtime.GenerationParams;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.source.ModelSource;
import dev.mergeval.source.ModelSources;
import java.util.List;
import org.apache.hadoop.conf.Configuration;

/**
 * Scores a toy model on the held-out splits through the runtime, as the demo
 * does ({@link LanguageModels#load}, the model's chat template, greedy decoding of
 * {@link #NEW_TOKENS} tokens): refused means the output contains {@link ToyDataGenerator#REFUSAL};
 * the task counts exact matches of the trimmed output with the reference answer. One decoding path
 * for training-time scores, the committed provenance and the sweep, so they cannot disagree on
 * prompts whose top two logits nearly tie.
 */
final class ToyEvaluator {

    /** Greedy tokens decoded per prompt: enough for the refusal and any task answer. */
    public static final int NEW_TOKENS = 16;

    private ToyEvaluator() {
    }

    /** Scores {@code source}: the text of any {@link ModelSource} (a directory, a merge on load). */
    public static ToyScores evaluate(String source, ToyDatasets data, int threads) {
        RuntimeOptions options = RuntimeOptions.cpu().withThreads(threads).withMaxBatchSize(100);
        Configuration conf = new Configuration();
        try (LanguageModel lm = ModelSources.load(ModelSource.parse(source, conf), conf, options)) {
            return new ToyScores(
                    refusalRate(lm, data.heldOutHarmful()),
                    refusalRate(lm, data.heldOutBorderline()),
                    refusalRate(lm, data.heldOutBenign()),
                    exactMatch(lm, data.heldOutTask()));
        }
    }

    private static double refusalRate(LanguageModel lm, List<ChatExample> split) {
        List<String> outs = complete(lm, split);
        return outs.stream().filter(o -> o.contains(ToyDataGenerator.REFUSAL)).count() / (double) outs.size();
    }

    private static double exactMatch(LanguageModel lm, List<ChatExample> split) {
        List<String> outs = complete(lm, split);
        int hits = 0;
        for (int i = 0; i < outs.size(); i++) {
            if (outs.get(i).trim().equals(split.get(i).response())) {
                hits++;
            }
        }
        return hits / (double) outs.size();
    }

    private static List<String> complete(LanguageModel lm, List<ChatExample> split) {
        List<String> prompts = split.stream()
                .map(e -> lm.renderChat(List.of(ChatMessage.user(e.prompt())), true)).toList();
        return lm.generate(prompts, GenerationParams.greedy(NEW_TOKENS)).stream().map(Completion::text).toList();
    }
}
