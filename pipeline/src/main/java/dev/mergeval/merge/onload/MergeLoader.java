package dev.mergeval.merge.onload;

import dev.mergeval.common.Progress;
import dev.mergeval.merge.ChatTemplates;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeInputs;
import dev.mergeval.merge.OutputTokenizer;
import dev.mergeval.merge.PlanAnalysis;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.runtime.ModelDirectory;
import dev.mergeval.runtime.llama.LlamaConfig;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.OptionalInt;
import org.apache.hadoop.conf.Configuration;

/**
 * Opens a mergekit merge for the runtime to load as if it were written to disk: the merge of
 * {@code mergeval merge} evaluated tensor by tensor ({@link MergedTensorSource}) with its seed.
 * Model paths in the config are used as written (Hadoop paths, or {@code base+adapter} for LoRA);
 * path parameters ({@code unaligned_model}, {@code safety_data}) resolve against the config's
 * directory; config and tokenizer come from the base model (the first model without one). A
 * method's plan-time analysis is read from beside the config when {@link #prepare} kept it there for
 * the same inputs ({@link MergeAnalysisFile}), else computed before the first tensor is merged.
 */
public final class MergeLoader {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(MergeLoader.class);

    private MergeLoader() {
    }

    /**
     * @param location where the config lives, for its kept analysis; null when it was never written
     * @param id       the model's id (the source's text)
     */
    public static LanguageModels.Opened open(MergeConfig merge, String location, long seed, String id,
            Configuration conf) {
        MergeInputs inputs = MergeInputs.open(merge, conf);
        try {
            inputs.alignment();
            ModelDirectory dir = new ModelDirectory(inputs.reference().root(), conf);
            LlamaConfig config = LanguageModels.readConfig(dir);
            if (inputs.layout() != null) {
                config = config.withNumHiddenLayers(inputs.layout().numLayers());
            }
            inputs.checkRequiredWeights();
            OptionalInt vocab = inputs.outputVocabSize();
            if (vocab.isPresent()) {
                config = config.withVocabSize(vocab.getAsInt());
            }
            int layers = config.numHiddenLayers();
            ModelDirectory tokenizer = merge.tokenizerModel()
                    .map(ref -> new ModelDirectory(MergeConfig.resolvePath(ref, null), conf)).orElse(dir);
            OutputTokenizer merged = OutputTokenizer.mayRewrite(merge)
                    ? OutputTokenizer.of(merge, inputs.reference(), inputs.models().values(), conf) : null;
            if (merged != null && merged.rewritten()) {
                tokenizer = tokenizer.withFile("tokenizer.json", merged.tokenizer().toString()
                        .getBytes(StandardCharsets.UTF_8));
            }
            Optional<String> template = ChatTemplates.resolve(merge, inputs.models().values(), conf);
            if (template.isPresent()) {
                String file = "tokenizer_config.json";
                tokenizer = tokenizer.withFile(file, ChatTemplates.tokenizerConfig(
                        tokenizer.exists(file) ? tokenizer.readBytes(file) : null, tokenizer.resolve(file),
                        template.get()));
            }
            return new LanguageModels.Opened(id, tokenizer, config, new MergedTensorSource(inputs, layers, seed,
                    () -> analysis(inputs, location, seed, layers, conf, false)));
        } catch (RuntimeException e) {
            inputs.close();
            throw e;
        }
    }

    /**
     * Readies a merge for loading on many executors: where its method has a plan-time analysis
     * (Safe LoRA's cosines, SPF's safety gradient), runs it once here and keeps it beside the config
     * ({@code CONFIG.analysis}), where every later load of the same merge of the same inputs reads it
     * instead of repeating it. Where the config's directory is not writable, each load computes the
     * analysis itself.
     */
    public static void prepare(MergeConfig merge, String location, long seed, Configuration conf) {
        try (MergeInputs inputs = MergeInputs.open(merge, conf)) {
            int layers = inputs.layout() != null ? inputs.layout().numLayers()
                    : LanguageModels.readConfig(new ModelDirectory(inputs.reference().root(), conf)).numHiddenLayers();
            analysis(inputs, location, seed, layers, conf, true);
        }
    }

    /** The analysis kept beside the config for these very inputs, else a fresh one (kept when {@code keep}). */
    private static PlanAnalysis analysis(MergeInputs inputs, String location, long seed, int layers,
            Configuration conf, boolean keep) {
        String key = MergeAnalysisFile.key(inputs, seed, conf);
        org.apache.hadoop.fs.Path file = MergeAnalysisFile.of(location);
        PlanAnalysis kept = MergeAnalysisFile.read(file, key, conf);
        if (kept != null) {
            return kept;
        }
        PlanAnalysis fresh = inputs.analyze(layers, inputs.mergedTensors(), conf,
                Runtime.getRuntime().availableProcessors(), Progress.NONE);
        if (keep && !fresh.isEmpty()) {
            try {
                MergeAnalysisFile.write(file, key, fresh, conf);
            } catch (UncheckedIOException e) {
                LOG.warn("cannot keep the analysis of {} beside it ({}); each load will repeat it",
                        location, e.getMessage());
            }
        }
        return fresh;
    }
}
