package dev.mergeval.source;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.KeyedRandom;
import dev.mergeval.engine.EngineSpec;
import dev.mergeval.merge.MergeConfig;
import java.io.Serializable;
import java.util.Objects;
import java.util.function.UnaryOperator;
import org.apache.hadoop.conf.Configuration;

/**
 * What a model is loaded from, as a value: parsed once on the driver ({@link #parse}) from the
 * text a user writes on the command line or in a spec, then carried to executors as it is, so no
 * executor splits a string or reads a merge config. {@link ModelSources#load} is its one factory.
 *
 * <p>The kinds, each with its text form ({@link #text()}, what records, results and the console
 * show):
 * <ul>
 *   <li>{@link Directory}: a Hugging Face model directory on any Hadoop filesystem, {@code URI};
 *   <li>{@link WithAdapter}: a base model with a PEFT LoRA adapter applied on load,
 *       {@code BASE+ADAPTER} (mergekit's syntax);
 *   <li>{@link MergeOnLoad}: a mergekit merge evaluated tensor by tensor at load time,
 *       {@code merge:CONFIG.yaml} or {@code merge:CONFIG.yaml#seed=N}.
 *   <li>{@link Served}: a model served by an OpenAI-compatible server, built from an engine block or
 *       the engine options ({@code --engine openai --base-url URL --model NAME}), never parsed from
 *       text: its text {@code openai:NAME@URL} names it in outputs only.
 * </ul>
 * Code that handles every kind goes through {@link #match}, so that a new kind is one record here
 * plus one method in {@link Cases}, and the compiler lists every place that must handle it (Java 17
 * has no pattern switch).
 */
public sealed interface ModelSource extends Serializable
        permits ModelSource.Directory, ModelSource.WithAdapter, ModelSource.MergeOnLoad, ModelSource.Served {

    /** Prefix of merge-on-load sources. */
    String MERGE_PREFIX = "merge:";

    /** What precedes the seed at the end of a merge-on-load source. */
    String SEED = "#seed=";

    /** The source as text: exactly what {@link #parse} reads back as an equal source. */
    String text();

    /** Dispatch on the kind; see {@link Cases}. */
    <R> R match(Cases<R> cases);

    /** One method per kind: an exhaustive switch over the kinds. */
    interface Cases<R> {
        R directory(Directory source);

        R withAdapter(WithAdapter source);

        R mergeOnLoad(MergeOnLoad source);

        R served(Served source);
    }

    /** A model directory (config, safetensors weights, tokenizer) at a Hadoop location. */
    record Directory(String uri) implements ModelSource {
        private static final long serialVersionUID = 1L;

        public Directory {
            Objects.requireNonNull(uri, "uri");
        }

        @Override
        public String text() {
            return uri;
        }

        @Override
        public <R> R match(Cases<R> cases) {
            return cases.directory(this);
        }

        @Override
        public String toString() {
            return text();
        }
    }

    /**
     * A base model with a PEFT LoRA adapter merged into its weights on load ({@code W + scale * B @ A});
     * config and tokenizer come from the base. The base may itself be {@code BASE+ADAPTER}.
     */
    record WithAdapter(String base, String adapter) implements ModelSource {
        private static final long serialVersionUID = 1L;

        public WithAdapter {
            Objects.requireNonNull(base, "base");
            Objects.requireNonNull(adapter, "adapter");
        }

        @Override
        public String text() {
            return base + "+" + adapter;
        }

        @Override
        public <R> R match(Cases<R> cases) {
            return cases.withAdapter(this);
        }

        @Override
        public String toString() {
            return text();
        }
    }

    /**
     * A merge evaluated at load time, equal to the same merge written to disk by {@code mergeval
     * merge} with the same seed. Its config has no value equality: compare merges by {@link #text()}.
     *
     * @param config     the parsed and validated merge config
     * @param location   where the config lives (a local path or Hadoop URI): its path parameters
     *                   resolved against its directory, and the method's plan-time analysis kept
     *                   beside it ({@code CONFIG.analysis}); the text form names it
     * @param seed       the merge's random seed (DARE/DELLA)
     * @param seedInText whether the text form names the seed ({@code #seed=N}); a source without
     *                   one has {@link KeyedRandom#DEFAULT_SEED}
     */
    record MergeOnLoad(MergeConfig config, String location, long seed, boolean seedInText) implements ModelSource {
        private static final long serialVersionUID = 1L;

        public MergeOnLoad {
            Objects.requireNonNull(config, "config");
            Objects.requireNonNull(location, "location");
            if (!seedInText && seed != KeyedRandom.DEFAULT_SEED) {
                throw new IllegalArgumentException("a seed other than the default must be in the text");
            }
        }

        /** The merge of {@code config}, read from or written to {@code location}, with {@code seed} named in the text. */
        public MergeOnLoad(MergeConfig config, String location, long seed) {
            this(config, location, seed, true);
        }

        @Override
        public String text() {
            return MERGE_PREFIX + location + (seedInText ? SEED + seed : "");
        }

        @Override
        public <R> R match(Cases<R> cases) {
            return cases.mergeOnLoad(this);
        }

        @Override
        public String toString() {
            return text();
        }
    }

    /**
     * A model served behind the OpenAI API: where it runs and its served name are the engine's
     * ({@link EngineSpec#baseUrl()}, {@link EngineSpec#model()}); Mergeval sends it requests and
     * loads nothing.
     */
    record Served(EngineSpec engine) implements ModelSource {
        private static final long serialVersionUID = 1L;

        public Served {
            Objects.requireNonNull(engine, "engine");
            if (!engine.isOpenAi() || engine.baseUrl() == null || engine.model() == null) {
                throw new IllegalArgumentException("a served model needs an openai engine with base_url and model");
            }
        }

        @Override
        public String text() {
            return "openai:" + engine.model() + "@" + engine.root();
        }

        @Override
        public <R> R match(Cases<R> cases) {
            return cases.served(this);
        }

        @Override
        public String toString() {
            return text();
        }
    }

    /**
     * Parses a source's text: {@code merge:CONFIG.yaml[#seed=N]} reads and validates the config;
     * text with a {@code '+'} that names no path itself splits into {@code BASE+ADAPTER} where
     * {@link Checkpoint#open} would split it; anything else is a directory, checked when loaded
     * ({@link ModelSources#check}). Paths are used as written.
     *
     * @throws BadInputException naming the config file or location when it cannot be read or is invalid
     */
    static ModelSource parse(String text, Configuration conf) {
        return ModelSourceParser.parse(text, conf);
    }

    /**
     * {@code text} with each path it holds passed through {@code path} (the command line makes
     * relative paths absolute this way), the syntax kept: a merge's config file (its seed suffix
     * kept as written), a whole location, or for {@code BASE+ADAPTER} (split at the last
     * {@code '+'}, unless the whole names an existing local path or has a scheme) each part.
     */
    static String resolvePaths(String text, UnaryOperator<String> path) {
        return ModelSourceParser.resolvePaths(text, path);
    }
}
