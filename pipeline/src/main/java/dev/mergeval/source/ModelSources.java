package dev.mergeval.source;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.LoraCheckpoint;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.KeyedRandom;
import dev.mergeval.engine.OpenAiClient;
import dev.mergeval.engine.OpenAiLanguageModel;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.onload.MergeLoader;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.runtime.RuntimeOptions;
import org.apache.hadoop.conf.Configuration;

/**
 * The model factory: loads, checks and readies every kind of {@link ModelSource}. A directory and
 * {@code BASE+ADAPTER} open through the runtime ({@link LanguageModels}); a merge evaluated at load
 * through {@link MergeLoader}; a served model is a client of its server ({@link OpenAiLanguageModel}),
 * checked by asking the server what it serves. A loaded model's {@link LanguageModel#id()} is the source's text
 * ({@link ModelSource#text()}), a directory's as Hadoop normalizes the path.
 */
public final class ModelSources {

    private ModelSources() {
    }

    /** Loads {@code source} with {@code options} (device, threads, batch size). */
    public static LanguageModel load(ModelSource source, Configuration conf, RuntimeOptions options) {
        if (source instanceof ModelSource.Served served) {
            return new OpenAiLanguageModel(served.engine());
        }
        try (LanguageModels.Opened o = open(source, conf)) {
            return LanguageModels.assemble(o, options);
        }
    }

    /**
     * Checks a source as {@link #load} would, without reading any weights: the directory (or merge
     * config and its inputs) exists, {@code config.json} parses, every safetensors header loads, the
     * tensors are the ones the config implies, and {@code tokenizer.json} is present. Commands run this
     * on the driver before they start work, so that a bad source fails there, in one line, and not in
     * every Spark task.
     *
     * @throws BadInputException naming the file and what is wrong
     */
    public static void check(ModelSource source, Configuration conf) {
        if (source instanceof ModelSource.Served served) {
            new OpenAiClient(served.engine()).requireModel();
            return;
        }
        try (LanguageModels.Opened o = open(source, conf)) {
            LanguageModels.check(o);
        }
    }

    /**
     * {@link #check} of a merge given as a parsed config rather than a merge-on-load source: its
     * models and extra inputs (the files and models its parameters name), from their headers. A sweep
     * checks its post-hoc points this way before it starts work.
     */
    public static void check(MergeConfig merge, Configuration conf) {
        // No location: nothing is kept beside a config that was never written, and a check runs no analysis.
        try (LanguageModels.Opened o = MergeLoader.open(merge, null, KeyedRandom.DEFAULT_SEED, merge.sourceName(),
                conf)) {
            LanguageModels.check(o);
        }
    }

    /**
     * Readies a source for loading on many executors: a merge-on-load source's plan-time analysis
     * is run once and kept beside its config ({@link MergeLoader#prepare}). Nothing to do for other
     * sources.
     */
    public static void prepare(ModelSource source, Configuration conf) {
        if (source instanceof ModelSource.MergeOnLoad merge) {
            MergeLoader.prepare(merge.config(), merge.location(), merge.seed(), conf);
        }
    }

    private static LanguageModels.Opened open(ModelSource source, Configuration conf) {
        return source.match(new ModelSource.Cases<>() {
            @Override
            public LanguageModels.Opened directory(ModelSource.Directory d) {
                return LanguageModels.openDirectory(d.uri(), conf);
            }

            @Override
            public LanguageModels.Opened withAdapter(ModelSource.WithAdapter a) {
                Checkpoint base = Checkpoint.open(a.base(), conf);
                try {
                    return LanguageModels.openAdapted(a.text(), LoraCheckpoint.open(a.text(), base, a.adapter(), conf),
                            conf);
                } catch (RuntimeException e) {
                    base.close();
                    throw e;
                }
            }

            @Override
            public LanguageModels.Opened mergeOnLoad(ModelSource.MergeOnLoad m) {
                return MergeLoader.open(m.config(), m.location(), m.seed(), m.text(), conf);
            }

            @Override
            public LanguageModels.Opened served(ModelSource.Served s) {
                throw new IllegalStateException(s.text() + " is served: nothing to open");
            }
        });
    }
}
